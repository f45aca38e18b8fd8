"""Faults: SIGKILL at random points of training, export and feature caching; writes that fail.

After every kill the same things must hold: each file a reader opens (checkpoints, the train
state, feature-cache entries, .onnx files) either does not exist or is complete, and the next
run (`--resume`, a new export, a new training run) ends with exactly the results of an
uninterrupted one.

Killed processes are forked from a small server that imported torch, timm, onnx and edgetl once
(`DRIVER` below), so a kill costs a fork instead of a 6-10 s interpreter start. Each child runs
`edgetl.cli.main(argv)`, the code behind `python -m edgetl ...`. Kill times are random (seeded:
the seed is printed; EDGETL_FAULT_SEED=N replays a run). Random timing rarely lands inside a
write, which takes milliseconds, so other tests kill deterministically *inside* one: the temp
file half written, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import COLORS, write_images

KILLS = 3  # random SIGKILLs per training run (the issue: "several times, in a loop bounded in time")
TRAIN_ARGS = [
    "--model", "test_efficientnet", "--pretrained", "none", "--img-size", "48", "--mode", "lp-ft",
    "--probe-solver", "sgd", "--lp-epochs", "3", "--lp-lr", "0.05", "--epochs", "6", "--lr", "0.01", "--warmup-epochs", "1",
    "--batch-size", "4", "--auto-augment", "none", "--mixup", "0.2", "--drop-path", "0.1",
    "--ema", "--ema-decay", "0.9", "--patience", "0", "--num-workers", "0",
]  # fmt: skip
EPOCHS = 9  # 3 SGD probe epochs (mid-stage kills and resumes there too) + 6 fine-tuning
LABELS = ["a", "b"]

# ----------------------------------------------------------------------------------- fork server

DRIVER = r'''
"""Imports edgetl's heavy dependencies once, then forks one child per JSON request on stdin."""
import json, os, sys

import numpy, onnx, onnxruntime, safetensors.torch, timm, torch  # noqa: F401,E401

import edgetl.cli, edgetl.export, edgetl.train  # noqa: F401,E401

