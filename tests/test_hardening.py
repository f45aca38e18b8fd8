"""Issue 12's defects, each reproduced first: inputs checked at the door, memory bounded, the disk
really full. Every test here failed on the main of 2026-12-01 before its fix.

Real full disk: a small tmpfs is mounted (we run as root in CI); where mounting is not permitted
the test skips and says why, and the faked `OSError` tests in test_faults.py still run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import COLORS, TINY_TRAIN, write_images

from edgetl.cli import main
from edgetl.errors import EdgetlError

LABELS = ["ant", "bee"]


def one_line_error(capfd, argv: list[str]) -> str:
    """Run the CLI in-process: exit 2, exactly one line on stderr, and return it."""
    capfd.readouterr()
    code = main(argv)
    out, err = capfd.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"edgetl {argv[0]}: error: "), (code, err)
    return lines[0]


def temps(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def tiny_flags(**over) -> list[str]:
    """TINY_TRAIN as CLI flags, with --probe-solver left at its default: no defect here is about the
    probe, and a flag the CLI of before the fixes did not know would fail there for the wrong reason
    (tests/tools/against_old.sh runs these tests on that code; tests/HARDENING.md has the results)."""
    opts = {k: v for k, v in {**TINY_TRAIN, **over}.items() if k != "probe_solver"}
    return [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]


# ------------------------------------------------------------------------- 1. a really full disk


@pytest.fixture
def small_disk(tmp_path):
    """A real 512 KiB tmpfs; skips (with the reason) where mounting is not permitted."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("a real full disk needs Linux tmpfs and mount(8)")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs ({r.stderr.strip() or 'not permitted'}); needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Leave about `leave` bytes free on `disk`."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave))


def test_full_disk_in_safetensors_writer_is_one_line_and_keeps_the_previous_checkpoint(small_disk) -> None:
    """safetensors' Rust writer raises SafetensorError ("os error 28"), not OSError."""
    import torch

    from edgetl.models import CheckpointMeta, create_classifier, read_checkpoint, save_checkpoint

    model, info = create_classifier("test_efficientnet", 2, "none", img_size=32)
    path = small_disk / "checkpoints" / "best.safetensors"
    save_checkpoint(path, model, CheckpointMeta("test_efficientnet", LABELS, info.data_config, epoch=1))
    before = path.read_bytes()
    fill(small_disk, 8192)
    with torch.no_grad():
        model.classifier.bias += 1
    with pytest.raises(EdgetlError) as e:
        save_checkpoint(path, model, CheckpointMeta("test_efficientnet", LABELS, info.data_config, epoch=2))
    assert (
        str(e.value) == f"cannot write {path}: No space left on device; the previous file (if any) is intact"
    )
    assert path.read_bytes() == before and read_checkpoint(path)[1].epoch == 1
    assert temps(small_disk) == []


def test_full_disk_in_torch_save_is_one_line(small_disk) -> None:
    """torch.save on a full disk raises a RuntimeError with no errno ("unexpected pos ...")."""
    import torch

    from edgetl.train.rundir import RunDir

    run = RunDir(small_disk / "run")
    run.checkpoints.mkdir(parents=True)
    fill(small_disk, 8192)
    with pytest.raises(EdgetlError, match="train_state.pt: No space left on device"):
        run.save_state({"model": {"w": torch.zeros(200_000)}})
    assert temps(small_disk) == []


def test_train_onto_a_full_disk_is_one_line_naming_the_checkpoint(small_disk, tmp_path, capfd) -> None:
    data = tmp_path / "data"
    for i, cls in enumerate(LABELS):
        write_images(data / "train" / cls, COLORS[i], 8, size=(32, 32), seed=i)
        write_images(data / "val" / cls, COLORS[i], 4, size=(32, 32), seed=10 + i)
    fill(small_disk, 96 * 1024)  # room for config.yaml and data.json, not for a 400 KB checkpoint
    flags = tiny_flags(lp_epochs=1, epochs=1)
    argv = ["train", "--data", str(data), "--out", str(small_disk / "run"), "--cache-dir", str(tmp_path / "c"),
            "--quiet", "--num-workers", "0", *flags]  # fmt: skip
    line = one_line_error(capfd, argv)
    assert "No space left on device" in line and ".safetensors" in line, line
    assert temps(small_disk) == []


