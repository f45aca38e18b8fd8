"""`graph.simplify` keeps onnxslim's result only when it computes what the exported graph computes.

onnxslim's shape inference changed tf_efficientnet_lite1/lite2's logits (max |diff| 7); the export
then failed its parity gate for every Lite1/Lite2 checkpoint. These tests pin the policy with a
simplifier that breaks the graph on purpose, so they do not depend on that onnxslim version.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgetl.errors import ExportError
from edgetl.export import graph as G


def _affine(scale: float):
    """y = x * scale + 1 on a (1, 4) float input, with one metadata entry."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])
    s = helper.make_tensor("s", TensorProto.FLOAT, [1], [scale])
    b = helper.make_tensor("b", TensorProto.FLOAT, [1], [1.0])
    nodes = [helper.make_node("Mul", ["input", "s"], ["t"]), helper.make_node("Add", ["t", "b"], ["logits"])]
    g = helper.make_graph(nodes, "affine", [x], [y], [s, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.helper.set_model_props(m, {"edgetl.labels": "a,b"})
    return m


def _run(model, x):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input": x}
    )[0]


def test_simplify_redoes_a_graph_that_shape_inference_changed_without_it(monkeypatch):
    calls = []

    def slim(model, **kwargs):
        calls.append(kwargs)
        return _affine(2.0) if kwargs.get("no_shape_infer") else _affine(7.0)  # 7: the wrong graph

    monkeypatch.setattr(G, "_slim", slim)
    out = G.simplify(_affine(2.0))
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    np.testing.assert_allclose(_run(out, x), x * 2 + 1)
    assert calls == [{}, {"no_shape_infer": True}]
    assert {p.key: p.value for p in out.metadata_props} == {"edgetl.labels": "a,b"}


def test_simplify_refuses_a_graph_that_moves_either_way(monkeypatch):
    monkeypatch.setattr(G, "_slim", lambda model, **kw: _affine(7.0))
    with pytest.raises(ExportError, match="onnxslim changed the graph's outputs"):
        G.simplify(_affine(2.0))


def test_simplify_keeps_the_first_result_when_it_agrees():
    out = G.simplify(_affine(2.0))  # the real onnxslim on a graph it cannot get wrong
    x = np.ones((1, 4), dtype=np.float32)
    np.testing.assert_allclose(_run(out, x), x * 2 + 1)
