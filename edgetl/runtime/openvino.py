"""The OpenVINO backend: edgetl's own .onnx file compiled by the `openvino` package for the CPU.

    eng = OpenVinoEngine("model.onnx", threads=2, precision=None, batch=1)
    eng.inference_precision        # what OpenVINO really computes in: "f32" | "bf16" (its CPU default)
    eng.run("logits", batch)

What an OpenVINO user does: the dynamic batch axis is reshaped to a static batch (`batch`, 1 by
default; None keeps it dynamic) and the model is compiled with the LATENCY hint.
`precision`: None = OpenVINO's default (bf16 on CPUs with AVX-512-BF16/AMX, else f32),
"f32" forces f32, "bf16" asks for bf16 and is refused with the reason on a CPU without it.
An INT8 QDQ file runs its quantized layers in INT8 either way. `openvino` is optional: without
it, loading says how to install it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from edgetl.errors import EdgetlError
from edgetl.runtime.engine import TensorSpec

_OV_TO_ORT = {"f32": "tensor(float)", "f16": "tensor(float16)", "u8": "tensor(uint8)"}
PRECISIONS = {"f32": "f32", "fp32": "f32", "bf16": "bf16"}  # what `precision=` accepts -> OpenVINO's hint


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise EdgetlError(
            "backend 'openvino' is not installed; pip install openvino (or use backend='onnxruntime')"
        ) from None
    return openvino


class OpenVinoEngine:
    name = "openvino"
    device = "cpu"
    fallback = None

    def __init__(self, path: str, threads: int | None, precision: str | None, batch: int | None):
        ov = import_openvino()
        if precision not in (None, "auto") and precision not in PRECISIONS:
            raise EdgetlError(
                f"precision={precision!r} is not an OpenVINO precision; use f32 or bf16 (or None)"
            )
        hint = PRECISIONS.get(precision or "")
        core = ov.Core()
        try:
            self.model = core.read_model(path)
            if batch is not None:
                self._reshape(batch)
            config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
            if threads:
                config["INFERENCE_NUM_THREADS"] = int(threads)
            if hint:
                config["INFERENCE_PRECISION_HINT"] = hint
            self.session = core.compile_model(self.model, "CPU", config)
        except Exception as e:  # OpenVINO's errors carry C++ file/line noise
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise EdgetlError(f"{path}: OpenVINO could not compile the model ({first})") from None
        got = self.session.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        if hint == "bf16" and got != "bf16":
            raise EdgetlError(
                f"OpenVINO runs {got} on this CPU: it has no bf16 support (AVX-512-BF16/AMX); use precision='f32'"
            )
        self.inference_precision: str = got
        self.used = [f"OpenVINO {ov.__version__.split('-')[0]} CPU ({got})"]
        self._local = threading.local()  # one infer request per thread: a Classifier serves many

    def _reshape(self, batch: int) -> None:
        inp = self.model.input()
        dims = list(inp.get_partial_shape())
        if dims and not dims[0].is_static:
            shape = [batch] + [d.get_length() if d.is_static else -1 for d in dims[1:]]
            self.model.reshape({inp.any_name: shape})

    def inputs(self) -> list[TensorSpec]:
        return [_spec(p) for p in self.session.inputs]

    def outputs(self) -> list[TensorSpec]:
        return [_spec(p) for p in self.session.outputs]

    def metadata_props(self) -> dict[str, str]:
        """The ONNX file's metadata_props, which OpenVINO keeps under rt_info["framework"]."""
        if not self.model.has_rt_info(["framework"]):
            return {}
        keys = self.model.get_rt_info()["framework"].keys()
        return {k: self.model.get_rt_info(["framework", k]).astype(str) for k in keys}

    def run(self, output: str, batch: np.ndarray) -> np.ndarray:
        req = getattr(self._local, "req", None)
        if req is None:
            req = self._local.req = self.session.create_infer_request()
        req.infer({0: batch})
        return np.array(req.get_tensor(output).data)  # copied: the request reuses its buffer


def _spec(port: Any) -> TensorSpec:
    shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
    kind = port.get_element_type().get_type_name()
    return TensorSpec(port.any_name, shape, _OV_TO_ORT.get(kind, f"tensor({kind})"))


__all__ = ["PRECISIONS", "OpenVinoEngine", "import_openvino"]
