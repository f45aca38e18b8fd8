"""Security: pickles that carry code are refused by every entry point that takes a weights file,
and nothing goes to the network unless the user asks for hub weights.

The crafted files are real exploits: each test first shows that an ordinary `pickle.loads` /
`torch.load(weights_only=False)` of the same bytes creates the marker file, then that edgetl does
not. The offline test runs the whole pipeline in a fresh interpreter whose sockets record and
refuse every internet connection (and, where `unshare -n` works, in a namespace with no network).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import COLORS, write_images

from edgetl.cli import main

TINY = ["--model", "test_efficientnet", "--img-size", "32", "--lp-epochs", "1", "--epochs", "1",
        "--warmup-epochs", "0", "--num-workers", "0", "--quiet"]  # fmt: skip


class _Payload:
    """Unpickling this calls exec(): it creates the marker file."""

    def __init__(self, marker: Path):
        self.code = f"open({str(marker)!r}, 'w').close()"

    def __reduce__(self):
        return (exec, (self.code,))


def evil_file(path: Path, marker: Path, kind: str) -> Path:
    """A weights file that runs code when unpickled: a plain pickle or a torch.save zip."""
    import torch

    state = {"conv_stem.weight": torch.zeros(1), "evil": _Payload(marker)}
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"state_dict": state}))
    else:
        torch.save({"state_dict": state}, path)
    return path


def assert_payload_is_live(path: Path, marker: Path) -> None:
    """The crafted file really executes code when loaded the unsafe way (the test could fail)."""
    import zipfile

    import torch

    if zipfile.is_zipfile(path):
        torch.load(path, map_location="cpu", weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists(), "the payload did not run: the test would prove nothing"
    marker.unlink()


def one_line_error(capsys, argv: list[str], command: str) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"edgetl {command}: error: "), err
    return err


@pytest.fixture
def data(make_image_folder) -> Path:
    return make_image_folder(n_train=4, n_val=2)


@pytest.mark.parametrize("kind", ["pickle", "torch-zip"])
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
def test_train_pretrained_pickle_with_code_is_refused(kind, suffix, data, tmp_path, capsys) -> None:
    marker = tmp_path / "pwned"
    evil = evil_file(tmp_path / f"evil{suffix}", marker, kind)
    assert_payload_is_live(evil, marker)
    out = tmp_path / "run"
    err = one_line_error(
        capsys, ["train", "--data", str(data), "--out", str(out), "--pretrained", str(evil), *TINY], "train"
    )
    assert f"{evil}: refused to load: the pickle holds objects other than tensors" in err
    assert not marker.exists() and not out.exists()


@pytest.mark.parametrize("kind", ["pickle", "torch-zip"])
def test_export_weights_pickle_with_code_is_refused(kind, data, tmp_path, capsys) -> None:
    marker = tmp_path / "pwned"
    evil = evil_file(tmp_path / "evil.pth", marker, kind)
    assert_payload_is_live(evil, marker)
    out = tmp_path / "out"
    argv = ["export", "--model", "test_efficientnet", "--weights", str(evil), "--labels", "ant,bee",
            "--data", str(data), "--precisions", "fp32", "--out", str(out)]  # fmt: skip
    err = one_line_error(capsys, argv, "export")
    assert "refused to load" in err and not marker.exists()
    assert not out.exists() or not any(out.iterdir())


def test_run_pretrained_pickle_with_code_is_refused(data, tmp_path, capsys) -> None:
    marker = tmp_path / "pwned"
    evil = evil_file(tmp_path / "evil.pth", marker, "torch-zip")
    out = tmp_path / "run"
    argv = ["run", "--data", str(data), "--model", "test_efficientnet", "--pretrained", str(evil),
            "--out", str(out), "--target", "cpu-x86", "--quiet"]  # fmt: skip
    err = one_line_error(capsys, argv, "run")
    assert "refused to load" in err and not marker.exists() and not out.exists()


@pytest.fixture
def disguised_run(data, tmp_path) -> tuple[Path, Path]:
    """A run directory whose best.safetensors (and train state) are code-carrying pickles."""
    from edgetl.config import dump_yaml
    from edgetl.train import TrainConfig

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    cfg = TrainConfig(data=str(data), model="test_efficientnet", pretrained="none", img_size=32, out=str(run))
    (run / "config.yaml").write_text(dump_yaml(cfg))
    evil_file(run / "checkpoints" / "best.safetensors", marker, "torch-zip")
    evil_file(run / "checkpoints" / "train_state.pt", marker, "torch-zip")
    assert_payload_is_live(run / "checkpoints" / "train_state.pt", marker)
    return run, marker


def test_pickle_disguised_as_a_checkpoint_is_refused_everywhere(disguised_run, tmp_path, capsys) -> None:
    """export, eval and bench --torch read checkpoints as safetensors only; --resume reads the train
    state with weights_only=True: none of them runs the payload."""
    from _onnx_fixtures import export_tiny

    run, marker = disguised_run
    ckpt = run / "checkpoints" / "best.safetensors"
    onnx_file = export_tiny(tmp_path / "m.onnx", ["ant", "bee"])
    cases = [
        (["export", str(run), "--precisions", "fp32", "--out", str(tmp_path / "x")], "export", "corrupt or truncated"),
        (["export", str(ckpt), "--precisions", "fp32", "--out", str(tmp_path / "x")], "export", "corrupt or truncated"),
        (["eval", str(run), "--quiet"], "eval", "corrupt or truncated"),
        (["bench", str(onnx_file), "--torch", str(run), "--runs", "2", "--warmup", "0", "--repeat", "1",
          "--out", str(tmp_path / "b"), "--quiet"], "bench", "corrupt or truncated"),
    ]  # fmt: skip
    for argv, command, message in cases:
        err = one_line_error(capsys, argv, command)
        assert message in err and str(run) in err, err
        assert not marker.exists(), f"{command} ran the payload"
    assert not (tmp_path / "x").exists() and not (tmp_path / "b").exists()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2  # the message: see the next test
    err = capsys.readouterr().err
    assert ("unreadable training state" in err or "refused to load" in err) and not marker.exists()


def test_resume_of_a_tampered_train_state_is_one_line(disguised_run, capsys) -> None:
    run, marker = disguised_run
    err = one_line_error(capsys, ["train", "--resume", str(run)], "train")
    assert "refused" in err and "weights_only=False" not in err
    assert not marker.exists()


# ----------------------------------------------------------------------------------------- network

GUARD = r'''
"""Record and refuse every internet connection, then run edgetl commands (argv lists in argv[1])."""
import errno, json, socket, sys

attempts = []
INET = (socket.AF_INET, socket.AF_INET6)
stop_at_first = False  # the control below: end at the first attempt (huggingface_hub retries for ~50 s)


class FirstAttempt(BaseException):
    """Not an Exception: no retry loop or `except Exception` swallows it."""


def blocked(what, target):
    attempts.append(f"{what} {target!r}")
    if stop_at_first:
        raise FirstAttempt(target)
    raise OSError(errno.ENETUNREACH, f"network disabled by the test: {what} {target!r}")


def wrap(name):
    real = getattr(socket.socket, name)

    def guarded(self, *args):
        if self.family in INET:
            blocked(name, args[0] if args else None)
        return real(self, *args)

    setattr(socket.socket, name, guarded)


for name in ("connect", "connect_ex", "sendto", "sendmsg"):
    wrap(name)
real_gai = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "127.0.0.1", "::1"):
        blocked("getaddrinfo", host)
    return real_gai(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo

from edgetl.cli import main  # noqa: E402

report = {"codes": [], "attempts": {}}
for argv in json.loads(sys.argv[1]):
    report["codes"].append(main(argv))
    report["attempts"][" ".join(argv[:1])] = list(attempts)
    attempts.clear()

# Offline ImageNet weights (the default of `edgetl train` / `edgetl run`): no network either.
from edgetl.models import create_classifier  # noqa: E402

create_classifier("tf_efficientnet_lite0", 2, "efficientnet_lite0")
report["attempts"]["lite0 weights"] = list(attempts)
attempts.clear()

# Control: hub weights, which the user must ask for, do try the network, and the guard sees it.
stop_at_first = True
try:
    create_classifier("test_efficientnet", 2, "timm")
except FirstAttempt:
    pass
report["control"] = list(attempts)
json.dump(report, open(sys.argv[2], "w"))
'''


def _no_network_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no interfaces) where it works: root, Linux."""
    exe = shutil.which("unshare")
    if exe and subprocess.run([exe, "-n", "true"], capture_output=True).returncode == 0:
        return [exe, "-n"]
    return []


