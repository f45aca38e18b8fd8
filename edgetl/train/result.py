"""`TrainResult`: what `train()` returns, built by the run session once the best weights are evaluated.

Its own module so the session (which builds it) and the trainer (which returns it) both import it
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_stage: str
    best_metrics: dict[str, float]  # the metrics.csv row of the best epoch
    stopped_early: bool
    epochs_run: int
    eval: dict[str, Any] = field(default_factory=dict)  # classification metrics of the best weights on val
    classes: list[str] = field(default_factory=list)
    seconds: float = 0.0


__all__ = ["TrainResult"]
