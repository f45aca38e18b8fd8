"""Compatibility shim: timm 1.0.x RandAugment posterize vs Pillow >= 12.

timm's posterize ops map the top magnitude to "keep 0 bits" (`4 - int(level / 10 * 4)` at
level 10, and the `Posterize` variant at low levels), which older Pillow turned into a black
image; Pillow 13 raises "bits must be between or equal to 1 and 8". With the default policy
`rand-m9-mstd0.5-inc1` the magnitude reaches 10 in ~2% of draws, so a fine-tune crashed mid-epoch
in most runs. This keeps timm's behaviour (0 bits -> black) without the crash.

    patch_timm_posterize()   # idempotent; build_transform calls it for train transforms

"""

from __future__ import annotations

from typing import Any


def _posterize(img: Any, bits_to_keep: int, **_: Any) -> Any:
    from PIL import Image, ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:  # keep no bits: what Pillow < 12 returned
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def patch_timm_posterize() -> None:
    from timm.data import auto_augment

    for name in ("Posterize", "PosterizeIncreasing", "PosterizeOriginal"):
        if name in auto_augment.NAME_TO_OP:
            auto_augment.NAME_TO_OP[name] = _posterize
