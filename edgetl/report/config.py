"""`ReportConfig`: what `edgetl report` builds (its flags are generated from these fields).

build_report(**asdict(ReportConfig(run_dir="runs/ants", add_bench=["device-results"])))
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.config import option


@dataclass
class ReportConfig:
    run_dir: str = option(help="the run directory to report on", positional=True, metavar="RUN_DIR")
    add_bench: list[str] = option(
        [],
        "comma list of bench folders from other machines (`edgetl bench ... --out DIR` there): "
        "each becomes a section of its own with its rows, environment and recommendation",
        metavar="DIR",
    )


__all__ = ["ReportConfig"]
