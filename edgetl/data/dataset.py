"""A torch Dataset over checked samples that never stops an epoch for one bad file.

    ds = ImageDataset(splits.train, build_transform(data_config, train=True))
    x, y = ds[0]

Files were decoded once by `load_splits`; if one breaks later (changed or deleted on disk),
`__getitem__` records it in `self.failed` and returns the next readable sample instead, so a
long run goes on and the failure is reported at the end. DataLoader workers are other
processes: after `share_failures()` (called before the loader starts them) what they record is
appended to a small file that `failed` reads back in the main process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from edgetl.errors import DataError
from edgetl.runtime.image import BadImageError, load_rgb

log = logging.getLogger(__name__)


class ImageDataset(torch.utils.data.Dataset):
    """(path or uint8 RGB array, label) samples -> (transform(PIL image), label)."""

    def __init__(self, samples: Sequence[tuple[str | np.ndarray, int]], transform: Callable | None):
        self.samples = list(samples)
        self.transform = transform
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
        """The sample's RGB PIL image (raises BadImageError for a broken file)."""
        item = self.samples[index][0]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert("RGB")
        return load_rgb(item)

    def __getitem__(self, index: int):
        n = len(self.samples)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        index %= n
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
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
            x = self.transform(img) if self.transform is not None else img
            return x, self.samples[i][1]
        raise DataError(
            f"none of the {n} images can be read any more (first: {self.failed[0][0] if self.failed else '?'})"
        )


def _remove_if_owner(path: str, owner: int) -> None:
    if os.getpid() == owner:  # a forked worker exiting must not remove the main process's file
        with contextlib.suppress(OSError):
            os.unlink(path)


__all__ = ["ImageDataset"]
