"""Refusing ONNX files whose external tensor data points outside their own folder (path traversal)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgetl.errors import EdgetlError


def check_external_data(path: Path) -> None:
    """Refuse a model whose external tensor data lives outside its own folder (path traversal).

    Uses the `onnx` package when installed (it parses the file without loading the data);
    onnxruntime itself also rejects such paths, so an app without `onnx` is still protected.
    """
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is optional for apps
        return
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:
        raise EdgetlError(f"{path}: not a readable ONNX model ({type(e).__name__}: {str(e)[:200]})") from None
    base = path.resolve().parent
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        loc = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (base / loc).resolve()
        if not loc or os.path.isabs(loc) or not target.is_relative_to(base):
            raise EdgetlError(
                f"{path}: tensor {tensor.name!r} points at external data {loc!r} outside the model's folder; "
                "refusing to read it (keep the .data file next to the .onnx and re-export)"
            )
        if not target.is_file():
            raise EdgetlError(f"{path}: external data file {loc!r} is missing; copy it next to the model")


def _all_tensors(graph: Any):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


__all__ = ["check_external_data"]
