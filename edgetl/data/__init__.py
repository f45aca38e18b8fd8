"""Data: find and check images, built-in datasets, timm transforms, and the torch Dataset.

    from edgetl.data import load_splits, build_transform, ImageDataset
    splits = load_splits("data/hymenoptera")
    ds = ImageDataset(splits.train, build_transform(data_config, train=True))

torch is imported only when `ImageDataset` is first used, so `import edgetl.data` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgetl.data.builtin import BUILTIN_DATASETS
from edgetl.data.sources import IMG_EXTENSIONS, DataSplits, Item, load_splits, skipped_message
from edgetl.data.transforms import AugmentConfig, build_transform

if TYPE_CHECKING:
    from edgetl.data.dataset import ImageDataset


def __getattr__(name: str) -> Any:
    if name == "ImageDataset":
        from edgetl.data.dataset import ImageDataset

        return ImageDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_DATASETS",
    "IMG_EXTENSIONS",
    "AugmentConfig",
    "DataSplits",
    "ImageDataset",
    "Item",
    "build_transform",
    "load_splits",
    "skipped_message",
]
