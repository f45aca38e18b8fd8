"""Bench backends by name: "onnx" (onnxruntime), "openvino" and "torch" (the PyTorch eager baseline).

    from edgetl.bench.backends import BACKENDS
    BACKENDS.names()                   # ["onnx", "openvino", "torch"]: the order rows are opened in

A new runtime is one class meeting `Backend`, registered with `@BACKENDS.register(name)` in a
module imported below (tests/test_bench_backends.py then needs its entry).
"""

from edgetl.bench.backends.base import BACKENDS, Backend, Skipped
from edgetl.bench.backends.ort import OrtBackend

# isort: split
from edgetl.bench.backends.openvino import OpenVinoBackend

# isort: split
# Registration order is the order cells are opened and interleaved in: ONNX variants first.
from edgetl.bench.backends.eager import TorchBackend

__all__ = ["BACKENDS", "Backend", "OpenVinoBackend", "OrtBackend", "Skipped", "TorchBackend"]
