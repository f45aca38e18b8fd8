"""The images the bench scores and times with, decoded once and cropped once per preprocessing.

    pool = prepare_images(ev, [cell.pre for cell in cells], cfg.pool, reporter)
    pool.crops[geometry(pre)]          # every readable eval image, resized + cropped (uint8 HWC)
    batches = pool_batches(pool.pool[geometry(pre)], pre, batch=8)   # timed calls cycle these

Without eval data the timing pool is synthetic random images of camera-like sizes, preprocessed
like real ones. Decode and preprocessing are timed per image here and reported apart: they are
not in the latencies.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgetl.bench.data import EvalSet
from edgetl.errors import DataError
from edgetl.progress import Reporter
from edgetl.runtime import BadImageError, Preprocess, load_rgb, to_image

SYNTHETIC_SIZES = [
    (640, 480),
    (500, 375),
    (375, 500),
    (800, 600),
    (333, 250),
    (1024, 768),
    (480, 640),
    (300, 300),
]
POOL_BYTES = 256 * 2**20  # cap on the preprocessed input pool per cell

Crops = dict[Preprocess, list[np.ndarray]]


@dataclass
class ImagePool:
    eval_set: EvalSet | None  # the readable eval images only (unreadable ones moved to `skipped`)
    crops: Crops  # geometry -> every eval image, cropped
    pool: Crops  # geometry -> the images timed calls cycle through
    cost: dict[str, Any]  # bench.json "preprocess": decode/preprocess ms per image, pool source


def geometry(pre: Preprocess) -> Preprocess:
    """Key for the cropped uint8 images a preprocessing makes (the layout is applied per variant)."""
    return Preprocess(pre.input_size, pre.mean, pre.std, pre.interpolation, pre.crop_pct, pre.crop_mode)


def prepare_images(
    ev: EvalSet | None, pres: Iterable[Preprocess], pool_size: int, reporter: Reporter
) -> ImagePool:
    """Decode each eval image once, crop it for every distinct preprocessing; time decode and preprocess."""
    specs = list(dict.fromkeys(geometry(p) for p in pres))
    if ev is not None:
        reporter.info(f"decoding and preprocessing {len(ev)} eval images")
        ev, crops, decode_ms, pre_ms = _decode_eval(ev, specs)
        pool = {s: c[:pool_size] for s, c in crops.items()}
        source = "eval images"
    else:
        crops, decode_ms = {}, []
        pool, pre_ms = _synthetic(specs, pool_size)
        source = "synthetic random images (no eval data)"
    cost = {
        "pool_source": source,
        "pool_images": min(pool_size, len(next(iter(pool.values()), []))),
        "decode_ms_per_image": round(float(np.median(decode_ms)), 3) if decode_ms else None,
        "preprocess_ms_per_image": round(float(np.median(pre_ms)), 3) if pre_ms else None,
        "preprocess": specs[0].describe() if specs else None,
        "note": "resize + crop + normalise with edgetl.runtime (Pillow + numpy), median per image; not in the latencies",
    }
    return ImagePool(ev, crops, pool, cost)


def _crop_all(img: Any, specs: list[Preprocess], into: Crops) -> float:
    """Crop `img` for every spec into `into`; -> ms of the first spec's resize + crop + normalise."""
    ms = 0.0
    for i, s in enumerate(specs):
        ta = time.perf_counter()
        hwc = s.resize_crop(img)
        into[s].append(hwc)
        if i == 0:
            s.normalize(hwc)
            ms = (time.perf_counter() - ta) * 1e3
    return ms


def _decode_eval(ev: EvalSet, specs: list[Preprocess]) -> tuple[EvalSet, Crops, list[float], list[float]]:
    crops: Crops = {s: [] for s in specs}
    decode_ms: list[float] = []
    pre_ms: list[float] = []
    keep_items, keep_labels, skipped = [], [], list(ev.skipped)
    for item, y in zip(ev.items, ev.labels, strict=True):
        t0 = time.perf_counter()
        try:
            img = load_rgb(item) if isinstance(item, (str, os.PathLike)) else to_image(item)
        except BadImageError as e:
            skipped.append((str(item), str(e)))
            continue
        decode_ms.append((time.perf_counter() - t0) * 1e3)
        ms = _crop_all(img, specs, crops)
        if specs:
            pre_ms.append(ms)
        keep_items.append(item)
        keep_labels.append(int(y))
    if not keep_items:
        raise DataError(f"{ev.source}: none of the eval images could be read")
    labels = np.asarray(keep_labels, dtype=np.int64)
    return dataclasses.replace(ev, items=keep_items, labels=labels, skipped=skipped), crops, decode_ms, pre_ms


def _synthetic(specs: list[Preprocess], n: int) -> tuple[Crops, list[float]]:
    from PIL import Image

    rng = np.random.default_rng(0)
    pool: Crops = {s: [] for s in specs}
    pre_ms: list[float] = []
    for i in range(n):
        w, h = SYNTHETIC_SIZES[i % len(SYNTHETIC_SIZES)]
        ms = _crop_all(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), specs, pool)
        if specs:
            pre_ms.append(ms)
    return pool, pre_ms


def pool_batches(pool: list[np.ndarray], pre: Preprocess, batch: int) -> list[np.ndarray]:
    """Different batches from the image pool (cycled), normalised for this variant."""
    n = len(pool)
    one = pre.normalize(pool[0]) if pre.layout != "nhwc-uint8" else pool[0]
    per_batch = one.nbytes * batch
    count = max(1, min(max(4, -(-n // batch)), POOL_BYTES // max(per_batch, 1)))
    out = []
    for k in range(count):
        idx = [(k * batch + j) % n for j in range(batch)]
        out.append(model_batch(pre, [pool[i] for i in idx]))
    return out


def model_batch(pre: Preprocess, crops: list[np.ndarray]) -> np.ndarray:
    """Cropped uint8 images -> the batch this variant takes (normalised NCHW float, or NHWC uint8)."""
    if pre.layout == "nhwc-uint8":
        return np.stack(crops)
    return np.stack([pre.normalize(c) for c in crops])


__all__ = ["ImagePool", "geometry", "model_batch", "pool_batches", "prepare_images"]