# ----------------------------------------- 2, 4 and issue 13: file names, splits, the kit's folders

BAD = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: not valid UTF-8, so Python spells them with surrogates


def strict_json(data: bytes):
    doc = json.loads(data.decode("utf-8"))  # strict: invalid UTF-8 raises
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # and no lone surrogate hides inside
    return doc


@pytest.fixture
def odd_names(tmp_path) -> Path:
    """A flat folder: ant/, bee/ (one image named in Latin-1), and a class folder named in Latin-1."""
    root = tmp_path / "flat"
    for i, cls in enumerate(LABELS):
        write_images(root / cls, COLORS[i], 8, size=(32, 32), seed=i)
    os.rename(root / "bee" / "img_000.png", root / "bee" / f"{BAD}.png")
    write_images(root / f"{BAD}-class", COLORS[2], 4, size=(32, 32), seed=9)
    return root


def test_names_that_are_not_utf8_work_as_files_and_are_reported_as_classes(odd_names) -> None:
    from edgetl.data import load_splits

    s = load_splits(odd_names, val_split=0.25)
    assert s.classes == LABELS
    files = [Path(p).name for p, _ in s.train + s.val]
    assert f"{BAD}.png" in files and len(files) == 16  # the odd file name is used, not dropped
    ((path, why),) = s.skipped
    assert path.endswith("caf\\xe9-class") and "not valid UTF-8" in why
    strict_json(json.dumps(s.summary()).encode())


def test_train_and_predict_json_stay_valid_utf8_with_odd_names(odd_names, tmp_path, capfd) -> None:
    """A run folder inside the data folder (--out DATA/run) is never read as a class afterwards."""
    from _onnx_fixtures import export_tiny

    from edgetl.data import load_splits

    flags = tiny_flags(lp_epochs=1, epochs=1)
    run = odd_names / "myrun"
    argv = ["train", "--data", str(odd_names), "--val-split", "0.25", "--out", str(run), "--quiet",
            "--cache-dir", str(tmp_path / "c"), "--num-workers", "0", *flags]  # fmt: skip
    assert main(argv) == 0, capfd.readouterr().err
    strict_json((run / "data.json").read_bytes())
    assert load_splits(odd_names, val_split=0.25).classes == LABELS  # myrun/ is the kit's, not a class

    model = export_tiny(tmp_path / "m.onnx", LABELS)
    capfd.readouterr()
    assert main(["predict", str(model), str(odd_names), "--json"]) == 0
    doc = strict_json(capfd.readouterr().out.encode("utf-8", "surrogateescape"))
    paths = [p["path"] for p in doc["predictions"]]
    assert any(p.endswith("caf\\xe9.png") for p in paths)
    assert not any("myrun" in p for p in paths)  # curves.png etc. of the run folder are not images to predict
    assert main(["predict", str(model), str(odd_names / "bee")]) == 0  # text output: no UnicodeEncodeError


def test_training_bench_and_predict_walk_one_folder_the_same_way(tmp_path) -> None:
    """Nested folders, hidden entries, a symlink loop, a kit folder: one walker gives one file set."""
    from edgetl.bench.data import IMG_EXTENSIONS as BENCH_EXTENSIONS
    from edgetl.bench.data import find_images, folder_eval_set
    from edgetl.data import IMG_EXTENSIONS as DATA_EXTENSIONS
    from edgetl.data import load_splits
    from edgetl.runtime.files import IMG_EXTENSIONS

    root = tmp_path / "val"
    for i, cls in enumerate(LABELS):
        write_images(root / cls, COLORS[i], 3, size=(32, 32), seed=i)
        write_images(root / cls / "deeper", COLORS[i], 2, size=(32, 32), seed=20 + i, ext=".JPG")
        write_images(root / cls / ".hidden", COLORS[i], 1, size=(32, 32), seed=30 + i)
        (root / cls / "loop").symlink_to(root / cls)
    run = root / "ant" / "old-run"
    write_images(run / "eval", COLORS[3], 1, size=(32, 32))
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "checkpoints").mkdir()
    shutil.copytree(run, root / "kit-run")  # a run folder next to the classes: not a class either
    splits = load_splits(tmp_path / "val", val_split=0.4)
    trained = sorted(p for p, _ in splits.train + splits.val)
    bench = sorted(str(t.path) for t in find_images([root])[0])
    assert trained == bench and len(trained) == 10
    assert sorted(folder_eval_set(root, LABELS).items) == trained
    assert IMG_EXTENSIONS is DATA_EXTENSIONS is BENCH_EXTENSIONS


