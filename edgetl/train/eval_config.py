"""`EvalConfig`: the options of `edgetl eval`, one field per argument of `edgetl.train.evaluate`.

    cfg = EvalConfig(run_dir="runs/lite0", cv=5)
    report = evaluate(**cfg.kwargs(), reporter=Reporter())

Each field's help text is its CLI flag's (`edgetl.cli._fields`); `evaluate` checks the values.
No torch import here: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from edgetl.config import option


@dataclass
class EvalConfig:
    run_dir: str = option(help="a run directory written by edgetl train", positional=True, metavar="RUN_DIR")
    data: str | None = option(
        None, "other data with the same classes (default: the run's data and val split)"
    )
    val_split: float | None = option(None, "split a flat --data folder (DIR/<class>) like train does")
    split: Literal["val", "all"] = option("val", "evaluate the val split or all images of --data")
    cv: int | None = option(
        None,
        "also run stratified K-fold cross-validation of a linear probe on cached pretrained features",
        metavar="K",
    )
    device: Literal["auto", "cpu", "cuda"] = option("auto", "where the model runs: auto | cpu | cuda")
    cache_dir: str | None = option(
        None, "feature cache folder (default: $EDGETL_CACHE_DIR or ~/.cache/edgetl/features)"
    )

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `evaluate` (a test keeps the two in step)."""
        return dataclasses.asdict(self)


__all__ = ["EvalConfig"]