edgetl.cli.build_parser()  # imports every subcommand module
print(json.dumps({"ready": os.getpid()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ.update(req["env"])
            import tempfile

            tempfile.tempdir = None  # honour a TMPDIR given with the request
            exec(req["setup"], {"__name__": "fault_setup"})
            code = edgetl.cli.main(req["argv"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({
        "pid": pid,
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    }), flush=True)
'''


class ForkServer:
    """One child at a time: start(argv) -> Child; the child can be polled, waited for or killed."""

    def __init__(self, folder: Path):
        script = folder / "forkserver.py"
        script.write_text(DRIVER)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.msgs: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next(timeout=300)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.msgs.put(json.loads(line))
        self.msgs.put(None)

    def next(self, timeout: float) -> dict:
        msg = self.msgs.get(timeout=timeout)
        if msg is None:
            raise RuntimeError("the fork server died")
        return msg

    def start(self, argv: list[str], log: Path, env: dict | None = None, setup: str = "") -> Child:
        req = {"argv": [str(a) for a in argv], "log": str(log), "env": env or {}, "setup": setup}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return Child(self, self.next(timeout=60)["pid"], log, time.monotonic())

    def run(self, argv: list[str], log: Path, env: dict | None = None, setup: str = "") -> Child:
        child = self.start(argv, log, env, setup)
        child.wait()
        return child

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Child:
    server: ForkServer
    pid: int
    log: Path
    started: float
    exit: dict | None = None
    ended: float | None = None

    def poll(self) -> dict | None:
        if self.exit is None:
            try:
                msg = self.server.msgs.get_nowait()
            except queue.Empty:
                return None
            self._done(msg)
        return self.exit

    def wait(self, timeout: float = 300) -> dict:
        if self.exit is None:
            self._done(self.server.next(timeout))
        return self.exit

    def _done(self, msg: dict | None) -> None:
        if msg is None or msg.get("pid") != self.pid:
            raise RuntimeError(f"unexpected message from the fork server: {msg}")
        self.exit, self.ended = msg, time.monotonic()

    def kill(self) -> bool:
        """SIGKILL it if it still runs; True when the kill (not a normal exit) ended it."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        return self.wait()["signal"] == signal.SIGKILL

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, *needles: str, timeout: float = 120) -> bool:
        """Until the log shows one of `needles`; False if the child ended first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.text()
            if any(n in text for n in needles):
                return True
            if self.poll() is not None:
                return any(n in self.text() for n in needles)
            time.sleep(0.005)
        raise TimeoutError(f"no {needles} in {self.log} after {timeout}s:\n{self.text()}")

    @property
    def ok(self) -> bool:
        return self.wait()["code"] == 0

    @property
    def killed(self) -> bool:
        return self.wait()["signal"] == signal.SIGKILL


def kill_inside_write(owner: str, attr: str, path_arg: int, condition: str, nth: int) -> str:
    """Setup code: the nth matching call of owner.attr writes its temp file, which is then cut to
    half its size, and the process SIGKILLs itself (a kill in the middle of a write)."""
    return f"""
import importlib, importlib.util, os, signal
_owner = {owner}
_real = getattr(_owner, {attr!r})
_hits = [0]
def _wrapper(*args, **kwargs):
    out = _real(*args, **kwargs)
    path = str(args[{path_arg}])
    if {condition}:
        _hits[0] += 1
        if _hits[0] == {nth}:
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            os.kill(os.getpid(), signal.SIGKILL)
    return out
setattr(_owner, {attr!r}, _wrapper)
"""


ST = "importlib.import_module('safetensors.torch')"
KILL_IN_CHECKPOINT = lambda nth: kill_inside_write(  # noqa: E731
    ST, "save_file", 1, "'edgetl' in (kwargs.get('metadata') or {})", nth
)
KILL_IN_TRAIN_STATE = lambda nth: kill_inside_write(  # noqa: E731
    "importlib.import_module('torch')", "save", 1, "'train_state' in path", nth
)
KILL_IN_FEATURE_CACHE = kill_inside_write(ST, "save_file", 1, "'key' in (kwargs.get('metadata') or {})", 1)
KILL_IN_ONNX_WRITE = """
import os, pathlib, signal
_real = pathlib.Path.write_bytes
def _write_bytes(self, data):
    if self.name.endswith(".tmp") and ".onnx." in self.name:
        _real(self, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(self, data)
pathlib.Path.write_bytes = _write_bytes
"""
KILL_BEFORE_STATE_REMOVAL = """
import os, signal
from edgetl.train import rundir
rundir.RunDir.remove_state = lambda self: os.kill(os.getpid(), signal.SIGKILL)
"""
KILL_BEFORE_RENAME = """
import importlib, importlib.util, os, signal
# compare_onnx is called from whichever export module builds the variants (api, or builders after issue 13)
api = next(m for m in (importlib.import_module("edgetl.export." + n) for n in ("builders", "api")
           if importlib.util.find_spec("edgetl.export." + n)) if hasattr(m, "compare_onnx"))
_real, _calls = api.compare_onnx, [0]
def _compare(*args, **kwargs):
    _calls[0] += 1
    if _calls[0] == {nth}:  # the variant's complete temp file is on disk, not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(*args, **kwargs)
api.compare_onnx = _compare
"""
DISK_FULL_ON = """
import errno, os
_real, _calls = os.replace, [0]
def _replace(src, dst, *args, **kwargs):
    if os.path.basename(dst) == {name!r}:
        _calls[0] += 1
        if _calls[0] == {nth}:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _real(src, dst, *args, **kwargs)
os.replace = _replace
"""


# -------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not hasattr(os, "fork"):
        pytest.skip("the fault tests fork killable children (POSIX only)")
    s = ForkServer(tmp_path_factory.mktemp("forkserver"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "data"
    for i, cls in enumerate(LABELS):
        write_images(root / "train" / cls, COLORS[i], 24, size=(48, 48), seed=i)
        write_images(root / "val" / cls, COLORS[i], 8, size=(48, 48), seed=100 + i)
    return root


@dataclass
class Reference:
    run: Path
    seconds: float  # wall time from "training ..." to the end: the window random kills fall in


@pytest.fixture(scope="module")
def reference(server, data, tmp_path_factory) -> Reference:
    """The uninterrupted run every interrupted one must reproduce exactly."""
    tmp = tmp_path_factory.mktemp("reference")
    run = tmp / "run"
    child = server.start(
        ["train", "--data", data, "--out", run, *TRAIN_ARGS],
        tmp / "log",
        {"EDGETL_CACHE_DIR": str(tmp / "c")},
    )
    assert child.wait_for("training ")
    began = time.monotonic()
    assert child.ok, child.text()
    assert len(_rows(run)) == EPOCHS
    return Reference(run, child.ended - began)


# ---------------------------------------------------------------------------------------- checks


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp")) if folder.exists() else []


def assert_run_files_complete(run: Path) -> None:
    """Every file the run directory shows under its final name is complete and readable."""
    import torch
    import yaml

    from edgetl.models import read_checkpoint

    for ckpt in sorted((run / "checkpoints").glob("*.safetensors")):
        state, meta = read_checkpoint(ckpt)  # CheckpointError on a truncated or half-written file
        assert meta.labels == LABELS and state, ckpt
        twin = ckpt.with_suffix(".json")
        if twin.exists():
            assert json.loads(twin.read_text())["labels"] == LABELS
    state = run / "checkpoints" / "train_state.pt"
    if state.exists():
        assert torch.load(state, map_location="cpu", weights_only=True)["rows"]
    if (run / "metrics.csv").exists():
        assert all(len(r) == 8 for r in _rows(run))
    if (run / "config.yaml").exists():
        assert yaml.safe_load((run / "config.yaml").read_text())["model"] == "test_efficientnet"
    for name in ("data.json", "eval/eval.json"):
        if (run / name).exists():
            json.loads((run / name).read_text())


def assert_same_result(run: Path, ref: Path) -> None:
    """Same metrics row by row, bit-identical best weights, no train state and no temp files left."""
    import torch
    from safetensors.torch import load_file

    assert _rows(run) == _rows(ref)
    a = load_file(str(run / "checkpoints" / "best.safetensors"))
    b = load_file(str(ref / "checkpoints" / "best.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ea, eb = (json.loads((r / "eval" / "eval.json").read_text()) for r in (run, ref))
    assert {k: ea[k] for k in ("top1", "epoch", "confusion")} == {
        k: eb[k] for k in ("top1", "epoch", "confusion")
    }
    assert not (run / "checkpoints" / "train_state.pt").exists()
    assert _temps(run) == []  # --resume removed what the killed writes left


class CheckpointReader(threading.Thread):
    """Reads best/last with read_checkpoint (what `edgetl export/eval RUN` do) while training writes
    them: a reader must never see a partly written file or a mix of two epochs."""

    def __init__(self, run: Path):
        super().__init__(daemon=True)
        self.folder, self.reads, self.torn = run, 0, []
        self.stop = threading.Event()

    def run(self) -> None:
        from edgetl.models import read_checkpoint

        while not self.stop.is_set():
            for name in ("best", "last"):
                path = self.folder / "checkpoints" / f"{name}.safetensors"
                if not path.is_file():
                    continue
                try:
                    state, meta = read_checkpoint(path)
                    assert meta.labels == LABELS and state
                    self.reads += 1
                except Exception as e:  # noqa: BLE001 - any failure is a torn file; reported by the test
                    self.torn.append(f"{path}: {type(e).__name__}: {e}")
            self.stop.wait(0.02)

    def __enter__(self) -> CheckpointReader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(timeout=30)


def fault_seed() -> int:
    seed = int(os.environ.get("EDGETL_FAULT_SEED") or random.SystemRandom().randrange(2**31))
    print(f"fault seed {seed} (EDGETL_FAULT_SEED={seed} replays these kill times)")
    return seed


# ------------------------------------------------------------------------------------- training


@dataclass
class Kill:
    segment: int
    after_s: float  # seconds after the process announced training/resuming
    rows_before: int  # epochs on disk when the segment started
    rows_after: int  # epochs on disk at the kill
    temps: int  # temp files a killed write left behind


@dataclass
class Attempt:
    run: Path
    kills: list[Kill] = field(default_factory=list)
    segments: int = 0


def _state_rows(run: Path) -> int:
    import torch

    state = run / "checkpoints" / "train_state.pt"
    return len(torch.load(state, weights_only=True)["rows"]) if state.exists() else 0


def test_random_sigkills_during_training_then_resume_match_an_uninterrupted_run(
    server, data, reference, tmp_path
) -> None:
    from edgetl.errors import EdgetlError
    from edgetl.train import TrainConfig, train

    rng = random.Random(fault_seed())
    env = {"EDGETL_CACHE_DIR": str(tmp_path / "cache")}  # its own cache: kills also land in feature caching
    attempts = [Attempt(tmp_path / "run0")]
    deadline = time.monotonic() + 150
    with CheckpointReader(attempts[0].run) as reader:
        while sum(len(a.kills) for a in attempts) < KILLS and time.monotonic() < deadline:
            at = attempts[-1]
            run = at.run
            state = run / "checkpoints" / "train_state.pt"
            if run.exists() and not state.exists():
                # Killed before its first epoch was committed: there is nothing to resume; start over.
                with pytest.raises(EdgetlError, match="no epoch was completed"):
                    train(TrainConfig(resume=str(run), quiet=True))
                shutil.rmtree(run)
            fresh = not run.exists()
            argv = (
                ["train", "--data", data, "--out", run, *TRAIN_ARGS] if fresh else ["train", "--resume", run]
            )
            child = server.start(argv, tmp_path / f"{run.name}-{at.segments}.log", env)
            assert child.wait_for("training ", "resuming "), child.text()
            t0 = time.monotonic()
            done = _state_rows(run)
            remaining = reference.seconds * (EPOCHS - done) / EPOCHS
            time.sleep(rng.uniform(0.0, max(0.3, 0.9 * remaining)))
            at.segments += 1
            if child.kill():
                rows = len(_rows(run)) if (run / "metrics.csv").exists() else 0
                at.kills.append(Kill(at.segments, time.monotonic() - t0, done, rows, len(_temps(run))))
                assert_run_files_complete(run)
            else:  # it finished before the kill: check it, and go on killing a new run
                assert child.ok, child.text()
                attempts.append(Attempt(tmp_path / f"run{len(attempts)}"))
                reader.folder = attempts[-1].run
        assert sum(len(a.kills) for a in attempts) == KILLS, "time budget ran out before 3 kills"
        for at in attempts:
            state = at.run / "checkpoints" / "train_state.pt"
            # Finished means the train state is gone: a kill between eval.json and its removal leaves both,
            # and --resume then only re-evaluates the best weights and removes the state.
            if at.run.exists() and (state.exists() or not (at.run / "eval" / "eval.json").exists()):
                if not state.exists():
                    shutil.rmtree(at.run)
                    argv = ["train", "--data", data, "--out", at.run, *TRAIN_ARGS]
                else:
                    argv = ["train", "--resume", at.run]
                child = server.run(argv, tmp_path / f"{at.run.name}-final.log", env)
                assert child.ok, child.text()
    for at in attempts:
        if at.run.exists():
            assert_same_result(at.run, reference.run)
    assert reader.torn == [], reader.torn[:3]
    kills = [k for a in attempts for k in a.kills]
    where = ", ".join(f"{k.after_s:.2f}s (epochs on disk {k.rows_before}->{k.rows_after})" for k in kills)
    segments = sum(a.segments for a in attempts)
    print(
        f"{len(kills)} SIGKILLs at {where}; {segments} segments, {reader.reads} concurrent reads, none torn"
    )


def test_sigkill_inside_checkpoint_and_state_writes_then_resume(server, data, reference, tmp_path) -> None:
    """A kill in the middle of writing last/best.safetensors, then in the middle of writing the train
    state, then between eval.json and the removal of the state: the half-written temp files exist (so the
    kills really landed inside the writes), the final files are the previous complete ones, and --resume
    ends exactly like the reference."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from edgetl.models import read_checkpoint

    run, env = tmp_path / "run", {"EDGETL_CACHE_DIR": str(tmp_path / "cache")}
    # 1. the 5th checkpoint write of the run (epoch 3's best or last), cut in half
    child = server.run(
        ["train", "--data", data, "--out", run, *TRAIN_ARGS], tmp_path / "1.log", env, KILL_IN_CHECKPOINT(5)
    )
    assert child.killed, child.text()
    (torn,) = [p for p in _temps(run) if ".safetensors." in p.name]
    with pytest.raises(SafetensorError):
        load_file(str(torn))
    assert_run_files_complete(run)
    done = _state_rows(run)  # the epoch being saved was lost; the state and last are the one before
    assert done >= 1 and read_checkpoint(run / "checkpoints" / "last.safetensors")[1].epoch == done

    # 2. resumed, and killed again inside the train-state write after epoch 4 (the first
    #    fine-tuning epoch: the resume crosses the stage boundary)
    nth = 4 - done
    assert nth >= 1
    child = server.run(["train", "--resume", run], tmp_path / "2.log", env, KILL_IN_TRAIN_STATE(nth))
    assert child.killed, child.text()
    (torn,) = [p for p in _temps(run) if ".train_state.pt." in p.name]
    with pytest.raises(Exception):  # noqa: B017 - torch raises several types for a cut zip
        torch.load(torn, weights_only=True)
    assert_run_files_complete(run)
    assert _state_rows(run) == 3
    assert read_checkpoint(run / "checkpoints" / "last.safetensors")[1].epoch == 4

    # 3. resumed to the end, and killed after eval.json was written, before the train state was removed
    child = server.run(["train", "--resume", run], tmp_path / "3.log", env, KILL_BEFORE_STATE_REMOVAL)
    assert child.killed, child.text()
    assert (run / "eval" / "eval.json").is_file() and (run / "checkpoints" / "train_state.pt").is_file()

    # 4. resumed again: nothing is retrained, the best weights are evaluated again and the state removed
    child = server.run(["train", "--resume", run], tmp_path / "4.log", env)
    assert child.ok, child.text()
    assert "resuming" in child.text()
    assert_same_result(run, reference.run)


def test_disk_full_mid_training_names_the_file_keeps_the_checkpoints_and_resumes(
    server, data, reference, tmp_path
) -> None:
    from edgetl.models import read_checkpoint

    run, env = tmp_path / "run", {"EDGETL_CACHE_DIR": str(tmp_path / "cache")}
    setup = DISK_FULL_ON.format(name="last.safetensors", nth=4)  # the disk fills up at epoch 4's checkpoint
    child = server.run(
        ["train", "--data", data, "--out", run, *TRAIN_ARGS, "--quiet"], tmp_path / "1.log", env, setup
    )
    assert child.wait()["code"] == 2, child.text()
    errors = [ln for ln in child.text().splitlines() if "error" in ln.lower() or "Traceback" in ln]
    last = run / "checkpoints" / "last.safetensors"
    assert errors == [
        f"edgetl train: error: cannot write {last}: No space left on device; the previous file (if any) is intact"
    ]
    assert_run_files_complete(run)
    assert read_checkpoint(last)[1].epoch == 3 and _state_rows(run) == 3
    assert _temps(run) == []
    child = server.run(["train", "--resume", run], tmp_path / "2.log", env)
    assert child.ok, child.text()
    assert_same_result(run, reference.run)


def test_reading_a_checkpoint_while_it_is_replaced_gives_one_whole_version(tmp_path, monkeypatch) -> None:
    """`edgetl export RUN` / `edgetl eval RUN` while training still writes best.safetensors.

    safetensors' `safe_open` reads the header, then torch maps the tensor bytes by file NAME; a rename
    in between gave one version's metadata with the other's bytes (silently wrong tensors) until
    read_checkpoint read the file once. The replace is injected at exactly that moment.
    """
    import torch

    from edgetl.errors import CheckpointError
    from edgetl.models import CheckpointMeta, create_classifier, read_checkpoint, save_checkpoint

    old, info = create_classifier("test_resnet", 2, "none", img_size=32)
    new, _ = create_classifier("test_resnet", 2, "none", img_size=32)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(1.0)
    path = tmp_path / "checkpoints" / "best.safetensors"
    save_checkpoint(path, old, CheckpointMeta("test_resnet", LABELS, info.data_config, epoch=1))
    newer = save_checkpoint(
        tmp_path / "next.safetensors",
        new,
        CheckpointMeta("test_resnet", LABELS, info.data_config, epoch=2, metrics={"val_acc": 0.75}),
    )
    real = torch.UntypedStorage.from_file
    replaced = []

    def from_file(filename, *args, **kwargs):
        if not replaced:
            replaced.append(filename)
            os.replace(newer, path)  # the trainer's save_checkpoint renames the next epoch in
        return real(filename, *args, **kwargs)

    monkeypatch.setattr(torch.UntypedStorage, "from_file", from_file)
    try:
        state, meta = read_checkpoint(path)
    except CheckpointError:  # refusing is acceptable; loading a mix is not
        return
    want = {1: old, 2: new}[meta.epoch].state_dict()
    mixed = [k for k in state if not torch.equal(state[k], want[k])]
    assert not mixed, (
        f"metadata of epoch {meta.epoch} with other tensors ({len(mixed)} of {len(state)} differ)"
    )


# -------------------------------------------------------------------------------- feature cache

PROBE_ARGS = [
    "--model", "test_efficientnet", "--pretrained", "none", "--img-size", "32", "--mode", "linear-probe",
    "--lp-epochs", "2", "--batch-size", "8", "--num-workers", "0",
]  # fmt: skip


def test_sigkill_while_writing_the_feature_cache_is_never_read_as_valid(server, data, tmp_path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    cache = tmp_path / "cache"
    env = {"EDGETL_CACHE_DIR": str(cache)}

    def probe(name: str, setup: str = "") -> Child:
        return server.run(
            ["train", "--data", data, "--out", tmp_path / name, *PROBE_ARGS],
            tmp_path / f"{name}.log",
            env,
            setup,
        )

    killed = probe("killed", KILL_IN_FEATURE_CACHE)
    assert killed.killed and "feature cache" not in killed.text()
    assert list(cache.glob("*.safetensors")) == []  # no entry under a final name
    (torn,) = _temps(cache)
    with pytest.raises(SafetensorError):
        load_file(str(torn))

    first = probe("first")
    assert first.ok and "feature cache miss" in first.text(), first.text()
    (entry,) = cache.glob("*.safetensors")
    second = probe("second")
    assert second.ok and "feature cache hit" in second.text(), second.text()
    assert _rows(tmp_path / "second") == _rows(tmp_path / "first")

    entry.write_bytes(
        entry.read_bytes()[: entry.stat().st_size // 3]
    )  # torn by something else (a copy, a disk)
    third = probe("third")
    assert third.ok and "feature cache miss" in third.text(), third.text()
    assert _rows(tmp_path / "third") == _rows(tmp_path / "first")
    assert load_file(str(entry))["train_x"].shape[0] == 48  # rewritten whole


def test_run_killed_before_its_first_epoch_can_be_started_again(server, data, tmp_path, capsys) -> None:
    from edgetl.cli import main

    run, env = tmp_path / "run", {"EDGETL_CACHE_DIR": str(tmp_path / "cache")}
    killed = server.run(
        ["train", "--data", data, "--out", run, *PROBE_ARGS], tmp_path / "k.log", env, KILL_IN_FEATURE_CACHE
    )
    assert killed.killed and (run / "config.yaml").exists()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    advice = capsys.readouterr().err
    again = server.run(["train", "--data", data, "--out", run, *PROBE_ARGS], tmp_path / "again.log", env)
    # Either the same command starts the run over, or --resume's message names a way that works.
    assert again.ok or f"delete {run}" in advice or "another --out" in advice, (advice, again.text())


# ------------------------------------------------------------------------------------------ export


@pytest.fixture(scope="module")
def export_run(tmp_path_factory) -> Path:
    """A run directory (fitted tiny checkpoint + config.yaml naming its data), nothing exported yet."""
    from _onnx_fixtures import make_run_dir

    tmp = tmp_path_factory.mktemp("export-faults")
    data = tmp / "data"
    for i, cls in enumerate(("ant", "bee")):
        write_images(data / "train" / cls, COLORS[i], 12, seed=i)
        write_images(data / "val" / cls, COLORS[i], 6, seed=100 + i)
    run = make_run_dir(tmp / "run", data, int8=False)
    shutil.rmtree(run / "export")
    return run


def assert_only_complete_onnx(out: Path) -> list[str]:
    """Every *.onnx passes the full ONNX checker and serves predictions; bench lists exactly those."""
    import numpy as np
    import onnx

    from edgetl.bench import BenchConfig
    from edgetl.bench.runner import resolve_inputs
    from edgetl.errors import EdgetlError
    from edgetl.runtime import Classifier

    finals = sorted(out.glob("*.onnx"))
    img = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for f in finals:
        onnx.checker.check_model(str(f), full_check=True)
        assert Classifier.load(f, providers="cpu").predict(img).label in ("ant", "bee")
    if finals:
        variants, _ = resolve_inputs(BenchConfig(models=[str(out)]))
        assert sorted(v.path for v in variants) == finals
    elif out.exists():
        with pytest.raises(EdgetlError, match="no export/"):
            resolve_inputs(BenchConfig(models=[str(out)]))
    return [f.name for f in finals]


def test_sigkill_during_export_never_leaves_a_truncated_onnx(server, export_run, tmp_path) -> None:
    fp32, int8 = "test_efficientnet-fp32-cpu-x86.onnx", "test_efficientnet-int8-cpu-x86.onnx"
    out = tmp_path / "export"
    env = {"TMPDIR": str(tmp_path)}  # the killed export's work folder stays here, not in /tmp
    argv = ["export", export_run, "--precisions", "fp32,int8", "--calib-images", "16", "--out", out]

    # 1. killed in the middle of writing the fp32 file: a half temp file, no .onnx
    child = server.run(argv, tmp_path / "1.log", env, KILL_IN_ONNX_WRITE)
    assert child.killed, child.text()
    assert [p.name.split(".onnx.")[0] for p in _temps(out)] == [f".{fp32[:-5]}"]
    assert assert_only_complete_onnx(out) == []

    # 2. killed while the complete int8 temp file is being checked, before its rename (compare_onnx
    #    calls: 1 fp32 gate, 2 int8 measured in the work folder, 3 int8 gate on the temp file)
    child = server.run(argv, tmp_path / "2.log", env, KILL_BEFORE_RENAME.format(nth=3))
    assert child.killed, child.text()
    assert assert_only_complete_onnx(out) == [fp32]
    assert any(p.name.startswith(f".{int8}.") for p in _temps(out))

    # 3. a complete export over the leftovers, then SIGKILLs at random times during re-exports
    child = server.start(argv, tmp_path / "3.log", env)
    assert child.wait_for("edgetl export:")
    began = time.monotonic()
    assert child.ok, child.text()
    assert assert_only_complete_onnx(out) == [fp32, int8]
    assert (
        _temps(out) == []
    )  # the killed writers' temp files went with the next complete export (issue 12 #11)
    window = child.ended - began
    rng, kills, tries = random.Random(fault_seed()), [], 0
    while len(kills) < 2 and tries < 6:
        tries += 1
        child = server.start(argv, tmp_path / f"r{tries}.log", env)
        assert child.wait_for("edgetl export:")
        delay = rng.uniform(0.0, window)
        time.sleep(delay)
        if child.kill():
            kills.append(delay)
            assert assert_only_complete_onnx(out) == [fp32, int8]  # the earlier files, or new whole ones
        else:
            assert child.ok, child.text()
    assert len(kills) == 2
    left, work = len(_temps(out)), len(list(tmp_path.glob("edgetl-export-*")))
    print(
        f"export: 2 injected kills + {len(kills)} random at {[round(k, 2) for k in kills]} s; {left} temp "
        f"files left in the export folder (none named *.onnx), {work} work folders left in TMPDIR"
    )
    # An hour later the next export clears what the killed ones left (younger leftovers could be a
    # concurrent export's live files, so they stay until then).
    hour_ago = time.time() - 3700
    for p in [*_temps(out), *tmp_path.glob("edgetl-export-*")]:
        os.utime(p, (hour_ago, hour_ago))
    child = server.run(argv, tmp_path / "after.log", env)
    assert child.ok, child.text()
    assert _temps(out) == [] and list(tmp_path.glob("edgetl-export-*")) == []
    assert assert_only_complete_onnx(out) == [fp32, int8]


# --------------------------------------------------------------------------------- failing writes


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch) -> None:
    import torch

    from edgetl.errors import EdgetlError
    from edgetl.models import CheckpointMeta, create_classifier, read_checkpoint, save_checkpoint

    model, info = create_classifier("test_resnet", 2, "none", img_size=32)
    path = tmp_path / "checkpoints" / "best.safetensors"
    save_checkpoint(path, model, CheckpointMeta("test_resnet", LABELS, info.data_config, epoch=1))
    before = path.read_bytes()
    with torch.no_grad():
        model.fc.bias += 1

    def full(src, dst, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(EdgetlError) as e:
        save_checkpoint(path, model, CheckpointMeta("test_resnet", LABELS, info.data_config, epoch=2))
    monkeypatch.undo()
    assert (
        str(e.value) == f"cannot write {path}: No space left on device; the previous file (if any) is intact"
    )
    assert path.read_bytes() == before and read_checkpoint(path)[1].epoch == 1
    assert _temps(tmp_path) == []


def test_disk_full_while_writing_an_export_keeps_the_previous_onnx(export_run, tmp_path, monkeypatch) -> None:
    from edgetl.errors import EdgetlError
    from edgetl.export import ExportConfig, export

    cfg = ExportConfig(source=str(export_run), precisions=["fp32"], out_dir=str(tmp_path / "out"))
    (path,) = [Path(v.file) for v in export(cfg).variants]
    before = path.read_bytes()
    real = os.replace

    def full(src, dst, *a, **k):
        if str(dst).endswith(".onnx"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(EdgetlError, match=re.escape(f"cannot write {path}: No space left on device")):
        export(cfg)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert assert_only_complete_onnx(path.parent) == [path.name] and _temps(path.parent) == []


@pytest.mark.parametrize("command", ["train", "export", "bench"])
def test_output_folder_that_cannot_exist_is_one_line_naming_it(
    command, data, export_run, tmp_path, capsys
) -> None:
    """--out under a regular file (NotADirectoryError; chmod does not stop root, this does)."""
    from edgetl.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    out = blocker / "out"
    onnx_file = tmp_path / "m.onnx"
    if command == "bench":
        from _onnx_fixtures import export_tiny

        export_tiny(onnx_file, ["ant", "bee"])
    argv = {
        "train": ["train", "--data", str(data), "--out", str(out), *TRAIN_ARGS, "--quiet"],
        "export": ["export", str(export_run), "--precisions", "fp32", "--out", str(out), "--quiet"],
        "bench": ["bench", str(onnx_file), "--out", str(out), "--runs", "3", "--warmup", "0", "--repeat", "1",
                  "--threads", "1", "--quiet"],
    }[command]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"edgetl {command}: error: ") and str(out) in err, (
        err
    )
    assert "Not a directory" in err
    assert blocker.read_text() == "a file, not a folder"
