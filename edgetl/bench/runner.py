"""`bench(cfg)`: latency, throughput, memory and accuracy of every variant on every provider.

    report = bench(BenchConfig(models=["runs/ants"], providers=["cpu"], batch=[1, 8], threads=2))

Steps: open every ONNX variant on every provider (a provider that falls back is a skipped row),
plus the PyTorch eager baseline; score each on the eval images (top-1, agreement with FP32);
then time every (variant, provider, batch) cell in `repeat` rounds, cells interleaved and
rotated each round so machine noise hits all of them alike. Timed calls cycle through a pool
of different, really preprocessed batches. Results are written by `edgetl.bench.report`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.bench.backends import OrtBackend
from edgetl.bench.config import BenchConfig
from edgetl.bench.data import EvalSet, eval_set
from edgetl.bench.env import environment
from edgetl.bench.results import TORCH_VARIANT, BenchReport, BenchRow
from edgetl.bench.timing import LatencyStats, ratio_range, round_spread, separable, time_runs
from edgetl.errors import DataError, EdgetlError
from edgetl.runtime import BadImageError, Classifier, Preprocess, load_rgb, to_image

EVAL_CHUNK = 32
SYNTHETIC_SIZES = [
    (640, 480),
    (500, 375),
    (375, 500),
    (800, 600),
    (333, 250),
    (1024, 768),
    (480, 640),
    (300, 300),
]
POOL_BYTES = 256 * 2**20  # cap on the preprocessed input pool per cell
Log = Callable[[str], None]


@dataclass
class _Variant:
    name: str
    kind: str  # onnx | torch
    path: Path
    run_dir: Path | None = None
    precision: str = "fp32"
    labels: tuple[str, ...] = ()
    model: str = ""


@dataclass
class _Cell:
    """One opened (variant, provider): its backend, rows by batch, and its predictions."""

    variant: _Variant
    provider: str
    backend: Any
    pre: Preprocess
    rows: dict[int, BenchRow] = field(default_factory=dict)
    top1: np.ndarray | None = None
    samples: dict[int, list[float]] = field(default_factory=dict)
    rss0: float = 0.0  # process RSS (MB) before this variant was loaded


# -------------------------------------------------------------------------------------- inputs


def resolve_inputs(cfg: BenchConfig) -> tuple[list[_Variant], Path | None]:
    """Expand run dirs into their exports; -> (ONNX variants, first run dir)."""
    variants: list[_Variant] = []
    run_dir: Path | None = None
    seen: set[Path] = set()
    for m in cfg.models:
        p = Path(os.path.expanduser(m))
        if p.is_dir():
            files = (
                sorted((p / "export").glob("*.onnx")) if (p / "export").is_dir() else sorted(p.glob("*.onnx"))
            )
            if not files:
                raise EdgetlError(f"{p}: no export/*.onnx in this folder; run `edgetl export {p}` first")
            if (p / "export").is_dir():
                run_dir = run_dir or p
            owner = p if (p / "export").is_dir() else None
        elif p.is_file():
            files, owner = [p], None
        else:
            raise EdgetlError(f"{m}: no such .onnx file or run directory")
        for f in files:
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            variants.append(_Variant(name=f.stem, kind="onnx", path=f, run_dir=owner))
    names = [v.name for v in variants]
    for v in variants:  # same stem from two folders: qualify with the run (or folder) name
        if names.count(v.name) > 1:
            folder = v.path.parent.parent if v.path.parent.name == "export" else v.path.parent
            v.name = f"{folder.name}/{v.name}"
    seen_names: dict[str, int] = {}
    for v in variants:  # still equal (e.g. a/export/x.onnx and b/a/export/x.onnx): number them
        n = seen_names[v.name] = seen_names.get(v.name, 0) + 1
        if n > 1:
            v.name = f"{v.name}#{n}"
    return variants, run_dir


def resolve_torch(cfg: BenchConfig, run_dir: Path | None) -> Path | None:
    if cfg.torch is None:
        return None
    if cfg.torch.strip().lower() == "auto":
        if run_dir is not None and (run_dir / "checkpoints" / "best.safetensors").is_file():
            return run_dir
        return None
    p = Path(os.path.expanduser(cfg.torch))
    if not p.exists():
        raise EdgetlError(f"--torch {cfg.torch}: no such checkpoint or run directory")
    return p


def _run_data_source(run_dir: Path) -> tuple[str, float | None, int] | None:
    """(data, val_split, seed) from RUN_DIR/config.yaml, or None when it does not say."""
    import yaml

    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        return None
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise EdgetlError(f"{cfg_path}: unreadable ({e}); pass --data VAL_DIR") from None
    data = cfg.get("data")
    if not data:
        return None
    return str(data), cfg.get("val_split"), int(cfg.get("seed") or 0)


# ----------------------------------------------------------------------------------- main


def bench(cfg: BenchConfig, log: Log | None = None) -> BenchReport:
    """Measure every variant x provider x batch; write JSON/CSV/Markdown/plots; return the report."""
    from edgetl.bench.report import write_report

    log = log or (lambda msg: None)
    t_start = time.perf_counter()
    load_start = _load_average()
    variants, run_dir = resolve_inputs(cfg)
    torch_ckpt = resolve_torch(cfg, run_dir)
    out_dir = Path(cfg.out) if cfg.out else (run_dir / "bench" if run_dir else Path("bench-results"))

    rows, cells = _open_all(variants, torch_ckpt, cfg, log)
    onnx_labels = [c.variant.labels for c in cells if c.variant.kind == "onnx"]
    labels = list(onnx_labels[0] if onnx_labels else cells[0].variant.labels if cells else ())
    ev = _eval_set(cfg, run_dir, labels, log) if labels else None
    crops, pool_crops, pre_cost = _prepare_images(ev, {_geometry(c.pre) for c in cells}, cfg, log)
    warnings_ = _score(cells, ev, crops, labels, log) if ev is not None else []
    _time_rounds(cells, pool_crops, cfg, log)

    _fill_speedups(rows)
    comparisons, more_warnings = _compare(rows)
    warnings_ += more_warnings
    env = {**environment(), "threads": cfg.threads, "load_average_start": load_start}
    busy = _busy_warning(load_start, env.get("load_average"), env["cpu"].get("usable_cores"))
    warnings_ += [busy] if busy else []
    if ev is not None and ev.skipped:
        first = ev.skipped[0]
        warnings_.append(
            f"{len(ev.skipped)} eval image(s) unreadable and left out, e.g. {first[0]} ({first[1]})"
        )
    data = None
    if ev is not None:
        skipped = [{"path": p, "reason": r} for p, r in ev.skipped]
        data = {"source": ev.source, "images": len(ev), "skipped": skipped}
    report = BenchReport(
        rows=_order_rows(rows, cfg),
        env=env,
        config=asdict(cfg),
        data=data,
        preprocess=pre_cost,
        comparisons=comparisons,
        warnings=warnings_,
        notes=_notes(cells, cfg, ev),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - t_start, 2),
        peak_rss_mb=_peak_rss_mb(),
    )
    write_report(report, out_dir, plots=cfg.plots)
    return report


def _open_all(
    variants: list[_Variant], torch_ckpt: Path | None, cfg: BenchConfig, log: Log
) -> tuple[list[BenchRow], list[_Cell]]:
    """Open every variant on every provider (+ the eager baseline); skipped ones only leave a row."""
    rows: list[BenchRow] = []
    cells: list[_Cell] = []
    proc = _process()
    for v in variants:
        for prov in cfg.providers:
            log(f"loading {v.name} on {prov}")
            cells.append(_open_onnx(v, prov, cfg, rows, proc))
    if torch_ckpt is not None:
        tv = _Variant(name=TORCH_VARIANT, kind="torch", path=torch_ckpt, precision="fp32")
        for prov in cfg.providers:
            cells.append(_open_torch(tv, prov, cfg, rows, proc, log))
    return rows, [c for c in cells if c is not None]


def _score(
    cells: list[_Cell], ev: EvalSet, crops: dict[Preprocess, list[np.ndarray]], labels: list[str], log: Log
) -> list[str]:
    """Top-1 of every opened cell on the eval images, then accuracy and agreement; -> warnings."""
    warns = []
    for c in cells:
        if not c.rows:
            continue
        if list(c.variant.labels) != labels:
            warns.append(f"{c.variant.name}: labels differ from the other variants; accuracy not computed")
            continue
        log(f"scoring {c.variant.name} on {c.provider} ({len(ev)} images)")
        c.top1 = _predict_all(c, crops[_geometry(c.pre)])
    _fill_accuracy(cells, ev)
    return warns


def _time_rounds(
    cells: list[_Cell], pool_crops: dict[Preprocess, list[np.ndarray]], cfg: BenchConfig, log: Log
) -> None:
    """`cfg.repeat` rounds over all cells, interleaved and rotated by one cell per round."""
    runs_r, budget_r, min_r = cfg.per_round()
    feeds: dict[tuple[int, int], list[Any]] = {}
    for ci, c in enumerate(cells):
        for b in c.rows:
            feeds[(ci, b)] = c.backend.feeds(_pool_batches(pool_crops[_geometry(c.pre)], c.pre, b))
    order = [(ci, b) for ci, c in enumerate(cells) for b in c.rows]
    for r in range(cfg.repeat):
        log(f"timing round {r + 1}/{cfg.repeat} ({len(order)} cells)")
        shift = r % len(order) if order else 0
        for ci, b in order[shift:] + order[:shift]:
            c, row = cells[ci], cells[ci].rows[b]
            if not row.ok:
                continue
            try:
                s = time_runs(
                    c.backend.run,
                    feeds[(ci, b)],
                    cfg.warmup_calls(r),
                    runs_r,
                    budget_r,
                    start=r,
                    min_runs=min_r,
                    warmup_s=cfg.warmup_seconds(r),
                )
            except Exception as e:  # a provider/kernel failure mid-run: keep the other results
                row.status = _failure(e)
                continue
            c.samples.setdefault(b, []).extend(s)
            row.round_p50_ms.append(float(np.median(s)))
            time.sleep(0.05)  # let the previous backend's spinning threads go idle
    feeds.clear()
    for c in cells:
        for b, row in c.rows.items():
            if row.ok and c.samples.get(b):
                _fill_stats(row, c.samples[b])
        c.backend.close()


def _failure(e: Exception) -> str:
    text = str(e).splitlines()[0][:200] if str(e) else ""
    return f"failed: {type(e).__name__}: {text}"


# ------------------------------------------------------------------------------- opening


def _process() -> Any:
    import psutil

    return psutil.Process()


def _rss_mb(proc: Any) -> float:
    return proc.memory_info().rss / 2**20


def _peak_rss_mb() -> float | None:
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    except (ImportError, OSError):  # pragma: no cover - not on Windows
        return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not on Windows
        return None


def _busy_warning(start: list[float] | None, end: list[float] | None, cores: int | None) -> str | None:
    """Say so when other processes competed for the CPU: absolute latencies then include contention."""
    if not cores:
        return None
    worst = max([x[0] for x in (start, end) if x] or [0.0])
    if worst <= 1.5 * cores:
        return None
    return (
        f"the machine was busy (1-min load average up to {worst:.1f} on {cores} usable cores): latencies include "
        "contention from other processes; ratios between interleaved rows hold up better than absolute numbers"
    )


def _open_onnx(v: _Variant, prov: str, cfg: BenchConfig, rows: list[BenchRow], proc: Any) -> _Cell | None:
    size_mb = _file_mb(v.path)
    base = dict(variant=v.name, kind="onnx", provider=prov, file=str(v.path), size_mb=size_mb)
    rss0 = _rss_mb(proc)
    clf = Classifier.load(v.path, providers=prov, threads=cfg.threads, warn=False)
    md = clf.metadata
    v.precision, v.labels, v.model = md.precision, tuple(md.labels), md.model
    base["precision"] = md.precision
    if clf.fallback:
        rows.append(
            BenchRow(**base, batch=None, status=f"skipped: {clf.fallback}", providers_used=clf.providers)
        )
        return None
    foreign = foreign_pair(md.precision, md.target, prov) if cfg.native_only else None
    if foreign:
        rows.append(BenchRow(**base, batch=None, status=f"skipped: {foreign}", providers_used=clf.providers))
        return None
    be = OrtBackend(clf, host_copies=cfg.cuda_host_copies)
    return _new_cell(v, prov, be, clf.preprocess, base, cfg, clf.load_seconds, rows, rss0, proc)


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


def _open_torch(
    v: _Variant, prov: str, cfg: BenchConfig, rows: list[BenchRow], proc: Any, log: Log
) -> _Cell | None:
    from edgetl.bench.torch_baseline import TorchBackend

    if prov == "tensorrt":
        return None  # no eager equivalent; TensorRT rows compare with the CUDA eager row
    device = "cpu" if prov == "cpu" else "cuda"
    base = dict(variant=v.name, kind="torch", precision="fp32", provider=prov, file=str(v.path))
    log(f"loading PyTorch eager baseline from {v.path} on {device}")
    rss0 = _rss_mb(proc)
    try:
        be = TorchBackend.load(v.path, device=device, threads=cfg.threads, host_copies=cfg.cuda_host_copies)
    except EdgetlError as e:
        if device == "cuda":
            rows.append(BenchRow(**base, batch=None, status=f"skipped: {e}"))
            return None
        raise
    v.labels = tuple(be.labels)
    ckpt = Path(v.path)
    ckpt_file = ckpt / "checkpoints" / "best.safetensors" if ckpt.is_dir() else ckpt
    base["size_mb"] = _file_mb(ckpt_file)
    return _new_cell(v, prov, be, be.preprocess, base, cfg, be.load_s, rows, rss0, proc)


def _new_cell(
    v: _Variant,
    prov: str,
    be: Any,
    pre: Preprocess,
    base: dict,
    cfg: BenchConfig,
    load_s: float,
    rows: list[BenchRow],
    rss0: float,
    proc: Any,
) -> _Cell:
    """An opened backend as a cell with one row per batch size and its memory measured."""
    cell = _Cell(variant=v, provider=prov, backend=be, pre=pre, rss0=rss0)
    cell.rows = _batch_rows(base, be, cfg, load_s, rows)
    _measure_rss(cell, proc)
    return cell


def _batch_rows(
    base: dict, be: Any, cfg: BenchConfig, load_s: float, rows: list[BenchRow]
) -> dict[int, BenchRow]:
    out: dict[int, BenchRow] = {}
    fixed = be.fixed_batch()
    for b in cfg.batch:
        row = BenchRow(
            **base, batch=b, providers_used=list(be.providers_used), load_s=round(load_s, 4), timing=be.timing
        )
        rows.append(row)
        if fixed and fixed != b:
            row.status = (
                f"skipped: the model has a fixed batch size of {fixed} (export with a dynamic batch axis)"
            )
            continue
        out[b] = row
    return out


def _file_mb(path: Path) -> float | None:
    try:
        size = path.stat().st_size
        size += sum(f.stat().st_size for f in path.parent.glob(path.name + ".data"))  # external weights
        return round(size / 2**20, 3)
    except OSError:
        return None


# ---------------------------------------------------------------------------------- images


def _geometry(pre: Preprocess) -> Preprocess:
    """Key for the cropped uint8 images a preprocessing makes (the layout is applied per variant)."""
    return Preprocess(pre.input_size, pre.mean, pre.std, pre.interpolation, pre.crop_pct, pre.crop_mode)


def _eval_set(cfg: BenchConfig, run_dir: Path | None, labels: list[str], log: Log) -> EvalSet | None:
    if cfg.data:
        ev = eval_set(cfg.data, labels)
    elif run_dir is not None:
        src = _run_data_source(run_dir)
        if src is None:
            log(f"{run_dir}/config.yaml names no data; accuracy not measured (pass --data VAL_DIR)")
            return None
        data, val_split, seed = src
        try:
            ev = eval_set(data, labels, val_split=val_split, seed=seed)
        except DataError as e:
            raise EdgetlError(
                f"the run's own data ({data}) is not usable for accuracy: {e}; pass --data VAL_DIR"
            ) from None
    else:
        return None
    if cfg.max_images and len(ev) > cfg.max_images:
        ev.items, ev.labels = ev.items[: cfg.max_images], ev.labels[: cfg.max_images]
    return ev


def _prepare_images(
    ev: EvalSet | None, specs: set[Preprocess], cfg: BenchConfig, log: Log
) -> tuple[dict[Preprocess, list[np.ndarray]], dict[Preprocess, list[np.ndarray]], dict[str, Any]]:
    """Decode each eval image once, crop it for every distinct preprocessing; time decode and preprocess."""
    crops: dict[Preprocess, list[np.ndarray]] = {s: [] for s in specs}
    decode_ms: list[float] = []
    pre_ms: list[float] = []
    if ev is not None:
        log(f"decoding and preprocessing {len(ev)} eval images")
        keep_items, keep_labels, skipped = [], [], list(ev.skipped)
        for item, y in zip(ev.items, ev.labels, strict=True):
            t0 = time.perf_counter()
            try:
                img = load_rgb(item) if isinstance(item, (str, os.PathLike)) else to_image(item)
            except BadImageError as e:
                skipped.append((str(item), str(e)))
                continue
            t1 = time.perf_counter()
            for i, s in enumerate(specs):
                ta = time.perf_counter()
                hwc = s.resize_crop(img)
                crops[s].append(hwc)
                if i == 0:
                    s.normalize(hwc)
                    pre_ms.append((time.perf_counter() - ta) * 1e3)
            decode_ms.append((t1 - t0) * 1e3)
            keep_items.append(item)
            keep_labels.append(int(y))
        ev.items, ev.labels, ev.skipped = keep_items, np.asarray(keep_labels, dtype=np.int64), skipped
        if not ev.items:
            raise DataError(f"{ev.source}: none of the eval images could be read")
        pool = {s: c[: cfg.pool] for s, c in crops.items()}
        source = "eval images"
    else:
        rng = np.random.default_rng(0)
        pool = {s: [] for s in specs}
        for i in range(cfg.pool):
            w, h = SYNTHETIC_SIZES[i % len(SYNTHETIC_SIZES)]
            from PIL import Image

            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            for j, s in enumerate(specs):
                ta = time.perf_counter()
                hwc = s.resize_crop(img)
                pool[s].append(hwc)
                if j == 0:
                    s.normalize(hwc)
                    pre_ms.append((time.perf_counter() - ta) * 1e3)
        source = "synthetic random images (no eval data)"
    cost = {
        "pool_source": source,
        "pool_images": min(cfg.pool, len(next(iter(pool.values()), []))),
        "decode_ms_per_image": round(float(np.median(decode_ms)), 3) if decode_ms else None,
        "preprocess_ms_per_image": round(float(np.median(pre_ms)), 3) if pre_ms else None,
        "preprocess": next(iter(specs)).describe() if specs else None,
        "note": "resize + crop + normalise with edgetl.runtime (Pillow + numpy), median per image; not in the latencies",
    }
    return crops, pool, cost


def _pool_batches(pool: list[np.ndarray], pre: Preprocess, batch: int) -> list[np.ndarray]:
    """Different batches from the image pool (cycled), normalised for this variant."""
    n = len(pool)
    one = pre.normalize(pool[0]) if pre.layout != "nhwc-uint8" else pool[0]
    per_batch = one.nbytes * batch
    count = max(1, min(max(4, -(-n // batch)), POOL_BYTES // max(per_batch, 1)))
    out = []
    for k in range(count):
        idx = [(k * batch + j) % n for j in range(batch)]
        out.append(_model_batch(pre, [pool[i] for i in idx]))
    return out


def _model_batch(pre: Preprocess, crops: list[np.ndarray]) -> np.ndarray:
    if pre.layout == "nhwc-uint8":
        return np.stack(crops)
    return np.stack([pre.normalize(c) for c in crops])


def _predict_all(c: _Cell, crops: list[np.ndarray]) -> np.ndarray:
    chunk = c.backend.fixed_batch() or EVAL_CHUNK
    preds = [c.backend.top1(_model_batch(c.pre, crops[s : s + chunk])) for s in range(0, len(crops), chunk)]
    return np.concatenate(preds)


def _fill_accuracy(cells: list[_Cell], ev: EvalSet) -> None:
    refs = {}  # provider -> FP32 ONNX predictions (first FP32 variant)
    for c in cells:
        if c.variant.kind == "onnx" and c.variant.precision == "fp32" and c.top1 is not None:
            refs.setdefault(c.provider, c.top1)
    any_ref = next(iter(refs.values()), None)
    for c in cells:
        if c.top1 is None:
            continue
        acc = float(np.mean(c.top1 == ev.labels))
        ref = refs.get(c.provider, any_ref)
        agree = float(np.mean(c.top1 == ref)) if ref is not None else None
        for row in c.rows.values():
            row.accuracy, row.agreement, row.n_eval = (
                round(acc, 6),
                None if agree is None else round(agree, 6),
                len(ev),
            )


def _measure_rss(c: _Cell, proc: Any) -> None:
    """Resident memory the variant added: its load plus one call at its largest batch (zeros)."""
    if not c.rows:
        return
    b = max(c.rows)
    _, h, w = c.pre.input_size
    shape = (b, h, w, 3) if c.pre.layout == "nhwc-uint8" else (b, 3, h, w)
    zeros = np.zeros(shape, dtype=np.uint8 if c.pre.layout == "nhwc-uint8" else np.float32)
    try:
        c.backend.run(c.backend.feeds([zeros])[0])
    except Exception as e:  # recorded on the rows; timing skips failed rows
        for row in c.rows.values():
            row.status = _failure(e)
        c.rows = {}
        return
    mb = round(max(0.0, _rss_mb(proc) - c.rss0), 1)
    for row in c.rows.values():
        row.rss_mb = mb


# --------------------------------------------------------------------------------- results


def _fill_stats(row: BenchRow, samples: list[float]) -> None:
    st = LatencyStats.from_samples(samples)
    row.runs = st.runs
    row.min_ms, row.p50_ms, row.p90_ms, row.p99_ms = st.min_ms, st.p50_ms, st.p90_ms, st.p99_ms
    row.mean_ms, row.std_ms = st.mean_ms, st.std_ms
    row.images_per_s = row.batch * 1e3 / st.mean_ms if st.mean_ms > 0 else None
    row.spread = round_spread(row.round_p50_ms)


def _device(provider: str) -> str:
    return "cpu" if provider == "cpu" else "cuda"


def _fill_speedups(rows: list[BenchRow]) -> None:
    torch_rows = {(_device(r.provider), r.batch): r for r in rows if r.kind == "torch" and r.ok and r.p50_ms}
    for r in rows:
        t = torch_rows.get((_device(r.provider), r.batch))
        if r.ok and r.p50_ms and t is not None:
            r.speedup_vs_torch = t.p50_ms / r.p50_ms


def _fp32_reference(rows: list[BenchRow], provider: str, batch: int | None) -> BenchRow | None:
    return next(
        (
            r
            for r in rows
            if r.kind == "onnx"
            and r.precision == "fp32"
            and r.provider == provider
            and r.batch == batch
            and r.ok
            and r.p50_ms
        ),
        None,
    )


def compare(a: BenchRow, b: BenchRow) -> dict[str, Any]:
    """Which of two timed rows is faster, by how much, and whether the rounds can tell them apart."""
    fast, slow = (a, b) if a.p50_ms <= b.p50_ms else (b, a)
    lo, hi = (
        ratio_range(slow.round_p50_ms, fast.round_p50_ms)
        if fast.round_p50_ms and slow.round_p50_ms
        else (None, None)
    )
    sep = separable(fast.round_p50_ms, slow.round_p50_ms)
    verdict = (
        f"{fast.variant} is {slow.p50_ms / fast.p50_ms:.2f}x faster than {slow.variant}"
        if sep
        else f"{fast.variant} vs {slow.variant}: not separable within noise (per-round p50 ranges overlap)"
    )
    return {
        "provider": a.provider,
        "batch": a.batch,
        "faster": fast.variant,
        "slower": slow.variant,
        "speedup": slow.p50_ms / fast.p50_ms,
        "speedup_range": [lo, hi],
        "separable": sep,
        "verdict": verdict,
    }


def _compare(rows: list[BenchRow]) -> tuple[list[dict[str, Any]], list[str]]:
    comps: list[dict[str, Any]] = []
    warns: list[str] = []
    keys = sorted({(r.provider, r.batch) for r in rows if r.ok and r.p50_ms}, key=lambda k: (k[0], k[1]))
    for prov, b in keys:
        timed = [r for r in rows if r.ok and r.p50_ms and r.provider == prov and r.batch == b]
        ref = _fp32_reference(rows, prov, b)
        done: set[frozenset[str]] = set()

        def add(x: BenchRow, y: BenchRow, done: set = done) -> dict[str, Any]:
            key = frozenset((x.variant, y.variant))
            c = compare(x, y)
            if key not in done:
                done.add(key)
                comps.append(c)
            return c

        if ref is not None:
            for r in timed:
                if r is ref:
                    continue
                c = add(r, ref)
                if r.is_int8 and r.kind == "onnx" and (c["faster"] != r.variant or not c["separable"]):
                    how = "not faster" if c["faster"] != r.variant else "not clearly faster"
                    warns.append(
                        f"INT8 {r.variant} is {how} than FP32 {ref.variant} on {prov} at batch {b} "
                        f"(p50 {r.p50_ms:.3f} vs {ref.p50_ms:.3f} ms"
                        f"{'' if c['separable'] else '; per-round p50 ranges overlap: not separable within noise'})"
                    )
        ranked = sorted(timed, key=lambda r: r.p50_ms)
        if len(ranked) >= 2:
            add(ranked[0], ranked[1])
    return comps, warns


def _order_rows(rows: list[BenchRow], cfg: BenchConfig) -> list[BenchRow]:
    prov_rank = {p: i for i, p in enumerate(cfg.providers)}
    return sorted(
        rows,
        key=lambda r: (
            prov_rank.get(r.provider, 99),
            -1 if r.batch is None else r.batch,
            0 if r.kind == "torch" else 1,
            r.variant,
        ),
    )


def _notes(cells: list[_Cell], cfg: BenchConfig, ev: EvalSet | None) -> list[str]:
    notes = sorted({f"{c.provider} {c.variant.kind}: {c.backend.timing}" for c in cells})
    runs, budget, min_runs = cfg.per_round()
    warm = f"{cfg.warmup} warm-up call(s) in round 1 and {cfg.warmup_calls(1)} in later rounds"
    if cfg.warmup_seconds(0):
        warm = f"warm-up of {cfg.warmup}+ calls and >= {cfg.warmup_seconds(0):g} s in round 1, {cfg.warmup_calls(1)}+ calls and >= {cfg.warmup_seconds(1):g} s in later rounds"
    per = " or ".join(
        ([f"{runs} timed call(s)"] if runs else [])
        + ([f"{budget:.2f} s (at least {min_runs} calls)"] if budget else [])
    )
    notes.append(
        f"{cfg.repeat} round(s), cells interleaved and rotated per round; per cell: {warm}, then per round {per}; "
        f"{cfg.threads} thread(s); spread = (max - min) / median of the per-round p50s"
    )
    notes.append("latency = milliseconds per batch; images/s = batch / mean latency")
    if any(c.provider == "cpu" and c.variant.precision == "fp16" for c in cells):
        notes.append(
            "fp16 on cpu: onnxruntime's CPU provider casts most FP16 ops back to FP32; FP16 is a GPU format"
        )
    if ev is None:
        notes.append(
            "no eval data: accuracy not measured; timing inputs are synthetic images preprocessed like real ones"
        )
    return notes


__all__ = ["bench", "compare", "foreign_pair", "resolve_inputs"]
