"""`edgetl eval RUN_DIR`: the run's best checkpoint on validation data, optional K-fold CV.

edgetl eval runs/lite0                      # the run's own val split -> RUN_DIR/eval/
edgetl eval runs/lite0 --data photos_2025   # other data with the same class folders
edgetl eval runs/lite0 --cv 5               # + stratified 5-fold CV (mean ± std)
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a run's best checkpoint (top-1/5, per-class P/R/F1, AUC, confusion; --cv K)",
        description="Top-1/top-5, per-class precision/recall/F1, macro one-vs-rest AUC and the confusion matrix "
        "(printed and eval/confusion.png) of RUN_DIR's best checkpoint.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by edgetl train")
    p.add_argument("--data", help="other data with the same classes (default: the run's data and val split)")
    p.add_argument(
        "--val-split",
        type=float,
        default=None,
        help="split a flat --data folder (DIR/<class>) like train does",
    )
    p.add_argument(
        "--split",
        choices=["val", "all"],
        default="val",
        help="evaluate the val split or all images of --data",
    )
    p.add_argument(
        "--cv",
        type=int,
        default=None,
        metavar="K",
        help="also run stratified K-fold cross-validation of a linear probe on cached pretrained features",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument(
        "--cache-dir",
        default=None,
        help="feature cache folder (default: $EDGETL_CACHE_DIR or ~/.cache/edgetl/features)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the results")
    return p


def run(args: argparse.Namespace) -> int:
    from edgetl.progress import Reporter
    from edgetl.train import evaluate

    evaluate(
        args.run_dir,
        data=args.data,
        cv=args.cv,
        val_split=args.val_split,
        split=args.split,
        device=args.device,
        cache_dir=args.cache_dir,
        reporter=Reporter(quiet=args.quiet),
    )
    return 0
