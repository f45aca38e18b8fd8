"""Per-pattern INT8 policy: what onnxruntime cannot quantize is rewritten, quantized around, or kept float.

    plan = plan_policy(onnx.load("fp32-pre.onnx"))
    plan.model            # the graph to calibrate and quantize (rewrites applied)
    plan.exclude          # nodes kept in float (float islands)
    plan.applied          # [{"rule": "erf-gelu", "action": "float-island", "count": 12, "why": ...}]

Rules match graph structure (int8_patterns), so they apply to any timm family that has the
pattern. Each action was chosen by side-by-side latency and agreement on this CPU
(export/README.md, "INT8 policy per operator family"):
- rewrite: ReduceMean over H, W (squeeze-excite pools) -> GlobalAveragePool, which onnxruntime
  runs in INT8 (QLinearGlobalAveragePool) instead of DQ -> float ReduceMean;
- rewrite + float island: GELU in its Erf form (ConvNeXt, FastViT, ViT MLPs) becomes one
  com.microsoft Gelu kept float, so one DQ/Q pair brackets it (onnxruntime's default quantizes
  its Add/Mul with a DQ/Q pair between every node; it has no INT8 Erf, and it does not fuse the
  five nodes into Gelu once the input is a DequantizeLinear output);
- float-island: hard-swish (HardSigmoid + Mul after onnxruntime inlines HardSwish): onnxruntime
  has no INT8 HardSigmoid, so its default puts DQ -> HardSigmoid -> Q and a QLinearMul after it;
  kept float, the pair costs one DQ/Q pair (22 fewer Q and DQ in MobileNetV3-Large), exact math,
  and measured the same speed within this machine's noise.
- rewrite: Softmax over an axis of length 1 (LeViT's last stage at small inputs) -> the constant 1
  it computes: onnxruntime's QLinearSoftmax returns 0 there, which zeroed LeViT's attention (INT8 at
  chance); excluding the node is not enough, onnxruntime fuses DQ -> Softmax -> Q at load time.
- float-island: ReLU linear attention's normalization (EfficientViT: q @ kv, then the slices,
  the eps Add and the Div): numerator and normalizer share one per-tensor scale, the normalizer is
  small, and the ratio of two coarse INT8 values collapsed EfficientViT-B0 (33.6% vs 82.2% in
  bench/results/backbones-20261202-1340.json; 84.2% = PyTorch with the island, -1419.json).
- shared range: Concat of activations (GhostNet's ghost halves, FastViT/MobileViT joins): inputs
  and output calibrated to one range, so QLinearConcat copies bytes instead of requantizing.
`RULES` is a registry: a new pattern is one `RULES.register(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgetl.export import int8_patterns as P
from edgetl.registry import Registry

ACTIONS = ("rewrite", "float-island", "quantize-around", "shared-range")


@dataclass(frozen=True)
class Rule:
    """One graph pattern and what INT8 export does with it."""

    name: str
    action: str  # one of ACTIONS
    why: str
    find: Callable[[P.GraphIndex], list[list[Any]]]
    rewrite: Callable[[Any, list[list[Any]]], list[str]] | None = None  # "rewrite": returns nodes kept float

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"rule {self.name}: action must be one of {ACTIONS}, got {self.action!r}")


@dataclass
class PolicyPlan:
    model: Any
    exclude: list[str] = field(default_factory=list)
    shared_ranges: list[list[str]] = field(default_factory=list)  # tensors calibrated to one range
    applied: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(f"{a['rule']} x{a['count']}: {a['action']}" for a in self.applied) or "none matched"


def _to_global_pool(model: Any, matches: list[list[Any]]) -> list[str]:
    for (n,) in matches:
        n.op_type = "GlobalAveragePool"
        del n.attribute[:]
        del n.input[1:]
    return []


def _to_gelu(model: Any, matches: list[list[Any]]) -> list[str]:
    """Five Erf-GELU nodes -> one com.microsoft Gelu (onnxruntime's CPU/CUDA kernel), kept float.

    onnxruntime fuses this itself in a float graph, but not once the GELU's input is a
    DequantizeLinear output, so the INT8 graph would run Div, Erf, Add, Mul, Mul one by one."""
    import onnx

    g = model.graph
    kept = []
    for chain in matches:
        scale, last = chain[0], chain[-1]
        x = next(t for t in scale.input if t not in {i.name for i in g.initializer})
        gelu = onnx.helper.make_node(
            "Gelu", [x], [last.output[0]], name=f"{last.name}_gelu", domain="com.microsoft"
        )
        at = list(g.node).index(scale)
        for n in chain:
            g.node.remove(n)
        g.node.insert(at, gelu)
        kept.append(gelu.name)
    read = {t for n in g.node for t in n.input}
    for init in [i for i in g.initializer if i.name not in read]:  # the GELUs' constants
        g.initializer.remove(init)
    if kept and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return kept


def _to_ones(model: Any, matches: list[list[Any]]) -> list[str]:
    """Softmax over a length-1 axis -> ConstantOfShape(Shape(x), 1.0), its exact value.

    Keeping the Softmax float is not enough: its producer and consumer are quantized, so the graph
    still holds DQ -> Softmax -> Q, which onnxruntime fuses into QLinearSoftmax at load time."""
    import onnx

    g = model.graph
    for (n,) in matches:
        shape = onnx.helper.make_node("Shape", [n.input[0]], [f"{n.output[0]}_shape"], name=f"{n.name}_shape")
        ones = onnx.helper.make_node(
            "ConstantOfShape", [shape.output[0]], [n.output[0]], name=f"{n.name}_ones",
            value=onnx.helper.make_tensor("one", onnx.TensorProto.FLOAT, [1], [1.0]),
        )  # fmt: skip
        at = list(g.node).index(n)
        g.node.remove(n)
        g.node.insert(at, ones)
        g.node.insert(at, shape)
    return []


RULES: Registry[Rule] = Registry("INT8 pattern rule")
RULES.register(
    "spatial-mean",
    Rule(
        "spatial-mean",
        "rewrite",
        "ReduceMean over H,W equals GlobalAveragePool, which onnxruntime runs in INT8",
        lambda g: [[n] for n in P.reduce_mean_pools(g)],
        _to_global_pool,
    ),
)
RULES.register(
    "erf-gelu",
    Rule(
        "erf-gelu",
        "rewrite",
        "onnxruntime has no INT8 GELU: one float com.microsoft Gelu between one DQ/Q pair, not 5 nodes each bracketed",
        P.erf_gelu,
        _to_gelu,
    ),
)
RULES.register(
    "hard-swish",
    Rule(
        "hard-swish",
        "float-island",
        "onnxruntime has no INT8 HardSigmoid; one DQ/Q pair around x * hardsigmoid(x) instead of two",
        lambda g: [list(p) for p in P.hard_swish(g)],
    ),
)
RULES.register(
    "unit-softmax",
    Rule(
        "unit-softmax",
        "rewrite",
        "onnxruntime's QLinearSoftmax gives 0 instead of 1 over an axis of length 1 (LeViT's one-token "
        "attention at small inputs): replaced by the constant 1 it computes",
        lambda g: [[n] for n in P.unit_softmax(g)],
        _to_ones,
    ),
)

RULES.register(
    "linear-attention",
    Rule(
        "linear-attention",
        "float-island",
        "ReLU linear attention divides slices of one MatMul output: with one INT8 scale the small "
        "normalizer keeps few levels and the ratio blows up; q @ kv and the division stay float",
        P.linear_attention_norm,
    ),
)

RULES.register(
    "attention-softmax",
    Rule(
        "attention-softmax",
        "float-island",
        "QLinearSoftmax is slower than float Softmax; a float Softmax alone still fuses (DQ -> Softmax -> Q), "
        "so attn @ v stays float with it",
        lambda g: [list(p) for p in P.attention_softmax(g)],
    ),
)

RULES.register(
    "concat",
    Rule(
        "concat",
        "shared-range",
        "one scale for a Concat's inputs and output: QLinearConcat copies instead of requantizing",
        lambda g: [[n] for n in P.ops_of(g, "Concat") if not any(t in g.initializers for t in n.input)],
    ),
)


def shared_range_cache(cache_in: Any, cache_out: Any, groups: list[list[str]]) -> Any:
    """Copy of a calibration cache where each group of tensors has the union of its ranges."""
    import numpy as np
    from onnxruntime.quantization.calibrate import TensorData, load_tensors_data, save_tensors_data

    data = load_tensors_data(cache_in)
    for group in groups:
        present = [t for t in group if t in data.data]
        if len(present) < 2:
            continue
        lo = min(float(np.min(data.data[t].range_value[0])) for t in present)
        hi = max(float(np.max(data.data[t].range_value[1])) for t in present)
        for t in present:
            data.data[t] = TensorData(lowest=np.array([lo], np.float32), highest=np.array([hi], np.float32))
    save_tensors_data(data, cache_out)
    return cache_out


def plan_policy(model: Any, rules: list[str] | None = None) -> PolicyPlan:
    """Apply `rules` (default: all registered) to a copy of `model`; returns what was done."""
    import copy

    out = PolicyPlan(copy.deepcopy(model))
    for name in rules if rules is not None else RULES.names():
        rule = RULES.get(name)
        matches = rule.find(P.GraphIndex(out.model))
        if not matches:
            continue
        if rule.action == "rewrite" and rule.rewrite is not None:
            out.exclude.extend(rule.rewrite(out.model, matches))
        elif rule.action == "float-island":
            out.exclude.extend(n.name for m in matches for n in m)
        elif rule.action == "shared-range":
            out.shared_ranges.extend([*n.input, *n.output] for (n,) in matches)
        out.applied.append({"rule": name, "action": rule.action, "count": len(matches), "why": rule.why})
    return out


__all__ = ["ACTIONS", "RULES", "PolicyPlan", "Rule", "plan_policy", "shared_range_cache"]