def test_val_split_leaves_every_class_an_image_on_each_side(tmp_path) -> None:
    from edgetl.data import load_splits

    root = tmp_path / "flat"
    for i, (cls, n) in enumerate([("ant", 10), ("bee", 10), ("cat", 2)]):
        write_images(root / cls, COLORS[i], n, size=(16, 16), seed=i)
    s = load_splits(root, val_split=0.25)
    assert min(s.counts("train").values()) >= 1 and min(s.counts("val").values()) >= 1, s.counts("val")
    assert len(s.train) + len(s.val) == 22 and len(s.val) == 6  # sklearn's sizes are kept
    (root / "cat" / "img_001.png").unlink()
    with pytest.raises(EdgetlError, match=r"at least 2 images per class .*class 'cat' has 1"):
        load_splits(root, val_split=0.25)


def test_a_run_folder_inside_a_flat_data_folder_is_never_read_as_a_class(tmp_path, capfd) -> None:
    """`--out DATA/myrun` over a flat DATA/<class>/ folder, then a second run on DATA: it still sees
    ant and bee only (before the fix the first run's PNG plots made `myrun` a third class)."""
    root = tmp_path / "flat"
    for i, cls in enumerate(LABELS):
        write_images(root / cls, COLORS[i], 8, size=(32, 32), seed=i)
    common = ["train", "--data", str(root), "--val-split", "0.25", "--quiet", "--cache-dir", str(tmp_path / "c"),
              "--num-workers", "0", *tiny_flags(lp_epochs=1, epochs=1)]  # fmt: skip
    for run in ("myrun", "again"):
        capfd.readouterr()
        assert main([*common, "--out", str(root / run)]) == 0, capfd.readouterr().err
        assert json.loads((root / run / "data.json").read_text())["classes"] == LABELS, run


# ------------------------------------------------------------- 3. labels vs the model's outputs


@pytest.mark.parametrize("labels", [["ant"], ["ant", "bee", "wasp"]])
def test_labels_that_do_not_match_the_model_outputs_are_refused_in_one_line(labels, tmp_path, capfd) -> None:
    from _onnx_fixtures import export_tiny, metadata_for, stamp

    from edgetl.runtime import Classifier

    model = stamp(export_tiny(tmp_path / "m.onnx", LABELS), metadata_for(labels))
    with pytest.raises(EdgetlError) as e:
        Classifier.load(model, providers="cpu")
    assert f"gives 2 class scores but its metadata lists {len(labels)} labels" in str(e.value), str(e.value)
    write_images(tmp_path / "img", COLORS[0], 1, size=(32, 32))
    line = one_line_error(capfd, ["predict", str(model), str(tmp_path / "img")])
    assert "set edgetl.labels to 2 class names" in line


# -------------------------------------------------------- 5. predict(list of paths) in bounded memory

CHILD = r"""
import json, resource, sys, time
from edgetl.runtime import Classifier

model, paths = sys.argv[1], json.loads(open(sys.argv[2]).read())
clf = Classifier.load(model, providers="cpu", threads=1)
clf.predict(paths[:64])  # warm-up: onnxruntime's arenas and the allocator reach their size
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
batch = clf.predict(paths)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
singles = [clf.predict(p) for p in paths]
print(f"batch {t1 - t0:.1f} s, singles {time.perf_counter() - t1:.1f} s", file=sys.stderr)
print(json.dumps({"growth_mb": (peak - base) / 1024, "n": len(batch),
                  "same": [b.to_dict() == s.to_dict() for b, s in zip(batch, singles)]}))
"""


