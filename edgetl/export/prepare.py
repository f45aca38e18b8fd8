"""Export-time model preparation: the inference form of a trained model, checked against its training form.

    prep = prepare_for_export(model, images, reference_logits)   # images: normalised NCHW float32
    prep.model          # what to export (a fused copy, or `model` itself when nothing applies)
    prep.notes          # one line for the export report, with the max abs logit difference
    src = prepare_source(src, images, reference, report.exporter_notes)   # what `export` calls

Re-parameterizable families (FastViT, MobileOne, RepVGG, RepGhost, EfficientViT-M's conv+BN
pairs) train with parallel branches that fold into single convolutions for inference; exported
unfused they run slower than they should. `timm.utils.reparameterize_model` folds them (on a
copy: the caller's model is untouched). The fused copy is accepted only when its logits match
the unfused model's on the same validation images within `REPARAM_TOL` (relative to the logit
scale); otherwise the unfused model is exported and the note says why.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REPARAM_HOOKS = ("fuse", "reparameterize", "switch_to_deploy")  # what timm's reparameterize_model calls
REPARAM_TOL = 1e-4  # max abs logit difference / max abs logit


@dataclass
class Prepared:
    model: Any  # torch.nn.Module in eval mode
    reparameterized: int = 0  # modules timm folded (0: nothing to fold, or the fold was rejected)
    max_abs_diff: float | None = None  # fused vs unfused logits on the check images
    notes: list[str] = field(default_factory=list)


def reparameterizable(model: Any) -> int:
    """How many modules of `model` timm's `reparameterize_model` would fold."""
    return sum(1 for m in model.modules() if any(hasattr(m, h) for h in REPARAM_HOOKS))


def prepare_for_export(model: Any, images: np.ndarray, reference: np.ndarray) -> Prepared:
    """The model to export: reparameterized when timm can, checked on `images` against `reference` logits."""
    from timm.utils import reparameterize_model

    from edgetl.export.parity import torch_logits

    n = reparameterizable(model)
    if n == 0:
        return Prepared(model=model)
    fused = reparameterize_model(model.eval(), inplace=False).eval()
    got = torch_logits(fused, images)
    diff = float(np.abs(got - reference).max()) if len(images) else 0.0
    scale = max(float(np.abs(reference).max()) if len(images) else 1.0, 1e-6)
    check = f"max abs logit diff {diff:.2e} vs the unfused model on {len(images)} val images"
    if diff > REPARAM_TOL * scale:
        return Prepared(
            model=model,
            max_abs_diff=diff,
            notes=[
                f"reparameterization rejected ({check}, over {REPARAM_TOL:g} x the logit scale {scale:.3g}): "
                "exported the unfused training form"
            ],
        )
    return Prepared(
        model=fused,
        reparameterized=n,
        max_abs_diff=diff,
        notes=[f"reparameterized {n} modules for inference (timm.utils.reparameterize_model): {check}"],
    )


def prepare_source(src: Any, images: np.ndarray, reference: np.ndarray, notes: list[str]) -> Any:
    """`src` (an `edgetl.export.source.Source`) with its model prepared; the check's note joins `notes`."""
    prep = prepare_for_export(src.model, images, reference)
    notes.extend(prep.notes)
    return src if prep.model is src.model else dataclasses.replace(src, model=prep.model)


__all__ = ["REPARAM_TOL", "Prepared", "prepare_for_export", "prepare_source", "reparameterizable"]
