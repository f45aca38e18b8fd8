"""A model's classifier as one module, whatever timm's `get_classifier()` returns.

    head = classifier_head(model)        # nn.Module: logits from pooled pre-logits features
    reset_head(model, num_classes=10)    # fresh head(s); distillation heads start tied

Most timm models have one head module. Distilled models have two (LeViT, DeiT-distilled:
`get_classifier()` returns `(head, head_dist)`) and at inference average their logits.
`classifier_head` wraps them so the linear probe, the feature cache key and the LP-FT handover
treat every model alike. `reset_head` copies the first head into the others: tied linear heads
applied to the cls and distillation tokens equal one head applied to their mean, which is
what `forward_head(pre_logits=True)` returns, so a probe on those features trains exactly the
function the whole model computes (and identical gradients keep the heads tied while probing).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def head_modules(model: nn.Module) -> tuple[nn.Module, ...]:
    """The classifier module(s) of a timm model, always as a tuple."""
    head = model.get_classifier()
    return tuple(head) if isinstance(head, (tuple, list)) else (head,)


class ClassifierHead(nn.Module):
    """The mean of several heads' logits on the same features (the model's own modules, not copies)."""

    def __init__(self, heads: tuple[nn.Module, ...]):
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.heads[0](x)
        for h in self.heads[1:]:
            out = out + h(x)
        return out / len(self.heads)


def classifier_head(model: nn.Module) -> nn.Module:
    """One module computing the model's logits from `forward_head(..., pre_logits=True)` features."""
    heads = head_modules(model)
    return heads[0] if len(heads) == 1 else ClassifierHead(heads)


def reset_head(model: Any, num_classes: int) -> None:
    """`reset_classifier(num_classes)` (PyTorch's small default init), then tie any extra heads to the first."""
    model.reset_classifier(num_classes)
    first, *others = head_modules(model)
    for other in others:
        other.load_state_dict(first.state_dict())


__all__ = ["ClassifierHead", "classifier_head", "head_modules", "reset_head"]
