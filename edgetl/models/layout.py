"""Channels-last inputs for inference: the same outputs (to float rounding), about 1.5x faster on a CPU.

    y = model(channels_last(x))

oneDNN's convolutions want NHWC; an NHWC input makes every convolution after it run NHWC.
Measured ad hoc (2 cores, batch 64, inference mode, Lite0@224): NCHW 26-32 img/s, channels-last
input 45, input and weights 48. Only the input is converted: converting the model's parameters
inside `torch.inference_mode` makes them inference tensors, which a training run that follows
cannot use (`requires_grad_` raises), and an export should see the model as it was trained.
"""

from __future__ import annotations

import torch


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """`x` in channels-last memory format when it is a 4-D image batch, else `x` as it is."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


__all__ = ["channels_last"]
