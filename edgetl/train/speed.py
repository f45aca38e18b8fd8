"""Fine-tuning speed on CPUs: which levers this machine supports, and where an epoch's time goes.

    cpu_has_bf16()                  # AVX-512 BF16 or AMX: bf16 autocast pays off (--amp auto)
    times = PhaseTimes()
    with times.phase("forward"):
        logits = model(x)
    times.as_dict()                 # {"data": s, "forward": s, "backward": s, "step": s, ...}

The levers: bf16 autocast and channels-last here (`autocast`, `to_device`, `prepare_model`, used
by `edgetl.train.loop`), freezing of the earliest layers through timm's
`layer_decay_no_opt_scale` in `build_optimizer`, decoding each image once in
`edgetl.data.decoded_cache`. Each is on by default where the hardware supports it and has a flag
to turn it off (`--amp none`, `--no-channels-last`, `--freeze-lr-scale 0`, `--no-decode-once`).
Measured side by side in `bench/train_speed.py`; results in `bench/README.md`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from edgetl.cpu import BF16_FLAGS, cpu_flags, has_bf16
from edgetl.models.layout import channels_last


def cpu_has_bf16() -> bool:
    """True where bf16 autocast runs on native instructions (AVX-512 BF16 or AMX)."""
    return has_bf16(cpu_flags())


@dataclass
class PhaseTimes:
    """Seconds spent per phase of training steps, summed until `reset`.

    `data` is the wait for the next batch (in the training process: decoding and augmentation);
    the dataset's own `timing` splits it into decode and augment.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    images: int = 0

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def as_dict(self) -> dict[str, float]:
        return {**{k: round(v, 4) for k, v in self.seconds.items()}, "images": self.images}

    def reset(self) -> None:
        self.seconds.clear()
        self.images = 0


def autocast(ctx: Any) -> Any:
    """The autocast context of the run's resolved `amp` (bf16 on CPU, bf16/fp16 on CUDA), else none."""
    if ctx.amp == "none" or (ctx.device.type != "cuda" and ctx.amp != "bf16"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if ctx.amp == "bf16" else torch.float16
    return torch.autocast(ctx.device.type, dtype=dtype)


def channels_last_safe(model: torch.nn.Module) -> bool:
    """False where torch 2.14's CPU channels-last convolution backward corrupts the heap or segfaults:
    a 1x1 convolution with stride > 1 over 2-7 input channels (FastViT's and MobileOne's stems).
    Seen with `Conv2d(3, 48, 1, stride=2)` in channels-last, then `.backward()`; 1, 8+ channels are fine."""
    return not any(
        isinstance(m, torch.nn.Conv2d)
        and m.kernel_size == (1, 1)
        and max(m.stride) > 1
        and 1 < m.in_channels < 8
        for m in model.modules()
    )


def prepare_model(ctx: Any) -> torch.nn.Module:
    """The run's model, channels-last where the run asks for it (CPU and CUDA: faster convolutions)."""
    if ctx.channels_last:
        ctx.model.to(memory_format=torch.channels_last)
    return ctx.model


def to_device(ctx: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.to(ctx.device, non_blocking=True)
    if ctx.channels_last:
        x = channels_last(x)
    return x, torch.as_tensor(y).to(ctx.device, non_blocking=True)


def phase(times: PhaseTimes | None, name: str) -> Any:
    return times.phase(name) if times is not None else contextlib.nullcontext()


def timed(batches: Iterable[Any], times: PhaseTimes | None) -> Iterator[Any]:
    """The batches, with the wait for each one added to `times` as "data" (decode + augment + collate)."""
    it = iter(batches)
    while True:
        with phase(times, "data"):
            item = next(it, None)
        if item is None:
            return
        yield item


def progressive_sizes(full: int, epochs: int, start: float, multiple: int = 32) -> list[int]:
    """Train crop size of each fine-tuning epoch: from `start` x `full` up to `full` in the last epoch.

    Sizes grow linearly and are rounded to `multiple` px (the stride of most backbones), never
    below `multiple` nor above `full`; `start` >= 1 (or one epoch) keeps every epoch at `full`.
    An epoch at 0.57 x the side costs about a third of a full one, and a RandomResizedCrop at a
    smaller size matches the object size of the full-size center crop used at test time (FixRes).
    """
    if start >= 1 or epochs <= 1:
        return [full] * epochs
    sizes = []
    for k in range(epochs):
        frac = start + (1 - start) * k / (epochs - 1)
        sizes.append(
            full if k == epochs - 1 else min(full, max(multiple, round(frac * full / multiple) * multiple))
        )
    return sizes


__all__ = [
    "BF16_FLAGS",
    "PhaseTimes",
    "autocast",
    "cpu_flags",
    "cpu_has_bf16",
    "phase",
    "prepare_model",
    "progressive_sizes",
    "timed",
    "to_device",
]