@pytest.mark.slow
def test_predict_on_2000_paths_runs_in_bounded_memory_with_the_same_results(tmp_path) -> None:
    """Issue 12 must-show 3: peak RSS growth < 300 MB. At 160 px one preprocessed image is 307 KB, so
    preprocessing all 2,000 into one batch first (as main did) holds 614 MB; at 32 px it would be 24 MB
    and the test could not tell (it passed on that code at 32 px)."""
    import numpy as np
    from _onnx_fixtures import export_tiny
    from PIL import Image

    model = export_tiny(tmp_path / "m.onnx", LABELS, data_config={"input_size": (3, 160, 160)})
    rng = np.random.default_rng(0)
    files = []
    ramp = np.linspace(0, 200, 320)[None, :, None]
    for i in range(20):  # 320x240 photos: 230 KB each once decoded
        arr = np.clip(ramp + rng.normal(10 * i, 8, (240, 320, 3)), 0, 255).astype(np.uint8)
        files.append(str(tmp_path / f"photo_{i:02d}.jpg"))
        Image.fromarray(arr).save(files[-1], quality=90)
    listing = tmp_path / "paths.json"
    listing.write_text(json.dumps([files[i % 20] for i in range(2000)]))
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(listing)], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["n"] == 2000 and all(res["same"]), sum(res["same"])
    assert res["growth_mb"] < 300, res["growth_mb"]
    print(f"predict(2000 paths): peak RSS growth {res['growth_mb']:.1f} MB; {r.stderr.strip()}")


# ------------------------------------------------------------- 6, 7, 12. config files and flag values


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" YAML under one known key: 9 aliases of 9 aliases ... of 9 strings."""
    parts, prev = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'], "a"
    for i in range(levels - 1):
        parts.append(f"&l{i} [{', '.join(['*' + prev] * 9)}]")
        prev = f"l{i}"
    return f"lr: [{', '.join(parts)}]\n"  # the anchors live inside lr's value: no unknown key to stop at


