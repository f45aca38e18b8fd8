"""Fine-tuning speed on a CPU: the kit's configuration before issue 15 vs its default now, side by side.

    python bench/train_speed.py                                  # breakdown + train, hymenoptera, 2 threads
    python bench/train_speed.py --parts breakdown --rounds 2     # the epoch breakdown only
    python bench/train_speed.py --parts run --run-data /tmp/photos1000   # `edgetl run --data DIR` wall time
    -> bench/results/train_speed-<stamp>.json, and the markdown tables for bench/README.md on stdout

Configurations (everything else is TrainConfig's defaults, Lite0 with the offline weights):
  before:  --amp none --no-channels-last --freeze-lr-scale 0 --no-decode-once
           (what the kit did on a CPU before: float32, NCHW, every layer trains, decode every epoch)
  default: the TrainConfig defaults (amp auto, channels-last, --freeze-lr-scale 0.05, --decode-once)

Parts:
  breakdown  one whole fine-tuning epoch (train + val) of each configuration through the kit's own
             `train_epoch`/`predict`, in rounds (before/default, then default/before, ...), with
             timers: decode, augment, other data (collate), forward, backward, optimizer step, val.
             Round 1 of `default` pays for decoding every image once; later rounds read kept images.
  train      the whole default recipe (lp-ft: probe epochs, then 4 fine-tuning epochs) for both
             configurations, as two processes that take turns epoch by epoch (a baton over their
             stdin/stdout), so a change of machine load hits both alike. Reports best val accuracy
             (correct images), epochs, fine-tuning images/s (train images / mean fine-tune epoch
             seconds, validation and checkpoints included) and time to 95% val (sum of epoch seconds).
  run        `edgetl run --data DIR` (train + export + bench) wall time, once per configuration.

The load average is recorded at start and end of each part: on a shared machine trust the
interleaved ratios, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(os.environ.get("EDGETL_DATA_DIR", "/work/shared/data")) / "hymenoptera"
MODEL, WEIGHTS = "tf_efficientnet_lite0", "efficientnet_lite0"
SMOKE: dict[str, Any] = json.loads(os.environ.get("EDGETL_TRAIN_SPEED_SMOKE", "{}"))  # tiny-model overrides
BEFORE = {"amp": "none", "channels_last": False, "freeze_lr_scale": 0.0, "decode_once": False}
CONFIGS: dict[str, dict[str, Any]] = {"before": BEFORE, "default": {}}
# compute only, one lever at a time (the `levers` part): a fixed batch through the kit's train_epoch
LEVERS: dict[str, dict[str, Any]] = {
    "fp32 (before)": BEFORE,
    "channels-last": {**BEFORE, "channels_last": True},
    "channels-last + freeze": {**BEFORE, "channels_last": True, "freeze_lr_scale": 0.05},
    "channels-last + freeze + bf16 (forced)": {
        **BEFORE,
        "channels_last": True,
        "freeze_lr_scale": 0.05,
        "amp": "bf16",
    },
}
BEFORE_FLAGS = ["--amp", "none", "--no-channels-last", "--freeze-lr-scale", "0", "--no-decode-once"]
TARGET = 0.95
PHASES = ("decode", "augment", "collate", "forward", "backward", "step", "val")


def _env(threads: int) -> dict[str, Any]:
    import timm
    import torch

    from edgetl.train.device import resolve_amp
    from edgetl.train.speed import BF16_FLAGS, cpu_flags

    flags = cpu_flags()
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2"))),
        "native_bf16": any(f in flags for f in BF16_FLAGS),
        "amp_auto_resolves_to": resolve_amp("auto", torch.device("cpu")),
        "usable_cores": len(os.sched_getaffinity(0)),
        "threads": threads,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cfg(data: Path, name: str, workdir: Path, **extra: Any) -> Any:
    from edgetl.train import TrainConfig

    opts = {"model": MODEL, "pretrained": WEIGHTS, **CONFIGS[name], **SMOKE, **extra}
    return TrainConfig(
        data=str(data), quiet=True, out=str(workdir / f"run-{name}"), cache_dir=str(workdir / f"cache-{name}"), **opts
    )  # fmt: skip


class _Limited:
    """A runner whose training epoch stops after `n` batches (None: the whole epoch)."""

    def __init__(self, runner: Any, n: int | None):
        self._runner, self._n = runner, n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    def num_batches(self) -> int:
        n = self._runner.num_batches()
        return min(n, self._n) if self._n else n

    def train_batches(self, generator: Any) -> Any:
        return islice(self._runner.train_batches(generator), self._n)


def _setup(
    data: Path, name: str, workdir: Path, splits: Any, opts: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Model, runner, optimizer and schedule of the fine-tuning stage, built as `run_stage` builds them."""
    import torch

    from edgetl.models import create_classifier
    from edgetl.train.loop import FitContext, build_optimizer, build_scheduler
    from edgetl.train.modes import finetune_stage
    from edgetl.train.progress import Reporter
    from edgetl.train.runners import FinetuneRunner, RunnerContext
    from edgetl.train.speed import PhaseTimes, prepare_model

    cfg = _cfg(data, name, workdir) if opts is None else _cfg(data, "before", workdir, **opts)
    cpu, rep = torch.device("cpu"), Reporter(quiet=True)
    torch.manual_seed(cfg.seed)
    regularisation = {"drop_rate": cfg.drop, "drop_path_rate": cfg.drop_path}
    model, info = create_classifier(
        cfg.model, len(splits.classes), cfg.pretrained, img_size=cfg.img_size, **regularisation
    )
    ctx = FitContext.for_run(cfg, model, cpu, rep, total_epochs=cfg.epochs)
    ctx.phases = PhaseTimes()
    rctx = RunnerContext(
        cfg=cfg, splits=splits, data_config=info.data_config, device=cpu, num_workers=0, reporter=rep
    )
    runner = FinetuneRunner(rctx)
    stage = finetune_stage(cfg)
    prepare_model(ctx)
    target = runner.prepare(model)
    optimizer = build_optimizer(ctx, target, stage)
    scheduler = build_scheduler(optimizer, stage, runner.num_batches())
    scheduler.step_update(0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "ctx": ctx,
        "runner": runner,
        "opt": optimizer,
        "sched": scheduler,
        "trainable": trainable,
        "updates": 0,
    }


