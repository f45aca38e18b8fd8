"""Decode each image once per run: uint8 arrays kept in memory, augmentation applied from there.

    images = DecodedImages(budget_pixels(transform))
    arr = images.get(i, lambda: load_rgb(path))        # HxWx3 uint8; decoded on the first call only
    prefix, rest = split_transform(eval_transform)     # Resize + CenterCrop | ToTensor + Normalize

Decoding a JPEG costs more than augmenting it, and fine-tuning used to decode every image every
epoch. What is kept depends on the transform: when it starts with deterministic PIL steps (the
eval transform: Resize, CenterCrop), their output is kept, so validation reads finished crops and
its tensors are bit-identical to decoding every time. Otherwise (training: RandomResizedCrop
first) the decoded image is kept; one larger than `budget_pixels` (about (2 x crop size)^2, so a
crop of a quarter of the image still has every pixel it needs) is downscaled once, with bicubic
filtering. Memory: at most 3 bytes x budget per image (Lite0 at 224 px: 0.6 MB, so about 600 MB
for 1,000 large photos); past `max_bytes` in all, further images are decoded every time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
from PIL import Image

DEFAULT_MAX_BYTES = 2 * 1024**3
# Leading PIL steps that do the same thing on every call (torchvision and timm class names).
DETERMINISTIC = frozenset({"Resize", "CenterCrop", "ResizeKeepRatio", "CenterCropOrPad"})


def split_transform(transform: Callable | None) -> tuple[list[Callable], Callable | None]:
    """(leading deterministic PIL steps, the rest as one callable) of a torchvision Compose."""
    steps = list(getattr(transform, "transforms", []))
    n = 0
    while n < len(steps) and type(steps[n]).__name__ in DETERMINISTIC:
        n += 1
    if n == 0:
        return [], transform
    from torchvision.transforms import Compose

    rest = steps[n:]
    return steps[:n], Compose(rest) if rest else None


def budget_pixels(transform: Callable | None, factor: float = 2.0) -> int:
    """(factor x the largest output size any step of the transform names)^2; 448^2 for 224 px crops."""
    side = 0
    for step in getattr(transform, "transforms", []):
        size = getattr(step, "size", None)
        if isinstance(size, int):
            side = max(side, size)
        elif isinstance(size, (tuple, list)) and size and all(isinstance(s, int) for s in size):
            side = max(side, *size)
    return int((factor * (side or 224)) ** 2)


def downscale(img: Image.Image, max_pixels: int) -> Image.Image:
    """The image shrunk (aspect kept, bicubic) to at most `max_pixels`, or unchanged if it fits."""
    w, h = img.size
    if w * h <= max_pixels:
        return img
    f = math.sqrt(max_pixels / (w * h))
    return img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.BICUBIC, reducing_gap=3.0)


class DecodedImages:
    """index -> HxWx3 uint8 array, made by `make()` on the first `get` and kept while under `max_bytes`."""

    def __init__(
        self, max_pixels: int | None, prefix: list[Callable] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ):
        self.max_pixels = max_pixels
        self.prefix = prefix or []
        self.max_bytes = max_bytes
        self.arrays: dict[int, np.ndarray] = {}
        self.nbytes = 0
        self.hits = 0
        self._lock = threading.Lock()

    def _finish(self, img: Image.Image) -> np.ndarray:
        if self.prefix:
            for step in self.prefix:
                img = step(img)
        elif self.max_pixels:
            img = downscale(img, self.max_pixels)
        return np.asarray(img.convert("RGB") if img.mode != "RGB" else img, dtype=np.uint8)

    def get(self, index: int, make: Callable[[], Image.Image]) -> np.ndarray:
        """The kept array of `index`, or `make()` turned into one (and kept when it fits)."""
        arr = self.arrays.get(index)
        if arr is not None:
            self.hits += 1
            return arr
        arr = self._finish(make())
        with self._lock:
            if index not in self.arrays and self.nbytes + arr.nbytes <= self.max_bytes:
                self.arrays[index] = arr
                self.nbytes += arr.nbytes
        return arr

    def __contains__(self, index: int) -> bool:
        return index in self.arrays

    def __len__(self) -> int:
        return len(self.arrays)


__all__ = ["DEFAULT_MAX_BYTES", "DecodedImages", "budget_pixels", "downscale", "split_transform"]
