"""The PyTorch eager baseline row, timed exactly like the onnxruntime rows.

    be = TorchBackend.load("runs/ants", device="cpu", threads=2)
    feeds = be.feeds(batches); be.run(feeds[0]); be.top1(batch)

Same preprocessed inputs, same thread count (`torch.set_num_threads`), `torch.inference_mode`,
one call per timed run. On CUDA the input is already on the GPU and the call ends with
`torch.cuda.synchronize()` (or includes the copies with `host_copies=True`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.errors import EdgetlError
from edgetl.runtime.preprocess import Preprocess

EVAL_CHUNK = 32


class TorchBackend:
    kind = "torch"

    def __init__(
        self, model: Any, meta: Any, device: str, threads: int, host_copies: bool, origin: str, load_s: float
    ):
        import torch

        self.torch = torch
        self.meta = meta
        self.device = device
        self.host_copies = host_copies
        self.origin = origin
        self.load_s = load_s
        torch.set_num_threads(threads)
        self.model = model.to(device).eval()
        self.providers_used = [f"torch-{device}"]
        self.preprocess = Preprocess.from_data_config(meta.data_config)

    @classmethod
    def load(
        cls, checkpoint: str | Path, device: str, threads: int, host_copies: bool = False
    ) -> TorchBackend:
        import torch

        from edgetl.models import load_classifier

        if device == "cuda" and not torch.cuda.is_available():
            raise EdgetlError("torch sees no CUDA device")
        t0 = time.perf_counter()
        model, meta = load_classifier(checkpoint)
        return cls(model, meta, device, threads, host_copies, str(checkpoint), time.perf_counter() - t0)

    @property
    def labels(self) -> list[str]:
        return list(self.meta.labels)

    @property
    def timing(self) -> str:
        if self.device == "cpu":
            return "model(x) under torch.inference_mode on a preprocessed batch; preprocessing excluded"
        if self.host_copies:
            return "model(x.cuda()).cpu() under torch.inference_mode incl. host<->GPU copies; preprocessing excluded"
        return "model(x) on a GPU-resident batch + torch.cuda.synchronize(); preprocessing excluded"

    def fixed_batch(self) -> int | None:
        return None

    def feeds(self, batches: Sequence[np.ndarray]) -> list[Any]:
        torch = self.torch
        out = [torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)) for b in batches]
        if self.device != "cpu" and not self.host_copies:
            out = [t.to(self.device) for t in out]
        return out

    def run(self, feed: Any) -> None:
        torch = self.torch
        with torch.inference_mode():
            if self.device == "cpu":
                self.model(feed)
            elif self.host_copies:
                self.model(feed.to(self.device)).cpu()
            else:
                self.model(feed)
                torch.cuda.synchronize()

    def top1(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        outs = []
        with torch.inference_mode():
            for s in range(0, len(batch), EVAL_CHUNK):
                x = torch.from_numpy(np.ascontiguousarray(batch[s : s + EVAL_CHUNK], dtype=np.float32)).to(
                    self.device
                )
                outs.append(self.model(x).argmax(dim=1).cpu().numpy())
        return np.concatenate(outs)

    def close(self) -> None:
        self.model = None


__all__ = ["TorchBackend"]
