"""Issue 12's defects, each reproduced first: inputs checked at the door, memory bounded, the disk
really full. Every test here failed on the main of 2026-12-01 before its fix.

Real full disk: a small tmpfs is mounted (we run as root in CI); where mounting is not permitted
the test skips and says why, and the faked `OSError` tests in test_faults.py still run.
"""

from __future__ import annotations

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
    assert str(e.value) == f"cannot write {path}: No space left on device; the previous file (if any) is intact"
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
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**TINY_TRAIN, "lp_epochs": 1, "epochs": 1}.items()]
    argv = ["train", "--data", str(data), "--out", str(small_disk / "run"), "--cache-dir", str(tmp_path / "c"),
            "--quiet", "--num-workers", "0", *flags]  # fmt: skip
    line = one_line_error(capfd, argv)
    assert "No space left on device" in line and ".safetensors" in line, line
    assert temps(small_disk) == []
