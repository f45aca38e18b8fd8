"""edgetl: image classifier from a folder of photos to a fast, verified, quantized ONNX model.

Stages: `edgetl.train`, `edgetl.export`, `edgetl.bench`; apps embed the torch-free
`edgetl.runtime`. Importing `edgetl` itself imports nothing heavy.
"""

__version__ = "0.1.0"
