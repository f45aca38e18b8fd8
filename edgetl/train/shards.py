"""Training data split over torchrun processes: each rank's share of every global batch, its
block of the evaluation items, and its own augmentation seeds. One process: the whole of each.

    sampler = RankBatches(BatchSampler(order, 32, drop_last=False), rank(), world_size())
    for i in block(len(val_items)): ...      # this rank's contiguous block; gathered back in order

Re-exported by `edgetl.train.distributed`, which documents why the shares look like this.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch

from edgetl.train.ranks import rank, world_size


def block(n: int) -> range:
    """This rank's contiguous block of n evaluation items (all of them in one process)."""
    r, w = rank(), world_size()
    return range(r * n // w, (r + 1) * n // w)


class RankBatches(torch.utils.data.Sampler[list[int]]):
    """This rank's share of each global training batch.

    `batches` yields the global batches one process would train on; rank r takes indices
    r, r + world, ... of each, so the shares differ by at most one. A batch whose smallest share
    would hold fewer than `min_share` items is skipped (only a short last batch can be: with
    `min_share` 2 when BatchNorm trains, which cannot take a batch of one).
    `global_sizes()` are the full sizes of the kept batches, for weighting each rank's loss.
    (torch's DistributedSampler shuffles with its own seed and pads by repeating samples, so its
    ranks together would not train on the batches one process trains on.)
    """

    def __init__(self, batches: torch.utils.data.BatchSampler, rank: int, world: int, min_share: int = 1):
        self.batches, self.rank, self.world, self.min_share = batches, rank, world, max(1, min_share)

    def _keep(self, size: int) -> bool:
        return size // self.world >= self.min_share

    def global_sizes(self) -> list[int]:
        n, b = len(self.batches.sampler), self.batches.batch_size  # type: ignore[arg-type]
        sizes = [b] * (n // b)
        if n % b and not self.batches.drop_last:
            sizes.append(n % b)
        return [s for s in sizes if self._keep(s)]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            if self._keep(len(batch)):
                yield batch[self.rank :: self.world]

    def __len__(self) -> int:
        return len(self.global_sizes())


def reseed_worker(rank: int, worker_id: int) -> None:
    """DataLoader worker_init_fn for ranks > 0: mix the rank into the worker's seed.

    Every rank's loader draws its worker base seed from the same epoch generator (so the data
    order matches one process); without this, rank r's worker k would augment exactly like
    rank 0's worker k.
    """
    seed = mix_seed(torch.initial_seed(), rank)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def mix_seed(seed: int, rank: int) -> int:
    """A well-mixed 63-bit seed per (seed, rank)."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(2, dtype=np.uint64)[0] >> 1)


def worker_init_fn() -> Callable[[int], None] | None:
    r = rank()
    return functools.partial(reseed_worker, r) if r > 0 else None


__all__ = ["RankBatches", "block", "mix_seed", "reseed_worker", "worker_init_fn"]
