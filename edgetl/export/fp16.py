"""FP16 variant: half-precision weights and activations, float32 inputs and outputs kept.

    half = to_fp16(fp32_model)      # onnxruntime.transformers' converter, keep_io_types=True

Apps keep feeding float32 (or uint8 with baked preprocessing) and reading float32 logits; the
casts sit inside the graph. Meant for GPUs (--target cuda / tensorrt): onnxruntime's CPU provider
has few FP16 kernels and inserts casts to run the rest in FP32 (its CastFloat16Transformer), so
on a CPU this file is checked for rounding error but is not faster.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from edgetl.errors import ExportError


def to_fp16(model: Any) -> Any:
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    logging.getLogger("onnxruntime.transformers.float16").setLevel(logging.ERROR)
    try:
        half = convert_float_to_float16(copy.deepcopy(model), keep_io_types=True)
    except Exception as e:  # the converter asserts on graphs it cannot handle
        raise ExportError(f"fp16: onnxruntime's float16 converter failed ({type(e).__name__}: {e})") from None
    # the converter appends the input/output Casts at the end; onnx.checker wants topological order
    wrapped = OnnxModel(half)
    wrapped.topological_sort()
    return wrapped.model


__all__ = ["to_fp16"]
