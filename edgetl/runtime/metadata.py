"""The contract between export and runtime: what an .onnx file carries about itself.

Export writes these `metadata_props`; the runtime reads them back, so a deployed app needs
nothing but the .onnx file. Values are JSON strings under `edgetl.<key>`. Torch-free.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PREFIX = "edgetl."


@dataclass
class ModelMetadata:
    labels: list[str]
    input_size: tuple[int, int, int]  # (C, H, W) as in timm's data config
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"  # timm names: bilinear, bicubic, nearest, ...
    crop_pct: float = 0.875
    crop_mode: str = "center"  # timm: center | squash | border
    model: str = ""  # timm model name
    weights: str = ""  # weight source the run started from
    run_id: str = ""
    edgetl_version: str = ""
    precision: str = "fp32"  # fp32 | fp16 | int8-dynamic | int8
    target: str = "cpu-x86"
    input_layout: str = "nchw-float"  # "nchw-float" (normalised) | "nhwc-uint8" (baked preprocess)
    softmax: bool = False  # True: the graph has a "probs" output besides "logits"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_props(self) -> dict[str, str]:
        """Flat string map for onnx `metadata_props`."""
        return {PREFIX + k: json.dumps(v) for k, v in asdict(self).items()}

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        """Inverse of `to_props`; raises ValueError naming the missing key."""
        data = {k[len(PREFIX) :]: json.loads(v) for k, v in props.items() if k.startswith(PREFIX)}
        missing = [k for k in ("labels", "input_size", "mean", "std") if k not in data]
        if missing:
            raise ValueError(
                f"no edgetl metadata {', '.join(missing)} in the model (was it exported by edgetl?)"
            )
        known = set(cls.__dataclass_fields__)
        extra = {k: v for k, v in data.items() if k not in known}
        md = cls(**{k: v for k, v in data.items() if k in known})
        md.input_size = tuple(md.input_size)
        md.mean = tuple(md.mean)
        md.std = tuple(md.std)
        md.extra = {**md.extra, **extra}
        return md
