"""Graph surgery on a quantized QDQ model: nodes kept in float read float tensors.

    float_inputs(qdq_model, {"/blocks/blocks.0/Conv"}, source=float_model)   # returns rewires

    pin_float(qdq_model, {"/stages.1/downsample/Conv"})                       # returns Convs pinned

Used by `StaticQuantizer.quantize` for the policy's float islands (constants only) and the
accuracy budget's fallback nodes (activations too).
"""

from __future__ import annotations

from typing import Any

from edgetl.export.int8_patterns import GraphIndex, conv_group


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
    drop_unread_initializers(g)
    _toposort(g)
    return rewired


def pin_float(model: Any, names: set[str]) -> int:
    """Keep the float Convs in `names` float when onnxruntime loads the file; returns how many.

    onnxruntime's WeightBiasQuantization transformer (on by default) quantizes the float weight of
    any Conv whose input is a DequantizeLinear output (per-tensor symmetric INT8, then fused into
    QLinearConv), so a float island's Conv between INT8 nodes silently ran in INT8. It leaves a
    Conv alone when the bias is not an initializer: the bias is fed through an INT32
    DequantizeLinear (scale max|b| / 2^30: exact to float32 rounding), a zero bias added if none.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    pinned = 0
    for n in list(g.node):
        if n.name not in names or n.op_type not in ("Conv", "ConvTranspose") or len(n.input) < 2:
            continue
        src = producer.get(n.input[0])
        if src is None or src.op_type != "DequantizeLinear" or n.input[1] not in inits:
            continue
        w = inits[n.input[1]]
        out_ch = w.dims[0] if n.op_type == "Conv" else w.dims[1] * conv_group(n)
        if len(n.input) > 2 and n.input[2]:
            if n.input[2] not in inits:
                continue  # already not an initializer (a DQ): onnxruntime leaves it alone
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
        else:
            b = np.zeros(out_ch)
        scale = float(np.abs(b).max()) / 2**30 or 1.0
        q = np.round(b / scale).astype(np.int32)
        base = f"{n.name}_float_bias"
        g.initializer.extend(
            [
                numpy_helper.from_array(q, f"{base}_int32"),
                numpy_helper.from_array(np.array(scale, np.float32), f"{base}_scale"),
                numpy_helper.from_array(np.array(0, np.int32), f"{base}_zero_point"),
            ]
        )
        dq = onnx.helper.make_node(
            "DequantizeLinear", [f"{base}_int32", f"{base}_scale", f"{base}_zero_point"], [base], name=base
        )
        g.node.insert(list(g.node).index(n), dq)
        if len(n.input) > 2:
            n.input[2] = base
        else:
            n.input.append(base)
        pinned += 1
    drop_unread_initializers(g)
    return pinned


def fold_scalar_muls(model: Any) -> int:
    """DQ(q; s, z) -> Mul(c) -> Q -> DQ  ==>  DQ(q; s * c, z), for a positive scalar constant c; returns folds.

    Multiplying by a constant only rescales: the same INT8 values with scale s * c are the product,
    without the QLinearMul onnxruntime would run (and its second rounding). hard-swish's alpha and
    attention's 1/sqrt(d) are such Muls."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    index = GraphIndex(model)
    producer, consumers = index.producer, index.consumers
    outputs = {o.name for o in g.output}
    folded = 0

    def constant(t: str) -> Any:
        """The value of `t` when it is a constant: an initializer, or DQ of initializers."""
        if t in inits:
            return numpy_helper.to_array(inits[t])
        d = producer.get(t)
        if d is None or d.op_type != "DequantizeLinear" or not all(i in inits for i in d.input if i):
            return None
        q, sc = (numpy_helper.to_array(inits[i]) for i in d.input[:2])
        zp = numpy_helper.to_array(inits[d.input[2]]) if len(d.input) > 2 and d.input[2] else 0
        return (q.astype(np.float64) - zp) * sc

    for mul in [n for n in g.node if n.op_type == "Mul" and len(n.input) == 2]:
        k = next((i for i, t in enumerate(mul.input) if constant(t) is not None), None)
        if k is None:
            continue
        c = constant(mul.input[k])
        dq = producer.get(mul.input[1 - k])
        if c.size != 1 or not float(c.reshape(-1)[0]) > 0 or dq is None or dq.op_type != "DequantizeLinear":
            continue
        if (
            len(dq.input) < 2
            or dq.input[1] not in inits
            or numpy_helper.to_array(inits[dq.input[1]]).size != 1
        ):
            continue
        if mul.output[0] in outputs:
            continue
        readers = consumers.get(mul.output[0], [])
        qs = [r for r in readers if r.op_type == "QuantizeLinear"]
        dqs = [d for q in qs for d in consumers.get(q.output[0], [])]
        if any(d.op_type != "DequantizeLinear" or d.output[0] in outputs for d in dqs):
            continue
        scale = numpy_helper.to_array(inits[dq.input[1]]) * np.float32(c.reshape(-1)[0])
        name = f"{mul.name or mul.output[0]}_folded"
        g.initializer.append(numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"))
        new = onnx.helper.make_node(
            "DequantizeLinear", [dq.input[0], f"{name}_scale", *dq.input[2:]], [name], name=name
        )
        new.attribute.extend(dq.attribute)
        old_outputs = {mul.output[0], *(d.output[0] for d in dqs)}
        for n in g.node:
            for i, t in enumerate(n.input):
                if t in old_outputs:
                    n.input[i] = name
        for n in [mul, *qs, *dqs]:
            g.node.remove(n)
        g.node.insert(list(g.node).index(dq) + 1, new)
        folded += 1
    if folded:
        _drop_unread(g)
        _toposort(g)
    return folded


# element type whose width times the run of bytes a Transpose keeps together makes 8 bytes
_WIDE = {(2, "u"): "UINT32", (4, "u"): "UINT16", (2, "s"): "INT32", (4, "s"): "INT16"}


def _same_quantization(inits: dict[str, Any], a: Any, b: Any) -> bool:
    """DQ `a` and Q `b` use equal scale and zero point (the Transpose between them only moves bytes)."""
    import numpy as np
    from onnx import numpy_helper

    if len(a.input) != len(b.input) or list(a.attribute) != list(b.attribute):
        return False
    for x, y in zip(a.input[1:], b.input[1:], strict=True):
        if x != y and (x not in inits or y not in inits):
            return False
        if x != y and not np.array_equal(numpy_helper.to_array(inits[x]), numpy_helper.to_array(inits[y])):
            return False
    return True


def widen_byte_transposes(model: Any) -> int:
    """DQ(q) -> Transpose -> Q, same scale and zero point, moving runs of 2 or 4 INT8 values
    ==>  Cast(q, wider int) -> Transpose -> Cast back; returns how many.

    onnxruntime runs such a Transpose on the 8-bit tensor (it drops the DQ/Q pair) and copies each
    run on its slow path: MobileViT's unfold/fold ([N, 2, 16, 2] -> [N, 16, 2, 2]) took 2.3 ms in
    uint8 against 0.07 ms in float (onnxruntime 1.31). Runs of 8 bytes take its fast path, so the
    values are widened until a run is 8 bytes (uint8 x2 -> uint32, x4 -> uint16): the same integers,
    exact both ways."""
    import onnx

    g = model.graph
    try:
        shapes = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - no shapes: nothing is known to be slow, leave the graph alone
        return 0
    dims = {
        v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        for v in [*shapes.graph.value_info, *shapes.graph.input]
    }
    inits = {i.name: i for i in g.initializer}
    index = GraphIndex(model)
    producer, consumers = index.producer, index.consumers
    outputs = {o.name for o in g.output}
    elem = {v.name: v.type.tensor_type.elem_type for v in [*shapes.graph.value_info, *shapes.graph.input]}
    widened = 0
    for tr in [n for n in g.node if n.op_type == "Transpose"]:
        dq, readers = producer.get(tr.input[0]), consumers.get(tr.output[0], [])
        if dq is None or dq.op_type != "DequantizeLinear" or len(readers) != 1 or tr.output[0] in outputs:
            continue
        q = readers[0]
        if q.op_type != "QuantizeLinear" or not _same_quantization(inits, dq, q):
            continue
        kind = {onnx.TensorProto.UINT8: "u", onnx.TensorProto.INT8: "s"}.get(elem.get(dq.input[0], 0))
        perm = next((list(a.ints) for a in tr.attribute if a.name == "perm"), None)
        shape = dims.get(tr.input[0])
        if kind is None or not perm or not shape or len(shape) != len(perm):
            continue
        kept = 0  # trailing axes the permutation leaves in place: the run copied as one block
        while kept < len(perm) and perm[-1 - kept] == len(perm) - 1 - kept:
            kept += 1
        run = 1
        for d in shape[len(shape) - kept :]:
            run = run * d if d and run else 0
        wide = _WIDE.get((run, kind))
        if wide is None:
            continue
        base = tr.name or tr.output[0]
        up = onnx.helper.make_node("Cast", [dq.input[0]], [f"{base}_wide"], name=f"{base}_widen",
                                   to=getattr(onnx.TensorProto, wide))  # fmt: skip
        down = onnx.helper.make_node("Cast", [f"{base}_moved"], [q.output[0]], name=f"{base}_narrow",
                                     to=elem[dq.input[0]])  # fmt: skip
        tr.input[0], tr.output[0] = up.output[0], down.input[0]
        at = list(g.node).index(tr)
        g.node.insert(at + 1, down)
        g.node.insert(at, up)
        g.node.remove(q)
        widened += 1
    if widened:
        _drop_unread(g)  # the DQs only the Transposes read
    return widened


def _drop_unread(g: Any) -> None:
    """Remove the DequantizeLinear nodes and initializers nothing reads any more (left by a rewrite)."""
    read = {t for n in g.node for t in n.input} | {o.name for o in g.output}
    for n in [n for n in g.node if n.op_type == "DequantizeLinear" and n.output[0] not in read]:
        g.node.remove(n)
    drop_unread_initializers(g)


def drop_unread_initializers(g: Any) -> None:
    """Remove initializers no node reads any more (left by a rewrite)."""
    read = {t for n in g.node for t in n.input}
    for init in [i for i in g.initializer if i.name not in read]:
        g.initializer.remove(init)


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


__all__ = [
    "drop_unread_initializers",
    "float_inputs",
    "fold_scalar_muls",
    "pin_float",
    "widen_byte_transposes",
]
