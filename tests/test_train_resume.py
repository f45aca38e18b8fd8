"""SIGKILL in the middle of an epoch, then `--resume`: the same final metrics as an uninterrupted run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import COLORS, write_images
from safetensors.torch import load_file

ARGS = [
    "--model", "test_efficientnet", "--pretrained", "none", "--img-size", "64", "--mode", "lp-ft", "--probe-solver", "lbfgs",
    "--lp-epochs", "2", "--lp-lr", "0.05", "--epochs", "3", "--lr", "0.01", "--warmup-epochs", "1",
    "--batch-size", "4", "--auto-augment", "none", "--mixup", "0.2", "--drop-path", "0.1",
    "--ema", "--ema-decay", "0.9", "--patience", "0", "--quiet",
]  # fmt: skip


def _edgetl(*argv: str, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EDGETL_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "edgetl", "train", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _n_rows(run: Path) -> int:
    try:
        return max(0, len((run / "metrics.csv").read_text().splitlines()) - 1)
    except OSError:
        return 0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for i, cls in enumerate(("a", "b")):
        write_images(root / "train" / cls, COLORS[i], 24, size=(64, 64), seed=i)
        write_images(root / "val" / cls, COLORS[i], 10, size=(64, 64), seed=100 + i)
    return root


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(data: Path, tmp_path: Path, request) -> None:
    cache = tmp_path / "cache"
    full, cut = tmp_path / "full", tmp_path / "cut"
    # The uninterrupted reference, same arguments, runs alongside (one thread each: the two cores both work);
    # its own feature cache, so it computes what the resumed run reads back from the victim's.
    reference = _edgetl("--data", str(data), "--out", str(full), *ARGS, cache=tmp_path / "cache-full")
    request.addfinalizer(lambda: reference.poll() is None and reference.kill())
    victim = _edgetl("--data", str(data), "--out", str(cut), *ARGS, cache=cache)
    deadline = time.monotonic() + 240
    while _n_rows(cut) < 2 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(
            0.01
        )  # wait for the first fine-tuning epoch (global epoch 2, after the solved probe) to be written
    time.sleep(0.1)  # ... and land inside the next one
    assert victim.poll() is None, "the run ended before it could be killed; make the epochs longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = _n_rows(cut)
    assert 2 <= killed_at < 4

    # Whatever was on disk at the kill is complete: checkpoints load and the train state loads.
    for name in ("best.safetensors", "last.safetensors"):
        assert load_file(str(cut / "checkpoints" / name))
    state = torch.load(cut / "checkpoints" / "train_state.pt", weights_only=True)
    # Killed inside fine-tuning epoch 2, or just before the state of epoch 1 was committed: both must resume.
    assert (state["stage_index"], state["stage_done"]) in {(0, True), (1, False)}

    out = _finish(_edgetl("--resume", str(cut), cache=cache))
    assert "best epoch" in out
    _finish(reference)

    assert _rows(cut) == _rows(full)
    assert len(_rows(full)) == 4  # the solved probe (one row) + 3 fine-tuning epochs
    from edgetl.runfolder import read_probe

    solved = [read_probe(r) for r in (cut, full)]
    assert [(p.C, p.cv_acc, p.grid, p.val_acc) for p in solved][0] == [
        (p.C, p.cv_acc, p.grid, p.val_acc) for p in solved
    ][1]
    best_full = load_file(str(full / "checkpoints" / "best.safetensors"))
    best_cut = load_file(str(cut / "checkpoints" / "best.safetensors"))
    assert best_full.keys() == best_cut.keys()
    assert all(torch.equal(best_full[k], best_cut[k]) for k in best_full)
    assert not (cut / "checkpoints" / "train_state.pt").exists()
    assert not list(cut.rglob("*.tmp"))  # temp files of the killed write were cleaned up


def test_resume_of_a_finished_run_says_so(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from edgetl.cli import main

    run = tmp_path / "run"
    args = ["--data", str(data), "--out", str(run), *ARGS, "--cache-dir", str(tmp_path / "cache")]
    args[args.index("--epochs") + 1] = "1"
    args[args.index("--warmup-epochs") + 1] = "0"
    args[args.index("--img-size") + 1] = "32"
    assert main(["train", *args]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    assert "this run already finished; nothing to resume" in capsys.readouterr().err
