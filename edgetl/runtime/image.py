"""Open any image a user may have as 8-bit RGB, or say clearly why it cannot be used.

Shared by training data loading and the torch-free runtime, so both see identical pixels.
Handles grayscale, 16-bit, palette, RGBA/LA (composited on white), CMYK, and animated GIF
(first frame); turns phone photos upright by their EXIF orientation (what a viewer shows, and what
the model should see); guards against decompression bombs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Bump when the pixels load_rgb returns for the same file change (cached features depend on them).
PIXELS_VERSION = 2  # 2: EXIF orientation applied
EXIF_ORIENTATION = 0x0112

# Refuse images over PIL's decompression-bomb threshold (~89.5 Mpx): PIL itself only warns
# there (and errors at 2x); we make that warning an error, so the limit is ~89.5 Mpx.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


class BadImageError(ValueError):
    """An image file that cannot be used; the message names the file and the reason."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB the same way everywhere, upright by its EXIF orientation."""
    if getattr(img, "is_animated", False):
        img.seek(0)
    if _orientation(img) not in (0, 1):
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # a malformed EXIF block is not a reason to refuse the picture
        return 1


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Fully decode `path` to an RGB PIL image; raise BadImageError naming the file otherwise."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise BadImageError(
                        f"{path}: {w}x{h} pixels is over the {MAX_PIXELS} limit (decompression-bomb guard)"
                    )
                img.load()
                out = to_rgb(img)
                out.load()
                return out.copy() if out is img else out
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImageError(f"{path}: too many pixels ({e}); decompression-bomb guard") from None
    except UnidentifiedImageError:
        raise BadImageError(f"{path}: not an image file PIL can read") from None
    except FileNotFoundError:
        raise BadImageError(f"{path}: no such file") from None
    except PermissionError:
        raise BadImageError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise BadImageError(f"{path}: is a directory, not an image") from None
    except OSError as e:
        raise BadImageError(f"{path}: unreadable or truncated image ({e})") from None
    except (ValueError, SyntaxError, EOFError) as e:
        raise BadImageError(f"{path}: corrupt image ({e})") from None


# A truncated JPEG must be an error, not silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
