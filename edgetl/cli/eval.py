"""`edgetl eval RUN_DIR`: the run's best checkpoint on validation data, optional K-fold CV.

edgetl eval runs/lite0                      # the run's own val split -> RUN_DIR/eval/
edgetl eval runs/lite0 --data photos_2025   # other data with the same class folders
edgetl eval runs/lite0 --cv 5               # + stratified 5-fold CV (mean ± std)

Flags come from `EvalConfig` (`edgetl.train.eval_config`); `--quiet` is about output only.
"""

from __future__ import annotations

import argparse
from typing import Any

from edgetl.cli._fields import add_subcommand, given

HELP = "evaluate a run's best checkpoint (top-1/5, per-class P/R/F1, AUC, confusion; --cv K)"
DESCRIPTION = (
    "Top-1/top-5, per-class precision/recall/F1, macro one-vs-rest AUC and the confusion matrix "
    "(printed and eval/confusion.png) of RUN_DIR's best checkpoint."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from edgetl.train.eval_config import EvalConfig

    return add_subcommand(
        subparsers, "eval", EvalConfig, (HELP, DESCRIPTION), {"--quiet": "print only the results"}
    )


def run(args: argparse.Namespace) -> int:
    from edgetl.progress import Reporter
    from edgetl.train import evaluate
    from edgetl.train.eval_config import EvalConfig

    evaluate(**EvalConfig(**given(args, EvalConfig)).kwargs(), reporter=Reporter(quiet=args.quiet))
    return 0