CONFIG_CASES = {
    "binary": (bytes(range(256)) * 8, "not UTF-8 text"),
    "nul": (b"lr: 0.1\n\0\0\0", "NUL bytes"),
    "huge": (b"# a comment\n" * 200_000, "larger than 1024 KiB"),
    "bomb": (alias_bomb().encode(), "values once aliases are expanded"),
    "bomb-deeper": (alias_bomb(10).encode(), "values once aliases are expanded"),
    "deep": (b"[" * 50_000 + b"]" * 50_000, "brackets nested 50000 deep"),
    "big-int": (b"lr: " + b"9" * 5000 + b"\n", "unreadable value"),
    "many-values": (b"model: [" + b"1, " * 100_000 + b"1]\n", "more than 100000 values"),
    "long-value": (b"model: [" + b"1, " * 10_000 + b"1]\n", "expected a string, got a list of 10001 items"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
@pytest.mark.parametrize("command", ["train", "run"])
def test_config_files_that_are_not_small_yaml_text_are_one_short_line(command, case, tmp_path, capfd) -> None:
    data, message = CONFIG_CASES[case]
    if command == "run" and case in (
        "long-value",
        "bomb",
        "bomb-deeper",
    ):  # a run config: one section per stage
        data = b"train: {" + data.strip() + b"}\n"
    path = tmp_path / "cfg.yaml"
    path.write_bytes(data)
    # --data names no folder: the config must be refused before the data is looked at (a config that
    # got through stops at the data check instead of training, and the message says which it was)
    no_data = str(tmp_path / "no-such-data")
    line = one_line_error(
        capfd, [command, "--config", str(path), "--data", no_data, "--out", str(tmp_path / "o")]
    )
    assert message in line and str(path) in line and len(line) < 300, line
    assert not (tmp_path / "o").exists()


def _limit_memory() -> None:
    """In the child: a config read without bound fails at 4 GiB, not at the machine's RAM."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_a_device_as_config_is_refused_without_reading_it(tmp_path) -> None:
    """`--config /dev/urandom` was read until the kernel killed the process: here in a child process
    with 4 GiB of address space and a time limit, so a reader without bound fails instead."""
    argv = [sys.executable, "-m", "edgetl", "train", "--config", "/dev/urandom", "--data", "digits",
            "--out", str(tmp_path / "o")]  # fmt: skip
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail("edgetl train --config /dev/urandom was still running after 120 s")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr[-1500:])
    assert lines[0].endswith("config /dev/urandom: is not a regular file; pass a YAML file"), lines
    assert not (tmp_path / "o").exists()


def test_numbers_are_read_the_way_python_and_the_cli_read_them(tmp_path) -> None:
    from edgetl.config import ConfigError, load_config
    from edgetl.train import TrainConfig

    path = tmp_path / "cfg.yaml"
    path.write_text("lr: 1e-3\nlp_lr: 5E-2\nmin_lr: 1_0e-7\nweight_decay: '.01'\n")
    cfg = load_config(TrainConfig, path)
    assert (cfg.lr, cfg.lp_lr, cfg.min_lr, cfg.weight_decay) == (1e-3, 5e-2, 1e-6, 0.01)
    for bad, message in (("lr: 1e-3x", "expected a number, got '1e-3x'"), ("lr: nan", "got 'nan'"),
                         ("lr: .inf", "lr must be a finite number (got inf)")):  # fmt: skip
        path.write_text(bad + "\n")
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_config(TrainConfig, path)


NON_FINITE = {  # command, flag and value; each on real data / a real run / a real model, so only the value is wrong
    "lr": ("train", ["--lr", "inf"]),
    "lp-lr": ("train", ["--lp-lr", "nan"]),
    "scale": ("train", ["--scale", "0.1", "inf"]),
    "max-acc-drop": ("export", ["--max-acc-drop", "nan"]),
    "time-budget": ("bench", ["--time-budget", "inf"]),
}


@pytest.mark.parametrize("flag", list(NON_FINITE))
def test_nan_and_inf_flags_are_refused_before_any_folder_exists(flag, run_dir, tmp_path, capfd) -> None:
    command, bad = NON_FINITE[flag]
    out = tmp_path / "out"
    line = one_line_error(capfd, [*_argv(command, run_dir, out), *bad])
    assert line.endswith(f"--{flag} must be a finite number (got {bad[-1]})"), line
    assert not out.exists()


# ------------------------------------------------------------- 11. a killed writer's temp file

KILLED_WRITER = r"""
import os, signal, sys
from edgetl._io import atomic_path

with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half of a model")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writers_temp_file_goes_with_the_next_write_of_that_file(tmp_path) -> None:
    from edgetl._io import atomic_path, atomic_write_bytes, remove_stale_temps

    target = tmp_path / "m-fp32.onnx"
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True)
        assert r.returncode == -9, r.stderr
    assert len(temps(tmp_path)) == 2 and not target.exists()
    other = tmp_path / "other.onnx"
    with atomic_path(other) as live:
        live.write_bytes(b"a live writer's file (this process)")
        atomic_write_bytes(target, b"a whole model")
        assert temps(tmp_path) == [live]  # the dead writers' temps went; a live one stays
        assert remove_stale_temps(tmp_path) == 0
    assert target.read_bytes() == b"a whole model" and temps(tmp_path) == []


# ------------------------------------------------------------- 10. one writer per folder

HOLDER = r"""
import sys
from edgetl._lock import lock_folder

lock_folder(sys.argv[1], "--out")
print("locked", flush=True)
sys.stdin.read()  # holds the lock until killed or its stdin closes
"""


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds FOLDER's writer lock; yields a function folder -> Popen."""
    procs = []

    def start(folder: Path) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(p)
        assert p.stdout.readline().strip() == "locked"
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from _onnx_fixtures import make_run_dir

    root = tmp_path_factory.mktemp("hard")
    data = root / "data"
    for i, cls in enumerate(LABELS):
        write_images(data / "train" / cls, COLORS[i], 6, size=(32, 32), seed=i)
        write_images(data / "val" / cls, COLORS[i], 4, size=(32, 32), seed=10 + i)
    return make_run_dir(root / "run", data, LABELS, int8=False, fit=False)


def _argv(command: str, run_dir: Path, out: Path) -> list[str]:
    model = next((run_dir / "export").glob("*-fp32-*.onnx"))
    flags = tiny_flags(lp_epochs=1, epochs=1)
    return {
        "train": ["train", "--data", str(run_dir.parent / "data"), "--out", str(out), "--quiet",
                  "--cache-dir", str(run_dir.parent / "cache"), "--num-workers", "0", *flags],  # fmt: skip
        "export": ["export", str(run_dir), "--precisions", "fp32", "--out", str(out), "--quiet"],
        "bench": ["bench", str(model), "--torch", "none", "--out", str(out), "--runs", "3", "--warmup", "0",
                  "--repeat", "1", "--threads", "1", "--quiet"],
    }[command]  # fmt: skip


@pytest.fixture(scope="module")
def busy_run(run_dir, tmp_path_factory):
    """A real `edgetl train --out FOLDER`, stopped (SIGSTOP) once it has written FOLDER/config.yaml: a
    writer in the middle of its run. Yields (FOLDER, its pid); SIGKILLed at the end."""
    import signal
    import time

    folder = tmp_path_factory.mktemp("busy") / "run"
    argv = [sys.executable, "-m", "edgetl", *_argv("train", run_dir, folder), "--epochs", "1000"]
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (folder / "config.yaml").exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"the first writer did not start: {p.wait()} {p.stderr.read()[-1500:]}")
        time.sleep(0.02)
    p.send_signal(signal.SIGSTOP)
    yield folder, p.pid
    p.kill()
    p.wait()


