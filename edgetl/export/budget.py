"""Accuracy budget: keep the nodes INT8 hurts most in float, one node at a time, until the gate holds.

    ranking = rank_sensitive(pre_path, qdq_path, calib_inputs[:16], workdir)   # worst node first
    result = fit_budget(ranking, quantize=q.quantize, measure=gate_of, workdir=work, max_nodes=12)

Ranking is per NODE (not per tensor: one tensor can feed seven Convs). A node's error is the worst
signal-to-quantization-noise ratio among the inputs it reads through a DequantizeLinear:
- an activation: the FLOAT model's activation against itself fake-quantized with the QDQ model's
  scale/zero point (the error that tensor adds by itself, not the error piled up upstream);
- a weight: its dequantized copy against the float one (scalar and shared weights included;
  onnxruntime's `compute_weight_error` raises on 0-d weights, so this module computes it);
- a constant added by an `Add` (a bias): its noise measured against the Add's OUTPUT, because a
  bias 100x smaller than the activation cannot hurt it however coarse its own grid is.
Tensors with no quantization noise (all-zero biases deduplicated across many Convs read 0.0 dB in
onnxruntime's helper) are not ranked. `StaticQuantizer.quantize` makes an excluded node read the
float tensors, so each step takes exactly one node's inputs out of INT8.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.export.quantize import ArrayCalibrationReader, quiet

log = logging.getLogger(__name__)
CHUNK = 4  # images per activation-collection pass (every intermediate tensor is held in memory)
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass
class Sensitivity:
    node: str
    op_type: str
    sqnr_db: float  # lower = more damage from quantization
    tensor: str  # the input that has this error
    kind: str  # "activation" | "weight" | "bias"

    @property
    def nodes(self) -> list[str]:
        return [self.node]


@dataclass
class Measured:
    """What one candidate INT8 model scored against PyTorch."""

    accuracy: float
    passed: bool
    agreement: float | None = None


@dataclass
class BudgetStep:
    node: str
    op_type: str
    tensor: str
    kind: str
    sqnr_db: float
    nodes_added: list[str]
    accuracy: float
    agreement: float | None
    passed: bool


@dataclass
class BudgetResult:
    passed: bool
    excluded: list[str] = field(default_factory=list)
    steps: list[BudgetStep] = field(default_factory=list)
    path: Path | None = None


def _db(signal: float, noise: float) -> float:
    if noise <= 0.0 or signal <= 0.0:
        return float("inf")
    return 10.0 * math.log10(signal / noise)


def _activation_qparams(qdq_model: Any) -> dict[str, tuple[float, int, int, int]]:
    """tensor -> (scale, zero_point, qmin, qmax) of every per-tensor QuantizeLinear on an activation."""
    from onnx import numpy_helper

    init = {i.name: numpy_helper.to_array(i) for i in qdq_model.graph.initializer}
    params = {}
    for n in qdq_model.graph.node:
        if n.op_type != "QuantizeLinear" or n.input[0] in init or len(n.input) < 3:
            continue
        scale, zp = init.get(n.input[1]), init.get(n.input[2])
        if scale is None or zp is None or scale.size != 1:
            continue
        info = np.iinfo(zp.dtype)
        params[n.input[0]] = (float(scale.reshape(())), int(zp.reshape(())), int(info.min), int(info.max))
    return params


@dataclass
class _Energy:
    signal: float = 0.0
    noise: float = 0.0
    count: int = 0

    @property
    def db(self) -> float:
        return _db(self.signal, self.noise)

    @property
    def mean_signal(self) -> float:
        return self.signal / max(self.count, 1)


def _activation_energy(pre_path: Path, qdq: Any, inputs: np.ndarray, workdir: Path) -> dict[str, _Energy]:
    """Signal and fake-quantization noise of every activation the QDQ model quantizes."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        modify_model_output_intermediate_tensors,
    )

    qparams = _activation_qparams(qdq)
    float_aug = workdir / "float-aug.onnx"
    energy: dict[str, _Energy] = {}
    with quiet(logging.CRITICAL):
        modify_model_output_intermediate_tensors(str(pre_path), str(float_aug))
        for i in range(0, len(inputs), CHUNK):
            acts = collect_activations(str(float_aug), ArrayCalibrationReader(inputs[i : i + CHUNK]))
            for name, arrays in acts.items():
                e = energy.setdefault(name, _Energy())
                for x in arrays:
                    x = np.asarray(x, dtype=np.float64)
                    e.signal += float(np.square(x).sum())
                    e.count += x.size
                    if name in qparams:
                        scale, zp, lo, hi = qparams[name]
                        dq = (np.clip(np.rint(x / scale) + zp, lo, hi) - zp) * scale
                        e.noise += float(np.square(x - dq).sum())
            del acts
    return energy


