"""Sections of `bench/suite.py`: the kit against what a user would otherwise write or use.

training.py (kit recipe vs a hand-written PyTorch loop), export.py (kit FP32/INT8 vs naive
torch.onnx.export + quantize_static), runtime.py (ONNX Runtime vs PyTorch eager and OpenVINO),
common.py (shared data, timing and environment). Each section returns a JSON-able dict.
"""
