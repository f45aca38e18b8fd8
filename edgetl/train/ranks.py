"""Where this process stands in a torchrun launch, torch-free: the environment and the group's ranks.

    if launched():                        # torchrun set RANK and WORLD_SIZE
        print(env_rank())                 # known even before (and after) the process group exists
    rank(), world_size(), is_main()       # 0, 1, True in a single process

Importing this module never imports torch: a process group can only exist once
`torch.distributed` has been imported (by `edgetl.train.distributed`), so until then this
process is alone. The CLI uses it to decide who prints an error.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from edgetl.errors import EdgetlError


class PeerError(EdgetlError):
    """Raised on ranks > 0 for an error that rank 0 reports; the CLI prints nothing for it."""


def launched() -> bool:
    """True when torchrun (torch.distributed.run) started this process: it sets RANK and WORLD_SIZE."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def env_rank() -> int:
    """The torchrun rank from the environment (still known after the group is destroyed)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def local_rank() -> int:
    """torchrun's LOCAL_RANK: this process's index on its node (its GPU)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def _dist() -> Any:
    """torch.distributed if something already imported it, else None (then no group can exist)."""
    return sys.modules.get("torch.distributed")


def active() -> bool:
    """True inside a started process group."""
    dist = _dist()
    return dist is not None and dist.is_available() and dist.is_initialized()


def rank() -> int:
    return _dist().get_rank() if active() else 0


def world_size() -> int:
    return _dist().get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def describe(device: Any, batch_size: int) -> str:
    """The line rank 0 prints at the start of a distributed run (`device`: a torch.device)."""
    n = world_size()
    lo, hi = batch_size // n, -(-batch_size // n)
    per = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return (
        f"distributed: {n} process{'es' if n > 1 else ''}, backend {'nccl' if device.type == 'cuda' else 'gloo'} "
        f"on {device.type}; --batch-size {batch_size} is the global batch ({per} per process)"
    )


__all__ = [
    "PeerError",
    "active",
    "describe",
    "env_rank",
    "is_main",
    "launched",
    "local_rank",
    "rank",
    "world_size",
]
