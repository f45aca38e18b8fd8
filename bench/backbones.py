"""Compatibility matrix: every backbone family trained, exported FP32/FP16/INT8, gated and benchmarked.

    python bench/backbones.py                          # every family in edgetl.models.families
    python bench/backbones.py --only ResNet,LeViT --quick
    -> bench/results/backbones-<stamp>.json and .md (the table bench/README.md shows)

Per family, with the kit's own Python API, each stage caught and recorded (a failure never stops
the matrix):
1. train (`edgetl.train`) from scratch on scikit-learn's digits (the built-in `digits` dataset)
   at a small input size, so the gates below judge a trained model, not random weights
   (EfficientNet-Lite0 starts from its offline ImageNet weights, as a user would);
2. export (`edgetl.export`) FP32, FP16 and INT8 at that size with the default gates: FP32 parity,
   INT8 accuracy / agreement against PyTorch on the 360 val images, nodes kept in float;
3. the same trained weights rebuilt at the family's native input size (position embeddings and
   attention biases resampled, `edgetl.models.resize`), exported FP32 + INT8 there without the
   accuracy gates (digits upscaled to 224 px is not what the model learned; FP32 parity still
   holds), and timed with `edgetl.bench`: batch 1, 2 threads, FP32, INT8 and PyTorch eager
   interleaved in the same rounds. INT8/FP32 is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclasses.dataclass(frozen=True)
class Settings:
    img_size: int = 32  # training and gated-export input size
    epochs: int = 8  # from scratch at 32 px: 3 left MobileNetV2 at 28%, EfficientNet-B0 at 56%
    batch_size: int = 16  # small batches: more steps per epoch for from-scratch training
    repeat: int = 10  # interleaved timing rounds: 5 left ratios near 1.0x a coin toss on a 2-core machine
    round_s: float = 1.0  # seconds per cell and round
    native_images: int = 32  # parity / calibration images for the native-size export
    threads: int = 2


QUICK = Settings(epochs=1, repeat=3, round_s=0.5, native_images=16)


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _why(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}"[:400]


def reuse_run(out: Path) -> dict[str, Any]:
    """A finished run from an earlier invocation (--reuse): its best epoch, without training again."""
    import csv

    with open(out / "metrics.csv", newline="") as f:
        best = next(r for r in csv.DictReader(f) if r["best"] == "1")
    return {"run": str(out), "train_val_acc": float(best["val_acc"]), "train_reused": True}


def train_family(fam: Any, s: Settings, out: Path, reuse: bool = False) -> dict[str, Any]:
    from edgetl.train import TrainConfig, train

    if reuse and (out / "eval" / "eval.json").is_file():
        return reuse_run(out)

    scratch = fam.pretrained == "none"
    cfg = TrainConfig(
        data="digits",
        model=fam.model,
        pretrained=fam.pretrained,
        img_size=s.img_size,
        mode="finetune" if scratch else "lp-ft",
        lp_epochs=10,
        epochs=s.epochs,
        lr=fam.lr,
        warmup_epochs=1 if s.epochs > 1 else 0,
        batch_size=s.batch_size,
        freeze_bn=not scratch,  # from scratch, BatchNorm must learn its statistics
        layer_decay=1.0 if scratch else 0.8,
        auto_augment="none",
        hflip=0.0,  # digits are not mirror-symmetric
        scale=(0.5, 1.0),
        patience=0,
        device="cpu",
        num_workers=0,
        quiet=True,
        out=str(out),
        cache_dir=str(out.parent / "cache"),
    )
    t = time.perf_counter()
    res = train(cfg)
    return {
        "run": str(res.run_dir),
        "train_val_acc": float(res.best_metrics["val_acc"]),
        "train_epochs": res.epochs_run,
        "train_seconds": round(time.perf_counter() - t, 1),
        "train_mode": cfg.mode,
    }


def _variants(export_dir: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    from edgetl.export.report import REPORT_JSON

    rep = json.loads((export_dir / REPORT_JSON).read_text())
    return {v["precision"]: v for v in rep["variants"]}, list(rep.get("exporter_notes", []))


def export_gated(run: Path) -> dict[str, Any]:
    """FP32/FP16/INT8 at the training size with the default gates; a missed gate is a recorded result."""
    from edgetl.errors import ExportError
    from edgetl.export import ExportConfig, export

    error = None
    try:
        export(ExportConfig(source=str(run), precisions=["fp32", "fp16", "int8"], target="cpu-x86"))
    except ExportError as e:
        error = str(e)
    v, notes = _variants(run / "export")
    fp32, fp16, int8 = v.get("fp32", {}), v.get("fp16", {}), v.get("int8", {})
    return {
        "fp32_ok": bool(fp32.get("passed")),
        "fp32_max_abs_diff": fp32.get("max_abs_diff"),
        "fp16_ok": bool(fp16.get("passed")),
        "fp16_max_abs_diff": fp16.get("max_abs_diff"),
        "int8_ok": bool(int8.get("passed")),
        "int8_val_acc": int8.get("val_accuracy"),
        "torch_val_acc": int8.get("torch_accuracy") or fp32.get("torch_accuracy"),
        "int8_agreement": int8.get("agreement"),
        "nodes_in_float": len(int8.get("nodes_in_float") or []),
        "export_failures": [
            f"{p}: {'; '.join(x.get('failures') or [])}" for p, x in v.items() if x.get("passed") is False
        ],
        "export_notes": notes,
        "export_error": error,
    }


def recalibrate_bn(model: Any, data_config: dict[str, Any], images: int, seed: int = 0) -> bool:
    """BatchNorm statistics re-estimated on `images` train images at the model's new size.

    Statistics learned at 32 px do not fit upscaled images at 224 px: activations grow layer by
    layer (logits in the millions for EfficientNet-B0), and FP32 parity would be judged on
    numbers no model produces. torch's `update_bn` recomputes them (the weights stay as trained);
    a model without BatchNorm is left as it is (False).
    """
    import torch
    from torch.optim.swa_utils import update_bn

    from edgetl.data import ImageDataset, build_transform, load_splits

    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return False
    train = load_splits("digits").train
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:images].tolist()
    ds = ImageDataset([train[i] for i in pick], build_transform(data_config, train=False))
    loader = torch.utils.data.DataLoader(ds, batch_size=16)
    with torch.no_grad():
        update_bn(loader, model)  # train mode for the passes, back to eval after
    return True


def native_checkpoint(
    run: Path, size: int, out: Path, recalibrate: bool, bn_images: int = 64
) -> tuple[Path, bool]:
    """The run's best weights rebuilt for `size` px, saved as a checkpoint whose data config says so.

    `recalibrate`: BatchNorm statistics re-estimated there (models trained from scratch at 32 px);
    ImageNet-pretrained statistics already fit full-size images and are kept (re-estimated on
    upscaled digits, Lite0's FP32 parity went from 3e-5 to 6e-4)."""
    from edgetl.models import load_classifier, save_checkpoint
    from edgetl.models.resize import rebuild_at_size

    model, meta = load_classifier(run)
    big = rebuild_at_size(meta.model, model.state_dict(), meta.num_classes, size)
    dc = {**meta.data_config, "input_size": (3, size, size)}
    recalibrated = recalibrate and recalibrate_bn(big, dc, bn_images)
    path = save_checkpoint(
        out / "checkpoints" / "best.safetensors", big, dataclasses.replace(meta, data_config=dc)
    )
    return path, recalibrated


def _round_ratios(slow: Any, fast: Any) -> list[float]:
    return [a / b for a, b in zip(slow.round_p50_ms, fast.round_p50_ms, strict=False) if b]


def _interleaved_ratio(slow: Any, fast: Any) -> float | None:
    pairs = _round_ratios(slow, fast)
    return statistics.median(pairs) if pairs else None


def _ratio_quartiles(slow: Any, fast: Any) -> list[float] | None:
    """First and third quartile of the per-round ratios: how far one run's median can be trusted."""
    pairs = _round_ratios(slow, fast)
    return [q[0], q[2]] if len(pairs) >= 4 and (q := statistics.quantiles(pairs, n=4)) else None


def _top_ops(ops: list[dict[str, Any]] | None, n: int = 3) -> list[str]:
    """The export report's op profile as 'QLinearConv 8.1 ms (62%)', largest first."""
    return [f"{o['op']} {o['ms']:.1f} ms ({100 * o['share']:.0f}%)" for o in (ops or [])[:n]]


def bench_native(run: Path, size: int, s: Settings, out: Path, recalibrate: bool = True) -> dict[str, Any]:
    """FP32 + INT8 at the native size (no accuracy gates, FP32 parity kept), timed next to eager."""
    from edgetl.bench import BenchConfig, bench
    from edgetl.export import ExportConfig, export

    ckpt, recalibrated = native_checkpoint(run, size, out, recalibrate)
    rep = export(
        ExportConfig(
            source=str(ckpt), data="digits", precisions=["fp32", "int8"], target="cpu-x86",
            max_acc_drop=None, int8_min_agreement=0.0, max_fallback_nodes=0,
            parity_images=s.native_images, calib_images=s.native_images, out_dir=str(out / "export"),
        )
    )  # fmt: skip
    files = [rep.variant(p).file for p in ("fp32", "int8")]
    b = bench(
        BenchConfig(
            models=files, torch=str(ckpt), data="digits", batch=[1], threads=s.threads, repeat=s.repeat,
            time_budget=s.round_s * s.repeat, warmup=5, max_images=32, pool=16, plots=False,
            out=str(out / "bench"),
        )
    )  # fmt: skip
    rows = {r.precision if r.kind == "onnx" else "eager": r for r in b.ok_rows(batch=1)}
    profile = rep.variant("int8").op_profile or {}
    fp32, int8, eager = rows.get("fp32"), rows.get("int8"), rows.get("eager")
    return {
        "native_size": size,
        "native_bn_recalibrated": recalibrated,
        "fp32_ms": fp32.p50_ms if fp32 else None,
        "int8_ms": int8.p50_ms if int8 else None,
        "eager_ms": eager.p50_ms if eager else None,
        "int8_speedup": _interleaved_ratio(fp32, int8) if fp32 and int8 else None,
        "int8_speedup_quartiles": _ratio_quartiles(fp32, int8) if fp32 and int8 else None,
        "fp32_vs_eager": _interleaved_ratio(eager, fp32) if fp32 and eager else None,
        "native_fp32_max_abs_diff": rep.variant("fp32").max_abs_diff,
        "int8_policy": [f"{a['rule']} x{a['count']}" for a in rep.variant("int8").int8_policy or []],
        "int8_top_ops": _top_ops(profile.get("int8_ops")),
        "fp32_top_ops": _top_ops(profile.get("fp32_ops")),
        "bench_load_average": b.env.get("load_average"),
    }


def run_family(name: str, s: Settings, work: Path, native: bool, reuse: bool = False) -> dict[str, Any]:
    import timm

    from edgetl.models.families import FAMILIES

    fam = FAMILIES.get(name)
    row: dict[str, Any] = {"family": name, "model": fam.model, "weights": fam.pretrained, "errors": {}}
    t0 = time.perf_counter()
    stages = [("train", lambda: train_family(fam, s, work / "run", reuse))]
    stages.append(("export", lambda: export_gated(Path(row["run"]))))
    if native:
        size = int(timm.create_model(fam.model, pretrained=False).pretrained_cfg["input_size"][-1])
        scratch = fam.pretrained == "none"
        stages.append(("native", lambda: bench_native(Path(row["run"]), size, s, work / "native", scratch)))
    for stage, fn in stages:
        if stage != "train" and "run" not in row:
            row["errors"][stage] = "skipped: training failed"
            continue
        try:
            row.update(fn())
        except Exception as e:  # recorded per family and stage; the matrix goes on
            row["errors"][stage] = _why(e)
            row.setdefault("tracebacks", {})[stage] = traceback.format_exc(limit=6)
        print(
            f"  {name} {stage}: {'FAILED ' + row['errors'][stage] if stage in row['errors'] else 'ok'}",
            flush=True,
        )
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _x(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _reason(r: dict[str, Any]) -> str:
    parts = [f"{k}: {v}" for k, v in r.get("errors", {}).items()]
    parts += [f.replace("|", "/") for f in r.get("export_failures", [])]
    return "; ".join(parts).replace("\n", " ")[:300] or "-"


def _speedup(r: dict[str, Any]) -> str:
    """'1.06x (0.95-1.12)': the median of the per-round ratios and their quartiles."""
    q = r.get("int8_speedup_quartiles")
    return _x(r.get("int8_speedup")) + (f" ({q[0]:.2f}-{q[1]:.2f})" if q and r.get("int8_speedup") else "")


def _clearly_faster(r: dict[str, Any]) -> bool:
    q = r.get("int8_speedup_quartiles")
    return r.get("int8_speedup") is not None and r["int8_speedup"] >= 1.0 and (not q or q[0] >= 1.0)


def _where(r: dict[str, Any]) -> str:
    policy = ", ".join(r.get("int8_policy") or []) or "no rule matched"
    if "int8_speedup" not in r:
        return "-"
    if _clearly_faster(r):
        return policy
    return f"{policy}; INT8: {', '.join(r.get('int8_top_ops') or [])}; FP32: {', '.join(r.get('fp32_top_ops') or [])}"


def to_markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"Trained on digits at {s['img_size']} px ({s['epochs']} epochs, random init unless noted); gates at that size; "
        f"latency at each model's native size, batch 1, {s['threads']} threads, FP32/INT8/eager interleaved "
        f"({s['repeat']} rounds). Load average {result['loadavg_start']:.1f} at start, {result['loadavg_end']:.1f} at end; "
        f"{result['cpu']}.",
        "",
        "Commands: "
        + "; then ".join(f"`{c}`" for c in result.get("commands", [result["command"]]))
        + (" (rows it remade are marked *)" if result.get("commands") else "")
        + ".",
        "",
        "| family | model | train val acc | FP32 export (max abs diff) | FP16 | INT8 val acc / PyTorch / agreement | "
        "nodes in float | native px | INT8 vs FP32 (quartiles of the rounds) | FP32 vs eager | INT8 policy at native "
        "px; where INT8 time goes when it is not clearly faster (FP32 beside it) | failed stage: reason |",
        "|---|---|---:|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in result["rows"]:
        fp32 = (
            "-"
            if "fp32_ok" not in r
            else ("ok" if r["fp32_ok"] else "FAILED")
            + (f" ({r['fp32_max_abs_diff']:.1e})" if r.get("fp32_max_abs_diff") is not None else "")
        )
        fp16 = "-" if "fp16_ok" not in r else ("ok" if r["fp16_ok"] else "FAILED")
        int8 = "-" if "int8_ok" not in r else (
            f"{'' if r['int8_ok'] else 'FAILED '}{_pct(r['int8_val_acc'])} / {_pct(r['torch_val_acc'])} / {_pct(r['int8_agreement'])}"
        )  # fmt: skip
        model = r["model"] + (f" ({r['weights']} weights)" if r["weights"] != "none" else "")
        lines.append(
            f"| {r['family']}{' *' if 'by' in r else ''} | {model} | {_pct(r.get('train_val_acc'))} | {fp32} | {fp16} | {int8} | "
            f"{r.get('nodes_in_float', '-')} | {r.get('native_size', '-')} | {_speedup(r)} | "
            f"{_x(r.get('fp32_vs_eager'))} | {_where(r)} | {_reason(r)} |"
        )
    return "\n".join(lines) + "\n"


def _cpu() -> str:
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _updated(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`base` with `new`'s rows in place of the same families' (each row says which command made it)."""
    rows = {r["family"]: r for r in new["rows"]}
    out = {**base, "commands": [*base.get("commands", [base["command"]]), new["command"]]}
    out["rows"] = [
        {**rows[r["family"]], "by": new["command"]} if r["family"] in rows else r for r in base["rows"]
    ]
    return out


def _write(result: dict[str, Any], out: Path, stamp: str) -> Path:
    from edgetl._io import atomic_write_json, atomic_write_text

    atomic_write_text(out / f"backbones-{stamp}.md", to_markdown(result))
    return atomic_write_json(out / f"backbones-{stamp}.json", result)


def main(argv: list[str] | None = None) -> int:
    from edgetl.errors import UnknownNameError
    from edgetl.models.families import FAMILIES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma list of families (default: all): " + ", ".join(FAMILIES.names()))
    ap.add_argument("--quick", action="store_true", help="1 epoch, shorter timing: a smoke run")
    ap.add_argument("--no-native", action="store_true", help="skip the native-size export and timing")
    ap.add_argument("--work", help="folder for runs and exports (default: a temporary folder)")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse finished runs in --work: export and time again only"
    )
    ap.add_argument("--out", default=str(RESULTS), help="results folder (default bench/results)")
    ap.add_argument(
        "--update", help="an earlier backbones-*.json: this run's families replace its rows there (its "
        "command list grows by this one) instead of writing a new file",
    )  # fmt: skip
    args = ap.parse_args(argv)
    names = FAMILIES.names()
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        try:
            for n in names:
                FAMILIES.get(n)
        except UnknownNameError as e:
            print(f"error: --only: {e}", file=sys.stderr)
            return 2
    s = QUICK if args.quick else Settings()
    import torch

    torch.set_num_threads(s.threads)
    started, load_start = dt.datetime.now(dt.timezone.utc), _load()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="edgetl-backbones-"))
    stamp = started.strftime("%Y%m%d-%H%M")
    result = {
        "benchmark": "backbones",
        "created": started.isoformat(timespec="seconds"),
        "command": "python bench/backbones.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": dataclasses.asdict(s),
        "cpu": _cpu(),
        "loadavg_start": load_start,
        "families": names,
        "rows": [],
    }
    base, update_stamp = None, stamp
    if args.update:  # checked before hours of work, not after
        up = Path(args.update)
        if not up.name.startswith("backbones-") or up.suffix != ".json":
            print(
                f"error: --update {up}: expected a backbones-<stamp>.json this script wrote", file=sys.stderr
            )
            return 2
        try:
            base = json.loads(up.read_text())
        except (OSError, ValueError) as e:
            print(f"error: --update {up}: cannot read it ({e})", file=sys.stderr)
            return 2
        update_stamp = up.stem.removeprefix("backbones-")
    for i, name in enumerate(names):
        print(f"[{i + 1}/{len(names)}] {name} ({FAMILIES.get(name).model})", flush=True)
        result["rows"].append(
            run_family(name, s, work / name.replace("/", "_"), native=not args.no_native, reuse=args.reuse)
        )
        result["loadavg_end"] = _load()
        result["seconds"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds())
        if base is None:
            path = _write(
                result, Path(args.out), stamp
            )  # after every family: a killed run keeps what it measured
        else:
            path = _write(_updated(base, result), Path(args.update).parent, update_stamp)
    print(to_markdown(result))
    print(f"-> {path} ({result['seconds']} s, work folder {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
