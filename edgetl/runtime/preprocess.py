"""timm's eval transform re-done with Pillow + numpy, so an app needs no torch.

    pre = Preprocess.from_metadata(metadata)        # or Preprocess(input_size=(3, 224, 224), ...)
    chw = pre(load_rgb("bee.jpg"))                  # (3, H, W) float32, normalised
    batch = pre.batch([img1, img2])                 # (N, 3, H, W)

It reproduces `timm.data.create_transform(input_size, interpolation, mean, std, crop_pct,
crop_mode, is_training=False)` step by step, including torchvision's integer rounding:
- center: resize so the short side is floor(size / crop_pct) (the long side is truncated,
  `int(s * long / short)`, as torchvision's Resize(int) does; non-square targets scale by the
  smaller ratio and round like timm's ResizeKeepRatio), then CenterCrop (offsets
  `int(round((H - h) / 2))`, zero padding when the image is smaller);
- squash: resize both sides to floor(size / crop_pct), then center crop;
- border: scale the longest side to fit (timm's ResizeKeepRatio(longest=1)), then center crop or
  pad with round(255 * mean);
then ToTensor (/255 in float32) and Normalize ((x - mean) / std in float32). Pillow does the
resampling in both paths, so the outputs agree to float rounding (tests hold it to 1e-5).
For "nhwc-uint8" models (preprocessing baked into the graph) it stops at the cropped uint8 image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.registry import Registry
from edgetl.runtime.metadata import ModelMetadata

# timm's interpolation names -> Pillow filters (timm.data.transforms._pil_interpolation_to_str).
INTERPOLATIONS: Registry[Image.Resampling] = Registry("interpolation")
for _name, _filt in (
    ("nearest", Image.Resampling.NEAREST),
    ("bilinear", Image.Resampling.BILINEAR),
    ("bicubic", Image.Resampling.BICUBIC),
    ("box", Image.Resampling.BOX),
    ("hamming", Image.Resampling.HAMMING),
    ("lanczos", Image.Resampling.LANCZOS),
):
    INTERPOLATIONS.register(_name, _filt)

CROP_MODES = ("center", "squash", "border")
LAYOUTS = ("nchw-float", "nhwc-uint8")
DEFAULT_CROP_PCT = 0.875  # timm.data.constants.DEFAULT_CROP_PCT, used when crop_pct is 0/None


@dataclass(frozen=True)
class Preprocess:
    """Stateless image -> model input; safe to share between threads."""

    input_size: tuple[int, int, int]  # (C, H, W)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"
    crop_pct: float | None = DEFAULT_CROP_PCT
    crop_mode: str | None = "center"
    layout: str = "nchw-float"

    def __post_init__(self) -> None:
        size = tuple(int(x) for x in self.input_size)
        if len(size) != 3 or size[0] != 3 or min(size) <= 0:
            raise EdgetlError(f"input_size must be (3, H, W) with H, W > 0, got {tuple(self.input_size)}")
        object.__setattr__(self, "input_size", size)
        try:
            INTERPOLATIONS.get(self.interpolation)
        except UnknownNameError as e:
            raise EdgetlError(f"{e}; the model metadata names an interpolation Pillow cannot do") from None
        if (self.crop_mode or "center") not in CROP_MODES:
            raise EdgetlError(f"crop_mode {self.crop_mode!r} is not one of {', '.join(CROP_MODES)}")
        if self.layout not in LAYOUTS:
            raise EdgetlError(f"input_layout {self.layout!r} is not one of {', '.join(LAYOUTS)}")
        if self.crop_pct is not None and not self.crop_pct >= 0:
            raise EdgetlError(f"crop_pct must be > 0, got {self.crop_pct}")
        if len(self.mean) != 3 or len(self.std) != 3 or any(s == 0 for s in self.std):
            raise EdgetlError(f"mean/std must be 3 values with std != 0, got mean={self.mean} std={self.std}")
        object.__setattr__(self, "_mean32", np.asarray(self.mean, dtype=np.float32).reshape(3, 1, 1))
        object.__setattr__(self, "_std32", np.asarray(self.std, dtype=np.float32).reshape(3, 1, 1))

    @classmethod
    def from_metadata(cls, md: ModelMetadata) -> Preprocess:
        return cls(
            input_size=tuple(md.input_size),
            mean=tuple(md.mean),
            std=tuple(md.std),
            interpolation=md.interpolation,
            crop_pct=md.crop_pct,
            crop_mode=md.crop_mode,
            layout=md.input_layout,
        )

    @classmethod
    def from_data_config(cls, data_config: dict, layout: str = "nchw-float") -> Preprocess:
        """From a timm/edgetl data config (input_size, mean, std, interpolation, crop_pct, crop_mode)."""
        return cls(
            input_size=tuple(data_config["input_size"]),
            mean=tuple(data_config.get("mean", (0.485, 0.456, 0.406))),
            std=tuple(data_config.get("std", (0.229, 0.224, 0.225))),
            interpolation=data_config.get("interpolation", "bilinear"),
            crop_pct=data_config.get("crop_pct"),
            crop_mode=data_config.get("crop_mode"),
            layout=layout,
        )

    # ----------------------------------------------------------------------------- geometry

    @property
    def size(self) -> tuple[int, int]:
        """Model input (H, W)."""
        return self.input_size[1], self.input_size[2]

    def _scale_size(self) -> tuple[int, int]:
        pct = self.crop_pct or DEFAULT_CROP_PCT
        return math.floor(self.size[0] / pct), math.floor(self.size[1] / pct)

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(W, H) the image is resized to before cropping, exactly as timm/torchvision compute it."""
        sh, sw = self._scale_size()
        mode = self.crop_mode or "center"
        if mode == "squash":
            return sw, sh
        if mode == "center" and sh == sw:
            # torchvision Resize(int): short side -> s, long side truncated (functional._compute_resized_output_size).
            s = sh
            if width <= height:
                return s, int(s * height / width)
            return int(s * width / height), s
        # timm ResizeKeepRatio: longest=0 for non-square center, longest=1 for border.
        ratio_h, ratio_w = height / sh, width / sw
        longest = 1.0 if mode == "border" else 0.0
        ratio = max(ratio_h, ratio_w) * longest + min(ratio_h, ratio_w) * (1.0 - longest)
        return round(width / ratio), round(height / ratio)

    def resize_crop(self, img: Image.Image) -> np.ndarray:
        """RGB PIL image -> (H, W, 3) uint8 at the model's input size (resize + crop/pad)."""
        if not isinstance(img, Image.Image):
            raise TypeError(f"expected a PIL image, got {type(img).__name__}")
        if img.mode != "RGB":
            from edgetl.runtime.image import to_rgb

            img = to_rgb(img)
        w, h = img.size
        if w <= 0 or h <= 0:
            raise EdgetlError(f"cannot preprocess an empty {w}x{h} image")
        new_w, new_h = self.resized_size(w, h)
        new_w, new_h = max(new_w, 1), max(new_h, 1)
        if (new_w, new_h) != (w, h):  # torchvision skips the resize when the size already matches
            img = img.resize((new_w, new_h), INTERPOLATIONS.get(self.interpolation))
        arr = np.asarray(img, dtype=np.uint8)
        fill = [round(255 * m) for m in self.mean] if self.crop_mode == "border" else [0, 0, 0]
        return _center_crop_or_pad(arr, self.size, fill)

    # ---------------------------------------------------------------------------- to tensor

    def normalize(self, hwc: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (3, H, W) float32 as ToTensor + Normalize compute it (float32 throughout)."""
        chw = np.ascontiguousarray(hwc.transpose(2, 0, 1)).astype(np.float32) / np.float32(255.0)
        return (chw - self._mean32) / self._std32

    def __call__(self, img: Image.Image) -> np.ndarray:
        """One RGB image -> model input without the batch axis: (3,H,W) float32 or (H,W,3) uint8."""
        hwc = self.resize_crop(img)
        return hwc if self.layout == "nhwc-uint8" else self.normalize(hwc)

    def batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images -> one model-ready batch (N, 3, H, W) float32 or (N, H, W, 3) uint8."""
        if not len(images):
            raise EdgetlError("no images to preprocess")
        return np.stack([self(im) for im in images])

    def describe(self) -> str:
        h, w = self.size
        return (
            f"{self.crop_mode or 'center'} crop {h}x{w}, crop_pct {self.crop_pct or DEFAULT_CROP_PCT}, "
            f"{self.interpolation}, mean {tuple(self.mean)}, std {tuple(self.std)}, {self.layout}"
        )


def _center_crop_or_pad(arr: np.ndarray, size: tuple[int, int], fill: Sequence[int]) -> np.ndarray:
    """torchvision CenterCrop / timm CenterCropOrPad on an (H, W, 3) array: pad (left/top get the
    smaller half) when too small, then crop at int(round((H - h) / 2)) (Python's round-half-even)."""
    ch, cw = size
    h, w = arr.shape[:2]
    if ch > h or cw > w:
        pad_l = (cw - w) // 2 if cw > w else 0
        pad_t = (ch - h) // 2 if ch > h else 0
        pad_r = (cw - w + 1) // 2 if cw > w else 0
        pad_b = (ch - h + 1) // 2 if ch > h else 0
        out = np.empty((h + pad_t + pad_b, w + pad_l + pad_r, 3), dtype=np.uint8)
        out[:] = np.asarray(fill, dtype=np.uint8)
        out[pad_t : pad_t + h, pad_l : pad_l + w] = arr
        arr = out
        h, w = arr.shape[:2]
        if (h, w) == (ch, cw):
            return arr
    top = int(round((h - ch) / 2.0))
    left = int(round((w - cw) / 2.0))
    return np.ascontiguousarray(arr[top : top + ch, left : left + cw])


__all__ = ["CROP_MODES", "DEFAULT_CROP_PCT", "INTERPOLATIONS", "LAYOUTS", "Preprocess"]
