"""Shared fixtures: real data when EDGETL_DATA_DIR points at it, generated images otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# Tests share 2 cores with whatever else runs: keep torch to one thread unless a test says otherwise.
os.environ.setdefault("OMP_NUM_THREADS", "1")

COLORS = [(220, 40, 40), (40, 200, 60), (50, 70, 230), (230, 200, 40), (160, 50, 200), (40, 200, 210)]


def data_dir() -> Path | None:
    root = os.environ.get("EDGETL_DATA_DIR")
    return Path(root) if root and Path(root).is_dir() else None


@pytest.fixture
def hymenoptera() -> Path:
    """The real ants/bees ImageFolder (398 photos); skips when EDGETL_DATA_DIR does not hold it."""
    root = data_dir()
    if root is None:
        pytest.skip(
            "EDGETL_DATA_DIR is not set to a folder holding hymenoptera/ (.ci/run sets ../shared/data)"
        )
    path = root / "hymenoptera"
    if not (path / "train").is_dir():
        pytest.skip(f"{path} has no train/ folder")
    return path


def write_images(
    folder: Path, color: tuple[int, int, int], n: int, size=(40, 32), seed: int = 0, ext=".png"
) -> list[Path]:
    """n noisy images of one dominant colour (learnable by a tiny model in a few steps)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        w, h = size
        base = np.array(color, dtype=np.int16)[None, None, :]
        noise = rng.integers(-40, 41, size=(h, w, 3))
        arr = np.clip(base + noise, 0, 255).astype(np.uint8)
        p = folder / f"img_{i:03d}{ext}"
        Image.fromarray(arr).save(p)
        out.append(p)
    return out


@pytest.fixture
def make_image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Build DIR/train/<class>/*.png and DIR/val/<class>/*.png (or one flat folder with split=False)."""

    def make(classes=("ant", "bee"), n_train=12, n_val=6, size=(40, 32), split=True, name="data") -> Path:
        root = tmp_path / name
        for ci, cls in enumerate(classes):
            color = COLORS[ci % len(COLORS)]
            if split:
                write_images(root / "train" / cls, color, n_train, size, seed=ci)
                write_images(root / "val" / cls, color, n_val, size, seed=100 + ci)
            else:
                write_images(root / cls, color, n_train + n_val, size, seed=ci)
        return root

    return make


# A tiny, fast training setup shared by the train tests (32 px, test_efficientnet, no augmentation).
TINY_TRAIN = dict(
    model="test_efficientnet",
    pretrained="none",
    img_size=32,
    lp_epochs=3,
    lp_lr=0.05,
    probe_solver="sgd",  # these tests exercise the epoch loop; the solved probe: tests/test_probe_stage.py
    epochs=2,
    lr=0.01,
    warmup_epochs=0,
    batch_size=8,
    auto_augment="none",
    drop_path=0.0,
)


# --------------------------------------------------------------- OpenVINO in a process of its own
# After OpenVINO ran in the pytest process (a deploy folder loaded on its backend), a later test that
# started a subprocess died with SIGSEGV and took the whole session with it (seen with openvino
# 2026.4 + torch 2.14.1; no Python traceback). Tests that run OpenVINO in-process therefore run in a
# child pytest, and the parent only reports the child's result.
_OPENVINO_IN_PROCESS = (
    "tests/test_runtime_backends.py::",
    "tests/test_bench_recommend.py::test_bench_writes_a_deploy_folder",
    "tests/test_bench.py::test_backend_opens_runs_and_gives_a_scored_timed_row[openvino]",
    "tests/test_bench.py::test_top1_agrees_across_backends",
)


def _isolated(item: pytest.Item) -> None:
    import subprocess
    import sys

    env = {**os.environ, "EDGETL_TEST_CHILD": "1"}
    one = ["-n", "0"] if item.config.pluginmanager.hasplugin("xdist") else []  # one test: no workers
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *one, item.nodeid]
    r = subprocess.run(cmd, cwd=item.config.rootpath, env=env, capture_output=True, text=True, timeout=1200)
    tail = (r.stdout + r.stderr)[-4000:]
    if r.returncode == 0 and " passed" not in r.stdout and " skipped" in r.stdout:
        pytest.skip(
            next((ln for ln in r.stdout.splitlines() if ln.startswith("SKIPPED")), "skipped in child")
        )
    assert r.returncode == 0, f"child pytest for {item.nodeid} exited {r.returncode}:\n{tail}"


# ------------------------------------------------------------ two workers on two cores (pytest-xdist)
# pyproject's addopts run `-n 2 --dist loadfile`: most tests use one thread (OMP_NUM_THREADS=1 above),
# so two workers keep both cores busy. Each test module is one unit of work (its module-scoped fixtures,
# a trained run or an export, are built once), and the modules that take longest start first, so that
# no worker is left with a long tail at the end. (xdist's loadgroup, which could split a module, does
# not work with pytest 9: it renames `item._nodeid`, which pytest 9 no longer reads.)
_LONGEST_FIRST = (
    "tests/test_backbones.py",  # 15 families trained, exported and quantized
    "tests/test_train_slow.py",  # real-data lp-ft
    "tests/test_faults.py",
    "tests/test_export_hymenoptera.py",
    "tests/test_train_ddp.py",
    "tests/test_hardening.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("EDGETL_TEST_CHILD"):
        return
    rank = {path: i for i, path in enumerate(_LONGEST_FIRST)}
    items.sort(
        key=lambda it: rank.get(it.nodeid.split("::")[0], len(rank))
    )  # stable: file order kept otherwise
    for item in items:
        if item.nodeid.startswith(_OPENVINO_IN_PROCESS):
            item.runtest = lambda item=item: _isolated(item)  # type: ignore[method-assign]
