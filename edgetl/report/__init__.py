"""The run report: one self-contained HTML file and a Markdown twin, built from RUN_DIR alone.

    from edgetl.report import build_report
    html_path, md_path = build_report("runs/digits")   # RUN_DIR/report.html, RUN_DIR/report.md

Sections: summary, data, training curves, evaluation (confusion matrix), variants (size,
accuracy, agreement, latency, speedup vs PyTorch), bench plots, environment, and the commands
that reproduce each step. Whatever a run has not produced yet shows as "not run".
"""

from edgetl.report.build import build_report, collect

__all__ = ["build_report", "collect"]