def test_whole_offline_pipeline_makes_no_network_connection(tmp_path) -> None:
    data = tmp_path / "data"
    for i, cls in enumerate(("ant", "bee")):
        write_images(data / "train" / cls, COLORS[i], 12, seed=i)
        write_images(data / "val" / cls, COLORS[i], 6, seed=100 + i)
    run, cache = tmp_path / "run", tmp_path / "cache"
    steps = [
        ["train", "--data", str(data), "--out", str(run), "--pretrained", "none", "--cache-dir", str(cache),
         "--mode", "lp-ft", "--batch-size", "8", "--auto-augment", "none", *TINY],
        ["export", str(run), "--precisions", "fp32,int8", "--calib-images", "16", "--max-acc-drop", "none",
         "--quiet"],
        ["predict", str(run / "export" / "test_efficientnet-int8-cpu-x86.onnx"), str(data / "val"),
         "--providers", "cpu", "--json"],
        ["bench", str(run), "--runs", "5", "--warmup", "1", "--repeat", "1", "--threads", "1", "--quiet"],
        ["run", "--steps", "report", "--out", str(run), "--quiet"],
    ]  # fmt: skip
    (tmp_path / "guard.py").write_text(GUARD)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(OMP_NUM_THREADS="1", HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"))
    prefix = _no_network_prefix()
    out = tmp_path / "report.json"
    res = subprocess.run(
        [*prefix, sys.executable, str(tmp_path / "guard.py"), json.dumps(steps), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["codes"] == [0, 0, 0, 0, 0], res.stderr[-3000:]
    assert all(not a for a in report["attempts"].values()), report["attempts"]
    assert (run / "report.html").is_file() and (run / "bench" / "bench.json").is_file()
    # The guard is not blind: asking for hub weights is a connection attempt it records.
    assert report["control"], report
    print(
        f"offline pipeline ({'unshare -n + ' if prefix else ''}socket guard): {len(steps)} commands + Lite0 "
        f"offline weights, 0 connection attempts; hub control: {len(report['control'])} attempt(s) refused"
    )
