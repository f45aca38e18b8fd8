"""Graph surgery on a quantized QDQ model: nodes kept in float read float tensors.

    float_inputs(qdq_model, {"/blocks/blocks.0/Conv"}, source=float_model)   # returns rewires

Used by `StaticQuantizer.quantize` for the policy's float islands (constants only) and the
accuracy budget's fallback nodes (activations too).
"""

from __future__ import annotations

from typing import Any


def _unfolded(model: Any, t: str, source: Any | None, producer: dict[str, Any]) -> str:
    """`t` as the float model computes it: onnxruntime folds Relu/Clip into the Q after the node
    before them (`t` is then that node's raw output), so the folded op is put back for float readers."""
    if source is None:
        return t
    src = next((n for n in source.graph.node if t in n.output), None)
    here = producer.get(t)
    if src is None or here is None or src.name == here.name or src.op_type not in ("Relu", "Clip"):
        return t
    import onnx

    names = _defined(model)
    for i in source.graph.initializer:
        if i.name in src.input[1:] and i.name not in names:
            model.graph.initializer.append(i)
    out = f"{t}_float"
    if out not in producer:
        node = onnx.helper.make_node(src.op_type, [t, *src.input[1:]], [out], name=f"{src.name}_float")
        node.attribute.extend(src.attribute)
        model.graph.node.append(node)
        producer[out] = node
    return out


def _defined(model: Any) -> set[str]:
    """Every name the graph already defines: adding an initializer of one of them is an invalid model."""
    g = model.graph
    return {i.name for i in g.initializer} | {o for n in g.node for o in n.output} | {i.name for i in g.input}


def _float_initializer(model: Any, source: Any, name: str) -> str | None:
    if name in _defined(model):
        return name
    init = next((i for i in source.graph.initializer if i.name == name), None)
    if init is None:
        return None
    model.graph.initializer.append(init)
    return name


def float_inputs(model: Any, names: set[str], source: Any | None = None, activations: bool = True) -> int:
    """Make nodes in `names` read float activations instead of a shared DQ(Q(x)); returns rewires.

    onnxruntime's QDQ quantizer gives every consumer of a quantized tensor the same DQ output,
    excluded consumers included, so "kept in float" would otherwise still see INT8 rounding.
    `source` (the float model that was quantized) lets folded Relu/Clip be put back, and gives
    back float copies of constants shared with quantized nodes (then onnxruntime can still fuse a
    float island, e.g. GELU). `activations=False` rewires constants only: a float island between
    INT8 nodes keeps reading DQ(Q(x)), so its producer stays INT8. Q/DQ nodes
    and initializers left without readers are removed; nodes are re-sorted topologically.
    """
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    rewired = 0
    for n in list(g.node):
        if n.name not in names:
            continue
        for i, t in enumerate(n.input):
            dq = producer.get(t)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producer.get(dq.input[0])
            if q is not None and q.op_type == "QuantizeLinear":
                if not activations:
                    continue
                n.input[i] = _unfolded(model, q.input[0], source, producer)
                rewired += 1
            elif q is None and source is not None:  # a weight shared with quantized nodes: its float copy
                w = _float_initializer(model, source, dq.input[0].removesuffix("_quantized"))
                if w is not None:
                    n.input[i] = w
                    rewired += 1
    outputs = {o.name for o in g.output}
    while True:
        read = {t for n in g.node for t in n.input} | outputs
        dead = [
            n
            for n in g.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.output[0] not in read
        ]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    read = {t for n in g.node for t in n.input}
    for init in [i for i in g.initializer if i.name not in read]:
        g.initializer.remove(init)
    _toposort(g)
    return rewired


def _toposort(g: Any) -> None:
    ready = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    pending, order = list(g.node), []
    while pending:
        rest = []
        for n in pending:
            if all(t in ready for t in n.input):
                order.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            order.extend(rest)  # a cycle or a missing input: leave the rest as it was for the checker
            break
        pending = rest
    del g.node[:]
    g.node.extend(order)


__all__ = ["float_inputs"]
