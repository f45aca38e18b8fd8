"""Bench: latency, throughput, memory and accuracy of exported variants vs PyTorch eager.

    from edgetl.bench import BenchConfig, bench
    report = bench(BenchConfig(models=["runs/ants"], providers=["cpu"], batch=[1, 8], threads=2))
    for row in report.ok_rows(batch=1):
        print(row.variant, row.provider, row.p50_ms, row.accuracy)

Writes bench.json / bench.csv / bench.md and plots to RUN_DIR/bench (or `out`).

Modules, one job each: `config` (BenchConfig), `inputs` (models -> variants, eval images),
`backends` (the `Backend` protocol and the `BACKENDS` registry: onnxruntime, PyTorch eager),
`cells` (variants opened per provider, rows), `images` (decode/crop once, timing pool),
`scoring` (accuracy, agreement), `rounds` + `timing` (interleaved timed rounds, statistics),
`compare` (speedups, verdicts), `notes`, `env` (the host), `report` + `plots` (outputs),
`data` (which image files, shared with `edgetl predict`). Torch loads only for the eager row.
"""

from edgetl.bench.backends import BACKENDS, Backend
from edgetl.bench.config import BenchConfig
from edgetl.bench.report import load_report, render_table, write_report
from edgetl.bench.results import TORCH_VARIANT, BenchReport, BenchRow
from edgetl.bench.runner import bench

__all__ = [
    "BACKENDS",
    "TORCH_VARIANT",
    "Backend",
    "BenchConfig",
    "BenchReport",
    "BenchRow",
    "bench",
    "load_report",
    "render_table",
    "write_report",
]
