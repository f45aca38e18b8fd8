"""Shared pieces of the suite: the val set as model inputs, interleaved latency timing, accuracy.

Every contender gets the same preprocessed tensors (edgetl's torch-free Preprocess, which
matches timm's eval transform), the same thread count, and is timed in interleaved rounds by
`edgetl.bench.timing`, so ratios compare runtimes, not input pipelines or machine drift.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class EvalData:
    images: np.ndarray  # (N, 3, H, W) float32, normalised
    labels: np.ndarray  # (N,)
    classes: list[str]


def load_val(data_dir: Path, data_config: dict[str, Any], classes: list[str]) -> EvalData:
    """The val split of an ImageFolder as model inputs, with labels in the model's class order."""
    from edgetl.data import load_splits
    from edgetl.runtime.image import load_rgb
    from edgetl.runtime.preprocess import Preprocess

    splits = load_splits(str(data_dir))
    index = {name: i for i, name in enumerate(classes)}
    pre = Preprocess.from_data_config(data_config)
    images = np.stack([pre(load_rgb(p)) for p, _ in splits.val]).astype(np.float32)
    labels = np.array([index[splits.classes[y]] for _, y in splits.val], dtype=np.int64)
    return EvalData(images, labels, classes)


def train_inputs(data_dir: Path, data_config: dict[str, Any], n: int, seed: int = 0) -> np.ndarray:
    """n training images (stratified, seeded) as model inputs: calibration data for naive INT8."""
    from edgetl.data import load_splits
    from edgetl.runtime.image import load_rgb
    from edgetl.runtime.preprocess import Preprocess

    splits = load_splits(str(data_dir))
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[str]] = {}
    for p, y in splits.train:
        by_class.setdefault(y, []).append(p)
    picked: list[str] = []
    per = max(1, n // len(by_class))
    for paths in by_class.values():
        picked += [paths[i] for i in rng.permutation(len(paths))[:per]]
    pre = Preprocess.from_data_config(data_config)
    return np.stack([pre(load_rgb(p)) for p in picked[:n]]).astype(np.float32)


def accuracy(
    predict: Callable[[np.ndarray], np.ndarray], ev: EvalData, batch: int = 16
) -> tuple[float, np.ndarray]:
    """(top-1, predicted classes) of `predict(batch) -> logits` over the val set."""
    preds = []
    for i in range(0, len(ev.images), batch):
        preds.append(np.asarray(predict(ev.images[i : i + batch])).argmax(axis=1))
    pred = np.concatenate(preds)
    return float((pred == ev.labels).mean()), pred


def time_interleaved(
    contenders: dict[str, Callable[[np.ndarray], Any]], ev: EvalData, runs: int, rounds: int, warmup: int = 10
) -> dict[str, dict[str, Any]]:
    """Batch-1 latency of each contender: `rounds` rounds, contenders interleaved within each round.

    -> name: {p50_ms, p90_ms, p99_ms, mean_ms, round_p50_ms, spread}
    """
    from edgetl.bench.timing import LatencyStats, round_spread, time_runs

    feeds = [ev.images[i : i + 1] for i in range(min(32, len(ev.images)))]
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    round_p50: dict[str, list[float]] = {k: [] for k in contenders}
    per_round = max(3, runs // rounds)
    for r in range(rounds):
        for name, fn in contenders.items():
            s = time_runs(fn, feeds, warmup=warmup, runs=per_round, budget_s=None, start=r * 7)
            samples[name] += s
            round_p50[name].append(float(np.median(s)))
    out = {}
    for name in contenders:
        st = LatencyStats.from_samples(samples[name])
        out[name] = {
            "p50_ms": round(st.p50_ms, 3),
            "p90_ms": round(st.p90_ms, 3),
            "p99_ms": round(st.p99_ms, 3),
            "mean_ms": round(st.mean_ms, 3),
            "runs": st.runs,
            "round_p50_ms": [round(x, 3) for x in round_p50[name]],
            "spread": None if (sp := round_spread(round_p50[name])) is None else round(sp, 3),
        }
    return out


def ort_session(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def file_mb(path: Path) -> float:
    """Size of an ONNX file plus its external-data file, if any."""
    size = path.stat().st_size
    data = Path(str(path) + ".data")
    if data.is_file():
        size += data.stat().st_size
    return round(size / 2**20, 3)


class Clock:
    """Wall time of a section (for the suite's stated total)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.t0, 1)


def data_root(arg: str | None) -> Path:
    """--data, else $EDGETL_DATA_DIR/hymenoptera."""
    if arg:
        return Path(arg)
    env = os.environ.get("EDGETL_DATA_DIR")
    if env and (Path(env) / "hymenoptera" / "train").is_dir():
        return Path(env) / "hymenoptera"
    raise SystemExit("bench/suite.py: pass --data DIR (hymenoptera ImageFolder) or set EDGETL_DATA_DIR")
