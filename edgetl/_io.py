"""Atomic file writes: a reader never sees a half-written checkpoint, export or cache entry.

Everything is written to a temporary file in the destination folder, flushed and fsynced,
then renamed over the final name (atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgetl.errors import EdgetlError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success it is renamed to `path`, else removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_writer_tag()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise EdgetlError(
            f"cannot write {path}: {e.strerror or e}; check the folder exists and is writable"
        ) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp_path, path)
        remove_stale_temps(path.parent, f".{glob.escape(path.name)}.*.tmp")  # a killed writer's, of this file
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        raise EdgetlError(
            f"cannot write {path}: {e.strerror or e}; the previous file (if any) is intact"
        ) from None
    except Exception as e:
        reason = io_failure(e, tmp_path)  # checked before the temp file goes and frees its space
        tmp_path.unlink(missing_ok=True)
        if reason is None:
            raise
        raise EdgetlError(f"cannot write {path}: {reason}; the previous file (if any) is intact") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


_OS_ERROR = re.compile(r"\(os error (\d+)\)")  # how Rust writers (safetensors) report an errno
FULL_DISK_BYTES = 1 << 20  # less free than this after a failed write: the disk filled up


def io_failure(exc: BaseException, tmp: Path) -> str | None:
    """The I/O reason behind a writer's non-OSError failure, or None when it is not an I/O failure.

    safetensors raises `SafetensorError("... (os error 28)")` and torch.save a bare RuntimeError
    ("unexpected pos ...") when the disk fills; both must become one line, not a traceback.
    """
    m = _OS_ERROR.search(str(exc))
    if m:
        return os.strerror(int(m.group(1)))
    try:
        st = os.statvfs(tmp.parent)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < FULL_DISK_BYTES:
        return os.strerror(errno.ENOSPC)
    return None


STALE_TEMP_S = 3600.0  # no live write keeps a temp file this long; older ones belong to a killed process
# Temp names carry their writer: `.NAME.<pid>@<host>.<random>.tmp`, so a killed writer's file can go at once.
_WRITER = re.compile(r"\.(\d+)@([0-9a-f]{8})\.[^.]+\.tmp$")


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode(), usedforsecurity=False).hexdigest()[:8]


def _writer_tag() -> str:
    return f"{os.getpid()}@{_host()}"


def _writer_dead(name: str) -> bool:
    """True when `name` is a temp file of a process on this host that no longer runs."""
    m = _WRITER.search(name)
    if not m or m.group(2) != _host():
        return False
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def remove_stale_temps(
    folder: str | os.PathLike, pattern: str = ".*.tmp", min_age_s: float = STALE_TEMP_S
) -> int:
    """Delete what killed writers left in `folder` (`atomic_path` temps, or work folders by `pattern`).

    An entry goes when its writer (named in the temp name) is dead, or when it is older than
    `min_age_s`, so a concurrent writer's live temp file survives. Returns how many were removed;
    entries that cannot be removed are left alone.
    """
    import shutil
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed, now = 0, time.time()
    for entry in folder.glob(pattern):
        try:
            if now - entry.lstat().st_mtime < min_age_s and not _writer_dead(entry.name):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, writer: Callable[[Path], Any]) -> Path:
    """Call `writer(tmp_path)` and move the result to `path` atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def _manifest(folder: Path) -> set[str] | None:
    from edgetl.runtime.files import MANIFEST_NAME

    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        return {str(n) for n in data["files"]}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return set()  # unreadable: trust nothing in it


def claim_outputs(folder: str | os.PathLike, names: list[str], flag: str = "--out") -> None:
    """The one overwrite rule: refuse to replace a file in `folder` that edgetl did not write.

    What edgetl writes into a folder is listed in its manifest (`.edgetl-files.json`); `names` are
    checked against it before any work starts, then added to it. A folder from before manifests
    counts as edgetl's when it is recognisably a run, export or bench folder.
    """
    from edgetl.runtime.files import MANIFEST_NAME, is_kit_folder, shown

    folder = Path(folder)
    owned = _manifest(folder)
    legacy = owned is None and folder.is_dir() and is_kit_folder(folder, by_lock=False)
    if legacy:  # what is there was written by an edgetl from before manifests
        owned = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    for name in names:
        p = folder / name
        if (p.exists() or p.is_symlink()) and name not in (owned or set()):
            raise EdgetlError(
                f"{flag} {shown(folder)}: {name} is there and edgetl did not write it; move it away or "
                f"choose another {flag} (edgetl never overwrites a file it did not write)"
            )
    atomic_write_json(folder / MANIFEST_NAME, {"files": sorted((owned or set()) | set(names))})
