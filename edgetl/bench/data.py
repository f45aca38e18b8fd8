"""Which images to score, shared by `edgetl bench` and `edgetl predict` so both count the same set.

    files = find_images(["val/", "extra.jpg"])            # sorted, recursive, hidden files skipped
    truth = folder_label(files[0], root, labels)          # "bees" when the file sits in val/bees/...
    ev = eval_set("hymenoptera/val", labels)               # labelled items for accuracy

A folder whose sub-folders are named like the model's labels (an ImageFolder val split) gives
ground truth: the first folder level under it. Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.errors import DataError
from edgetl.runtime.files import IMG_EXTENSIONS, class_folders, extensions_text, image_files


def walk_images(folder: Path) -> list[Path]:
    """Image files under `folder`: the same walker training uses (edgetl.runtime.files.image_files)."""
    return image_files(folder)


@dataclass
class Target:
    """One image to predict, with the folder it came from (for ground truth)."""

    path: Path
    root: Path | None  # the folder argument it was found under, None for a file argument


def find_images(args: Iterable[str | os.PathLike]) -> tuple[list[Target], list[tuple[str, str]]]:
    """Expand files and folders into images; -> (targets, [(arg, problem)] for args that give none)."""
    targets: list[Target] = []
    problems: list[tuple[str, str]] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            files = walk_images(p)
            if not files:
                problems.append((str(p), f"no {extensions_text()} files in this folder"))
            targets.extend(Target(f, p) for f in files)
        elif p.exists():
            targets.append(Target(p, None))
        else:
            problems.append((str(p), "no such file or folder"))
    return targets, problems


def folder_label(target: Target, labels: Sequence[str]) -> str | None:
    """The class a file's first folder under its root names, when that is one of `labels`."""
    if target.root is None:
        return None
    parts = target.path.relative_to(target.root).parts
    return parts[0] if len(parts) > 1 and parts[0] in labels else None


@dataclass
class EvalSet:
    """Labelled images for accuracy: items are paths or HxWx3 uint8 arrays; labels index the model's labels."""

    items: list[Any]
    labels: np.ndarray
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __len__(self) -> int:
        return len(self.items)


def folder_eval_set(folder: Path, labels: Sequence[str]) -> EvalSet:
    """A folder of <label>/ sub-folders -> EvalSet (files outside such sub-folders are ignored)."""
    sub, _ = class_folders(folder)  # the same class folders training sees
    unknown = [d for d in sub if d not in labels]
    if not sub or len(unknown) == len(sub):
        raise DataError(
            f"--data {folder}: no sub-folders named like the model's labels ({', '.join(labels[:10])}); "
            "pass a val folder laid out as <label>/<image> or a dataset root with val/"
        )
    if unknown:
        raise DataError(
            f"--data {folder}: sub-folders {', '.join(unknown)} are not classes of the model "
            f"({', '.join(labels[:10])}); remove them or bench the matching model"
        )
    index = {name: i for i, name in enumerate(labels)}
    targets, _ = find_images([folder])
    items, ys = [], []
    for t in targets:
        lab = folder_label(t, labels)
        if lab is not None:
            items.append(str(t.path))
            ys.append(index[lab])
    if not items:
        raise DataError(f"--data {folder}: no images in its class folders")
    return EvalSet(items=items, labels=np.asarray(ys, dtype=np.int64), source=f"folder:{folder.resolve()}")


def splits_eval_set(data: str, val_split: float | None, seed: int, labels: Sequence[str]) -> EvalSet:
    """The val split of a training data source (edgetl.data.load_splits), mapped onto the model's labels."""
    from edgetl.data import load_splits

    splits = load_splits(data, val_split=val_split, seed=seed)
    index = {name: i for i, name in enumerate(labels)}
    missing = [c for c in splits.classes if c not in index]
    if missing:
        raise DataError(
            f"--data {data}: classes {', '.join(missing)} are not labels of the model ({', '.join(labels[:10])})"
        )
    items = [item for item, _ in splits.val]
    ys = np.asarray([index[splits.classes[y]] for _, y in splits.val], dtype=np.int64)
    return EvalSet(
        items=items, labels=ys, source=f"{splits.source} (val split)", skipped=list(splits.skipped)
    )


def eval_set(
    data: str | os.PathLike, labels: Sequence[str], val_split: float | None = None, seed: int = 0
) -> EvalSet:
    """--data: a val folder (<label>/ sub-folders), a dataset root with train/ and val/, or a built-in name."""
    path = Path(os.path.expanduser(os.fspath(data)))
    if path.is_dir() and not (path / "train").is_dir():
        return folder_eval_set(path, labels)
    return splits_eval_set(os.fspath(data), val_split, seed, labels)


__all__ = [
    "IMG_EXTENSIONS",
    "EvalSet",
    "Target",
    "eval_set",
    "find_images",
    "folder_eval_set",
    "folder_label",
    "walk_images",
]
