"""Opening every variant on every provider as a `Cell`, and turning a measured cell into rows.

    openings = open_cells(inputs, cfg, reporter)   # in order: a Cell, or the skipped row it became
    rows = cell_rows(cell, cfg.batch, score, timed)

A cell is one (variant, provider) opened by its backend, with the batch sizes it can be timed
at and the memory it added (its load plus one call at its largest batch). Rows are made once,
at the end, from what was measured: nothing appends to a shared list on the way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetl._resources import check_threads
from edgetl.bench.backends import BACKENDS, Backend, Skipped
from edgetl.bench.config import BenchConfig
from edgetl.bench.env import process, rss_mb
from edgetl.bench.inputs import Inputs, Variant
from edgetl.bench.results import BenchRow
from edgetl.bench.rounds import Timed, failure
from edgetl.bench.scoring import Score
from edgetl.bench.timing import LatencyStats, round_spread
from edgetl.progress import Reporter
from edgetl.runtime.preprocess import Preprocess


@dataclass
class Cell:
    """One opened (variant, provider)."""

    variant: Variant
    provider: str
    backend: Backend
    batches: list[int]  # timed batch sizes
    size_mb: float | None
    # Read from the backend at open time: rows and notes are made after it is closed.
    timing: str
    providers_used: list[str]
    precision: str
    labels: tuple[str, ...]
    pre: Preprocess
    load_s: float
    skipped: dict[int, str] = field(default_factory=dict)  # batch -> status (a fixed-batch model)
    rss_mb: float | None = None  # resident memory this variant added
    failure: str | None = None  # its first call failed: every timed batch is a failed row
    threads: int | None = None  # intra-op threads it was opened with

    @property
    def kind(self) -> str:
        return self.backend.kind


def open_cells(inputs: Inputs, cfg: BenchConfig, reporter: Reporter) -> list[Cell | BenchRow]:
    """Every registered backend's variants on every provider it serves, in registry order."""
    proc = process()
    out: list[Cell | BenchRow] = []
    for t in cfg.threads:  # --threads 1,2,4: every cell once per thread count
        tcfg = dataclasses.replace(cfg, threads=[t])
        over = check_threads(t, "--threads") if cfg.swept() else None  # a sweep skips counts past the cores
        for name in BACKENDS:
            if name not in cfg.backends:
                continue
            backend = BACKENDS.get(name)
            for v in backend.variants(inputs):
                for prov in (p for p in cfg.providers if backend.serves(p)):
                    if over:
                        out.append(_skipped(backend, v, prov, t, f"skipped: {over}"))
                        continue
                    swept = f", {t} threads" if cfg.swept() else ""
                    reporter.info(f"loading {v.title or v.name} on {prov}{swept}")
                    out.append(open_cell(backend, v, prov, tcfg, proc))
    return out


def _skipped(backend: type[Backend], v: Variant, prov: str, threads: int, status: str) -> BenchRow:
    size = file_mb(v.weights or v.path)
    return BenchRow(variant=v.name, kind=backend.kind, precision="", provider=prov, batch=None, threads=threads,
                    status=status, file=str(v.path), size_mb=size)  # fmt: skip


def open_cell(backend: type[Backend], v: Variant, prov: str, cfg: BenchConfig, proc: Any) -> Cell | BenchRow:
    """`v` opened on `prov` and probed once, or the skipped row it became."""
    size = file_mb(v.weights or v.path)
    base = dict(variant=v.name, kind=backend.kind, provider=prov, file=str(v.path), size_mb=size, batch=None)
    base["threads"] = cfg.thread_count
    rss0 = rss_mb(proc)
    try:
        be = backend.open(v, prov, cfg)
    except Skipped as s:
        return BenchRow(**base, precision=s.precision, status=s.status, providers_used=s.providers_used)
    foreign = foreign_pair(be.precision, be.target, prov) if cfg.native_only else None
    if foreign:
        be.close()
        status = f"skipped: {foreign}"
        return BenchRow(**base, precision=be.precision, status=status, providers_used=list(be.providers_used))
    fixed = be.fixed_batch()
    cell = Cell(
        variant=v,
        provider=prov,
        backend=be,
        size_mb=size,
        batches=[b for b in cfg.batch if not fixed or fixed == b],
        timing=be.timing,
        providers_used=list(be.providers_used),
        precision=be.precision,
        labels=tuple(be.labels),
        pre=be.preprocess,
        load_s=be.load_s,
        threads=cfg.thread_count,
    )
    for b in cfg.batch:
        if b not in cell.batches:
            cell.skipped[b] = (
                f"skipped: the model has a fixed batch size of {fixed} (export with a dynamic batch axis)"
            )
    _probe(cell, proc, rss0)
    return cell


