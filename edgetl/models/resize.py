"""Trained weights moved to a model built for another input size (train small, deploy at full size).

    model = rebuild_at_size("deit_tiny_patch16_224", state, num_classes=10, size=224)

CNN weights do not depend on the input size. Models that fix it at creation carry tensors sized
by it; they are resampled the way timm resamples pretrained weights: ViT/DeiT position embeddings
(`resample_abs_pos_embed`, prefix tokens kept) and LeViT/EfficientViT-M attention-bias tables
(`resize_rel_pos_bias_table_levit`). Any other misfit raises CheckpointError naming the tensor
(`check_state_fits`).
"""

from __future__ import annotations

from typing import Any

import torch


def _resample(key: str, value: torch.Tensor, target: torch.Tensor, model: Any) -> torch.Tensor:
    from timm.layers import resample_abs_pos_embed, resize_rel_pos_bias_table_levit

    if key.endswith("pos_embed") and value.ndim == 3 and hasattr(model, "patch_embed"):
        prefix = 0 if getattr(model, "no_embed_class", False) else int(getattr(model, "num_prefix_tokens", 1))
        return resample_abs_pos_embed(value, list(model.patch_embed.grid_size), num_prefix_tokens=prefix)
    if key.endswith("attention_biases") and value.ndim == 2 and value.shape[0] == target.shape[0]:
        return resize_rel_pos_bias_table_levit(value.T, tuple(target.shape[::-1])).T.contiguous()
    return value  # not input-size dependent in a way edgetl knows: the caller's shape check names it


def fit_state_to(model: Any, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` with the input-size-dependent tensors edgetl knows resampled to fit `model`; others as given."""
    own = model.state_dict()
    out = {}
    for k, v in state.items():
        t = own.get(k)
        out[k] = v if t is None or tuple(t.shape) == tuple(v.shape) else _resample(k, v, t, model)
    return out


def rebuild_at_size(name: str, state: dict[str, torch.Tensor], num_classes: int, size: int) -> Any:
    """`name` built for `size` px with `state` (trained at another size) loaded strictly, in eval mode."""
    from edgetl.models.factory import build_model
    from edgetl.models.weights import check_state_fits

    model, _ = build_model(name, {"img_size": size}, pretrained=False, num_classes=num_classes)
    fitted = fit_state_to(model, state)
    check_state_fits(model.state_dict(), fitted, f"{name} weights", f"{name} at {size} px")
    model.load_state_dict(fitted, strict=True)
    return model.eval()


__all__ = ["fit_state_to", "rebuild_at_size"]
