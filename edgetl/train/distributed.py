"""Multi-process training under torchrun (PyTorch DDP): the process group, ranks, and the few
collectives the train stage needs. Every helper is a no-op in a single process.

    torchrun --nproc_per_node=2 -m edgetl train --data DIR --mode lp-ft

    with process_group():            # started when torchrun launched us; destroyed on exit, also on error
        device = local_device(resolve_device("auto"))    # cuda:LOCAL_RANK or cpu
        model = wrap(model, device)                       # DistributedDataParallel

One group serves both devices: gloo for CPU tensors, NCCL for CUDA tensors ("cpu:gloo,cuda:nccl").
`--batch-size` is the *global* batch: each global batch is cut from the order one process would
use and every rank takes every world-th sample of it (`RankBatches`), with each rank's loss
weighted by its share, so N processes take the same optimizer steps as one process (up to the
order of floating-point sums). Evaluation sets are split into contiguous blocks (`block`) and
the per-rank results gathered back in order (`gather_rows`), so every rank computes identical
validation metrics and early stopping never diverges. Setup errors are agreed on (`agree`,
`from_main`): rank 0 reports the error once, the other ranks raise `PeerError`, which the CLI
does not print. Rank and environment queries live in `edgetl.train.ranks` (torch-free: the CLI
reads them before torch is loaded) and the data shares in `edgetl.train.shards`; both are
re-exported here, so `distributed.X` is the one name to use in training code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from edgetl.errors import EdgetlError
from edgetl.train.ranks import (
    PeerError,
    active,
    describe,
    env_rank,
    is_main,
    launched,
    local_rank,
    rank,
    world_size,
)
from edgetl.train.shards import RankBatches, block, mix_seed, reseed_worker, worker_init_fn

T = TypeVar("T")


# --- start and stop ---------------------------------------------------------------------------


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@contextlib.contextmanager
def process_group() -> Iterator[None]:
    """Start the group when torchrun launched this process and none exists; destroy it on exit.

    A group the caller already started (a script under torchrun) is used as is and left running.
    """
    if not launched() or active():
        yield
        return
    if not dist.is_available():
        raise EdgetlError(
            "torchrun: this torch build has no torch.distributed; run edgetl train without torchrun"
        )
    use_nccl = torch.cuda.is_available() and dist.is_nccl_available()
    backend = "cpu:gloo,cuda:nccl" if use_nccl else "gloo"
    try:
        dist.init_process_group(backend=backend)
    except Exception as e:  # DistNetworkError, ValueError for a bad MASTER_PORT, RuntimeError from gloo
        raise EdgetlError(
            f"torch.distributed could not start (backend {backend}): {_first_line(e)}; check that "
            "MASTER_ADDR:MASTER_PORT (torchrun --rdzv-endpoint) is reachable from every node and the port "
            "is free (GLOO_SOCKET_IFNAME picks the network interface)"
        ) from None
    try:
        yield
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """This process's device: cuda:LOCAL_RANK (one GPU per process) when training on CUDA. No collectives."""
    if not active() or device.type != "cuda":
        return device
    local = local_rank()
    count = torch.cuda.device_count()
    if local >= count:
        raise EdgetlError(
            f"torchrun: LOCAL_RANK {local} but only {count} CUDA device(s) are visible; use "
            f"--nproc_per_node {count} (one process per GPU), or --device cpu"
        )
    if "nccl" not in str(dist.get_backend()):
        raise EdgetlError(
            "--device cuda under torchrun needs NCCL, which this torch build lacks; use --device cpu (gloo)"
        )
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def check_backend(device: torch.device) -> None:
    """NCCL starts lazily: make it fail here, with a clear message, rather than inside the first step."""
    if not active() or device.type != "cuda":
        return
    try:
        probe = torch.ones(1, device=device)
        dist.all_reduce(probe)
        torch.cuda.synchronize(device)
    except Exception as e:
        raise EdgetlError(
            f"torch.distributed backend nccl failed on {device}: {_first_line(e)}; rerun with NCCL_DEBUG=INFO "
            "to see why, or train on CPU with --device cpu (gloo)"
        ) from None


def check_options(cfg: Any, bn_trains: bool, mixup: bool) -> None:
    """One-line errors for options that cannot be split over the processes."""
    from edgetl.config import ConfigError

    n = world_size()
    if n == 1:
        return
    b = cfg.batch_size
    if b < n:
        raise ConfigError(
            f"--batch-size {b} is the global batch, split over {n} processes; use at least {n} "
            "(or fewer processes)"
        )
    if mixup and b < 2 * n:
        raise ConfigError(
            f"--batch-size {b}: mixup/cutmix needs an even batch of at least 2 on each of the {n} processes; "
            f"use at least {2 * n}"
        )
    if bn_trains and b // n < 2:
        raise ConfigError(
            f"--batch-size {b} leaves {b // n} image per process for training BatchNorm; use at least {2 * n} "
            "or --freeze-bn"
        )


