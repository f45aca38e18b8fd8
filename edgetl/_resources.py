"""Absurd resource requests refused (or warned about) on one line before any work starts.

    check_threads(1000, "--threads")        # EdgetlError: far beyond the usable cores
    note = check_threads(8, "--threads")     # "--threads 8 is more than the 2 usable CPU cores; ..." or None
    note = check_batch_memory(100_000, (3, 224, 224), "--batch")   # EdgetlError: needs ~960 GB

The limits are deliberately loose (a request 8x past the cores, or a batch whose rough memory need
exceeds what is available): they catch typos and copy-paste from bigger machines, not tuning.
Torch-free (psutil and os only).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from edgetl.errors import EdgetlError

OVERSUBSCRIBE = 8  # threads or workers per usable core beyond which a request is refused
ACTIVATION_FACTOR = 16  # rough peak memory of a CNN forward pass, in input-batch sizes (MBConv expands 6x)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def available_bytes() -> int | None:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return int(psutil.virtual_memory().available)


def check_threads(n: int | None, flag: str, what: str = "threads") -> str | None:
    """Refuse `n` far beyond the usable cores; return a one-line warning when it merely exceeds them."""
    if n is None:
        return None
    cores = usable_cores()
    if n > OVERSUBSCRIBE * cores and n > 32:
        raise EdgetlError(
            f"{flag} {n}: this process may use {cores} CPU core{'s' * (cores != 1)}; {n} {what} would only "
            f"contend for them (use at most {cores})"
        )
    if n > cores:
        return (
            f"{flag} {n} is more than the {cores} usable CPU core{'s' * (cores != 1)}; the {what} will "
            f"contend and run slower (use {cores})"
        )
    return None


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**28 else f"{n / 2**20:.0f} MB"


def check_batch_memory(
    batch: int, input_size: Sequence[int], flag: str = "--batch", itemsize: int = 4
) -> str | None:
    """Refuse a batch whose rough peak memory (input x ACTIVATION_FACTOR) exceeds the available
    memory; warn when it takes more than half of it."""
    avail = available_bytes()
    if avail is None:
        return None
    data = batch * math.prod(int(x) for x in input_size) * itemsize
    need = data * ACTIVATION_FACTOR
    shape = "x".join(str(int(x)) for x in input_size)
    if need > avail:
        raise EdgetlError(
            f"{flag} {batch}: one batch of {shape} inputs is {_gb(data)}, and a forward pass needs roughly "
            f"{ACTIVATION_FACTOR}x that ({_gb(need)}); {_gb(avail)} of memory is available: "
            f"use a smaller {flag}"
        )
    if need > avail / 2:
        return (
            f"{flag} {batch} needs roughly {_gb(need)} of the {_gb(avail)} available memory "
            f"({shape} inputs); expect swapping or an out-of-memory kill"
        )
    return None


def onnx_input_sizes(paths: Sequence[str | os.PathLike]) -> list[tuple[int, ...]]:
    """(C, H, W) of each edgetl .onnx file, from its metadata, without opening a session (unreadable: left out).

    Needs the `onnx` package, which a runtime-only install lacks: then nothing is known ([]).
    """
    try:
        import onnx
    except ImportError:
        return []

    from edgetl.runtime.metadata import ModelMetadata

    out = []
    for p in paths:
        try:
            m = onnx.load(os.fspath(p), load_external_data=False)
            md = ModelMetadata.from_props({x.key: x.value for x in m.metadata_props})
        except Exception:  # noqa: BLE001 - opening the model reports it properly
            continue
        out.append(tuple(md.input_size))
    return out


__all__ = ["available_bytes", "check_batch_memory", "check_threads", "onnx_input_sizes", "usable_cores"]
