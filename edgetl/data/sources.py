"""Find, check and split a dataset once, before training, so nothing fails mid-epoch.

    splits = load_splits("data/hymenoptera")            # DIR/train/<class>/*, DIR/val/<class>/*
    splits = load_splits("photos", val_split=0.2)       # DIR/<class>/*, stratified split, seed 0
    splits = load_splits("digits")                      # a built-in dataset (see BUILTIN_DATASETS)
    print(skipped_message(splits.skipped) or "all images readable")

Every image is fully decoded once here (with the same `load_rgb` the runtime uses), so a
corrupt, truncated or non-image file is left out and reported once instead of crashing an
epoch. Layout problems (empty class folder, one class, train/val classes that differ, a
flat folder without `--val-split`) raise a one-line `DataError` before any training starts.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetl.errors import DataError, UnknownNameError
from edgetl.runtime.files import IMG_EXTENSIONS, class_folders, extensions_text, image_files, is_hidden, shown

Item = str | np.ndarray  # an image file path, or an HxWx3 uint8 RGB array (built-in datasets)
Sample = tuple[Item, int]

VAL_DIR_NAMES = ("val", "valid", "validation")
# How many unreadable files `skipped_message` names before "(and N more)".
SHOWN_SKIPPED = 3


@dataclass
class DataSplits:
    """Train/val samples with their class names, plus what was left out and why."""

    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    skipped: list[tuple[str, str]]  # (path, reason) of files left out
    source: str  # "folder:/abs/path" or "builtin:digits"
    fingerprint: str  # sha256 over samples + classes + split: a feature-cache key
    layout: str = ""  # "imagefolder" | "split" | "builtin"
    val_split: float | None = None
    seed: int = 0

    def counts(self, split: str) -> dict[str, int]:
        """Images per class in `split` ("train" or "val"), every class listed."""
        samples = self.train if split == "train" else self.val
        c = Counter(label for _, label in samples)
        return {name: c.get(i, 0) for i, name in enumerate(self.classes)}

    def summary(self) -> dict:
        """What goes to RUN_DIR/data.json."""
        return {
            "source": self.source,
            "layout": self.layout,
            "val_split": self.val_split,
            "seed": self.seed,
            "classes": list(self.classes),
            "num_train": len(self.train),
            "num_val": len(self.val),
            "counts": {"train": self.counts("train"), "val": self.counts("val")},
            "skipped": {
                "count": len(self.skipped),
                "files": [{"path": p, "reason": r} for p, r in self.skipped],
            },
            "fingerprint": self.fingerprint,
        }


def skipped_message(skipped: Sequence[tuple[str, str]], shown: int = SHOWN_SKIPPED) -> str | None:
    """One line naming the first few skipped files and their reasons, or None if nothing was skipped."""
    if not skipped:
        return None
    n = len(skipped)
    parts = [f"{path} ({reason})" for path, reason in skipped[:shown]]
    more = f", ... (and {n - shown} more)" if n > shown else ""
    noun = "file" if n == 1 else "files"
    return f"skipped {n} unreadable {noun}: {', '.join(parts)}{more}"


def load_splits(data: str | os.PathLike, val_split: float | None = None, seed: int = 0) -> DataSplits:
    """Resolve `data` (a folder, or a built-in dataset name) into checked train/val samples.

    A folder wins over a built-in name when both exist, so a local folder called "digits" is used as such.
    """
    if val_split is not None and not (isinstance(val_split, (int, float)) and 0.0 < float(val_split) < 1.0):
        raise DataError(f"--val-split must be a fraction between 0 and 1 (e.g. 0.2), got {val_split!r}")
    if not os.fspath(data).strip():
        raise DataError("--data is empty; pass a folder of class folders or a built-in dataset name")
    path = Path(os.path.expanduser(os.fspath(data)))
    if path.is_dir():
        return _load_folder(path.resolve(), val_split, seed)
    from edgetl.data.builtin import BUILTIN_DATASETS

    name = os.fspath(data)
    if name in BUILTIN_DATASETS:
        return _load_builtin(name, val_split, seed)
    if path.exists():
        raise DataError(
            f"--data {name}: is a file, not a folder; pass a folder of class folders or a built-in dataset"
        )
    close = UnknownNameError("built-in dataset", name, BUILTIN_DATASETS.names()).suggestions
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DataError(
        f"--data {name}: no such folder, and not a built-in dataset (built-ins: "
        f"{', '.join(BUILTIN_DATASETS.names())}){hint}; pass an existing folder or a built-in name"
    )


# ----------------------------------------------------------------------------------------- built-in


def _load_builtin(name: str, val_split: float | None, seed: int) -> DataSplits:
    from edgetl.data.builtin import BUILTIN_DATASETS

    if val_split is not None:
        raise DataError(f"--data {name}: this built-in dataset has a fixed train/val split; drop --val-split")
    classes, train, val = BUILTIN_DATASETS.get(name)()
    h = hashlib.sha256()
    h.update(f"builtin:{name}\n{classes!r}\n".encode())
    for split, samples in (("train", train), ("val", val)):
        h.update(f"{split}:{len(samples)}\n".encode())
        for arr, label in samples:
            h.update(f"{label}:{arr.shape}:{arr.dtype}\n".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return DataSplits(
        classes=list(classes),
        train=list(train),
        val=list(val),
        skipped=[],
        source=f"builtin:{name}",
        fingerprint=h.hexdigest(),
        layout="builtin",
        seed=seed,
    )


# ------------------------------------------------------------------------------------------- folder


def _load_folder(root: Path, val_split: float | None, seed: int) -> DataSplits:
    left_out: list[tuple[str, str]] = []  # class folders that cannot be classes (names not UTF-8)
    train_dir = root / "train"
    val_dir = next((root / n for n in VAL_DIR_NAMES if (root / n).is_dir()), None)
    if train_dir.is_dir() or val_dir is not None:
        if not train_dir.is_dir():
            raise DataError(f"{root}: has {val_dir.name}/ but no train/ folder; add train/<class>/ images")
        if val_dir is None:
            raise DataError(
                f"{root}: has train/ but no val/ folder; add val/<class>/ images, "
                f"or pass --data {train_dir} --val-split 0.2 to split train/"
            )
        if val_split is not None:
            raise DataError(f"{root}: already has train/ and {val_dir.name}/ folders; drop --val-split")
        layout = "imagefolder"
        train_classes = _class_dirs(train_dir, left_out)
        val_classes = _class_dirs(val_dir, left_out)
        _check_classes(train_dir, train_classes)
        _check_classes(val_dir, val_classes)
        if set(train_classes) != set(val_classes):
            only_train = sorted(set(train_classes) - set(val_classes))
            only_val = sorted(set(val_classes) - set(train_classes))
            parts = []
            if only_train:
                parts.append(f"missing in {val_dir.name}/: {', '.join(only_train)}")
            if only_val:
                parts.append(f"missing in train/: {', '.join(only_val)}")
            raise DataError(
                f"{root}: train/ and {val_dir.name}/ have different class folders ({'; '.join(parts)}); "
                "give both the same class folders"
            )
        classes = train_classes
        found = {"train": _scan_classes(train_dir, classes), "val": _scan_classes(val_dir, classes)}
    else:
        layout = "split"
        classes = _class_dirs(root, left_out)
        _check_classes(root, classes)
        if val_split is None:
            raise DataError(
                f"{root}: has class folders but no train/ and val/ folders; pass --val-split 0.2 "
                "to split it (stratified, fixed seed), or arrange it as train/<class>/ and val/<class>/"
            )
        found = {"all": _scan_classes(root, classes)}

    bases = {"all": root, "train": train_dir, "val": val_dir}
    samples, bad = _usable_samples(found, bases, classes)
    files = [f for per_class in found.values() for paths in per_class.values() for f in paths]
    skipped = left_out + [(shown(p), bad[p]) for p in files if p in bad]

    if layout == "split":
        train, val = _stratified_split(root, classes, samples["all"], val_split, seed)
    else:
        train, val = samples["train"], samples["val"]
    return DataSplits(
        classes=classes,
        train=train,
        val=val,
        skipped=skipped,
        source=f"folder:{shown(root)}",
        fingerprint=_fingerprint(root, classes, train, val),
        layout=layout,
        val_split=float(val_split) if val_split is not None else None,
        seed=seed,
    )


def _usable_samples(
    found: dict[str, dict[str, list[Path]]], bases: dict[str, Path | None], classes: list[str]
) -> tuple[dict[str, list[tuple[str, int]]], dict[Path, str]]:
    """(split -> [(path, label)] of decodable images, {bad path: reason}); an empty class is an error."""
    for split, per_class in found.items():  # fail fast, before decoding anything
        for name, listed in per_class.items():
            if not listed:
                folder = bases[split] / name
                raise DataError(
                    f"class folder {folder} has no usable image ({_why_empty(folder)}); "
                    "add images or remove the folder"
                )
    files = [f for per_class in found.values() for paths in per_class.values() for f in paths]
    bad = dict(_check_images(files))
    samples: dict[str, list[tuple[str, int]]] = {}
    for split, per_class in found.items():
        samples[split] = []
        for label, name in enumerate(classes):
            listed = per_class[name]
            good = [p for p in listed if p not in bad]
            if not good:
                raise DataError(
                    f"class folder {bases[split] / name} has no usable image (all {len(listed)} files are "
                    f"unreadable, e.g. {listed[0].name}: {bad[listed[0]]}); add images or remove the folder"
                )
            samples[split].extend((str(p), label) for p in good)
    return samples, bad


def _class_dirs(folder: Path, left_out: list[tuple[str, str]]) -> list[str]:
    """Class folder names (see `edgetl.runtime.files.class_folders`); the ones left out go to `left_out`."""
    names, skipped = class_folders(folder)
    left_out.extend(s for s in skipped if s not in left_out)
    return names


def _check_classes(folder: Path, classes: list[str]) -> None:
    if not classes:
        raise DataError(f"{folder}: no class folders found; put images in {folder}/<class name>/ folders")
    if len(classes) == 1:
        raise DataError(
            f"{folder}: only one class folder ({classes[0]}); classification needs at least 2 class folders"
        )


def _scan_classes(folder: Path, classes: list[str]) -> dict[str, list[Path]]:
    return {name: image_files(folder / name) for name in classes}


def _why_empty(folder: Path) -> str:
    try:
        n = sum(1 for e in os.scandir(folder) if not is_hidden(e.name))
    except OSError as e:
        return f"cannot list it: {e.strerror or e}"
    if n:
        return f"it holds {n} entries but no {extensions_text()} files"
    return "it is empty"


def _check_one(path: Path) -> str | None:
    """None if `path` decodes to RGB, else the reason (without the path) it cannot be used."""
    from edgetl.runtime.image import BadImageError, load_rgb

    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    try:
        load_rgb(path)
    except BadImageError as e:
        msg = str(e)
        prefix = f"{path}: "
        return msg[len(prefix) :] if msg.startswith(prefix) else msg
    except Exception as e:  # a decoder bug must skip the file, not stop the whole run
        return f"cannot decode ({type(e).__name__}: {e})"
    return None


def _check_images(files: Iterable[Path], workers: int | None = None) -> list[tuple[Path, str]]:
    """Decode every file once (threads: PIL releases the GIL while decoding); return the bad ones."""
    files = list(files)
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    if len(files) < 16:
        results = [_check_one(p) for p in files]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edgetl-check") as pool:
            results = list(pool.map(_check_one, files, chunksize=8))
    return [(p, r) for p, r in zip(files, results, strict=True) if r is not None]


def _stratified_split(
    root: Path, classes: list[str], samples: list[tuple[str, int]], val_split: float, seed: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """sklearn's stratified split, then every class made to keep at least one image on each side."""
    from sklearn.model_selection import train_test_split

    labels = [label for _, label in samples]
    counts = Counter(labels)
    small = [f"{classes[c]!r} has {n}" for c, n in sorted(counts.items()) if n < 2]
    if small:
        raise DataError(
            f"{root}: --val-split needs at least 2 images per class (one for train, one for val); "
            f"class {', '.join(small)}: add images or remove the folder"
        )
    n_val = int(np.ceil(val_split * len(samples)))
    if n_val < len(counts) or len(samples) - n_val < len(counts):
        raise DataError(
            f"{root}: cannot split {len(samples)} images of {len(counts)} classes with --val-split {val_split} "
            f"(it holds out {n_val}); each split needs every class: add images or change --val-split"
        )
    idx = np.arange(len(samples))
    try:
        tr, va = train_test_split(idx, test_size=val_split, random_state=seed, stratify=labels, shuffle=True)
    except ValueError as e:
        raise DataError(
            f"{root}: cannot split with --val-split {val_split}: {e}; add images or change it"
        ) from None
    tr, va = _both_sides(list(tr), list(va), labels, seed)
    return [samples[i] for i in sorted(tr)], [samples[i] for i in sorted(va)]


