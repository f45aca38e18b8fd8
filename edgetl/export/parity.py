"""Parity: the exported file against PyTorch on real validation images.

    ev = eval_set(splits.val, label_index, "photos/")                # edgetl.bench.data.EvalSet
    imgs = prepare_images(ev, data_config, "validation")             # eval transform, real photos
    ref = torch_logits(model, imgs.images)
    res = compare_onnx(path, imgs, ref, bake_preprocess=False)       # -> ParityResult
    problems = PRECISIONS.get("fp32").gate(cfg).failures(res)        # [] = passed

Never random tensors only: a graph can agree on noise and still flip real predictions. The
gate per precision lives in edgetl.export.precisions (documented in export/targets.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl.errors import DataError
from edgetl.export.gate import ParityResult

if TYPE_CHECKING:
    from edgetl.bench.data import EvalSet

BATCH = 32


def eval_set(samples: list, label_index: dict[int, int], source: str) -> EvalSet:
    """(item, class index) samples of a split -> the library's EvalSet, labels in the model's order."""
    from edgetl.bench.data import EvalSet

    return EvalSet(
        items=[item for item, _ in samples],
        labels=np.asarray([label_index[int(y)] for _, y in samples], dtype=np.int64),
        source=source,
    )


@dataclass
class PreparedImages:
    """An EvalSet after the model's eval transform: what both PyTorch and ONNX are fed."""

    images: np.ndarray  # (N, 3, H, W) float32, normalised
    labels: np.ndarray  # (N,) int64, the model's label order
    uint8: np.ndarray  # (N, H, W, 3) the same crops before ToTensor/Normalize

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, bake_preprocess: bool) -> np.ndarray:
        return self.uint8 if bake_preprocess else self.images


def prepare_images(ev: EvalSet, data_config: dict[str, Any], what: str) -> PreparedImages:
    """Run timm's eval transform (edgetl.data) over `ev`; also recover the crops' uint8 pixels.

    The uint8 NHWC pixels are the transform's output with Normalize and ToTensor undone: ToTensor
    yields k/255 exactly, so rounding recovers k, and both inputs describe the same crop.
    """
    from edgetl.data import ImageDataset, build_transform

    if not len(ev):
        raise DataError(f"no {what} images to check the export with")
    ds = ImageDataset(
        list(zip(ev.items, ev.labels.tolist(), strict=True)), build_transform(data_config, train=False)
    )
    xs = [ds[i][0].numpy() for i in range(len(ds))]
    if ds.failed:
        raise DataError(
            f"{len(ds.failed)} {what} image(s) became unreadable: {ds.failed[0][0]} ({ds.failed[0][1]})"
        )
    images = np.stack(xs).astype(np.float32)
    mean = np.asarray(data_config["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(data_config["std"], dtype=np.float32).reshape(1, 3, 1, 1)
    pixels = np.clip(np.rint((images * std + mean) * 255.0), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return PreparedImages(images=images, labels=ev.labels, uint8=np.ascontiguousarray(pixels))


def torch_logits(model: Any, images: np.ndarray) -> np.ndarray:
    """The reference: the PyTorch model in eval mode, float32, on the normalised images."""
    import torch

    from edgetl.models.layout import channels_last

    out = []
    with torch.inference_mode():
        for i in range(0, len(images), BATCH):
            out.append(model(channels_last(torch.from_numpy(images[i : i + BATCH]))).float().numpy())
    return np.concatenate(out)


def run_onnx(
    path: Any, inputs: np.ndarray, providers: str = "cpu", batch: int = BATCH, options: Any | None = None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Logits of the ONNX file's "logits" output in batches, plus the first image alone (batch 1)."""
    from edgetl.runtime.providers import create_session

    sess = create_session(path, providers, options=options, warn=False)
    outs = [
        sess.session.run(["logits"], {"input": inputs[i : i + batch]})[0]
        for i in range(0, len(inputs), batch)
    ]
    single = sess.session.run(["logits"], {"input": inputs[:1]})[0]
    return np.concatenate(outs).astype(np.float32), single.astype(np.float32), sess.primary, sess.fallback


def compare_logits(
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
    path: Any,
    imgs: PreparedImages,
    ref: np.ndarray,
    bake_preprocess: bool,
    providers: str = "cpu",
    batch: int = BATCH,
    options: Any | None = None,
) -> ParityResult:
    logits, single, used, note = run_onnx(path, imgs.inputs(bake_preprocess), providers, batch, options)
    return compare_logits(logits, ref, imgs.labels, used, note, single)


__all__ = [
    "BATCH",
    "ParityResult",
    "PreparedImages",
    "compare_logits",
    "compare_onnx",
    "eval_set",
    "prepare_images",
    "run_onnx",
    "torch_logits",
]
