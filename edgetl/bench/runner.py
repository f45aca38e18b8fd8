"""`bench(cfg)`: latency, throughput, memory and accuracy of every variant on every provider.

    report = bench(BenchConfig(models=["runs/ants"], providers=["cpu"], batch=[1, 8], threads=2))

Steps, one module each: resolve what to measure (`inputs`); open every variant of every
registered backend (`backends`: onnxruntime, then the PyTorch eager baseline) on every provider
(`cells`: a provider that falls back is a skipped row); decode and crop the eval images once
(`images`); score each cell (`scoring`: top-1, agreement with FP32); time every (cell, batch) in
`repeat` interleaved, rotated rounds (`rounds`); compare the rows (`compare`); say what the
numbers cover (`notes`). Results are written by `edgetl.bench.report`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from edgetl import runfolder
from edgetl._io import claim_outputs
from edgetl._lock import lock_folder, lock_scope
from edgetl._resources import check_batch_memory, check_threads, onnx_input_sizes
from edgetl.bench.cells import Cell, cell_rows, open_cells
from edgetl.bench.compare import compare_rows, order_rows, with_speedups
from edgetl.bench.config import BenchConfig
from edgetl.bench.env import environment, load_average, peak_rss_mb
from edgetl.bench.images import prepare_images
from edgetl.bench.inputs import Inputs, bench_eval_set, out_dir, resolve, resolve_inputs
from edgetl.bench.notes import eval_summary, notes, run_warnings
from edgetl.bench.results import BenchReport, BenchRow
from edgetl.bench.rounds import Timed, time_rounds
from edgetl.bench.scoring import Score, score_cells
from edgetl.progress import Reporter


@lock_scope()  # the output folder's writer lock is held until the bench ends (or the process dies)
def bench(cfg: BenchConfig, reporter: Reporter | None = None) -> BenchReport:
    """Measure every variant x provider x batch; write JSON/CSV/Markdown/plots; return the report."""
    from edgetl.bench.report import OUTPUT_NAMES, write_report

    rep = reporter or Reporter(quiet=True)
    t_start, load_start = time.perf_counter(), load_average()
    inputs = resolve(cfg)
    _check_something_to_time(cfg, inputs)  # else a bench of no rows was written and exited 0
    lock_folder(out_dir(cfg, inputs.run_dir), "--out")  # one writer, and it never overwrites
    claim_outputs(out_dir(cfg, inputs.run_dir), list(OUTPUT_NAMES))  # a file edgetl did not write
    for note in _resource_notes(cfg, inputs):  # before any model is opened or any batch allocated
        rep.warn(note)
    openings = open_cells(inputs, cfg, rep)
    cells = [o for o in openings if isinstance(o, Cell)]
    labels = list(cells[0].labels) if cells else []
    ev = bench_eval_set(cfg, inputs.run_dir, labels, rep) if labels else None
    pool = prepare_images(ev, [c.pre for c in cells], cfg.pool, rep)
    ev = pool.eval_set
    scores, warnings_ = score_cells(cells, ev, pool.crops, labels, rep) if ev else ([None] * len(cells), [])
    timed = time_rounds(cells, pool.pool, cfg, rep)
    rows = with_speedups(_rows(openings, scores, timed, cfg.batch))
    comparisons, more_warnings = compare_rows(rows)
    threads = cfg.threads if cfg.swept() else cfg.thread_count  # a list only for a --threads sweep
    env = {**environment(), "threads": threads, "load_average_start": load_start}
    report = BenchReport(
        rows=order_rows(rows, cfg.providers),
        env=env,
        config=asdict(cfg),
        data=eval_summary(ev),
        preprocess=pool.cost,
        comparisons=comparisons,
        warnings=warnings_ + more_warnings + run_warnings(env, load_start, ev),
        notes=notes(cells, cfg, ev),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - t_start, 2),
        peak_rss_mb=peak_rss_mb(),
    )
    write_recommendation(report, cfg, deploy_dir(cfg, inputs))
    write_report(report, out_dir(cfg, inputs.run_dir), plots=cfg.plots)
    return report


def deploy_dir(cfg: BenchConfig, inputs: Inputs):
    """RUN_DIR/deploy for a run directory, else deploy/ inside the output folder."""
    if inputs.run_dir:
        return runfolder.RunFolder(inputs.run_dir).deploy_dir
    return out_dir(cfg, None) / runfolder.DEPLOY


def write_recommendation(report: BenchReport, cfg: BenchConfig, folder) -> None:
    """The recommendation on the report, and its deploy folder (the .onnx + deploy.json) when one passed."""
    from edgetl.bench.recommend import recommend
    from edgetl.runtime.deploy import DeployConfig, write_deploy

    rec = recommend(report.rows, cfg.max_acc_drop, cfg.min_agreement)
    report.recommendation = rec.to_dict()
    d = rec.deploy_config()
    if d is not None and rec.choice is not None:
        write_deploy(folder, rec.choice.file, DeployConfig(file=Path(rec.choice.file).name, **d))
        report.recommendation["deploy_dir"] = str(folder)


def _check_something_to_time(cfg: BenchConfig, inputs: Inputs) -> None:
    from edgetl.bench.backends import BACKENDS
    from edgetl.errors import EdgetlError

    for name in cfg.backends:
        backend = BACKENDS.get(name)
        if backend.variants(inputs) and any(backend.serves(p) for p in cfg.providers):
            return
    hint = " (the PyTorch row needs --torch CKPT or a run directory)" if "torch" in cfg.backends else ""
    raise EdgetlError(
        f"nothing to time: --backends {','.join(cfg.backends)} on --providers {','.join(cfg.providers)} "
        f"has no model among the inputs{hint}"
    )


def _resource_notes(cfg: BenchConfig, inputs: Inputs) -> list[str]:
    """One line each for --threads past the cores and a --batch that nearly fills memory (refused when over)."""
    sizes = onnx_input_sizes([v.path for v in inputs.onnx])
    biggest = max(sizes, key=lambda s: s[0] * s[1] * s[2], default=None)
    notes = [] if cfg.swept() else [check_threads(cfg.thread_count, "--threads")]  # a sweep skips those rows
    if biggest is not None:
        notes.append(check_batch_memory(max(cfg.batch), biggest, "--batch"))
    return [n for n in notes if n]


def _rows(
    openings: list[Cell | BenchRow],
    scores: list[Score | None],
    timed: list[dict[int, Timed]],
    batches: list[int],
) -> list[BenchRow]:
    """All rows in opening order: a skipped opening is its row, a cell one row per batch size."""
    measured = iter(zip(scores, timed, strict=True))  # cells are the openings that opened, in order
    rows: list[BenchRow] = []
    for o in openings:
        rows += cell_rows(o, batches, *next(measured)) if isinstance(o, Cell) else [o]
    return rows


# resolve_inputs is re-exported: callers that list a folder's variants import it from here.
__all__ = ["bench", "resolve_inputs"]