def _epoch(s: dict[str, Any], batches: int | None, epoch: int) -> dict[str, float]:
    """One timed fine-tuning epoch (train + val) of a set-up configuration -> seconds per phase."""
    from edgetl.train.loop import epoch_seed, predict, seed_everything, train_epoch

    ctx, runner = s["ctx"], _Limited(s["runner"], batches)
    ctx.phases.reset()
    timing = [dict(ds.timing) for ds in (runner.train_ds, runner.val_ds)]
    gen = seed_everything(epoch_seed(ctx.seed, 1, epoch))
    start = time.perf_counter()
    _, s["updates"] = train_epoch(
        ctx, runner, s["opt"], s["sched"], None, None, gen, s["updates"], "epoch", ctx.model
    )
    trained = time.perf_counter()
    predict(ctx, ctx.model, runner)
    end = time.perf_counter()
    ph = dict(ctx.phases.seconds)
    td = {k: runner.train_ds.timing[k] - timing[0][k] for k in ("decode", "augment")}
    vd = (
        runner.val_ds.timing["decode"]
        - timing[1]["decode"]
        + runner.val_ds.timing["augment"]
        - timing[1]["augment"]
    )
    out = {
        "decode": td["decode"],
        "augment": td["augment"],
        "collate": max(0.0, ph.get("data", 0.0) - td["decode"] - td["augment"]),
        "forward": ph.get("forward", 0.0),
        "backward": ph.get("backward", 0.0),
        "step": ph.get("step", 0.0),
        "val": end - trained,
        "val_decode_and_transform": vd,
        "train_s": trained - start,
        "epoch_s": end - start,
        "images": ctx.phases.images,
    }
    out["train_images_per_s"] = out["images"] / out["train_s"]
    out["epoch_images_per_s"] = out["images"] / out["epoch_s"]
    return {k: round(v, 3) for k, v in out.items()}