def listing(folder: Path) -> dict[str, int]:
    return {str(x.relative_to(folder)): x.stat().st_mtime_ns for x in folder.rglob("*")}


@pytest.mark.parametrize("command", ["train", "export", "bench"])
def test_a_second_writer_gets_one_line_naming_the_holder(command, run_dir, busy_run, capfd) -> None:
    """While one `edgetl train` writes a run folder, train, export and bench into it are refused."""
    out, pid = busy_run
    before = listing(out)
    line = one_line_error(capfd, _argv(command, run_dir, out))
    assert f"--out {out}: another edgetl process is writing it (pid {pid} on " in line, line
    assert "since 20" in line and "wait for it to finish" in line
    assert listing(out) == before  # nothing of the refused writer's


def test_the_lock_goes_with_a_killed_holder_and_closes_the_new_run_gap(holder, tmp_path) -> None:
    from edgetl._lock import holds, lock_scope
    from edgetl.train.rundir import RunDir

    out = tmp_path / "run"
    p = holder(out)
    run = RunDir(out)
    run.check_new()  # the folder looks empty (only the lock file) ...
    with pytest.raises(EdgetlError, match="another edgetl process is writing it"):
        run.create()  # ... but creating the run takes the lock first, so the gap is closed
    p.kill()
    p.wait()
    with lock_scope():
        run.create()  # the kernel dropped the killed holder's lock: no stale lock to clear by hand
        assert holds(out)
    assert not holds(out) and list(out.iterdir()) == []  # released: the lock file goes with it


# ------------------------------------------------------------- 9. never overwrite a user's file


@pytest.mark.parametrize(
    "command, name",
    [
        ("export", "export_report.md"),
        ("export", "test_efficientnet-fp32-cpu-x86.onnx"),
        ("bench", "bench.md"),
    ],
)
def test_export_and_bench_never_overwrite_a_file_edgetl_did_not_write(
    command, name, run_dir, tmp_path, capfd
):
    out = tmp_path / "mine"
    out.mkdir()
    (out / name).write_text("my own notes")
    line = one_line_error(capfd, _argv(command, run_dir, out))
    assert f"--out {out}: {name} is there and edgetl did not write it" in line, line
    assert (out / name).read_text() == "my own notes"
    assert sorted(x.name for x in out.iterdir()) == [name]


def test_a_folder_edgetl_wrote_can_be_written_again(run_dir, tmp_path, capfd) -> None:
    out = tmp_path / "bench"
    for _ in range(2):
        capfd.readouterr()
        assert main(_argv("bench", run_dir, out)) == 0, capfd.readouterr().err
    files = json.loads((out / ".edgetl-files.json").read_text())["files"]
    assert {"bench.json", "bench.md", "bench.csv"} <= set(files)


# ------------------------------------------------------------- 8. absurd resource requests


def cores() -> int:
    """The CPU cores this process may use (its affinity mask): what the messages count."""
    return len(os.sched_getaffinity(0))