def weight_energy(pre_path: str | os.PathLike, qdq_path: str | os.PathLike) -> dict[str, _Energy]:
    """Weight name -> signal/noise of its dequantized copy; 0-d (scalar) weights included."""
    from onnxruntime.quantization.qdq_loss_debug import create_weight_matching

    with quiet(logging.CRITICAL):  # it logs an ERROR per weight it cannot pair (renamed ones): not ranked
        matched = create_weight_matching(str(pre_path), str(qdq_path))
    out = {}
    for name, m in matched.items():
        w = np.asarray(m["float"], dtype=np.float64).reshape(-1)
        dq = np.asarray(m["dequantized"], dtype=np.float64).reshape(-1)
        if dq.size != w.size:
            continue
        out[name] = _Energy(float(np.square(w).sum()), float(np.square(w - dq).sum()), w.size)
    return out


def _dq_sources(qdq: Any) -> dict[str, str]:
    """DequantizeLinear output -> the float tensor it stands for (activation or weight name)."""
    q_in = {n.output[0]: n.input[0] for n in qdq.graph.node if n.op_type == "QuantizeLinear"}
    out = {}
    for n in qdq.graph.node:
        if n.op_type == "DequantizeLinear":
            src = n.input[0]
            out[n.output[0]] = q_in.get(src, src.removesuffix("_quantized"))
    return out


def rank_sensitive(
    pre_path: str | os.PathLike, qdq_path: str | os.PathLike, inputs: np.ndarray, workdir: str | os.PathLike
) -> list[Sensitivity]:
    """Quantized nodes ranked by the worst SQNR among their quantized inputs (worst first)."""
    import onnx

    qdq = onnx.load(str(qdq_path))
    acts = _activation_energy(Path(pre_path), qdq, inputs, Path(workdir))
    weights = weight_energy(pre_path, qdq_path)
    sources = _dq_sources(qdq)
    ranking = []
    for n in qdq.graph.node:
        if n.op_type in QDQ_OPS:
            continue
        worst: Sensitivity | None = None
        for t in n.input:
            src = sources.get(t)
            if src is None:
                continue
            if src in weights:
                w = weights[src]
                kind, db = "weight", w.db
                if n.op_type == "Add" and n.output[0] in acts:  # a bias: judged by what it does to the sum
                    kind = "bias"
                    db = _db(acts[n.output[0]].mean_signal, w.noise / max(w.count, 1))
            elif src in acts:
                kind, db = "activation", acts[src].db
            else:
                continue
            if math.isfinite(db) and (worst is None or db < worst.sqnr_db):
                worst = Sensitivity(n.name, n.op_type, db, src, kind)
        if worst is not None:
            ranking.append(worst)
    ranking.sort(key=lambda s: s.sqnr_db)
    return ranking


def _as_measured(m: Measured | tuple) -> Measured:
    return m if isinstance(m, Measured) else Measured(*m)


def fit_budget(
    ranking: list[Sensitivity],
    quantize: Callable[[Path, list[str]], Path],
    measure: Callable[[Path], Measured | tuple],
    workdir: str | os.PathLike,
    max_nodes: int,
) -> BudgetResult:
    """Keep the worst-ranked nodes in float one node at a time until `measure` says the gate holds.

    `quantize(out_path, excluded)` writes a model; `measure(path)` returns a `Measured` (or a tuple
    (accuracy, passed[, agreement])). Every step is recorded, the failing ones too.
    """
    result = BudgetResult(passed=False)
    for i, s in enumerate(ranking):
        if s.node in result.excluded:
            continue
        if len(result.excluded) >= max_nodes:
            log.info("budget: stopping at %d nodes in float (limit)", max_nodes)
            break
        result.excluded.append(s.node)
        path = quantize(Path(workdir) / f"int8-fallback-{i}.onnx", list(result.excluded))
        m = _as_measured(measure(path))
        result.steps.append(
            BudgetStep(
                s.node, s.op_type, s.tensor, s.kind, s.sqnr_db, [s.node], m.accuracy, m.agreement, m.passed
            )
        )
        log.info(
            "budget: +%s in float (%s %s, %.1f dB) -> accuracy %.2f%%",
            s.node,
            s.kind,
            s.tensor,
            s.sqnr_db,
            100 * m.accuracy,
        )
        if m.passed:
            result.passed, result.path = True, path
            return result
    return result


__all__ = [
    "BudgetResult",
    "BudgetStep",
    "Measured",
    "Sensitivity",
    "fit_budget",
    "rank_sensitive",
    "weight_energy",
]
