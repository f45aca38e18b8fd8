"""Early stopping on one validation metric, with a state that survives `--resume`.

    stopper = EarlyStopping(monitor="val_acc", patience=5, min_delta=0.0)
    improved = stopper.update(metrics, epoch=3)   # True: save these weights as the best
    if stopper.should_stop: ...

The best value is tracked over the whole run (every stage); the patience counter restarts at
each stage (`start_stage`), so fine-tuning after a probe is measured against the probe's best
and the run's final weights are never worse on validation than any earlier epoch's.
Accuracy on a small validation set moves in coarse steps, so with `val_acc` an epoch that ties
the best accuracy exactly and has a lower `val_loss` also counts as an improvement.
timm's train.py has no early stopping (pytorch-image-models #1991), hence this small class.
"""

from __future__ import annotations

import math
from typing import Any

LOWER_IS_BETTER = {"val_loss"}
TIE_BREAKERS = {"val_acc": "val_loss"}  # monitored metric -> lower-is-better metric that breaks exact ties


class EarlyStopping:
    def __init__(self, monitor: str = "val_acc", patience: int = 5, min_delta: float = 0.0):
        self.monitor = monitor
        self.patience = patience  # 0: never stop early
        self.min_delta = min_delta
        self.sign = -1.0 if monitor in LOWER_IS_BETTER else 1.0
        self.tie_breaker = TIE_BREAKERS.get(monitor)
        self.best: float | None = None
        self.best_tie: float | None = None  # the tie-breaker's value at the best epoch
        self.best_epoch: int = -1
        self.bad_epochs = 0

    def is_better(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.best is None:
            return True
        return self.sign * (value - self.best) > self.min_delta

    def update(self, metrics: dict[str, float], epoch: int) -> bool:
        """Record one epoch; True when it is the new best."""
        value = float(metrics[self.monitor])
        tie = float(metrics[self.tie_breaker]) if self.tie_breaker and self.tie_breaker in metrics else None
        tie_won = value == self.best and tie is not None and self.best_tie is not None and tie < self.best_tie
        if self.is_better(value) or tie_won:
            self.best, self.best_tie, self.best_epoch, self.bad_epochs = value, tie, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def start_stage(self) -> None:
        """A new stage gets the full patience again; the best so far stays the bar to beat."""
        self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_tie": self.best_tie,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_tie = state.get("best_tie")
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])


__all__ = ["EarlyStopping"]