def foreign_pair(precision: str, target: str, provider: str) -> str | None:
    """Why an export made for `target` is the wrong thing to time on `provider` (None: time it).

    FP32 graphs run anywhere. INT8 and FP16 exports are made for their target's providers: an
    INT8 QDQ file for a CPU target on CUDA falls back to CPU kernels (onnxruntime's CUDA provider
    has none for QLinearConv/ConvInteger), and an FP16 file on the CPU provider is cast back to FP32.
    """
    from edgetl.errors import UnknownNameError
    from edgetl.export.targets import TARGETS
    from edgetl.runtime.providers import PROVIDERS

    if precision == "fp32" or not target:
        return None
    try:
        made_for = TARGETS.get(target).providers[0]  # the rest of a target's chain is only a fallback
    except UnknownNameError:
        return None
    if PROVIDERS.get(provider).primary == made_for:
        return None
    return (
        f"{precision} export for --target {target} ({made_for.removesuffix('ExecutionProvider')}), "
        f"not meant for {provider} (--native-only)"
    )


def _probe(c: Cell, proc: Any, rss0: float) -> None:
    """Resident memory the variant added: its load plus one call at its largest batch (zeros)."""
    if not c.batches:
        return
    b = max(c.batches)
    _, h, w = c.pre.input_size
    nhwc = c.pre.layout == "nhwc-uint8"
    zeros = np.zeros((b, h, w, 3) if nhwc else (b, 3, h, w), dtype=np.uint8 if nhwc else np.float32)
    try:
        c.backend.run(c.backend.feeds([zeros])[0])
    except Exception as e:  # recorded on the rows; the cell is neither scored nor timed
        c.failure = failure(e)
        return
    c.rss_mb = round(max(0.0, rss_mb(proc) - rss0), 1)


def file_mb(path: Path) -> float | None:
    try:
        size = path.stat().st_size
        size += sum(f.stat().st_size for f in path.parent.glob(path.name + ".data"))  # external weights
        return round(size / 2**20, 3)
    except OSError:
        return None


def cell_rows(c: Cell, batches: list[int], score: Score | None, timed: dict[int, Timed]) -> list[BenchRow]:
    """One row per requested batch size, from what was measured for this cell."""
    rows = []
    for b in batches:
        row = BenchRow(
            variant=c.variant.name,
            kind=c.kind,
            precision=c.precision,
            provider=c.provider,
            batch=b,
            threads=c.threads,
            file=str(c.variant.path),
            size_mb=c.size_mb,
            providers_used=list(c.providers_used),
            load_s=round(c.load_s, 4),
            timing=c.timing,
        )
        if b in c.skipped or c.failure:
            row.status = c.skipped.get(b) or c.failure or ""
        else:
            _measured(row, c.rss_mb, score, timed.get(b))
        rows.append(row)
    return rows


def _measured(row: BenchRow, rss: float | None, score: Score | None, t: Timed | None) -> None:
    row.rss_mb = rss
    if score is not None:
        row.accuracy, row.agreement, row.n_eval = score.accuracy, score.agreement, score.n_eval
    if t is None:
        return
    row.round_p50_ms = list(t.round_p50_ms)
    if t.failure:
        row.status = t.failure
    elif t.samples:
        st = LatencyStats.from_samples(t.samples)
        row.runs = st.runs
        row.min_ms, row.p50_ms, row.p90_ms, row.p99_ms = st.min_ms, st.p50_ms, st.p90_ms, st.p99_ms
        row.mean_ms, row.std_ms = st.mean_ms, st.std_ms
        row.images_per_s = (row.batch or 0) * 1e3 / st.mean_ms if st.mean_ms > 0 else None
        row.spread = round_spread(row.round_p50_ms)


__all__ = ["Cell", "cell_rows", "file_mb", "foreign_pair", "open_cell", "open_cells"]