def absurd(run_dir: Path, out: Path, request: str) -> tuple[list[str], str]:
    """(argv, what its one line says) for each absurd request the issue names."""
    bench = _argv("bench", run_dir, out)[:-3]  # without --threads 1 --quiet
    model = next((run_dir / "export").glob("*-fp32-*.onnx"))
    workers = max(33, 8 * cores() + 1)  # past the refusal limit on any machine, few enough to start here
    return {
        "bench-batch": ([*bench, "--batch", "10000000"], "--batch 10000000: one batch of 3x32x32 inputs is 114.4 GB"),
        "bench-threads": ([*bench, "--threads", "1000"], f"--threads 1000: this process may use {cores()} CPU core"),
        "train-workers": ([*_argv("train", run_dir, out), "--num-workers", str(workers)],
                          f"--num-workers {workers}: this process may use {cores()} CPU core"),
        "predict-threads": (["predict", str(model), str(run_dir.parent / "data" / "val"), "--threads", "1000"],
                            f"--threads 1000: this process may use {cores()} CPU core"),
    }[request]  # fmt: skip


@pytest.mark.parametrize("request_", ["bench-batch", "bench-threads", "train-workers", "predict-threads"])
def test_absurd_resource_requests_are_refused_in_one_line_before_starting(request_, run_dir, tmp_path, capfd):
    """Before the fix: --batch 100000 reached 16 GB RSS, --num-workers 1000 hung, --threads 1000 ran 22x slower."""
    out = tmp_path / "out"
    argv, message = absurd(run_dir, out, request_)
    line = one_line_error(capfd, argv)
    assert message in line, line
    assert (
        "use a smaller --batch" in line if request_ == "bench-batch" else f"(use at most {cores()})" in line
    )
    assert not out.exists()


def test_more_threads_than_cores_is_a_one_line_warning(run_dir, capfd) -> None:
    usable_cores = cores
    model = next((run_dir / "export").glob("*-fp32-*.onnx"))
    img = next(run_dir.parent.glob("data/val/ant/*.png"))
    n = usable_cores() + 1
    capfd.readouterr()
    assert main(["predict", str(model), str(img), "--threads", str(n)]) == 0
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"edgetl predict: warning: --threads {n} is more than the {usable_cores()} usable CPU "
                   f"core{'s' * (usable_cores() != 1)}; the threads will contend and run slower "
                   f"(use {usable_cores()})"], err  # fmt: skip


def test_a_batch_that_nearly_fills_memory_warns_and_one_that_cannot_fit_is_refused(monkeypatch) -> None:
    import edgetl._resources as R

    monkeypatch.setattr(R, "available_bytes", lambda: 1 << 30)  # 1 GiB free
    assert R.check_batch_memory(8, (3, 224, 224)) is None  # 4.8 MB x 16 = 77 MB
    assert "--batch 96 needs roughly 0.9 GB of the 1.0 GB available" in R.check_batch_memory(
        96, (3, 224, 224)
    )
    with pytest.raises(EdgetlError, match="--batch 256: one batch of 3x224x224 inputs is 147 MB"):
        R.check_batch_memory(256, (3, 224, 224))


@pytest.mark.slow
def test_two_resumes_of_one_run_started_together_train_it_once(tmp_path) -> None:
    """The issue's case: both trained epochs 2-6 and both exited 0. Now one trains, the other exits 2."""
    import signal
    import time

    data = tmp_path / "data"
    for i, cls in enumerate(LABELS):
        write_images(data / "train" / cls, COLORS[i], 8, size=(32, 32), seed=i)
        write_images(data / "val" / cls, COLORS[i], 4, size=(32, 32), seed=10 + i)
    run = tmp_path / "run"
    flags = tiny_flags(lp_epochs=2, epochs=4)
    cli = [sys.executable, "-m", "edgetl", "train"]
    env = {**os.environ, "EDGETL_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.Popen([*cli, "--data", str(data), "--out", str(run), "--quiet", "--num-workers", "0",
                              "--patience", "0", *flags], env=env, stderr=subprocess.PIPE)  # fmt: skip
    state = run / "checkpoints" / "train_state.pt"
    deadline = time.monotonic() + 300
    while not state.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    if not state.exists():
        pytest.skip("the run finished before it could be killed mid-way (machine too fast for this setup)")
    resumes = [subprocess.Popen([*cli, "--resume", str(run), "--quiet"], env=env, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=600), p.stderr.read()) for p in resumes]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    (err,) = [e for code, e in results if code == 2]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and (
        "another edgetl process is writing it (pid" in lines[0] or "already finished" in lines[0]
    ), err
    epochs = [int(r.split(",")[0]) for r in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == sorted(set(epochs)), epochs  # every epoch once: the run was trained by one process
