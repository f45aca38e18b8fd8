"""One candidate backbone measured: probe CV accuracy on the training split, val accuracy, and the
batch-1 latency of its exported FP32 and INT8 models on this machine.

    res = measure(Candidate("tf_efficientnet_lite0", "efficientnet_lite0", 224), splits, opts, out, rep)
    time_candidates([res, ...], opts)             # all candidates' files, side by side
    res.cv_acc, res.val_acc, res.fp32_ms, res.int8_ms

Features come from the feature cache (`edgetl.train.feature_cache`), the head from the solved probe
(`edgetl.train.probe_solver`, C by CV on the training features; val only scores it). The model with
that head is exported through `edgetl.export.export` (the same graphs, INT8 scheme and gates as
`edgetl export`). Once every candidate is exported, all files are timed side by side in interleaved
rounds with the bench stage's own pieces: its onnxruntime backend (`OrtBackend`), `time_runs` over
a pool of different inputs, and `LatencyStats`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.errors import EdgetlError
from edgetl.progress import Reporter


@dataclass(frozen=True)
class Candidate:
    model: str  # timm name
    weights: str  # weight source, as --pretrained takes it
    img_size: int

    @property
    def name(self) -> str:
        return f"{self.model}@{self.img_size}"


@dataclass
class Measured:
    name: str
    model: str
    weights: str
    img_size: int
    cv_acc: float | None
    val_acc: float
    C: float
    fp32_ms: float | None = None
    int8_ms: float | None = None
    int8_val_acc: float | None = (
        None  # the exported INT8 model's top-1 on val (no fallback search, not gated)
    )
    seconds: float = 0.0
    note: str = ""
    files: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MeasureOptions:
    data: str
    val_split: float | None = None
    seed: int = 0
    target: str = "cpu-x86"
    threads: int | None = None
    runs: int = 50  # timed batch-1 calls per file over all rounds (fewer when budget_s runs out)
    budget_s: float = 10.0  # seconds of timing per file over all rounds
    calib_images: int = 64
    cache_dir: str | None = None


def check_candidate(cand: Candidate) -> None:
    """The names in a candidate exist and fit, before any is measured (a typo in the last of nine
    candidates failed after the other eight were measured). Builds nothing."""
    from edgetl.models.factory import check_model_name
    from edgetl.models.weights import HUB_NAMES, NO_WEIGHTS, WEIGHT_SOURCES

    where = f"--candidates {cand.model}:{cand.weights}@{cand.img_size}"
    try:
        check_model_name(cand.model)
    except EdgetlError as e:
        raise EdgetlError(f"{where}: {e}") from None
    w = cand.weights
    if w.lower() in NO_WEIGHTS or w.lower() in HUB_NAMES or Path(w).exists():
        return
    try:
        src = WEIGHT_SOURCES.get(w)
    except EdgetlError as e:
        raise EdgetlError(f"{where}: {e}") from None
    if src.arch != cand.model:
        raise EdgetlError(
            f"{where}: {w} holds weights for {src.arch}, not {cand.model}; write {src.arch}:{w}@SIZE"
        )
    hint = src.missing()
    if hint is not None:
        raise EdgetlError(f"{where}: the {w} weights are not installed; {hint}")


def probe(cand: Candidate, splits: Any, opts: MeasureOptions, rep: Reporter) -> tuple[Any, Any, Any]:
    """(model with the solved head, its ModelInfo, the ProbeFit) for one candidate."""
    import torch

    from edgetl.models import create_classifier
    from edgetl.train.config import TrainConfig
    from edgetl.train.feature_cache import FeatureCache, get_features
    from edgetl.train.probe_solver import solve_probe
    from edgetl.train.probe_stage import linear_heads, load_solution

    torch.manual_seed(opts.seed)
    model, info = create_classifier(cand.model, len(splits.classes), cand.weights, img_size=cand.img_size)
    model.eval()
    cache = FeatureCache(opts.cache_dir or TrainConfig().feature_cache_dir())
    feats = get_features(
        model, splits, info.data_config, cache, torch.device("cpu"), rep, model_name=cand.model
    )
    heads = linear_heads(model)
    if heads is None:
        raise EdgetlError(
            f"select: {cand.name}: its head is not a linear layer; the solved probe cannot score it"
        )
    fit = solve_probe(feats.train_x.numpy(), feats.train_y.numpy(), len(splits.classes))
    load_solution(heads, fit.weight, fit.bias)
    logits = feats.val_x.double().numpy() @ fit.weight.T.astype(np.float64) + fit.bias
    return model, info, (fit, float((logits.argmax(1) == feats.val_y.numpy()).mean()))


ROUNDS = 5  # interleaved timing rounds over all candidates' files


def time_files(paths: list[str], opts: MeasureOptions, rounds: int = ROUNDS) -> list[float]:
    """p50 ms of batch-1 calls of each file on the CPU, timed as `edgetl bench` times its
    onnxruntime rows, in `rounds` interleaved rounds rotated by one file per round: timed one
    after another, a load that came and went between two candidates decided between them (the
    pick of the same selection flipped between two runs here); interleaved, it hits all alike."""
    from edgetl.bench.backends.ort import OrtBackend
    from edgetl.bench.timing import LatencyStats, settle, time_runs
    from edgetl.runtime.classifier import Classifier

    backends, feeds = [], []
    try:
        for path in paths:
            b = OrtBackend(Classifier.load(path, providers="cpu", threads=opts.threads, warn=False))
            backends.append(b)
            _, h, w = b.preprocess.input_size
            rng = np.random.default_rng(opts.seed)
            feeds.append(b.feeds([rng.standard_normal((1, 3, h, w), dtype=np.float32) for _ in range(8)]))
        samples: list[list[float]] = [[] for _ in paths]
        per_round = max(1, -(-opts.runs // rounds))
        for r in range(rounds):
            shift = r % len(paths) if paths else 0
            for i in [*range(shift, len(paths)), *range(shift)]:
                settle()
                samples[i] += time_runs(backends[i].run, feeds[i], warmup=10 if r == 0 else 2, runs=per_round,
                                        budget_s=opts.budget_s / rounds, min_runs=1)  # fmt: skip
    finally:
        for b in backends:
            b.close()
    return [LatencyStats.from_samples(s).p50_ms for s in samples]


def measure(cand: Candidate, splits: Any, opts: MeasureOptions, out: Path, rep: Reporter) -> Measured:
    """Probe and export (FP32 + the target's INT8) one candidate; files under out/<name>/. Not timed
    here: `time_candidates` times every candidate's files side by side once all are exported."""
    import time

    from edgetl.errors import ExportError
    from edgetl.export import ExportConfig, export
    from edgetl.models import CheckpointMeta, save_checkpoint

    start = time.perf_counter()
    model, info, (fit, val_acc) = probe(cand, splits, opts, rep)
    folder = out / cand.name.replace("/", "_")
    meta = CheckpointMeta(model=cand.model, labels=list(splits.classes), data_config=info.data_config,
                          weights=info.weights, run_id=f"select:{cand.name}")  # fmt: skip
    ckpt = save_checkpoint(folder / "model.safetensors", model, meta)
    # INT8 without the accuracy budget's node search (minutes per candidate on 2 cores): selection needs
    # its latency, and reports its accuracy as measured; the chosen model's real export gates it
    cfg = ExportConfig(source=str(ckpt), data=opts.data, val_split=opts.val_split, seed=opts.seed,
                       precisions=["fp32", "int8"], target=opts.target, calib_images=opts.calib_images,
                       max_acc_drop=None, max_fallback_nodes=0, out_dir=str(folder / "export"))  # fmt: skip
    note = ""
    try:
        report = export(cfg, reporter=Reporter(quiet=True))
    except ExportError as e:  # a variant missed its gate; the ones that passed are on disk, in its report
        from edgetl.runfolder import RunFileError, read_export_report

        note = f"export: {e}"
        try:
            report = read_export_report(folder)  # folder/export/export_report.json, as a run folder's
        except RunFileError:
            report = None
    variants = report.variants if report else []
    files = {v.precision: v.file for v in variants if v.file}
    int8_acc = next((v.val_accuracy for v in variants if v.precision == "int8" and v.file), None)
    return Measured(cand.name, cand.model, cand.weights, cand.img_size, fit.cv_acc, val_acc, fit.C,
                    None, None, int8_acc, time.perf_counter() - start, note, files)  # fmt: skip


def time_candidates(measured: list[Measured], opts: MeasureOptions) -> None:
    """Set fp32_ms / int8_ms of every candidate from one interleaved timing of all their files."""
    jobs = [(m, p, f) for m in measured for p, f in (m.files or {}).items() if p in ("fp32", "int8")]
    for (m, p, _), ms in zip(jobs, time_files([f for _, _, f in jobs], opts) if jobs else [], strict=True):
        setattr(m, f"{p}_ms", ms)


__all__ = [
    "Candidate",
    "MeasureOptions",
    "Measured",
    "check_candidate",
    "measure",
    "probe",
    "time_candidates",
    "time_files",
]
