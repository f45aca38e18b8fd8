"""A torch Dataset over checked samples that never stops an epoch for one bad file.

    ds = ImageDataset(splits.train, build_transform(data_config, train=True))
    x, y = ds[0]

Files were decoded once by `load_splits`; if one breaks later (changed or deleted on disk),
`__getitem__` records it in `self.failed` and returns the next readable sample instead, so a
long run goes on and the failure is reported at the end. DataLoader workers are other
processes: after `share_failures()` (called before the loader starts them) what they record is
appended to a small file that `failed` reads back in the main process.

With `decode_once=True` each image is decoded once per run and kept as uint8
(`edgetl.data.decoded_cache`); `prefill()` decodes all of them on every core at once, before
DataLoader workers start (they inherit the arrays). `timing` sums the seconds this process spent
decoding and transforming (augmenting), for the epoch breakdown of `bench/train_speed.py`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from edgetl.data.decoded_cache import DecodedImages, budget_pixels, split_transform
from edgetl.errors import DataError
from edgetl.runtime.image import BadImageError, load_rgb

log = logging.getLogger(__name__)


class ImageDataset(torch.utils.data.Dataset):
    """(path or uint8 RGB array, label) samples -> (transform(PIL image), label)."""

    def __init__(
        self,
        samples: Sequence[tuple[str | np.ndarray, int]],
        transform: Callable | None,
        decode_once: bool = False,
    ):
        self.samples = list(samples)
        self.transform = transform
        self.decoded: DecodedImages | None = None
        if decode_once:
            prefix, rest = split_transform(transform)
            self.decoded = DecodedImages(None if prefix else budget_pixels(transform), prefix)
            self.transform = rest  # what remains after the kept prefix (everything, for training)
        self.timing = {"decode": 0.0, "augment": 0.0}
        self._prefilled = False
        self._failed: list[tuple[str, str]] = []  # (path, reason) of files that broke after loading
        self._bad: set[int] = set()
        self._shared: str | None = None  # file that DataLoader workers append their failures to
        self._owner = os.getpid()

    def share_failures(self) -> None:
        """Make failures seen in DataLoader worker processes visible here; call before they start."""
        if self._shared is None:
            fd, path = tempfile.mkstemp(prefix="edgetl-failed-", suffix=".jsonl")
            os.close(fd)
            self._shared, self._owner = path, os.getpid()
            weakref.finalize(self, _remove_if_owner, path, self._owner)

    @property
    def failed(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that broke after loading, in this process or its workers."""
        out = list(self._failed)
        if self._shared is not None and os.getpid() == self._owner:
            try:
                with open(self._shared, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError:
                lines = []
            for line in lines:
                try:
                    item = tuple(json.loads(line))
                except ValueError:  # a line cut by a killed worker
                    continue
                if item not in out:
                    out.append(item)
        return out

    def _record(self, path: str, reason: str) -> None:
        self._failed.append((path, reason))
        if self._shared is not None and os.getpid() != self._owner:
            try:  # one short O_APPEND write per line: workers never interleave inside a line
                with open(self._shared, "a", encoding="utf-8") as f:
                    f.write(json.dumps([path, reason]) + "\n")
            except OSError:
                pass  # the warning below is still logged by the worker

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def load(self, index: int) -> Image.Image:
        """The sample's RGB PIL image (raises BadImageError for a broken file); with `decode_once`,
        the kept image (after the transform's deterministic prefix, or downscaled)."""
        if self.decoded is not None:
            return Image.fromarray(self.decoded.get(index, lambda: self._read(index)))
        return self._read(index)

    def _read(self, index: int) -> Image.Image:
        item = self.samples[index][0]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert("RGB")
        return load_rgb(item)

    def prefill(self, threads: int | None = None) -> None:
        """Decode every image not kept yet, on `threads` threads (default: every usable core).

        Pillow releases the GIL while decoding, so this uses all cores where the training loop
        would decode one image at a time. Broken files are left for `__getitem__` to report."""
        if self.decoded is None or self._prefilled:
            return
        self._prefilled = True  # once: images past the memory cap are decoded when used, not here again
        start = time.perf_counter()
        todo = [i for i in range(len(self.samples)) if i not in self.decoded and i not in self._bad]

        def one(i: int) -> None:
            with contextlib.suppress(BadImageError):
                self.decoded.get(i, lambda: self._read(i))  # type: ignore[union-attr]

        n = threads or (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        )
        with ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="edgetl-decode") as pool:
            list(pool.map(one, todo))
        self.timing["decode"] += time.perf_counter() - start

    def __getitem__(self, index: int):
        n = len(self.samples)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        index %= n
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
            start = time.perf_counter()
            try:
                img = self.load(i)
            except BadImageError as e:
                path = str(self.samples[i][0])
                reason = str(e)
                reason = reason[len(path) + 2 :] if reason.startswith(f"{path}: ") else reason
                self._bad.add(i)
                self._record(path, reason)
                log.warning("skipping %s: %s (it was readable when the data was loaded)", path, reason)
                continue
            decoded = time.perf_counter()
            x = self.transform(img) if self.transform is not None else img
            self.timing["decode"] += decoded - start
            self.timing["augment"] += time.perf_counter() - decoded
            return x, self.samples[i][1]
        raise DataError(
            f"none of the {n} images can be read any more (first: {self.failed[0][0] if self.failed else '?'})"
        )


def _remove_if_owner(path: str, owner: int) -> None:
    if os.getpid() == owner:  # a forked worker exiting must not remove the main process's file
        with contextlib.suppress(OSError):
            os.unlink(path)


__all__ = ["ImageDataset"]
