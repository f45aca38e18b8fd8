"""The contract between export and runtime: what an .onnx file carries about itself.

Export writes these `metadata_props`; the runtime reads them back, so a deployed app needs
nothing but the .onnx file. Values are JSON strings under `edgetl.<key>`. Torch-free.
"""

from __future__ import annotations

import json
import math
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
        """Inverse of `to_props`; every value checked (`check_values`); ValueError names the key."""
        data = {}
        for k, v in props.items():
            if not k.startswith(PREFIX):
                continue
            if len(v) > MAX_VALUE_CHARS:
                raise ValueError(f"{k} is {len(v)} characters long (at most {MAX_VALUE_CHARS})")
            try:
                data[k[len(PREFIX) :]] = json.loads(v)
            except (ValueError, RecursionError):
                raise ValueError(f"{k} is not JSON (found {excerpt(v)})") from None
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise ValueError(
                f"no edgetl metadata {', '.join(PREFIX + k for k in missing)} in the model: add them as JSON "
                'metadata_props (e.g. edgetl.labels ["cat", "dog"], edgetl.input_size [3, 224, 224], '
                "edgetl.mean/std [0.5, 0.5, 0.5]), or export the model with `edgetl export`"
            )
        known = set(cls.__dataclass_fields__)
        extra = {k: v for k, v in data.items() if k not in known}
        check_values({k: v for k, v in data.items() if k in known})
        md = cls(**{k: v for k, v in data.items() if k in known})
        md.input_size = tuple(md.input_size)
        md.mean = tuple(float(x) for x in md.mean)
        md.std = tuple(float(x) for x in md.std)
        md.extra = {**md.extra, **extra}
        return md


REQUIRED = ("labels", "input_size", "mean", "std")
MAX_VALUE_CHARS = 4_000_000  # 100,000 labels of 40 characters fit
MAX_LABELS = 100_000
MAX_LABEL_CHARS = 512
MAX_SIDE = 4096  # input pixels per side, as edgetl train allows
MAX_RESIZE = 8192  # pixels per side before the crop (side / crop_pct)
MAX_NORM, MIN_STD = 1e3, 1e-4  # mean/std of 0-1 pixels: keep (x - mean) / std far from float32 overflow
_TEXT_KEYS = (
    "interpolation",
    "model",
    "weights",
    "run_id",
    "edgetl_version",
    "precision",
    "target",
    "input_layout",
)


def excerpt(value: Any, n: int = 40) -> str:
    """A short, one-line spelling of a value for messages (never the whole of a huge one)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", " ").replace("\r", " ")
    return repr(text) if len(text) <= n else repr(text[:n]) + f"... ({len(text)} characters)"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_values(data: dict[str, Any]) -> None:
    """Type, range and size of each metadata value; ValueError names the key and what was found."""

    def bad(key: str, rule: str) -> ValueError:
        return ValueError(f"{PREFIX}{key} must be {rule} (found {excerpt(data[key])})")

    labels = data.get("labels")
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_LABELS:
        raise bad("labels", f"a list of 1 to {MAX_LABELS} class names")
    if not all(isinstance(s, str) and 0 < len(s) <= MAX_LABEL_CHARS for s in labels):
        raise bad("labels", f"class names of 1 to {MAX_LABEL_CHARS} characters")
    if len(set(labels)) != len(labels):
        dup = next(s for s in labels if labels.count(s) > 1)
        raise ValueError(f"{PREFIX}labels names {excerpt(dup)} twice; class names must be unique")
    size = data.get("input_size")
    if not (isinstance(size, list) and len(size) == 3 and all(isinstance(x, int) and not isinstance(x, bool) for x in size)
            and size[0] == 3 and all(1 <= x <= MAX_SIDE for x in size[1:])):  # fmt: skip
        raise bad("input_size", f"[3, H, W] with 1 <= H, W <= {MAX_SIDE}")
    for key, lo, rule in (
        ("mean", -MAX_NORM, f"in [-{MAX_NORM:g}, {MAX_NORM:g}]"),
        ("std", MIN_STD, f">= {MIN_STD:g}"),
    ):
        v = data.get(key)
        if not (isinstance(v, list) and len(v) == 3 and all(_number(x) and lo <= x <= MAX_NORM for x in v)):
            raise bad(key, f"3 finite numbers {rule} (pixel scale 0-1, e.g. [0.5, 0.5, 0.5])")
    pct = data.get("crop_pct", 0.875)
    if pct is not None and not (_number(pct) and pct > 0 and max(size[1:]) / pct <= MAX_RESIZE):
        raise bad("crop_pct", f"a number > 0 that keeps the resize within {MAX_RESIZE} pixels (e.g. 0.875)")
    for key in _TEXT_KEYS:
        if key in data and not (isinstance(data[key], str) and len(data[key]) <= MAX_LABEL_CHARS):
            raise bad(key, f"a string of at most {MAX_LABEL_CHARS} characters")
    if data.get("crop_mode") is not None and not isinstance(data["crop_mode"], str):
        raise bad("crop_mode", "a string (center, squash or border)")
    if not isinstance(data.get("softmax", False), bool):
        raise bad("softmax", "true or false")
    if not isinstance(data.get("extra", {}), dict):
        raise bad("extra", "a mapping")
