"""Training's own progress text: the one summary line per epoch.

The reporter itself is library-wide, `edgetl.progress.Reporter`; it is re-exported here so
`from edgetl.train.progress import Reporter` keeps working.
"""

from __future__ import annotations

import functools
from typing import Any

from edgetl.metrics import percent
from edgetl.progress import Reporter


def format_epoch(row: dict[str, Any], total_epochs: int, improved: bool) -> str:
    """One summary line per epoch, e.g. 'epoch 3/24 finetune  train loss 0.41 acc 88.6% | val ...'."""
    acc = functools.partial(percent, digits=1, width=5)
    return (
        f"epoch {row['epoch']}/{total_epochs} {row['stage']:<8}  train loss {row['train_loss']:.4f} acc {acc(row['train_acc'])}"
        f"  | val loss {row['val_loss']:.4f} acc {acc(row['val_acc'])}  | lr {row['lr']:.2e}  {row['seconds']:.1f}s"
        + ("  *best" if improved else "")
    )


__all__ = ["Reporter", "format_epoch"]
