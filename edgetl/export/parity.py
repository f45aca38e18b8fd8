"""Parity gate: the exported file against PyTorch on real validation images.

    ev = load_eval_set(splits.val, data_config, label_index)        # eval transform, real photos
    ref = torch_logits(model, ev.images)
    res = compare_onnx(path, ev, ref, providers="cpu", bake_preprocess=False)
    problems = GATES["fp32"].failures(res)                          # [] = passed

Never random tensors only: a graph can agree on noise and still flip real predictions. The
gate per precision is documented in export/targets.md; `Gate.text()` is what the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgetl.errors import DataError

BATCH = 32


@dataclass
class EvalSet:
    """Preprocessed images (the model's eval transform) with labels in the model's label order."""

    images: np.ndarray  # (N, 3, H, W) float32, normalised
    labels: np.ndarray  # (N,) int64
    uint8: np.ndarray | None = None  # (N, H, W, 3) the same images before ToTensor/Normalize

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, bake_preprocess: bool) -> np.ndarray:
        return self.uint8 if bake_preprocess else self.images


def load_eval_set(
    samples: list, data_config: dict[str, Any], label_index: dict[int, int], what: str
) -> EvalSet:
    """Run timm's eval transform (edgetl.data) over `samples`; also recover their uint8 pixels.

    The uint8 NHWC pixels are the transform's output with Normalize and ToTensor undone: ToTensor
    yields k/255 exactly, so rounding recovers k, and both inputs describe the same crop.
    """
    from edgetl.data import ImageDataset, build_transform

    if not samples:
        raise DataError(f"no {what} images to check the export with")
    ds = ImageDataset(samples, build_transform(data_config, train=False))
    xs, ys = [], []
    for i in range(len(ds)):
        x, y = ds[i]
        xs.append(x.numpy())
        ys.append(label_index[int(y)])
    if ds.failed:
        raise DataError(
            f"{len(ds.failed)} {what} image(s) became unreadable: {ds.failed[0][0]} ({ds.failed[0][1]})"
        )
    images = np.stack(xs).astype(np.float32)
    mean = np.asarray(data_config["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(data_config["std"], dtype=np.float32).reshape(1, 3, 1, 1)
    pixels = np.clip(np.rint((images * std + mean) * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return EvalSet(images=images, labels=np.asarray(ys, dtype=np.int64), uint8=np.ascontiguousarray(pixels))


def torch_logits(model: Any, images: np.ndarray) -> np.ndarray:
    """The reference: the PyTorch model in eval mode, float32, on the normalised images."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(images), BATCH):
            out.append(model(torch.from_numpy(images[i : i + BATCH])).float().numpy())
    return np.concatenate(out)


@dataclass
class ParityResult:
    n: int
    max_abs_diff: float
    mean_abs_diff: float
    rel_diff: float  # max_abs_diff / max(1, max |reference logit|)
    agreement: float  # top-1 agreement with PyTorch, 0-1
    flips: int
    accuracy: float  # top-1 on val, 0-1
    reference_accuracy: float  # PyTorch top-1 on the same images
    provider: str  # onnxruntime provider that really ran
    provider_note: str | None = None


def run_onnx(
    path: Any, inputs: np.ndarray, providers: str = "cpu", batch: int = BATCH
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Logits of the ONNX file's "logits" output in batches, plus the first image alone (batch 1)."""
    from edgetl.runtime.providers import create_session

    sess = create_session(path, providers, warn=False)
    outs = [
        sess.session.run(["logits"], {"input": inputs[i : i + batch]})[0]
        for i in range(0, len(inputs), batch)
    ]
    single = sess.session.run(["logits"], {"input": inputs[:1]})[0]
    return np.concatenate(outs).astype(np.float32), single.astype(np.float32), sess.primary, sess.fallback


def compare(
    out: np.ndarray,
    ref: np.ndarray,
    labels: np.ndarray,
    provider: str,
    note: str | None = None,
    single: np.ndarray | None = None,
) -> ParityResult:
    """Diffs and top-1 agreement; `single` (row 0 run at batch 1) also counts toward the max diff."""
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    max_diff = float(diff.max()) if diff.size else 0.0
    if single is not None and len(single):
        max_diff = max(max_diff, float(np.abs(single[0].astype(np.float64) - ref[0]).max()))
    top_out, top_ref = out.argmax(1), ref.argmax(1)
    flips = int((top_out != top_ref).sum())
    n = len(labels)
    return ParityResult(
        n=n,
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        rel_diff=max_diff / max(1.0, float(np.abs(ref).max())),
        agreement=1.0 - flips / n,
        flips=flips,
        accuracy=float((top_out == labels).mean()),
        reference_accuracy=float((top_ref == labels).mean()),
        provider=provider,
        provider_note=note,
    )


def compare_onnx(
    path: Any, ev: EvalSet, ref: np.ndarray, bake_preprocess: bool, providers: str = "cpu", batch: int = BATCH
) -> ParityResult:
    logits, single, used, note = run_onnx(path, ev.inputs(bake_preprocess), providers, batch)
    return compare(logits, ref, ev.labels, used, note, single)


@dataclass(frozen=True)
class Gate:
    """What a variant must meet against PyTorch on the val images."""

    min_agreement: float
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)  # further conditions checked elsewhere (budget)

    def text(self) -> str:
        parts = [f"top-1 agreement >= {self.min_agreement:.1%}"]
        if self.max_abs_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_abs_diff:g}")
        if self.max_rel_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_rel_diff:g} x max(1, max |logit|)")
        return ", ".join([*parts, *self.extra])

    def failures(self, r: ParityResult) -> list[str]:
        bad = []
        if r.agreement < self.min_agreement:
            bad.append(
                f"agreement {r.agreement:.2%} ({r.flips} of {r.n} top-1 flips) < {self.min_agreement:.1%}"
            )
        if self.max_abs_diff is not None and not r.max_abs_diff <= self.max_abs_diff:
            bad.append(f"max |logit diff| {r.max_abs_diff:.3g} > {self.max_abs_diff:g}")
        if self.max_rel_diff is not None and not r.rel_diff <= self.max_rel_diff:
            bad.append(f"relative logit diff {r.rel_diff:.3g} > {self.max_rel_diff:g}")
        return bad


FP32_GATE = Gate(min_agreement=0.999, max_abs_diff=1e-4)
FP16_GATE = Gate(min_agreement=0.99, max_rel_diff=2e-2)


def gate_for(precision: str, int8_min_agreement: float, max_acc_drop: float | None) -> Gate:
    if precision == "fp32":
        return FP32_GATE
    if precision == "fp16":
        return FP16_GATE
    extra = (f"val top-1 drop <= {max_acc_drop:g} points vs PyTorch",) if max_acc_drop is not None else ()
    return Gate(min_agreement=int8_min_agreement, extra=extra)


__all__ = [
    "EvalSet",
    "FP16_GATE",
    "FP32_GATE",
    "Gate",
    "ParityResult",
    "compare",
    "compare_onnx",
    "gate_for",
    "load_eval_set",
    "run_onnx",
    "torch_logits",
]