def _both_sides(tr: list[int], va: list[int], labels: list[int], seed: int) -> tuple[list[int], list[int]]:
    """Swap images so no class is missing from either side; sizes stay as sklearn chose them.

    sklearn rounds per-class shares, so a class of 2 among classes of 10 can get no val image at all.
    """
    rng = np.random.default_rng(seed)
    for short, full in ((va, tr), (tr, va)):
        for c in sorted(set(labels)):
            if any(labels[i] == c for i in short):
                continue
            per = Counter(labels[i] for i in short)
            donor = max(per, key=lambda k: (per[k], -k))  # the class `short` has most of: it can spare one
            give = [i for i in full if labels[i] == c]
            take = [i for i in short if labels[i] == donor]
            i, j = give[int(rng.integers(len(give)))], take[int(rng.integers(len(take)))]
            full.remove(i)
            short.remove(j)
            short.append(i)
            full.append(j)
    return tr, va


def _fingerprint(root: Path, classes: list[str], train: list[Sample], val: list[Sample]) -> str:
    """Stable over runs and folder moves; changes when any used file is added, removed or modified."""
    h = hashlib.sha256()
    h.update(f"classes:{classes!r}\n".encode())
    for split, samples in (("train", train), ("val", val)):
        h.update(f"{split}:{len(samples)}\n".encode())
        for p, label in samples:
            try:
                st = os.stat(p)
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:  # vanished since the check: still a stable, different key
                size, mtime = -1, -1
            rel = os.fsencode(Path(p).relative_to(root).as_posix())  # bytes: names need not be UTF-8
            h.update(rel + f"\t{label}\t{size}\t{mtime}\n".encode())
    return h.hexdigest()


__all__ = ["IMG_EXTENSIONS", "DataSplits", "Item", "Sample", "load_splits", "skipped_message"]
