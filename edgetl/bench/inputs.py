"""What the bench measures and on which images: models given on the command line -> variants.

    inputs = resolve(BenchConfig(models=["runs/ants", "extra.onnx"]))
    inputs.onnx, inputs.run_dir, inputs.torch     # ONNX variants, first run dir, eager checkpoint
    ev = bench_eval_set(cfg, inputs.run_dir, labels, reporter)   # --data, else the run's val split

A run directory stands for all of its export/*.onnx (and, with --torch auto, its best checkpoint);
the run's own training data (config.yaml, read by `edgetl.runfolder`) gives its val split.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from edgetl import runfolder
from edgetl.bench.config import BenchConfig
from edgetl.bench.data import EvalSet, eval_set
from edgetl.errors import DataError, EdgetlError
from edgetl.progress import Reporter


@dataclass
class Variant:
    """One model the bench times on every provider; `kind` names its backend in `BACKENDS`."""

    name: str  # the row's variant: file stem (qualified when two folders share it) or "pytorch-eager"
    kind: str
    path: Path  # what was given: an .onnx file, a checkpoint or a run directory
    run_dir: Path | None = None
    weights: Path | None = None  # the file whose size is reported (default: path)
    title: str = ""  # how progress lines name it (default: name)


@dataclass
class Inputs:
    onnx: list[Variant]
    run_dir: Path | None  # the first run directory given (its config, checkpoint and bench/ folder)
    torch: Path | None  # checkpoint or run dir of the PyTorch eager baseline, None: no eager rows


def resolve(cfg: BenchConfig) -> Inputs:
    variants, run_dir = resolve_inputs(cfg)
    return Inputs(variants, run_dir, resolve_torch(cfg, run_dir))


def _onnx_files(p: Path) -> tuple[list[Path], Path | None]:
    """The .onnx files a folder stands for, and the run dir that owns them (None: a plain folder)."""
    owner = p if (p / runfolder.EXPORT).is_dir() else None
    files = sorted((runfolder.RunFolder(owner).export_dir if owner else p).glob("*.onnx"))
    if not files:
        raise EdgetlError(f"{p}: no export/*.onnx in this folder; run `edgetl export {p}` first")
    return files, owner


def resolve_inputs(cfg: BenchConfig) -> tuple[list[Variant], Path | None]:
    """Expand run dirs into their exports; -> (ONNX variants, first run dir)."""
    variants: list[Variant] = []
    run_dir: Path | None = None
    seen: set[Path] = set()
    for m in cfg.models:
        p = Path(os.path.expanduser(m))
        if p.is_dir():
            files, owner = _onnx_files(p)
            run_dir = run_dir or owner
        elif p.is_file():
            files, owner = [p], None
        else:
            raise EdgetlError(f"{m}: no such .onnx file or run directory")
        for f in files:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                variants.append(Variant(name=f.stem, kind="onnx", path=f, run_dir=owner))
    return _unique_names(variants), run_dir


def _unique_names(variants: list[Variant]) -> list[Variant]:
    """Same stem from two folders: qualify with the run (or folder) name; still equal: number them."""
    names = [v.name for v in variants]
    out = []
    for v in variants:
        if names.count(v.name) > 1:
            folder = v.path.parent.parent if v.path.parent.name == runfolder.EXPORT else v.path.parent
            v = dataclasses.replace(v, name=f"{folder.name}/{v.name}")
        out.append(v)
    counts: dict[str, int] = {}
    for i, v in enumerate(out):  # e.g. a/export/x.onnx and b/a/export/x.onnx
        n = counts[v.name] = counts.get(v.name, 0) + 1
        if n > 1:
            out[i] = dataclasses.replace(v, name=f"{v.name}#{n}")
    return out


def resolve_torch(cfg: BenchConfig, run_dir: Path | None) -> Path | None:
    if cfg.torch is None:
        return None
    if cfg.torch.strip().lower() == "auto":
        if run_dir is not None and runfolder.RunFolder(run_dir).best.is_file():
            return run_dir
        return None
    p = Path(os.path.expanduser(cfg.torch))
    if not p.exists():
        raise EdgetlError(f"--torch {cfg.torch}: no such checkpoint or run directory")
    return p


def out_dir(cfg: BenchConfig, run_dir: Path | None) -> Path:
    if cfg.out:
        return Path(cfg.out)
    return runfolder.RunFolder(run_dir).bench_dir if run_dir else Path("bench-results")


def _run_data_source(run_dir: Path) -> tuple[str, float | None, int] | None:
    """(data, val_split, seed) from RUN_DIR/config.yaml, or None when it does not say."""
    try:
        cfg = runfolder.read_train_config(run_dir)
    except runfolder.MissingRunFile:
        return None
    except runfolder.RunFileError as e:
        raise EdgetlError(f"{e}; pass --data VAL_DIR") from None
    if not cfg.data:
        return None
    return str(cfg.data), cfg.val_split, int(cfg.seed or 0)


def bench_eval_set(
    cfg: BenchConfig, run_dir: Path | None, labels: list[str], reporter: Reporter
) -> EvalSet | None:
    """--data, else the run's own val split (None: no eval images, accuracy not measured)."""
    if cfg.data:
        ev = eval_set(cfg.data, labels)
    elif run_dir is not None:
        src = _run_data_source(run_dir)
        if src is None:
            reporter.info(f"{run_dir}/config.yaml names no data; accuracy not measured (pass --data VAL_DIR)")
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
        ev = dataclasses.replace(ev, items=ev.items[: cfg.max_images], labels=ev.labels[: cfg.max_images])
    return ev


__all__ = ["Inputs", "Variant", "bench_eval_set", "out_dir", "resolve", "resolve_inputs", "resolve_torch"]
