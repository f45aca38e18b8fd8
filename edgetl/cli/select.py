"""`edgetl select --data DIR`: pick the backbone by measured probe accuracy and measured latency.

edgetl select --data data/hymenoptera                      # Lite0/1/2 x 3 sizes, default rule
edgetl select --data data/hymenoptera --latency-budget 3   # the most accurate within 3 ms

Flags come from `SelectConfig` (`edgetl.select.config`); the work is `edgetl.select.select`.
"""

from __future__ import annotations

import argparse
from typing import Any

from edgetl.cli._fields import add_subcommand, given

HELP = "pick a backbone x input size by probe CV accuracy and INT8/FP32 batch-1 latency (Pareto front)"
DESCRIPTION = (
    "For each candidate: cached features, the solved probe's CV accuracy on the training split (val is only "
    "reported), the exported FP32 and target-INT8 models timed at batch 1 on this machine. Prints a table and a "
    "plot, writes OUT/select.json and OUT/select.png, and names the pick and the rule that chose it."
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from edgetl.select.config import SelectConfig

    return add_subcommand(
        subparsers, "select", SelectConfig, (HELP, DESCRIPTION), {"--quiet": "print only the results"}
    )


def run(args: argparse.Namespace) -> int:
    from edgetl.progress import Reporter
    from edgetl.select.api import select
    from edgetl.select.config import SelectConfig

    select(SelectConfig(**given(args, SelectConfig)), reporter=Reporter(quiet=args.quiet))
    return 0
