"""The "openvino" bench backend: edgetl's own .onnx files compiled by OpenVINO for the CPU.

    be = OpenVinoBackend.open(variant, "cpu", cfg)    # variants: each FP32 file at f32 and bf16, others as they are
    be.precision                                      # "fp32" | "bf16" | "int8": what OpenVINO really computes in

Set up as an OpenVINO user would: the batch axis reshaped to the bench's batch when it times one
batch size (dynamic otherwise), the LATENCY hint, INFERENCE_NUM_THREADS = --threads. An FP32
file is timed twice: f32 forced, and bf16 (OpenVINO's default on CPUs that have it; a skipped row
saying why on CPUs that do not). INT8 QDQ files run at OpenVINO's default precision. Its rows are
scored against the onnxruntime FP32 row (agreement), like any other lower precision.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl.bench.backends.base import BACKENDS, Skipped
from edgetl.bench.inputs import Variant
from edgetl.errors import EdgetlError
from edgetl.runtime import Classifier
from edgetl.runtime.classifier import read_metadata

if TYPE_CHECKING:
    from edgetl.bench.config import BenchConfig
    from edgetl.bench.inputs import Inputs


@dataclasses.dataclass
class OpenVinoVariant(Variant):
    hint: str | None = None  # OpenVINO's INFERENCE_PRECISION_HINT: "f32" | "bf16" | None (its default)


def _precision_of(file_precision: str, hint: str | None) -> str:
    if file_precision == "fp32" and hint:
        return "fp32" if hint == "f32" else hint
    return file_precision


def _file_precision(v: Variant) -> str | None:
    """edgetl.precision of the file, read without compiling it (None: openvino missing or no metadata)."""
    try:
        import openvino

        model = openvino.Core().read_model(str(v.path))
        return model.get_rt_info(["framework", "edgetl.precision"]).astype(str).strip('"')
    except Exception:  # not installed / unreadable: open() turns it into a skipped row with the reason
        return None


@BACKENDS.register("openvino")
class OpenVinoBackend:
    kind = "openvino"

    def __init__(self, clf: Classifier, batch: int | None):
        self.clf = clf
        self.engine = clf._engine
        self.batch = batch
        self.providers_used = clf.providers
        self.precision, self.target, self.labels = clf.precision, clf.metadata.target, tuple(clf.labels)
        self.preprocess = clf.preprocess
        self.load_s = clf.load_seconds

    @classmethod
    def variants(cls, inputs: Inputs) -> list[Variant]:
        out: list[Variant] = []
        for v in inputs.onnx:
            for hint in ("f32", "bf16") if _file_precision(v) == "fp32" else (None,):
                name = f"{v.name}@openvino-{hint or 'default'}"
                fields = {f.name: getattr(v, f.name) for f in dataclasses.fields(Variant)}
                out.append(
                    OpenVinoVariant(**{**fields, "name": name, "kind": cls.kind, "title": name}, hint=hint)
                )
        return out

    @classmethod
    def serves(cls, provider: str) -> bool:
        return provider == "cpu"  # OpenVINO's CPU plugin; GPU rows belong to onnxruntime's providers

    @classmethod
    def open(cls, variant: Variant, provider: str, cfg: BenchConfig) -> OpenVinoBackend:
        from edgetl.runtime.engine import open_engine

        hint = getattr(variant, "hint", None)
        batch = cfg.batch[0] if len(cfg.batch) == 1 else None  # static, as OpenVINO users run it
        t0 = time.perf_counter()
        try:
            eng = open_engine(variant.path, "openvino", threads=cfg.thread_count, precision=hint, batch=batch)
        except EdgetlError as e:
            raise Skipped(f"skipped: {e}", _precision_of("fp32", hint) if hint else "fp32") from None
        md = read_metadata(eng.metadata_props(), variant.path)
        clf = Classifier(variant.path, eng, md, 5, time.perf_counter() - t0)
        return cls(clf, batch)

    @property
    def timing(self) -> str:
        shape = f"static batch {self.batch}" if self.batch else "dynamic batch"
        return (
            f"OpenVINO infer request ({shape}, LATENCY hint) on a preprocessed batch (numpy in, numpy out); "
            "preprocessing excluded"
        )

    def fixed_batch(self) -> int | None:
        return self.clf.static_batch

    def feeds(self, batches: Sequence[np.ndarray]) -> list[Any]:
        return [np.ascontiguousarray(b, dtype=self.clf.input_dtype) for b in batches]

    def run(self, feed: Any) -> None:
        self.engine.run(self.clf.logits_name, feed)

    def top1(self, batch: np.ndarray) -> np.ndarray:
        return self.clf.logits(batch).argmax(axis=1)

    def close(self) -> None:
        self.clf = self.engine = None  # type: ignore[assignment]


__all__ = ["OpenVinoBackend", "OpenVinoVariant"]
