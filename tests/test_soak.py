"""Soak: 10,000 predictions through one `Classifier`, resident memory sampled every 500 calls.

The curve is written to `soak_rss.json` (in the test's tmp folder, or in $EDGETL_ARTIFACTS when
set, so CI can keep it) and summarised on stdout. Memory must be flat after a warm-up: an app
that classifies camera frames all day must not grow.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from _onnx_fixtures import export_tiny

from edgetl.runtime import Classifier

CALLS = 10_000
EVERY = 500
WARMUP = 1_000  # calls before the baseline: allocator arenas and onnxruntime's caches reach steady size
MAX_GROWTH_MB = 30.0


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def test_10000_predictions_keep_memory_flat(tmp_path: Path) -> None:
    model = export_tiny(tmp_path / "tiny.onnx", ["ant", "bee", "wasp"])
    clf = Classifier.load(model, providers="cpu", threads=1)
    rng = np.random.default_rng(0)
    # 32 different small frames (sizes and aspect ratios vary, as a camera app's crops would)
    frames = [rng.integers(0, 256, (24 + 3 * i, 40 + 5 * (i % 7), 3), dtype=np.uint8) for i in range(32)]
    first = [clf.predict(f) for f in frames]
    curve: list[tuple[int, float]] = [(0, _rss_mb())]
    t0 = time.perf_counter()
    for i in range(1, CALLS + 1):
        p = clf.predict(frames[i % len(frames)])
        if i % EVERY == 0:
            curve.append((i, _rss_mb()))
    seconds = time.perf_counter() - t0
    last = [clf.predict(f) for f in frames]

    base = next(mb for n, mb in curve if n == WARMUP)
    after = [mb for n, mb in curve if n >= WARMUP]
    growth = max(after) - base
    slope = float(np.polyfit([n for n, _ in curve if n >= WARMUP], after, 1)[0]) * 1000  # MB per 1000 calls
    doc = {
        "model": model.name,
        "calls": CALLS,
        "sample_every": EVERY,
        "warmup_calls": WARMUP,
        "seconds": round(seconds, 2),
        "ms_per_call": round(1000 * seconds / CALLS, 4),
        "rss_mb": [{"calls": n, "rss_mb": round(mb, 2)} for n, mb in curve],
        "growth_after_warmup_mb": round(growth, 2),
        "slope_mb_per_1000_calls": round(slope, 4),
    }
    folder = Path(os.environ.get("EDGETL_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soak_rss.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(
        f"soak: {CALLS} predictions in {seconds:.1f} s ({doc['ms_per_call']} ms each); RSS {curve[0][1]:.1f} MB "
        f"at start, {base:.1f} MB after {WARMUP} calls, {curve[-1][1]:.1f} MB at the end: growth "
        f"{growth:+.2f} MB, slope {slope:+.3f} MB/1000 calls; curve in {folder / 'soak_rss.json'}"
    )
    assert p is not None and last == first  # the same answers after 10,000 calls: no state drifts
    assert growth < MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB after warm-up: {doc['rss_mb']}"
    assert slope < 1.0, f"RSS keeps rising ({slope:.2f} MB per 1000 calls): {doc['rss_mb']}"


def test_reloading_a_model_200_times_keeps_memory_flat(tmp_path: Path) -> None:
    """An app that reloads its model (new export deployed, settings changed) must not leak sessions."""
    model = export_tiny(tmp_path / "tiny.onnx", ["ant", "bee"])
    frame = np.zeros((30, 40, 3), np.uint8)
    for _ in range(20):  # warm-up
        Classifier.load(model, providers="cpu", threads=1).predict(frame)
    base = _rss_mb()
    for _ in range(200):
        Classifier.load(model, providers="cpu", threads=1).predict(frame)
    growth = _rss_mb() - base
    print(f"soak: 200 Classifier.load + predict: RSS growth {growth:+.2f} MB")
    assert growth < MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB over 200 loads"