# --- agreeing on errors -----------------------------------------------------------------------


def agree(fn: Callable[[], T]) -> T:
    """Run `fn` on every rank; if it raised an EdgetlError anywhere, raise on every rank.

    Rank 0 raises the error (its own, else the first failing rank's, prefixed 'rank N:'); the
    other ranks raise PeerError. `fn` must not use collectives.
    """
    if not active():
        return fn()
    result, message = None, None
    try:
        result = fn()
    except EdgetlError as e:
        message = str(e)
    messages: list[Any] = [None] * world_size()
    dist.all_gather_object(messages, message)
    failed = [(r, m) for r, m in enumerate(messages) if m is not None]
    if failed:
        r, m = failed[0]
        if is_main():
            raise EdgetlError(m if r == 0 else f"rank {r}: {m}")
        raise PeerError(m)
    return result  # type: ignore[return-value]


def from_main(fn: Callable[[], T]) -> T:
    """Run `fn` on rank 0 only and hand its (picklable) result, or its EdgetlError, to every rank."""
    if not active():
        return fn()
    box: list[Any] = [None]
    if is_main():
        try:
            box[0] = ("ok", fn())
        except EdgetlError as e:
            box[0] = ("error", str(e))
            dist.broadcast_object_list(box, src=0)
            raise
        except BaseException as e:
            box[0] = ("error", f"rank 0 failed: {_first_line(e)}")
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        if is_main():  # unreachable: rank 0 re-raised above
            raise EdgetlError(value)
        raise PeerError(value)
    return value


# --- collectives (CPU tensors through gloo unless stated) -------------------------------------


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sum over ranks (float64)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's 1-D or 2-D CPU tensor along dim 0, in rank order (a rank may have 0 rows)."""
    if not active():
        return t
    t = t.detach().cpu()
    meta = torch.tensor([t.shape[0], t.shape[1] if t.ndim == 2 else -1], dtype=torch.int64)
    metas = [torch.empty_like(meta) for _ in range(world_size())]
    dist.all_gather(metas, meta)
    rows = [int(m[0]) for m in metas]
    cols = max(int(m[1]) for m in metas)
    shape = (max(rows), cols) if cols >= 0 else (max(rows),)
    padded = torch.zeros(shape, dtype=t.dtype)
    padded[: t.shape[0]] = t.reshape(t.shape[0], *shape[1:])
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:n] for p, n in zip(parts, rows, strict=True)])


def broadcast_tensors(tensors: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """Rank 0's named CPU tensors on every rank (others pass None)."""
    if not active():
        assert tensors is not None
        return tensors
    box: list[Any] = [None]
    if is_main():
        assert tensors is not None
        box[0] = {k: (tuple(v.shape), v.dtype) for k, v in tensors.items()}
    dist.broadcast_object_list(box, src=0)
    out = {}
    for name, (shape, dtype) in box[0].items():
        t = tensors[name].contiguous() if is_main() else torch.empty(shape, dtype=dtype)  # type: ignore[index]
        dist.broadcast(t, src=0)
        out[name] = t
    return out


def all_gather_objects(obj: Any) -> list[Any]:
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank, so all ranks evaluate one model."""
    if not active():
        return
    for b in module.buffers():
        dist.broadcast(b.data, src=0)


# --- the model --------------------------------------------------------------------------------


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """On CUDA, BatchNorm layers that train use statistics of the global batch (timm's converter, which
    keeps its norm+act layers). gloo has no SyncBatchNorm, so on CPU each rank normalises with its share."""
    if not active() or world_size() == 1 or device.type != "cuda":
        return model
    from timm.layers import convert_sync_batchnorm

    return convert_sync_batchnorm(model)


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` as DistributedDataParallel (gradients averaged over ranks); itself in one process.

    Buffers are not broadcast on every forward: they are synchronised once per epoch
    (`broadcast_buffers`), which gives the same rank-0 statistics at a fraction of the traffic.
    """
    if not active():
        return module
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # newer torch renamed broadcast_buffers (and warns about the old name)
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    no_sync = {"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}
    return DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None, **no_sync
    )


__all__ = [
    "PeerError",
    "RankBatches",
    "active",
    "agree",
    "all_gather_objects",
    "all_reduce_sum",
    "block",
    "broadcast_buffers",
    "broadcast_tensors",
    "check_backend",
    "check_options",
    "describe",
    "env_rank",
    "from_main",
    "gather_rows",
    "is_main",
    "launched",
    "local_device",
    "mix_seed",
    "local_rank",
    "process_group",
    "rank",
    "reseed_worker",
    "sync_batchnorm",
    "world_size",
    "worker_init_fn",
    "wrap",
]