def breakdown(data: Path, workdir: Path, rounds: int, batches: int | None) -> dict[str, Any]:
    from edgetl.data import load_splits

    splits = load_splits(str(data))
    setups = {name: _setup(data, name, workdir, splits) for name in CONFIGS}
    per_round: list[dict[str, Any]] = []
    for r in range(rounds):
        order = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
        for name in order:
            row = {"round": r + 1, "config": name, **_epoch(setups[name], batches, r)}
            print(json.dumps(row), flush=True)
            per_round.append(row)
    return {
        "rounds": per_round,
        "trainable_params": {n: s["trainable"] for n, s in setups.items()},
        "amp": {n: s["ctx"].amp for n, s in setups.items()},
        "n_train": len(splits.train),
        "n_val": len(splits.val),
        "batches_per_epoch": batches or "all",
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


class _Fixed(_Limited):
    """A runner whose training epoch is the same batch `n` times (compute only: no data loading)."""

    def __init__(self, runner: Any, batch: Any, n: int):
        super().__init__(runner, n)
        self._batch = batch

    def train_batches(self, generator: Any) -> Any:
        return [self._batch] * self._n


def levers(data: Path, workdir: Path, rounds: int, batch: int, steps: int) -> dict[str, Any]:
    """Compute-only images/s of one lever at a time on a fixed batch of real training images."""
    import torch

    from edgetl.data import load_splits
    from edgetl.train.loop import train_epoch

    splits = load_splits(str(data))
    setups = {
        name: _setup(data, name, workdir, splits, {**opts, "batch_size": batch})
        for name, opts in LEVERS.items()
    }
    ds = next(iter(setups.values()))["runner"].train_ds
    items = [ds[i] for i in range(batch)]
    fixed = (torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items]))
    per_round = []
    for r in range(rounds):
        for name in list(LEVERS) if r % 2 == 0 else list(reversed(LEVERS)):
            s = setups[name]
            ctx = s["ctx"]
            runner = _Fixed(s["runner"], fixed, 1)
            train_epoch(ctx, runner, s["opt"], s["sched"], None, None, None, 0, "warm-up", ctx.model)
            ctx.phases.reset()
            runner = _Fixed(s["runner"], fixed, steps)
            start = time.perf_counter()
            train_epoch(ctx, runner, s["opt"], s["sched"], None, None, None, 0, "timed", ctx.model)
            sec = time.perf_counter() - start
            ph = ctx.phases.seconds
            row = {"round": r + 1, "lever": name, "amp": ctx.amp, "images_per_s": round(batch * steps / sec, 3),
                   **{k: round(ph.get(k, 0.0), 3) for k in ("forward", "backward", "step")}}  # fmt: skip
            print(json.dumps(row), flush=True)
            per_round.append(row)
    return {
        "batch": batch,
        "steps": steps,
        "rounds": per_round,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


# --- train: two processes taking turns epoch by epoch -------------------------------------------


def _child(spec: str) -> None:
    """A training process that runs only between a "go" line on stdin and its next epoch line."""
    import torch

    from edgetl.train import train
    from edgetl.train.progress import Reporter

    args = json.loads(spec)
    torch.set_num_threads(args["threads"])

    class Baton(Reporter):
        def info(self, msg: str) -> None:
            if msg.startswith("epoch "):
                print("EPOCH " + msg, flush=True)
                sys.stdin.readline()  # wait for our turn

    sys.stdin.readline()
    cfg = _cfg(Path(args["data"]), args["name"], Path(args["workdir"]), seed=args.get("seed", 0))
    res = train(cfg, Baton(quiet=False, stream=sys.stderr))
    print("DONE " + json.dumps({"run_dir": str(res.run_dir), "seconds": res.seconds}), flush=True)


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    import csv

    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _summary(name: str, run_dir: Path, active_s: float) -> dict[str, Any]:
    rows = _rows(run_dir)
    n_train = json.loads((run_dir / "data.json").read_text())["num_train"]
    n_val = json.loads((run_dir / "data.json").read_text())["num_val"]
    ev = json.loads((run_dir / "eval" / "eval.json").read_text())
    ft = [r for r in rows if r["stage"] == "finetune"]
    total, t95, e95 = 0.0, None, None
    for r in rows:
        total += float(r["seconds"])
        if t95 is None and float(r["val_acc"]) >= TARGET:
            t95, e95 = round(total, 1), int(r["epoch"])
    best = next(r for r in rows if r["best"] == "1")
    ft_best = max(float(r["val_acc"]) for r in ft) if ft else None
    return {
        "config": name,
        "best_val_acc": round(float(best["val_acc"]), 4),
        "best_val_correct": round(float(best["val_acc"]) * n_val),
        "best_epoch": int(best["epoch"]),
        "best_stage": best["stage"],
        "eval_top1": ev.get("top1", ev.get("accuracy")),
        "finetune_best_val_acc": ft_best,
        "finetune_best_val_correct": round(ft_best * n_val) if ft_best is not None else None,
        "epochs_run": len(rows),
        "finetune_epochs": len(ft),
        "finetune_epoch_s": [round(float(r["seconds"]), 1) for r in ft],
        "finetune_images_per_s": round(n_train / (sum(float(r["seconds"]) for r in ft) / len(ft)), 2),
        "time_to_95_s": t95,
        "epoch_reached_95": e95,
        "sum_epoch_s": round(total, 1),
        "process_active_s": round(active_s, 1),
        "curve": [(int(r["epoch"]), r["stage"], float(r["val_acc"]), float(r["seconds"])) for r in rows],
    }


def train_seeds(data: Path, workdir: Path, threads: int, seeds: list[int]) -> dict[str, Any]:
    """`train_part` once per seed; totals over the seeds. One seed's 153 val images differ by 1-2
    between two runs whose float summation order differs (channels-last, bf16), either way: the
    accuracy side of the comparison is the sum of correct val images over the seeds."""
    per = {str(s): train_part(data, workdir / f"seed{s}", threads, s) for s in seeds}
    total = {n: sum(per[str(s)][n]["best_val_correct"] for s in seeds) for n in CONFIGS}
    rate = {n: sum(per[str(s)][n]["finetune_images_per_s"] for s in seeds) / len(seeds) for n in CONFIGS}
    return {
        "seeds": seeds, "per_seed": per, "best_val_correct_total": total,
        "finetune_images_per_s_mean": {n: round(v, 2) for n, v in rate.items()},
        "ratios": {
            "finetune_images_per_s_default_over_before": round(rate["default"] / rate["before"], 2),
            "best_val_correct_total_default_minus_before": total["default"] - total["before"],
            "epochs_default_minus_before": sum(per[str(s)]["default"]["epochs_run"] - per[str(s)]["before"]["epochs_run"]
                                               for s in seeds),
        },
    }  # fmt: skip


def train_part(data: Path, workdir: Path, threads: int, seed: int = 0) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    procs, active = {}, dict.fromkeys(CONFIGS, 0.0)
    for name in CONFIGS:
        spec = json.dumps(
            {"name": name, "data": str(data), "workdir": str(workdir), "threads": threads, "seed": seed}
        )
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, "--child", spec], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
    done: dict[str, dict] = {}
    turn = 0
    while len(done) < len(procs):
        names = [n for n in CONFIGS if n not in done]
        for name in names if turn % 2 == 0 else reversed(names):  # alternate who goes first
            p = procs[name]
            start = time.perf_counter()
            p.stdin.write("go\n")
            p.stdin.flush()
            line = p.stdout.readline()
            active[name] += time.perf_counter() - start
            if line.startswith("DONE "):
                done[name] = json.loads(line[5:])
                p.wait()
            elif not line:
                raise SystemExit(f"{name} training process failed (rc {p.wait()})")
            else:
                print(f"[{name}] {line[6:].strip()}", flush=True)
        turn += 1
    out = {n: _summary(n, Path(done[n]["run_dir"]), active[n]) for n in CONFIGS}
    b, d = out["before"], out["default"]
    out["ratios"] = {
        "finetune_images_per_s_default_over_before": round(d["finetune_images_per_s"] / b["finetune_images_per_s"], 2),
        "best_val_correct_default_minus_before": d["best_val_correct"] - b["best_val_correct"],
        "finetune_best_val_correct_default_minus_before": d["finetune_best_val_correct"] - b["finetune_best_val_correct"],
    }  # fmt: skip
    out["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def run_part(run_data: Path, workdir: Path) -> dict[str, Any]:
    """`edgetl run --data DIR` wall time with the defaults (it has no flags for the training levers)."""
    cmd = [
        sys.executable,
        "-m",
        "edgetl",
        "run",
        "--data",
        str(run_data),
        "--out",
        str(workdir / "edgetl-run"),
    ]
    load0 = os.getloadavg()
    start = time.perf_counter()
    env = {**os.environ, "EDGETL_CACHE_DIR": str(workdir / "run-cache")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    out = {
        "cmd": " ".join(cmd), "data": str(run_data), "rc": proc.returncode,
        "wall_s": round(time.perf_counter() - start, 1),
        "load_average_start": [round(x, 2) for x in load0], "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "stderr_tail": proc.stderr[-2000:],
    }  # fmt: skip
    print(json.dumps({k: v for k, v in out.items() if k != "stderr_tail"}), flush=True)
    return out


# --- report ------------------------------------------------------------------------------------


def _mean_rows(rows: list[dict[str, Any]], name: str, first: bool) -> dict[str, float] | None:
    sel = [r for r in rows if r["config"] == name and (r["round"] == 1) == first]
    if not sel:
        return None
    keys = [*PHASES, "train_s", "epoch_s", "images", "train_images_per_s", "epoch_images_per_s"]
    return {k: sum(r[k] for r in sel) / len(sel) for k in keys}


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows] + [""]


def markdown(result: dict[str, Any]) -> str:
    """The breakdown and training tables as they go into bench/README.md."""
    lines: list[str] = []
    bd = result.get("breakdown")
    if bd:
        rows = []
        for name in CONFIGS:
            for first in (True, False):
                m = _mean_rows(bd["rounds"], name, first)
                if m:
                    label = "first" if first else "later (mean)"
                    rows.append(
                        [
                            name,
                            label,
                            *(f"{m[k]:.1f}" for k in PHASES),
                            f"{m['epoch_s']:.1f}",
                            f"{m['train_images_per_s']:.2f}",
                        ]
                    )
        lines += _table(["configuration", "epoch", *PHASES, "epoch s", "train img/s"], rows)
    lv = result.get("levers")
    if lv:
        rows = []
        for name in LEVERS:
            sel = [r for r in lv["rounds"] if r["lever"] == name]
            if sel:
                rate = [r["images_per_s"] for r in sel]
                base = [r["images_per_s"] for r in lv["rounds"] if r["lever"] == next(iter(LEVERS))]
                ratio = (sum(rate) / len(rate)) / (sum(base) / len(base)) if base else float("nan")
                rows.append([name, sel[0]["amp"], " / ".join(f"{x:.2f}" for x in rate), f"{ratio:.2f}x"])
        lines += _table(["compute only, fixed batch", "amp", "images/s per round", "vs fp32"], rows)
    tr = result.get("train")
    if tr:
        lines += _train_table({"0": tr})
        lines.append(f"Ratios: {json.dumps(tr['ratios'])}")
    ts = result.get("train_seeds")
    if ts:
        lines += _train_table(ts["per_seed"])
        lines.append(f"Totals over seeds {ts['seeds']}: best val correct {json.dumps(ts['best_val_correct_total'])}; "
                     f"fine-tune img/s (mean) {json.dumps(ts['finetune_images_per_s_mean'])}; "
                     f"ratios {json.dumps(ts['ratios'])}")  # fmt: skip
    return "\n".join(lines)


def _train_table(per_seed: dict[str, Any]) -> list[str]:
    rows = []
    for seed, tr in per_seed.items():
        for name in CONFIGS:
            s = tr[name]
            t95 = (
                f"{s['time_to_95_s']} s (epoch {s['epoch_reached_95']})"
                if s["time_to_95_s"]
                else "not reached"
            )
            rows.append([
                seed, name, f"{100 * s['best_val_acc']:.2f}% ({s['best_val_correct']})",
                f"{100 * s['finetune_best_val_acc']:.2f}% ({s['finetune_best_val_correct']})",
                f"{s['epochs_run']} ({s['finetune_epochs']} fine-tune)", s["finetune_images_per_s"], t95, s["sum_epoch_s"],
            ])  # fmt: skip
    header = [
        "seed",
        "configuration",
        "best val (correct)",
        "fine-tune best val (correct)",
        "epochs",
        "fine-tune img/s",
    ]
    return _table([*header, "time to 95% val", "sum of epoch s"], rows)


def _from_log(log: Path, out: Path | None, threads: int) -> int:
    """The rounds a run printed before it was stopped (each line one round's JSON) -> JSON + tables."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    stamp = dt.datetime.fromtimestamp(log.stat().st_mtime, dt.UTC).strftime("%Y%m%d-%H%M%S")
    result: dict[str, Any] = {"cmd": f"(rounds printed to {log.name}, rebuilt with --from-log)", "stamp": stamp,
                              "env": _env(threads), "partial": True}  # fmt: skip
    bd = [r for r in rows if "config" in r]
    lv = [r for r in rows if "lever" in r]
    if bd:
        result["breakdown"] = {"rounds": bd}
    if lv:
        result["levers"] = {"rounds": lv}
    out = out or RESULTS / f"train_speed-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ImageFolder with train/ and val/")
    ap.add_argument("--parts", default="breakdown,train", help="comma list of breakdown, train, run")
    ap.add_argument("--rounds", type=int, default=2, help="breakdown rounds (each runs both configurations)")
    ap.add_argument("--batches", type=int, default=None, help="breakdown: batches per epoch (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", default="0", help="train part: comma list of seeds (totals over them)")
    ap.add_argument("--lever-batch", type=int, default=32, help="levers: images per fixed batch")
    ap.add_argument("--lever-steps", type=int, default=3, help="levers: timed steps per round")
    ap.add_argument("--run-data", type=Path, help="dataset for the run part (bench/make_photos1000.py)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON path (default bench/results/train_speed-<stamp>.json)"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument(
        "--from-log",
        type=Path,
        help="rebuild the JSON and tables from the per-round lines an interrupted run printed",
    )
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0
    if args.from_log:
        return _from_log(args.from_log, args.out, args.threads)
    import torch

    torch.set_num_threads(args.threads)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="edgetl-train-speed-"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    result: dict[str, Any] = {
        "cmd": " ".join([Path(sys.executable).name, *sys.argv]), "stamp": stamp, "data": str(args.data),
        "configs": {"before": BEFORE_FLAGS, "default": "TrainConfig defaults"}, "env": _env(args.threads),
    }  # fmt: skip
    if "breakdown" in parts:
        result["breakdown"] = breakdown(args.data, workdir, args.rounds, args.batches)
    if "levers" in parts:
        result["levers"] = levers(args.data, workdir, args.rounds, args.lever_batch, args.lever_steps)
    if "train" in parts:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        if seeds == [0]:
            result["train"] = train_part(args.data, workdir, args.threads)
        else:
            result["train_seeds"] = train_seeds(args.data, workdir, args.threads, seeds)
    if "run" in parts:
        if not args.run_data:
            raise SystemExit("--parts run needs --run-data DIR (build one with bench/make_photos1000.py)")
        result["run"] = run_part(args.run_data, workdir)
    result["env"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.out or RESULTS / f"train_speed-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
