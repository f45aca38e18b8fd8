"""One writer per folder: an exclusive `fcntl.flock` on FOLDER/.edgetl.lock, which the kernel
releases when the holder exits, crashes or is killed, so a lock can never be left stale.

    with lock_scope():                                   # locks taken inside are released at its end
        lock_folder(run_dir, "--resume")                 # EdgetlError naming the holder when busy
        ...write into run_dir...

A second process gets one line naming the holder (pid, command, since when). Locks are
re-entrant inside one process (`edgetl run` trains, exports and benches one run folder). The lock
file holds the holder's description; it is removed on release, and a folder that the lock itself
created is removed again when nothing else was written into it (a refused run leaves nothing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgetl.errors import EdgetlError
from edgetl.runtime.files import LOCK_NAME, MANIFEST_NAME, shown

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, writers are not serialised
    fcntl = None  # type: ignore[assignment]


class FolderBusyError(EdgetlError):
    """Another process holds the folder's writer lock."""


@dataclass
class _Held:
    fd: int
    path: Path
    created: bool  # the folder did not exist before the lock
    count: int = 1


_HELD: dict[str, _Held] = {}
_GUARD = threading.Lock()


@dataclass
class _Scope:
    taken: list[str] = field(default_factory=list)


_SCOPES: list[_Scope] = []


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:]]
    text = " ".join(argv).replace("__main__.py", "edgetl")
    return text if len(text) <= 120 else text[:117] + "..."


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, `{info['command']}`, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another edgetl process"


def lock_folder(folder: str | os.PathLike, what: str = "--out") -> None:
    """Take FOLDER's writer lock (creating FOLDER), or raise FolderBusyError naming the holder.

    `what` names the flag in the message. Held until the enclosing `lock_scope` ends (or the process).
    """
    folder = Path(folder)
    key = os.path.realpath(folder)
    with _GUARD:
        if key in _HELD:
            _HELD[key].count += 1
        else:
            _HELD[key] = _acquire(folder, what)
        if _SCOPES:
            _SCOPES[-1].taken.append(key)


def _acquire(folder: Path, what: str) -> _Held:
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgetlError(f"{what} {shown(folder)}: cannot create the folder ({e.strerror or e})") from None
    path = folder / LOCK_NAME
    for _ in range(10):  # the file may be unlinked by a releasing holder between open and flock
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise EdgetlError(
                f"{what} {shown(folder)}: cannot write its lock file ({e.strerror or e})"
            ) from None
        if fcntl is None:
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusyError(busy_message(folder, what, _holder(path))) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:  # pragma: no cover - ten releases in a row between our open and flock
        raise FolderBusyError(f"{what} {shown(folder)}: its lock changed hands 10 times; try again")
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command(),
        "since": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return _Held(fd, path, created)


def release_folder(folder: str | os.PathLike) -> None:
    """Give back one hold of FOLDER's lock; the last one unlinks the lock file and unlocks."""
    key = os.path.realpath(folder)
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[key]
        with contextlib.suppress(OSError):
            held.path.unlink()  # while still locked: a waiting opener sees a new inode and retries
        os.close(held.fd)
        if held.created:  # nothing but the lock (and the list of files to come) was written: remove it
            folder = held.path.parent
            with contextlib.suppress(OSError):
                if [p.name for p in folder.iterdir()] == [MANIFEST_NAME]:
                    (folder / MANIFEST_NAME).unlink()
                folder.rmdir()  # fails unless empty


def busy_message(folder: Path, what: str, holder: str) -> str:
    return (
        f"{what} {shown(folder)}: another edgetl process is writing it ({holder}); "
        "wait for it to finish, or choose another folder"
    )


def live_holder(folder: str | os.PathLike) -> str | None:
    """Who holds FOLDER's lock when its lock file names another live process on this host, else None.

    Read only (nothing is locked): it words a refusal ("folder is not empty" -> who is writing it),
    it never decides who may write; `lock_folder` does.
    """
    path = Path(folder) / LOCK_NAME
    if holds(folder):
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        pid, host = int(info["pid"]), info["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host != socket.gethostname() or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:  # killed holders leave their lock file behind; the kernel dropped the lock
        return None
    except PermissionError:  # alive, another user's: still the holder
        return _holder(path)
    return _holder(path)


def holds(folder: str | os.PathLike) -> bool:
    """True when this process holds FOLDER's lock."""
    return os.path.realpath(folder) in _HELD


@contextlib.contextmanager
def lock_scope() -> Iterator[None]:
    """Release, at the end of the block, every lock `lock_folder` took inside it."""
    scope = _Scope()
    _SCOPES.append(scope)
    try:
        yield
    finally:
        _SCOPES.remove(scope)
        for key in reversed(scope.taken):
            release_folder(key)


__all__ = [
    "FolderBusyError",
    "busy_message",
    "holds",
    "live_holder",
    "lock_folder",
    "lock_scope",
    "release_folder",
]
