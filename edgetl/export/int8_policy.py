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
- rewrite: GELU in its Erf form (ConvNeXt, FastViT, ViT MLPs) -> x * Sigmoid(1.702 x), within
  0.020 of GELU: onnxruntime runs the Sigmoid as a 256-entry INT8 table (QLinearSigmoid) and the
  Mul in INT8, and the 1.702 folds into a DQ scale (`scalar-mul`);
- rewrite + float island (`erf-gelu`, what is left when `gelu-int8` is off): one com.microsoft
  Gelu kept float, so one DQ/Q pair brackets it (onnxruntime's default quantizes its Add/Mul with
  a DQ/Q pair between every node; it has no INT8 Erf, and it does not fuse the five nodes into
  Gelu once the input is a DequantizeLinear output);
- rewrite: hard-swish (HardSigmoid + Mul after onnxruntime inlines HardSwish) -> x * Clip(x + 3, 0, 6)
  * (1/6): onnxruntime has no INT8 HardSigmoid, but runs Add and Mul in INT8 and folds the Clip into
  the Q range (MobileNetV3-Large 0.88x -> 1.15x); the float island (`hard-swish`) is what is left
  when this rule is off;
- rewrite: a hard-sigmoid gate right after a Conv (squeeze-excite) folds into the Conv's weights and a
  Clip(0, 1), which the Conv's output quantization absorbs;
- requantize: a Mul by a positive scalar between INT8 tensors becomes the scale of one DQ (after
  quantization: the same INT8 values rescaled, no QLinearMul);
- float-island: grouped Convs with one input channel and several outputs per group (FastViT's patch
  embeddings): onnxruntime's QLinearConv runs them one GEMM per group, 13x the float Conv's time.
  Float Convs are pinned float (int8_graph.pin_float): onnxruntime re-quantizes them at load otherwise;
