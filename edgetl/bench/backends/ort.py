"""The "onnx" bench backend: an onnxruntime session, fed like an app feeds it.

    be = OrtBackend.open(variant, "cpu", cfg)     # or OrtBackend(Classifier.load(path, ...))
    feeds = be.feeds(batches)          # untimed: put inputs where the provider wants them
    be.run(feeds[0])                   # timed: one inference
    be.top1(batch)                     # untimed: predictions for accuracy

On CPU a call is `session.run` with a numpy batch in and numpy logits out. On CUDA/TensorRT the
session runs through IO binding: by default the inputs are copied to the GPU once before timing
and the outputs stay there, so the time is the GPU work alone; with `host_copies=True` both
copies are inside the timed call (what an app that starts from host memory sees).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl.bench.backends.base import BACKENDS, Skipped
from edgetl.runtime import Classifier

if TYPE_CHECKING:
    from edgetl.bench.config import BenchConfig
    from edgetl.bench.inputs import Inputs, Variant


@BACKENDS.register("onnx")
class OrtBackend:
    kind = "onnx"

    def __init__(self, clf: Classifier, host_copies: bool = False):
        self.clf = clf
        self.session = clf.session
        self.device = clf.device
        self.host_copies = host_copies
        self.providers_used = clf.providers
        md = clf.metadata
        self.precision, self.target, self.labels = md.precision, md.target, tuple(md.labels)
        self.preprocess = clf.preprocess
        self.load_s = clf.load_seconds

    @classmethod
    def variants(cls, inputs: Inputs) -> list[Variant]:
        return list(inputs.onnx)

    @classmethod
    def serves(cls, provider: str) -> bool:
        return True

    @classmethod
    def open(cls, variant: Variant, provider: str, cfg: BenchConfig) -> OrtBackend:
        clf = Classifier.load(variant.path, providers=provider, threads=cfg.thread_count, warn=False)
        if clf.fallback:
            raise Skipped(f"skipped: {clf.fallback}", clf.metadata.precision, clf.providers)
        return cls(clf, host_copies=cfg.cuda_host_copies)

    @property
    def timing(self) -> str:
        if self.device == "cpu":
            return "session.run on a preprocessed batch (numpy in, numpy out); preprocessing excluded"
        if self.host_copies:
            return (
                "run_with_iobinding incl. host->GPU input and GPU->host output copies; preprocessing excluded"
            )
        return "run_with_iobinding, input already on the GPU, output left on the GPU (no host copies); preprocessing excluded"

    def fixed_batch(self) -> int | None:
        return self.clf.static_batch

    def feeds(self, batches: Sequence[np.ndarray]) -> list[Any]:
        batches = [np.ascontiguousarray(b, dtype=self.clf.input_dtype) for b in batches]
        if self.device == "cpu":
            return batches
        import onnxruntime as ort

        out = []
        for b in batches:
            binding = self.session.io_binding()
            if self.host_copies:
                out.append((binding, b))
            else:
                value = ort.OrtValue.ortvalue_from_numpy(b, "cuda", 0)
                binding.bind_ortvalue_input(self.clf.input_name, value)
                binding.bind_output(self.clf.logits_name, "cuda", 0)
                out.append((binding, value))
        return out

    def run(self, feed: Any) -> None:
        if self.device == "cpu":
            self.session.run([self.clf.logits_name], {self.clf.input_name: feed})
            return
        binding, value = feed
        if self.host_copies:
            binding.bind_cpu_input(self.clf.input_name, value)
            binding.bind_output(self.clf.logits_name)
            self.session.run_with_iobinding(binding)
            binding.copy_outputs_to_cpu()
        else:
            self.session.run_with_iobinding(binding)
            binding.synchronize_outputs()

    def top1(self, batch: np.ndarray) -> np.ndarray:
        return self.clf.logits(batch).argmax(axis=1)

    def close(self) -> None:
        self.clf = self.session = None  # type: ignore[assignment]


__all__ = ["OrtBackend"]
