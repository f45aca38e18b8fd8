"""Graph patterns that onnxruntime's QDQ quantizer handles badly, found by structure, not by model name.

    g = GraphIndex(onnx.load("fp32-pre.onnx"))
    hard_swish(g)        # [(HardSigmoid, Mul)] pairs computing x * hardsigmoid(x)
    se_gates(g)          # squeeze-excite gates: pooled -> Conv -> act -> Conv -> gate -> Mul(x, gate)

After `quant_pre_process`, onnxruntime inlines ONNX's HardSwish into HardSigmoid + Mul (its CPU
provider has no HardSwish kernel), GELU into Erf arithmetic, LayerNormalization stays one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GATES = ("HardSigmoid", "Sigmoid")  # the last op of a squeeze-excite gate in timm's nets


@dataclass
class GraphIndex:
    """Producer/consumer lookup over one ONNX graph (built once, read by every pattern)."""

    model: Any
    producer: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, list[Any]] = field(default_factory=dict)
    initializers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        g = self.model.graph
        self.initializers = {i.name for i in g.initializer}
        for n in g.node:
            for o in n.output:
                self.producer[o] = n
            for t in n.input:
                self.consumers.setdefault(t, []).append(n)

    @property
    def nodes(self) -> list[Any]:
        return list(self.model.graph.node)

    def parent(self, node: Any, i: int = 0) -> Any | None:
        return self.producer.get(node.input[i]) if len(node.input) > i else None

    def only_child(self, node: Any) -> Any | None:
        users = self.consumers.get(node.output[0], [])
        return users[0] if len(users) == 1 else None


def hard_swish(g: GraphIndex) -> list[tuple[Any, Any]]:
    """(HardSigmoid, Mul) pairs with Mul(x, HardSigmoid(x)): hard-swish as onnxruntime runs it."""
    pairs = []
    for n in g.nodes:
        if n.op_type != "HardSigmoid":
            continue
        for m in g.consumers.get(n.output[0], []):
            if m.op_type == "Mul" and set(m.input) == {n.input[0], n.output[0]}:
                pairs.append((n, m))
    return pairs


def conv_hard_sigmoid(g: GraphIndex) -> list[tuple[Any, Any]]:
    """(Conv, HardSigmoid) pairs where the HardSigmoid is the Conv's only reader and the Conv's
    weight and bias are constants: squeeze-excite gates (MobileNetV3, EfficientViT's SE), foldable."""
    paired = {id(h) for h, _ in hard_swish(g)}
    found = []
    for h in ops_of(g, "HardSigmoid"):
        conv = g.parent(h)
        if id(h) in paired or conv is None or conv.op_type != "Conv" or g.only_child(conv) is not h:
            continue
        if all(t in g.initializers for t in conv.input[1:] if t):
            found.append((conv, h))
    return found


def attention_softmax(g: GraphIndex) -> list[tuple[Any, Any]]:
    """(Softmax, MatMul) pairs: attention probabilities and the attn @ v product that reads them."""
    pairs = []
    for n in ops_of(g, "Softmax"):
        users = g.consumers.get(n.output[0], [])
        if len(users) == 1 and users[0].op_type == "MatMul" and users[0].input[0] == n.output[0]:
            pairs.append((n, users[0]))
    return pairs


def _is_pool(n: Any | None) -> bool:
    return n is not None and n.op_type in ("ReduceMean", "GlobalAveragePool")


def se_gates(g: GraphIndex) -> list[list[Any]]:
    """Squeeze-excite blocks: [pool, Conv, act..., Conv, gate, Mul] with Mul(x, gate(...pool(x)))."""
    blocks = []
    for mul in g.nodes:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        for k in (0, 1):
            gate = g.producer.get(mul.input[k])
            x = mul.input[1 - k]
            if gate is None or gate.op_type not in GATES:
                continue
            chain, cur = [gate], g.parent(gate)
            while cur is not None and not _is_pool(cur) and len(chain) < 6:
                chain.append(cur)
                cur = g.parent(cur)
            if _is_pool(cur) and cur.input[0] == x and any(c.op_type == "Conv" for c in chain):
                blocks.append([cur, *reversed(chain), mul])
                break
    return blocks


def reduce_mean_pools(g: GraphIndex) -> list[Any]:
    """ReduceMean over H, W with keepdims: the same as GlobalAveragePool, which onnxruntime quantizes."""
    import onnx

    found = []
    for n in g.nodes:
        if n.op_type != "ReduceMean":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        axes = attrs.get("axes")
        if axes is None and len(n.input) > 1 and n.input[1] in g.initializers:
            init = next(i for i in g.model.graph.initializer if i.name == n.input[1])
            axes = list(onnx.numpy_helper.to_array(init).reshape(-1))
        if axes is not None and sorted(int(a) % 4 for a in axes) == [2, 3] and attrs.get("keepdims", 1) == 1:
            found.append(n)
    return found


def erf_gelu(g: GraphIndex) -> list[list[Any]]:
    """GELU as exported: x -> Div(sqrt 2) | Mul(1/sqrt 2) -> Erf -> Add(1) -> Mul(x) -> Mul(0.5), any order."""
    found = []
    for erf in g.nodes:
        if erf.op_type != "Erf":
            continue
        scale = g.parent(erf)
        if scale is None or scale.op_type not in ("Div", "Mul"):
            continue
        x = next((t for t in scale.input if t not in g.initializers), None)
        add = g.only_child(erf)
        if x is None or add is None or add.op_type != "Add":
            continue
        chain, cur = [scale, erf, add], add
        for _ in range(2):  # the two Muls: by x and by 0.5, in either order
            cur = g.only_child(cur)
            if cur is None or cur.op_type != "Mul":
                break
            chain.append(cur)
        if len(chain) == 5 and x in [*chain[3].input, *chain[4].input]:
            found.append(chain)
    return found


def unit_softmax(g: GraphIndex) -> list[Any]:
    """Softmax over an axis of length 1 (shape inference says so): its output is 1 everywhere.

    LeViT's last stage at small inputs attends over one token; onnxruntime's QLinearSoftmax
    returns 0 there instead of 1 (onnxruntime 1.31, measured), which zeroes the attention."""
    import onnx

    shapes = {}
    for vi in [*g.model.graph.input, *g.model.graph.value_info, *g.model.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    found = []
    for n in ops_of(g, "Softmax"):
        shape = shapes.get(n.input[0])
        if not shape:
            continue
        axis = next((onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "axis"), -1)
        if shape[int(axis) % len(shape)] == 1:
            found.append(n)
    return found


def linear_attention_norm(g: GraphIndex) -> list[list[Any]]:
    """ReLU linear attention's normalization (EfficientViT): out = t[..., :-1] / (t[..., -1:] + eps), t = q @ kv.

    Matched as Div(Slice(t), [Add(] Slice(t) [, const)]) with t a MatMul output; returns
    [Div, numerator Slice, (Add,) denominator Slice, MatMul] per match."""
    found = []
    for div in ops_of(g, "Div"):
        if any(t in g.initializers for t in div.input[:2]):
            continue
        num, den = g.parent(div, 0), g.parent(div, 1)
        if num is None or den is None or num.op_type != "Slice":
            continue
        chain = [div, num]
        if den.op_type == "Add":
            chain.append(den)
            den = next((g.producer.get(t) for t in den.input if t not in g.initializers), None)
        if den is None or den.op_type != "Slice" or den.input[0] != num.input[0]:
            continue
        mm = g.producer.get(num.input[0])
        if mm is not None and mm.op_type == "MatMul":
            found.append([*chain, den, mm])
    return found


def grouped_convs(g: GraphIndex) -> list[Any]:
    """Grouped Convs with one input and several output channels per group (depthwise with a multiplier).

    onnxruntime's QLinearConv has a depthwise kernel and a dense one; any other grouping runs one
    small GEMM per group (FastViT's patch embedding, 7x7 with 2 outputs per group: 7.4 ms in INT8
    against 0.55 ms for the float Conv, which runs grouped convolutions in its NCHWc kernels)."""
    weights = {i.name: i for i in g.model.graph.initializer}
    found = []
    for n in ops_of(g, "Conv"):
        group = conv_group(n)
        w = weights.get(n.input[1]) if len(n.input) > 1 else None
        if group <= 1 or w is None or len(w.dims) < 2:
            continue
        if w.dims[1] == 1 and w.dims[0] > group:  # one input channel per group, several outputs
            found.append(n)
    return found


NARROW_DEPTHWISE = 16  # channels: onnxruntime's x86 INT8 depthwise kernels fill 16-64 channels per vector


def narrow_depthwise(g: GraphIndex, below: int = NARROW_DEPTHWISE) -> list[Any]:
    """Depthwise Convs (one input and one output channel per group) with fewer than `below` channels.

    onnxruntime's INT8 depthwise kernel vectorizes across channels, so a 4-channel one runs mostly
    empty lanes: GhostNet-050's 4-channel 3x3 at 112x112 took 0.34 ms in INT8 against 0.07 ms float
    (its profile, onnxruntime 1.31, Intel Xeon); float NCHWc blocks pad channels instead."""
    weights = {i.name: i for i in g.model.graph.initializer}
    found = []
    for n in ops_of(g, "Conv"):
        group = conv_group(n)
        w = weights.get(n.input[1]) if len(n.input) > 1 else None
        if 1 < group < below and w is not None and len(w.dims) > 1 and w.dims[1] == 1 and w.dims[0] == group:
            found.append(n)
    return found


def conv_group(n: Any) -> int:
    """A Conv's `group` attribute (1 when absent)."""
    import onnx

    return next((onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == "group"), 1)


def ops_of(g: GraphIndex, *op_types: str) -> list[Any]:
    return [n for n in g.nodes if n.op_type in op_types]


__all__ = [
    "GATES", "GraphIndex", "attention_softmax", "conv_group", "conv_hard_sigmoid", "erf_gelu", "grouped_convs", "hard_swish", "linear_attention_norm", "narrow_depthwise", "ops_of", "reduce_mean_pools", "se_gates", "unit_softmax",
]  # fmt: skip
