"""Torch-free inference for apps: onnxruntime + numpy + Pillow only."""
