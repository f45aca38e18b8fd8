"""Runtime backends behind one interface: what `Classifier` runs a graph with.

    eng = open_engine("model.onnx", backend="openvino", threads=2, precision=None)
    eng.name, eng.used, eng.inference_precision    # "openvino", ["OpenVINO CPU"], "bf16" | "f32"
    eng.run("logits", batch)                        # (N, 3, H, W) -> (N, classes) numpy

`BACKEND_NAMES` registers each runtime: "onnxruntime" (CPU, CUDA and TensorRT providers, see
`edgetl.runtime.providers`) and "openvino" (optional: the `openvino` package, same .onnx file).
A backend that is not installed or cannot run what was asked raises one EdgetlError line that
says why; nothing ever switches to another backend silently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edgetl.errors import EdgetlError
from edgetl.registry import Registry
from edgetl.runtime.providers import create_session


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: list[Any]  # ints, or None / a string for a dynamic axis
    type: str  # onnxruntime's spelling: "tensor(float)", "tensor(float16)", "tensor(uint8)"


class Engine(Protocol):
    """One loaded graph: its inputs/outputs, its edgetl metadata, and `run`."""

    name: str  # the backend's name in BACKEND_NAMES
    session: Any  # the runtime's own object (onnxruntime.InferenceSession, openvino.CompiledModel)
    device: str  # "cpu" | "cuda": where IO binding puts inputs
    used: list[str]  # what really runs (onnxruntime providers, or "OpenVINO CPU")
    fallback: str | None  # why the requested provider is not the one running (None: it is)
    inference_precision: str | None  # a precision the runtime chose below the file's (None: the file's)

    def inputs(self) -> list[TensorSpec]: ...

    def outputs(self) -> list[TensorSpec]: ...

    def metadata_props(self) -> dict[str, str]: ...

    def run(self, output: str, batch: np.ndarray) -> np.ndarray: ...


class OrtEngine:
    """onnxruntime: a session on the requested provider chain (see `create_session`)."""

    name = "onnxruntime"
    inference_precision = None

    def __init__(self, path: Path, providers: str | Sequence[str], threads: int | None, warn: bool):
        self._sess = create_session(path, providers, threads=threads, warn=warn)
        self.session = self._sess.session
        self.device = self._sess.device
        self.used = list(self._sess.used)
        self.fallback = self._sess.fallback

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec(i.name, list(i.shape), i.type) for i in self.session.get_inputs()]

    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec(o.name, list(o.shape), o.type) for o in self.session.get_outputs()]

    def metadata_props(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, output: str, batch: np.ndarray) -> np.ndarray:
        (res,) = self.session.run([output], {self.inputs()[0].name: batch})
        return res


BACKEND_NAMES: Registry[str] = Registry("runtime backend (backend=)")
BACKEND_NAMES.register("onnxruntime", "onnxruntime")
BACKEND_NAMES.register("openvino", "openvino")


def open_engine(
    path: Path,
    backend: str,
    providers: str | Sequence[str] = "auto",
    threads: int | None = None,
    warn: bool = True,
    precision: str | None = None,
    batch: int | None = 1,
) -> Engine:
    """`path` loaded by `backend` ("onnxruntime" | "openvino"); precision/batch apply to OpenVINO."""
    name = BACKEND_NAMES.get(backend)  # UnknownNameError suggests the close name
    if name == "onnxruntime":
        if precision not in (None, "auto"):
            raise EdgetlError(
                f"{path.name}: onnxruntime runs the file's own precision; precision={precision!r} is an "
                "OpenVINO option (backend='openvino')"
            )
        return OrtEngine(path, providers, threads, warn)
    if providers not in ("auto", "cpu", ["cpu"], ("cpu",)):
        raise EdgetlError(
            f"{path.name}: the openvino backend runs on the CPU here; got providers={providers!r}"
        )
    from edgetl.runtime.openvino import OpenVinoEngine

    return OpenVinoEngine(os.fspath(path), threads=threads, precision=precision, batch=batch)


__all__ = ["BACKEND_NAMES", "Engine", "OrtEngine", "TensorSpec", "open_engine"]
