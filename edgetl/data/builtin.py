"""Datasets shipped with installed packages: a zero-setup run needs no download and no folder.

    classes, train, val = BUILTIN_DATASETS.get("digits")()   # or: edgetl train --data digits

Each loader returns `(classes, train, val)` where samples are `(HxWx3 uint8 RGB array, label)`.
Register more with `@BUILTIN_DATASETS.register("name")`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgetl.registry import Registry

BuiltinLoader = Callable[[], tuple[list[str], list[tuple[np.ndarray, int]], list[tuple[np.ndarray, int]]]]
BUILTIN_DATASETS: Registry[BuiltinLoader] = Registry("built-in dataset")

SPLIT_SEED = 0
VAL_FRACTION = 0.2


@BUILTIN_DATASETS.register("digits")
def load_digits_rgb() -> tuple[list[str], list[tuple[np.ndarray, int]], list[tuple[np.ndarray, int]]]:
    """scikit-learn's 1797 real 8x8 handwritten digits (UCI), as uint8 RGB, stratified 80/20 with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    gray = np.clip(np.rint(ds.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)  # values are 0..16
    rgb = np.repeat(gray[..., None], 3, axis=-1)  # (N, 8, 8, 3)
    labels = ds.target.astype(int)
    idx = np.arange(len(labels))
    tr, va = train_test_split(idx, test_size=VAL_FRACTION, random_state=SPLIT_SEED, stratify=labels)
    classes = [str(c) for c in ds.target_names]
    train = [(np.ascontiguousarray(rgb[i]), int(labels[i])) for i in sorted(tr)]
    val = [(np.ascontiguousarray(rgb[i]), int(labels[i])) for i in sorted(va)]
    return classes, train, val


__all__ = ["BUILTIN_DATASETS", "load_digits_rgb"]