- float-island: depthwise Convs with fewer than 16 channels (GhostNet's cheap operations):
  onnxruntime's INT8 depthwise kernel vectorizes across channels, 4 channels leave most lanes
  empty (0.34 ms INT8 vs 0.07 ms float for one 112x112 GhostNet-050 conv). Pinned float too;
- rewrite: Softmax over an axis of length 1 (LeViT's last stage at small inputs) -> the constant 1
  it computes: onnxruntime's QLinearSoftmax returns 0 there, which zeroed LeViT's attention (INT8 at
  chance); excluding the node is not enough, onnxruntime fuses DQ -> Softmax -> Q at load time.
- float-island: ReLU linear attention's normalization (EfficientViT: q @ kv, then the slices,
  the eps Add and the Div): numerator and normalizer share one per-tensor scale, the normalizer is
  small, and the ratio of two coarse INT8 values collapsed EfficientViT-B0 (33.6% vs 82.2% in
  bench/results/backbones-20261202-1340.json; 84.2% = PyTorch with the island, -1419.json).
- rewrite (after quantization): a Transpose between INT8 tensors that moves runs of 2 or 4 values
  (MobileViT's unfold/fold) becomes Cast -> Transpose -> Cast through a 32/16-bit integer type:
  onnxruntime copies 8-byte runs on its fast path, 2- and 4-byte runs 30x slower;
- shared range: Concat of activations (GhostNet's ghost halves, FastViT/MobileViT joins): inputs
  and output calibrated to one range, so QLinearConcat copies bytes instead of requantizing.
`RULES` is a registry: a new pattern is one `RULES.register(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgetl.export import int8_patterns as P
from edgetl.export.int8_graph import drop_unread_initializers, fold_scalar_muls, widen_byte_transposes
from edgetl.registry import Registry

ACTIONS = ("rewrite", "float-island", "quantize-around", "shared-range", "requantize")


@dataclass(frozen=True)
class Rule:
    """One graph pattern and what INT8 export does with it."""

    name: str
    action: str  # one of ACTIONS
    why: str
    find: Callable[[P.GraphIndex], list[list[Any]]]
    rewrite: Callable[[Any, list[list[Any]]], list[str]] | None = None  # "rewrite": returns nodes kept float
    post: Callable[[Any], int] | None = None  # edits the quantized model instead, returns matches

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"rule {self.name}: action must be one of {ACTIONS}, got {self.action!r}")


@dataclass
class PolicyPlan:
    model: Any
    exclude: list[str] = field(default_factory=list)
    shared_ranges: list[list[str]] = field(default_factory=list)  # tensors calibrated to one range
    post: list[str] = field(default_factory=list)  # rules run on the quantized model (`Rule.post`)
    applied: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(f"{a['rule']} x{a['count']}: {a['action']}" for a in self.applied) or "none matched"


def _to_global_pool(model: Any, matches: list[list[Any]]) -> list[str]:
    for (n,) in matches:
        n.op_type = "GlobalAveragePool"
        del n.attribute[:]
        del n.input[1:]
    return []


def _splice(g: Any, old: list[Any], new: list[Any]) -> None:
    """Put `new` where the first of `old` was and remove `old` (the graph stays in topological order)."""
    at = list(g.node).index(old[0])
    for n in old:
        g.node.remove(n)
    for k, n in enumerate(new):
        g.node.insert(at + k, n)


def _gelu_input(g: Any, chain: list[Any]) -> str:
    """The x of an Erf-GELU chain: the scaling node's input that is not a constant."""
    inits = {i.name for i in g.initializer}
    return next(t for t in chain[0].input if t not in inits)


def _to_gelu(model: Any, matches: list[list[Any]]) -> list[str]:
    """Five Erf-GELU nodes -> one com.microsoft Gelu (onnxruntime's CPU/CUDA kernel), kept float.

    onnxruntime fuses this itself in a float graph, but not once the GELU's input is a
    DequantizeLinear output, so the INT8 graph would run Div, Erf, Add, Mul, Mul one by one."""
    import onnx

    g = model.graph
    kept = []
    for chain in matches:
        last = chain[-1]
        gelu = onnx.helper.make_node(
            "Gelu",
            [_gelu_input(g, chain)],
            [last.output[0]],
            name=f"{last.name}_gelu",
            domain="com.microsoft",
        )
        _splice(g, chain, [gelu])
        kept.append(gelu.name)
    drop_unread_initializers(g)  # the GELUs' constants
    if kept and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return kept


GELU_SIGMOID = 1.702  # GELU(x) ~ x * sigmoid(1.702 x) (Hendrycks & Gimpel): max |error| 0.020, at |x| = 2.27


def _gelu_int8(model: Any, matches: list[list[Any]]) -> list[str]:
    """Five Erf-GELU nodes -> x * Sigmoid(1.702 x), all three nodes quantized.

    onnxruntime runs DQ -> Sigmoid -> Q as QLinearSigmoid (a 256-entry table) and the product as
    QLinearMul; the Mul by 1.702 becomes the scale of the Sigmoid's DQ (`scalar-mul`). The
    approximation's 0.020 worst case is below one INT8 step of any activation range wider than 5;
    the accuracy gate judges the whole model as for any other rule."""
    import onnx

    g = model.graph
    for chain in matches:
        x, last = _gelu_input(g, chain), chain[-1]
        base = last.name or last.output[0]
        nodes = [
            onnx.helper.make_node("Mul", [x, _const(model, f"{base}_k", GELU_SIGMOID)], [f"{base}_kx"], name=f"{base}_k"),
            onnx.helper.make_node("Sigmoid", [f"{base}_kx"], [f"{base}_s"], name=f"{base}_sigmoid"),
            onnx.helper.make_node("Mul", [x, f"{base}_s"], [last.output[0]], name=f"{base}_gate"),
        ]  # fmt: skip
        _splice(g, chain, nodes)
    drop_unread_initializers(g)
    return []


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
        _splice(g, [n], [shape, ones])
    return []


def _hard_sigmoid_params(n: Any) -> tuple[float, float]:
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
    return float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))


def _const(model: Any, name: str, value: Any) -> str:
    import numpy as np
    from onnx import numpy_helper

    model.graph.initializer.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
    return name


def _fold_hard_sigmoid(model: Any, matches: list[list[Any]]) -> list[str]:
    """Conv -> HardSigmoid(alpha, beta) -> Conv' -> Clip(0, 1) with W' = alpha W, b' = alpha b + beta.

    The Clip folds into the Conv's output QuantizeLinear, so the gate costs nothing in INT8."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    for conv, h in matches:  # new constants: the old ones may be shared (quant_pre_process dedupes them)
        alpha, beta = _hard_sigmoid_params(h)
        base = h.name or h.output[0]
        w = numpy_helper.to_array(inits[conv.input[1]])
        has_bias = len(conv.input) > 2 and conv.input[2]
        b = numpy_helper.to_array(inits[conv.input[2]]) if has_bias else np.zeros(w.shape[0], np.float32)
        conv.input[1] = _const(model, f"{base}_w", w * np.float32(alpha))
        bias = _const(model, f"{base}_b", b * np.float32(alpha) + np.float32(beta))
        if len(conv.input) > 2:
            conv.input[2] = bias
        else:
            conv.input.append(bias)
        lo, hi = _const(model, f"{base}_lo", 0.0), _const(model, f"{base}_hi", 1.0)
        clip = onnx.helper.make_node("Clip", [h.input[0], lo, hi], [h.output[0]], name=f"{base}_clip")
        _splice(g, [h], [clip])
    drop_unread_initializers(g)
    return []


def _hard_swish_int8(model: Any, matches: list[list[Any]]) -> list[str]:
    """x * hardsigmoid(x) -> Mul(Mul(x, Clip(x + beta/alpha, 0, 1/alpha)), alpha): Add, Mul and a
    Clip folded into a QuantizeLinear, all of which onnxruntime runs in INT8 (QLinearAdd/QLinearMul)."""
    import onnx

    g = model.graph
    for h, mul in matches:
        alpha, beta = _hard_sigmoid_params(h)
        x, y, base = h.input[0], mul.output[0], h.name or h.output[0]
        nodes = [
            onnx.helper.make_node("Add", [x, _const(model, f"{base}_shift", beta / alpha)], [f"{base}_a"], name=f"{base}_add"),
            onnx.helper.make_node(
                "Clip", [f"{base}_a", _const(model, f"{base}_lo", 0.0), _const(model, f"{base}_hi", 1 / alpha)],
                [f"{base}_c"], name=f"{base}_clip",
            ),
            onnx.helper.make_node("Mul", [x, f"{base}_c"], [f"{base}_m"], name=f"{base}_mul"),
            onnx.helper.make_node("Mul", [f"{base}_m", _const(model, f"{base}_alpha", alpha)], [y], name=f"{base}_scale"),
        ]  # fmt: skip
        _splice(g, [h, mul], nodes)
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
    "gelu-int8",
    Rule(
        "gelu-int8",
        "rewrite",
        "onnxruntime has no INT8 GELU but runs Sigmoid as a table and Mul in INT8: x * sigmoid(1.702 x) "
        "(within 0.020 of GELU) costs two INT8 passes, the float Gelu island a DQ, an erf pass and a Q",
        P.erf_gelu,
        _gelu_int8,
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
    "gate-fold",
    Rule(
        "gate-fold",
        "rewrite",
        "a HardSigmoid gate after a Conv folds into the Conv's weights and a Clip(0, 1), which the INT8 "
        "Conv's output quantization absorbs",
        lambda g: [list(p) for p in P.conv_hard_sigmoid(g)],
        _fold_hard_sigmoid,
    ),
)
RULES.register(
    "hard-swish-int8",
    Rule(
        "hard-swish-int8",
        "rewrite",
        "x * hardsigmoid(x) as Add, Clip and Mul, which onnxruntime runs in INT8",
        lambda g: [list(p) for p in P.hard_swish(g)],
        _hard_swish_int8,
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
    "grouped-conv",
    Rule(
        "grouped-conv",
        "float-island",
        "a grouped Conv with one input and several output channels per group is neither onnxruntime's "
        "depthwise nor its dense INT8 case: QLinearConv runs it one GEMM per group; the float Conv runs "
        "it in one NCHWc kernel",
        lambda g: [[n] for n in P.grouped_convs(g)],
    ),
)

RULES.register(
    "narrow-depthwise",
    Rule(
        "narrow-depthwise",
        "float-island",
        f"a depthwise Conv with fewer than {P.NARROW_DEPTHWISE} channels (GhostNet's cheap operations) leaves "
        "most lanes of onnxruntime's INT8 depthwise kernel empty: the float Conv is several times faster",
        lambda g: [[n] for n in P.narrow_depthwise(g)],
    ),
)

RULES.register(
    "scalar-mul",
    Rule(
        "scalar-mul",
        "requantize",
        "a Mul by a positive constant between INT8 tensors only rescales: folded into the DequantizeLinear "
        "scale instead of a QLinearMul (hard-swish's 1/6, attention's 1/sqrt(d))",
        lambda g: [],  # matched on the quantized graph, by `post`
        post=lambda m: fold_scalar_muls(m),
    ),
)

RULES.register(
    "byte-transpose",
    Rule(
        "byte-transpose",
        "rewrite",
        "a Transpose of INT8 values that moves runs of 2 or 4 bytes (MobileViT's unfold/fold) is 30x "
        "slower in onnxruntime than moving 8-byte runs: the values are widened to 32/16-bit integers "
        "around it, exactly",
        lambda g: [],  # matched on the quantized graph, by `post`
        post=lambda m: widen_byte_transposes(m),
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


def apply_post(plan: PolicyPlan, quantized: Any) -> None:
    """Run the plan's `post` rules on the quantized model; records what matched in plan.applied."""
    for name in plan.post:
        rule = RULES.get(name)
        count = rule.post(quantized) if rule.post is not None else 0
        if count:
            plan.applied = [a for a in plan.applied if a["rule"] != name]
            plan.applied.append({"rule": name, "action": rule.action, "count": count, "why": rule.why})


def plan_policy(model: Any, rules: list[str] | None = None) -> PolicyPlan:
    """Apply `rules` (default: all registered) to a copy of `model`; returns what was done."""
    import copy

    out = PolicyPlan(copy.deepcopy(model))
    for name in rules if rules is not None else RULES.names():
        rule = RULES.get(name)
        if rule.post is not None:  # matched on the quantized graph: `apply_post`
            out.post.append(name)
            continue
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


__all__ = ["ACTIONS", "RULES", "PolicyPlan", "Rule", "apply_post", "plan_policy", "shared_range_cache"]
