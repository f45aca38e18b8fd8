"""Which files are images and which folders are the kit's own: the one walker that training,
bench and predict share, so all three see the same files in one folder. Torch-free.

    names, skipped = class_folders(Path("photos"))   # class sub-folders; skipped: [(shown path, why)]
    files = image_files(Path("photos/cat"))          # sorted, recursive, hidden and kit folders left out
    print(shown(files[0]))                           # printable even when the name is not UTF-8

A folder that edgetl wrote (a run, export or bench folder, e.g. `--out photos/myrun`) is never
read as a class or walked for images. File names that are not valid UTF-8 still work as files
(`shown` gives them a printable, JSON-safe spelling); a class folder so named is skipped and
reported, because its name would become a label that no metadata or report can carry.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgetl.errors import DataError

# torchvision's ImageFolder extensions (torchvision.datasets.folder.IMG_EXTENSIONS) plus GIF,
# matched case-insensitively like torchvision does.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")
LOCK_NAME = ".edgetl.lock"  # the writer's lock file (edgetl/_lock.py)
MANIFEST_NAME = ".edgetl-files.json"  # files the kit wrote into a folder (edgetl/_io.py)
# Files whose presence makes a folder the kit's: a run (config.yaml next to data.json or
# checkpoints/), an export or bench output, or any folder holding the kit's lock or manifest.
KIT_FILES = (LOCK_NAME, MANIFEST_NAME, "export_report.json", "bench.json", "pipeline.json")
NOT_UTF8 = "name is not valid UTF-8; rename it to use it"


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def shown(path: str | os.PathLike) -> str:
    """`path` as valid UTF-8 text for messages and JSON (undecodable bytes become `\\xNN`)."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: os.fsdecode's spelling of a non-UTF-8 byte
        return False
    return True


def is_kit_folder(path: str | os.PathLike, by_lock: bool = True) -> bool:
    """True for a folder edgetl wrote (run, export, bench): never a class, never walked for images.

    by_lock=False: a lock file alone does not count (a writer that just took it may be new there)."""
    p = Path(path)
    if any((p / name).exists() for name in KIT_FILES if by_lock or name != LOCK_NAME):
        return True
    return (p / "config.yaml").is_file() and ((p / "data.json").is_file() or (p / "checkpoints").is_dir())


def _entry_is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; a dangling or looping link is not a dir
    except OSError:
        return False


def _links_back(entry: os.DirEntry, real_parent: str) -> bool:
    """True for a symlink to `real_parent` itself or to a folder above it (following it would loop)."""
    if not entry.is_symlink():
        return False
    target = os.path.realpath(entry.path)
    return real_parent == target or real_parent.startswith(target.rstrip(os.sep) + os.sep)


def class_folders(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Sorted sub-folder names (symlinks to folders count), like torchvision's `find_classes`,
    minus hidden, looping and kit folders; -> (names, [(shown path, reason)] of folders left out)."""
    real = os.path.realpath(folder)
    try:
        with os.scandir(folder) as it:
            entries = [
                e for e in it if not is_hidden(e.name) and _entry_is_dir(e) and not _links_back(e, real)
            ]
    except OSError as e:
        raise DataError(
            f"cannot list {shown(folder)}: {e.strerror or e}; check it exists and is readable"
        ) from None
    names, skipped = [], []
    for e in sorted(entries, key=lambda e: e.name):
        if is_kit_folder(e.path):
            continue
        if not is_utf8(e.name):
            skipped.append((shown(e.path), f"class folder {NOT_UTF8} as a class"))
            continue
        names.append(e.name)
    return names, skipped


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, sorted by relative path; follows folder symlinks but
    never loops; hidden entries and the kit's own folders are left out."""
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        d = stack.pop()
        try:
            st = d.stat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or the same folder linked twice
            continue
        seen.add(key)
        real = os.path.realpath(d)
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue  # unreadable folder: its images are simply not found (an empty class errors out)
        for e in entries:
            if is_hidden(e.name):
                continue
            if _entry_is_dir(e):
                if not _links_back(e, real) and not is_kit_folder(e.path):
                    stack.append(Path(e.path))
            elif e.name.lower().endswith(IMG_EXTENSIONS):
                out.append(Path(e.path))
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def extensions_text() -> str:
    return "/".join(x.lstrip(".") for x in IMG_EXTENSIONS)


__all__ = [
    "IMG_EXTENSIONS",
    "KIT_FILES",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "class_folders",
    "extensions_text",
    "image_files",
    "is_hidden",
    "is_kit_folder",
    "is_utf8",
    "shown",
]
