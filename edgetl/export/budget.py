"""Accuracy budget: keep the nodes INT8 hurts most in float until the val accuracy holds.

    ranking = rank_sensitive(pre_path, qdq_path, calib_inputs[:16], workdir)   # worst SQNR first
    result = fit_budget(ranking, quantize=q.quantize, measure=accuracy_of, max_nodes=12)

Ranking (per-tensor SQNR, built on onnxruntime's `qdq_loss_debug` helpers): for every quantized
activation, the signal-to-quantization-noise ratio of the float activation against itself passed
through that tensor's INT8 scale/zero point; for every weight, the SQNR of its dequantized copy
(`create_weight_matching` + `compute_weight_error`). A bad tensor is fixed by keeping the nodes
that quantize it in float: the node that produces it and the nodes that consume it (QDQ puts a
pair on both sides; a folded Relu/Clip hands this to the node before it). Each step keeps one more
tensor's nodes in float, re-quantizes (calibration is cached) and re-measures.
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


@dataclass
class Sensitivity:
    tensor: str
    sqnr_db: float  # lower = more damage from quantization
    kind: str  # "activation" | "weight"
    nodes: list[str]  # nodes that must stay float to take this tensor out of INT8


@dataclass
class BudgetStep:
    tensor: str
    sqnr_db: float
    nodes_added: list[str]
    accuracy: float
    passed: bool


@dataclass
class BudgetResult:
    passed: bool
    excluded: list[str] = field(default_factory=list)
    steps: list[BudgetStep] = field(default_factory=list)
    path: Path | None = None


REMOVABLE = ("Relu", "Clip")  # onnxruntime's QDQ quantizer folds these into the producer's output QDQ


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


def _quantized_nodes(qdq_model: Any) -> set[str]:
    """Names of compute nodes that read at least one DequantizeLinear output."""
    dq_out = {o for n in qdq_model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {
        n.name
        for n in qdq_model.graph.node
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i in dq_out for i in n.input)
    }


def rank_sensitive(
    pre_path: str | os.PathLike, qdq_path: str | os.PathLike, inputs: np.ndarray, workdir: str | os.PathLike
) -> list[Sensitivity]:
    """Tensors ranked by quantization SQNR (worst first), each with the nodes that quantize it.

    Activation SQNR is measured on the FLOAT model's activations, fake-quantized with the QDQ
    model's own scale/zero point: it is the error each tensor adds by itself, not the error
    piled up upstream (a QDQ model wrecked early on has ~0 dB everywhere downstream).
    """
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_weight_error,
        create_weight_matching,
        modify_model_output_intermediate_tensors,
    )

    qdq = onnx.load(str(qdq_path))
    qparams = _activation_qparams(qdq)
    float_aug = Path(workdir) / "float-aug.onnx"
    signal: dict[str, float] = {}
    noise: dict[str, float] = {}
    # qdq_loss_debug logs an ERROR per weight it cannot pair (onnxruntime renames some when quantizing);
    # those weights are simply not ranked
    with quiet(logging.CRITICAL):
        modify_model_output_intermediate_tensors(str(pre_path), str(float_aug))
        for i in range(0, len(inputs), CHUNK):
            acts = collect_activations(str(float_aug), ArrayCalibrationReader(inputs[i : i + CHUNK]))
            for name, arrays in acts.items():
                if name not in qparams:
                    continue
                scale, zp, lo, hi = qparams[name]
                for x in arrays:
                    x = x.astype(np.float64)
                    dq = (np.clip(np.rint(x / scale) + zp, lo, hi) - zp) * scale
                    signal[name] = signal.get(name, 0.0) + float(np.square(x).sum())
                    noise[name] = noise.get(name, 0.0) + float(np.square(x - dq).sum())
            del acts
        weight_err = compute_weight_error(create_weight_matching(str(pre_path), str(qdq_path)))

    fmodel = onnx.load(str(pre_path))
    nodes = {n.name: n for n in fmodel.graph.node}
    in_qdq = {n.name for n in qdq.graph.node}
    quantized = _quantized_nodes(qdq)
    producer = {o: n.name for n in fmodel.graph.node for o in n.output}
    consumers: dict[str, list[str]] = {}
    for n in fmodel.graph.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n.name)

    def nodes_for(tensor: str) -> list[str]:
        names = [producer.get(tensor), *consumers.get(tensor, [])]
        p = nodes.get(producer.get(tensor, ""))
        if p is not None and p.op_type in REMOVABLE and p.name not in in_qdq:
            names.append(producer.get(p.input[0]))  # the Relu/Clip was folded: its input's producer quantizes
        keep = []
        for n in dict.fromkeys(names):
            if n and (n in quantized or (n in nodes and nodes[n].op_type in REMOVABLE and n not in in_qdq)):
                keep.append(n)
        return keep

    def sqnr(t: str) -> float:
        if noise.get(t, 0.0) <= 0.0 or signal.get(t, 0.0) <= 0.0:
            return float("inf")
        return 10.0 * math.log10(signal[t] / noise[t])

    ranking = [Sensitivity(t, sqnr(t), "activation", nodes_for(t)) for t in signal]
    ranking += [Sensitivity(t, float(v), "weight", nodes_for(t)) for t, v in weight_err.items()]
    ranking = [s for s in ranking if s.nodes and math.isfinite(s.sqnr_db)]
    ranking.sort(key=lambda s: s.sqnr_db)
    return ranking


def fit_budget(
    ranking: list[Sensitivity],
    quantize: Callable[[Path, list[str]], Path],
    measure: Callable[[Path], tuple[float, bool]],
    workdir: str | os.PathLike,
    max_nodes: int,
) -> BudgetResult:
    """Keep the worst tensors' nodes in float one tensor at a time until `measure` says it passes.

    `quantize(out_path, excluded)` writes a model; `measure(path)` returns (accuracy, passed).
    """
    result = BudgetResult(passed=False)
    for i, s in enumerate(ranking):
        new = [n for n in s.nodes if n not in result.excluded]
        if not new:
            continue
        if len(result.excluded) + len(new) > max_nodes:
            log.info("budget: stopping, keeping %s in float would exceed %d nodes", new, max_nodes)
            break
        result.excluded.extend(new)
        path = quantize(Path(workdir) / f"int8-fallback-{i}.onnx", list(result.excluded))
        acc, ok = measure(path)
        result.steps.append(BudgetStep(s.tensor, s.sqnr_db, new, acc, ok))
        log.info("budget: +%s in float (%s, %.1f dB) -> accuracy %.2f%%", new, s.tensor, s.sqnr_db, 100 * acc)
        if ok:
            result.passed, result.path = True, path
            return result
    return result


__all__ = ["BudgetResult", "BudgetStep", "Sensitivity", "fit_budget", "rank_sensitive"]
