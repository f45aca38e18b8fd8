"""The "torch" bench backend: the PyTorch eager baseline row, timed exactly like the onnxruntime rows.

    be = TorchBackend.load("runs/ants", device="cpu", threads=2)      # or TorchBackend.open(variant, "cpu", cfg)
    feeds = be.feeds(batches); be.run(feeds[0]); be.top1(batch)

Same preprocessed inputs, same thread count (`torch.set_num_threads`), `torch.inference_mode`,
one call per timed run. On CUDA the input is already on the GPU and the call ends with
`torch.cuda.synchronize()` (or includes the copies with `host_copies=True`). torch is imported
only when a baseline is opened: registering this backend keeps the bench's ONNX path torch-free.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl import runfolder
from edgetl.bench.backends.base import BACKENDS, Skipped
from edgetl.bench.results import TORCH_VARIANT
from edgetl.errors import EdgetlError
from edgetl.runtime.preprocess import Preprocess

if TYPE_CHECKING:
    from edgetl.bench.config import BenchConfig
    from edgetl.bench.inputs import Inputs, Variant

EVAL_CHUNK = 32


@BACKENDS.register("torch")
class TorchBackend:
    kind = "torch"
    precision = "fp32"
    target = ""

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

    @classmethod
    def variants(cls, inputs: Inputs) -> list[Variant]:
        from edgetl.bench.inputs import Variant

        if inputs.torch is None:
            return []
        ckpt = Path(inputs.torch)
        weights = runfolder.RunFolder(ckpt).best if ckpt.is_dir() else ckpt
        title = f"PyTorch eager baseline from {ckpt}"
        return [Variant(name=TORCH_VARIANT, kind=cls.kind, path=ckpt, weights=weights, title=title)]

    @classmethod
    def serves(cls, provider: str) -> bool:
        return provider != "tensorrt"  # no eager equivalent; TensorRT rows compare with the CUDA eager row

    @classmethod
    def open(cls, variant: Variant, provider: str, cfg: BenchConfig) -> TorchBackend:
        device = "cpu" if provider == "cpu" else "cuda"
        if not _has_torch():  # a runtime-only install: ONNX rows only
            raise Skipped(
                "skipped: torch is not installed (runtime-only install), so there is no PyTorch eager row"
            )
        try:
            return cls.load(
                variant.path, device=device, threads=cfg.thread_count, host_copies=cfg.cuda_host_copies
            )
        except EdgetlError as e:
            if device == "cuda":
                raise Skipped(f"skipped: {e}") from None
            raise

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.meta.labels)

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


def _has_torch() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:
        return False


__all__ = ["TorchBackend"]
