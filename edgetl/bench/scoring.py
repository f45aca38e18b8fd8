"""Accuracy of every opened cell on the eval images, and its agreement with the FP32 ONNX variant.

    scores, warnings = score_cells(cells, ev, pool.crops, labels, reporter)   # one Score (or None) per cell

Agreement is the share of images with the same top-1 as the first FP32 ONNX variant on the
same provider (any provider's when that one has none): how far INT8/FP16 and the eager
baseline move predictions, apart from how many they get right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgetl.bench.data import EvalSet
from edgetl.bench.images import Crops, geometry, model_batch
from edgetl.progress import Reporter

if TYPE_CHECKING:
    from edgetl.bench.cells import Cell

EVAL_CHUNK = 32


@dataclass(frozen=True)
class Score:
    accuracy: float  # top-1 on the eval images, 0..1
    agreement: float | None
    n_eval: int


def score_cells(
    cells: Sequence[Cell], ev: EvalSet, crops: Crops, labels: Sequence[str], reporter: Reporter
) -> tuple[list[Score | None], list[str]]:
    """Top-1 of every cell that runs and has the bench's labels; -> (scores per cell, warnings)."""
    warns = []
    top1: list[np.ndarray | None] = []
    for c in cells:
        runs, same = c.failure is None and bool(c.batches), list(c.labels) == list(labels)
        if runs and not same:
            warns.append(f"{c.variant.name}: labels differ from the other variants; accuracy not computed")
        if runs and same:
            reporter.info(f"scoring {c.variant.name} on {c.provider} ({len(ev)} images)")
        top1.append(predict_all(c, crops[geometry(c.pre)]) if runs and same else None)
    return scores(cells, top1, ev.labels), warns


def predict_all(c: Cell, crops: list[np.ndarray]) -> np.ndarray:
    chunk = c.backend.fixed_batch() or EVAL_CHUNK
    preds = [c.backend.top1(model_batch(c.pre, crops[s : s + chunk])) for s in range(0, len(crops), chunk)]
    return np.concatenate(preds)


def scores(cells: Sequence[Cell], top1: Sequence[np.ndarray | None], truth: np.ndarray) -> list[Score | None]:
    """Accuracy and agreement from each cell's predictions (None: the cell was not scored)."""
    refs: dict[str, np.ndarray] = {}  # provider -> FP32 ONNX predictions (first FP32 variant)
    for c, pred in zip(cells, top1, strict=True):
        if c.kind == "onnx" and c.precision == "fp32" and pred is not None:
            refs.setdefault(c.provider, pred)
    any_ref = next(iter(refs.values()), None)
    out: list[Score | None] = []
    for c, pred in zip(cells, top1, strict=True):
        if pred is None:
            out.append(None)
            continue
        ref = refs.get(c.provider, any_ref)
        agree = None if ref is None else round(float(np.mean(pred == ref)), 6)
        out.append(Score(round(float(np.mean(pred == truth)), 6), agree, len(truth)))
    return out


__all__ = ["Score", "predict_all", "score_cells", "scores"]
