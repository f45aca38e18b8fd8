"""Read what a run directory holds and turn it into report sections.

Each section reads only files from RUN_DIR (the contract in the README: data.json,
metrics.csv, curves.png, eval/, export/, bench/, config.yaml, pipeline.json), so a report can be
rebuilt at any time. A missing or unreadable file makes its section say "not run", never a crash.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import yaml

from edgetl.report.document import Alert, Block, Code, Image, KeyValues, NotRun, Section, Table, Text

SHOWN_SKIPPED = 20  # skipped files listed by name; the rest are counted


# ----------------------------------------------------------------------------------- reading files


def read_json(path: Path) -> tuple[Any, str | None]:
    """(data, None), or (None, why) when the file is missing or not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path.name} not found"
    except (OSError, ValueError) as e:
        return None, f"{path.name} is unreadable ({type(e).__name__}: {e})"


def read_yaml(path: Path) -> tuple[Any, str | None]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, f"{path.name} not found"
    except (OSError, yaml.YAMLError) as e:
        return None, f"{path.name} is unreadable ({type(e).__name__})"


def read_csv(path: Path) -> tuple[list[dict[str, str]] | None, str | None]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f)), None
    except FileNotFoundError:
        return None, f"{path.name} not found"
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        return None, f"{path.name} is unreadable ({type(e).__name__})"


# -------------------------------------------------------------------------------------- formatting


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def pct(v: Any, digits: int = 2) -> str:
    """Accuracy-like values: fractions (0..1) are shown as percent."""
    f = _num(v)
    if f is None:
        return "–"
    return f"{f * 100:.{digits}f}%" if abs(f) <= 1.0 else f"{f:.{digits}f}%"


def fnum(v: Any, digits: int = 2, unit: str = "") -> str:
    f = _num(v)
    return "–" if f is None else f"{f:.{digits}f}{unit}"


def fint(v: Any) -> str:
    f = _num(v)
    return "–" if f is None else f"{int(f):,}"


def first(d: dict[str, Any] | None, *keys: str, default: Any = None) -> Any:
    """The first of `keys` present (not None) in `d`; dotted keys reach into nested dicts."""
    if not isinstance(d, dict):
        return default
    for key in keys:
        cur: Any = d
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None:
            return cur
    return default


# ------------------------------------------------------------------------------------------ sections


def data_section(run: Path) -> Section:
    sec = Section("Data", "data")
    data, err = read_json(run / "data.json")
    if data is None:
        sec.blocks.append(NotRun(f"no data summary ({err})", "edgetl train --data DIR --out RUN_DIR"))
        return sec
    classes = [str(c) for c in data.get("classes") or []]
    counts = data.get("counts") or {}
    skipped = data.get("skipped") or {}
    files = skipped.get("files") if isinstance(skipped, dict) else skipped
    files = files or []
    n_skipped = skipped.get("count", len(files)) if isinstance(skipped, dict) else len(files)
    sec.blocks.append(
        KeyValues(
            [
                ("Source", str(data.get("source", "–"))),
                ("Layout", str(data.get("layout") or "–")),
                ("Classes", str(len(classes))),
                ("Train images", fint(data.get("num_train"))),
                ("Val images", fint(data.get("num_val"))),
                ("Skipped files", fint(n_skipped)),
            ],
            id="data-summary",
        )
    )
    splits = [s for s in ("train", "val") if isinstance(counts.get(s), dict)]
    rows = [[c] + [fint(counts[s].get(c, 0)) for s in splits] for c in classes]
    if splits:
        rows.append(["total"] + [fint(sum(_num(v) or 0 for v in counts[s].values())) for s in splits])
    sec.blocks.append(Table(["class"] + splits, rows, caption="Images per class", id="table-classes"))
    if n_skipped:
        shown = [
            [
                str(f.get("path", f)) if isinstance(f, dict) else str(f),
                str(f.get("reason", "")) if isinstance(f, dict) else "",
            ]
            for f in files[:SHOWN_SKIPPED]
        ]
        cap = f"Skipped files ({n_skipped}" + (
            f", first {SHOWN_SKIPPED} shown)" if n_skipped > SHOWN_SKIPPED else ")"
        )
        sec.blocks.append(Table(["file", "reason"], shown, caption=cap, id="table-skipped"))
    else:
        sec.blocks.append(Text("No file was skipped: every image decoded."))
    return sec


def training_section(run: Path) -> Section:
    sec = Section("Training", "training")
    cfg, _ = read_yaml(run / "config.yaml")
    if isinstance(cfg, dict):
        keys = ("model", "pretrained", "mode", "img_size", "lp_epochs", "lp_lr", "epochs", "lr", "batch_size",
                "optimizer", "auto_augment", "device")  # fmt: skip
        items = [(k, _short(cfg[k])) for k in keys if k in cfg]
        if items:
            sec.blocks.append(KeyValues(items, id="train-config"))
    rows, err = read_csv(run / "metrics.csv")
    if rows is None:
        sec.blocks.append(NotRun(f"no training metrics ({err})", "edgetl train --data DIR --out RUN_DIR"))
        return sec
    sec.blocks.append(
        Image(run / "curves.png", "training curves", "Loss and accuracy per epoch (curves.png).")
    )
    if rows:
        accs = [(_num(r.get("val_acc")), r) for r in rows]
        accs = [(a, r) for a, r in accs if a is not None]
        if accs:
            best, r = max(accs, key=lambda t: t[0])
            sec.blocks.append(
                Text(f"Best val accuracy {pct(best)} at epoch {r.get('epoch', '?')} ({r.get('stage', '')}).")
            )
        total = sum(_num(r.get("seconds")) or 0.0 for r in rows)
        if total:
            sec.blocks.append(Text(f"Training time (sum over epochs): {total:.1f} s."))
        cols = [
            c
            for c in ("epoch", "stage", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
            if c in rows[0]
        ]
        table = [[_metric_cell(c, r.get(c, "")) for c in cols] for r in rows]
        sec.blocks.append(Table(cols, table, caption="Per-epoch metrics (metrics.csv)", id="table-metrics"))
    return sec


def _metric_cell(column: str, value: Any) -> str:
    if column.endswith("_acc"):
        return pct(value)
    if column.endswith("_loss"):
        return fnum(value, 4)
    if column == "lr":
        return fnum(value, 6)
    if column == "seconds":
        return fnum(value, 1)
    return str(value)


def _short(v: Any) -> str:
    s = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
    return s if len(s) <= 80 else s[:77] + "..."


def evaluation_section(run: Path) -> Section:
    sec = Section("Evaluation", "evaluation")
    ev, err = read_json(run / "eval" / "eval.json")
    if ev is None:
        sec.blocks.append(NotRun(f"no evaluation ({err})", f"edgetl eval {run}"))
        return sec
    m = ev.get("metrics") if isinstance(ev.get("metrics"), dict) else ev
    k = m.get("top5_k", 5)
    items = [
        ("Images", fint(m.get("n"))),
        ("Top-1", pct(m.get("top1"))),
        (f"Top-{k}", pct(m.get("top5"))),
        ("Macro F1", fnum(m.get("macro_f1"), 4)),
        (
            "Macro one-vs-rest AUC-ROC",
            fnum(m.get("auc_macro_ovr"), 4) + (f" ({m['auc_note']})" if m.get("auc_note") else ""),
        ),
    ]
    for key in ("checkpoint", "which", "data"):
        if ev.get(key) is not None:
            items.append((key.capitalize(), _short(ev[key])))
    sec.blocks.append(KeyValues(items, id="eval-summary"))
    per = m.get("per_class") or {}
    if isinstance(per, dict) and per:
        rows = [
            [
                name,
                fnum(v.get("precision"), 4),
                fnum(v.get("recall"), 4),
                fnum(v.get("f1"), 4),
                fint(v.get("support")),
            ]
            for name, v in per.items()
        ]
        sec.blocks.append(
            Table(
                ["class", "precision", "recall", "F1", "support"],
                rows,
                caption="Per-class metrics",
                id="table-per-class",
            )
        )
    sec.blocks.append(
        Image(
            run / "eval" / "confusion.png",
            "confusion matrix",
            "Confusion matrix on the validation set (rows = true class).",
        )
    )
    return sec


def environment_section(run: Path, env: dict[str, Any] | None) -> Section:
    sec = Section("Environment", "environment")
    if not env:
        sec.blocks.append(
            NotRun("no environment recorded (the bench writes it to bench/bench.json)", f"edgetl bench {run}")
        )
        return sec
    items: list[tuple[str, str]] = []

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and all(isinstance(x, bool) for x in value.values()):
            items.append((prefix, ", ".join(k for k, on in value.items() if on) or "none"))
        elif isinstance(value, dict):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else str(k), v)
        elif value is not None:
            items.append((prefix, _short(value)))

    add("", env)
    sec.blocks.append(KeyValues(items, id="environment"))
    return sec


def commands_section(
    run: Path, steps: list[dict[str, Any]], pipeline: dict[str, Any] | None = None
) -> Section:
    sec = Section("Reproduce", "reproduce")
    pipeline = pipeline or {}
    if not steps:
        sec.blocks.append(NotRun("no commands recorded"))
        return sec
    names = {"command": "Last command on this run", "rerun_all": "Whole run again (new folder)"}
    whole = [(names[k], str(pipeline[k])) for k in names if pipeline.get(k)]
    if whole:
        sec.blocks.append(KeyValues(whole, id="run-commands"))
    sec.blocks.append(
        Text(
            "Each step reads and writes only this run directory, so any one can be rerun alone with its command "
            "(training always starts a new folder)."
        )
    )
    rows = [
        [s.get("step", ""), s.get("status", ""), fnum(s.get("seconds"), 1), s.get("command", "")]
        for s in steps
    ]
    sec.blocks.append(
        Table(["step", "status", "seconds", "command"], rows, caption="Steps", id="table-steps")
    )
    sec.blocks.append(Code("\n".join(s["command"] for s in steps if s.get("command")), "Commands:"))
    for s in steps:
        if s.get("status") == "failed" and s.get("error"):
            sec.blocks.append(Alert(f"{s.get('step')}: {s['error']}"))
    return sec


def config_section(run: Path) -> Section:
    sec = Section("Configuration", "configuration")
    found = False
    for name in ("run.yaml", "config.yaml"):
        p = run / name
        if p.is_file():
            found = True
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                sec.blocks.append(Alert(f"{name} is unreadable ({type(e).__name__})"))
                continue
            sec.blocks.append(Code(text, f"{name}:"))
    if not found:
        sec.blocks.append(NotRun("no configuration recorded (config.yaml)"))
    return sec


def _stem(path: Any) -> str:
    return Path(str(path)).name.removesuffix(".onnx") if path else ""


def _gate(v: dict[str, Any]) -> str:
    passed = v.get("passed")
    return {True: "passed", False: "FAILED", None: "not verified"}.get(passed, str(passed))


def _export_blocks(run: Path, rep: dict[str, Any] | None, err: str | None) -> list[Block]:
    """The export report (export/export_report.json, written by `edgetl export`) as a table."""
    if rep is None:
        return [NotRun(f"no export ({err})", f"edgetl export {run}")]
    variants = [v for v in rep.get("variants") or [] if isinstance(v, dict)]
    rows = [
        [
            _stem(v.get("file")) or "(not written)",
            str(v.get("precision", "?")),
            str(v.get("target") or rep.get("target", "?")),
            fnum(v.get("size_mb"), 2),
            pct(v.get("val_accuracy")),
            pct(v.get("torch_accuracy")),
            pct(v.get("agreement")),
            _sci(v.get("max_abs_diff")),
            fint(len(v.get("nodes_in_float") or [])),
            fnum(v.get("export_seconds"), 1),
            _gate(v),
        ]
        for v in variants
    ]
    headers = ["variant", "precision", "target", "size MB", "val accuracy", "PyTorch accuracy", "agreement",
               "max abs diff", "nodes kept in float", "seconds", "gate"]  # fmt: skip
    blocks: list[Block] = [
        Text(
            f"Exported with the {rep.get('exporter', '?')} exporter, opset {rep.get('opset', '?')}; parity and "
            f"accuracy on {fint(rep.get('n_val_images'))} validation images, INT8 calibrated on "
            f"{fint(rep.get('n_calib_images'))} training images ({rep.get('calib_method', '?')})."
        ),
        Table(headers, rows, caption="Exported ONNX variants (export/export_report.json)", id="table-export"),
    ]
    for v in variants:
        name = _stem(v.get("file")) or str(v.get("precision"))
        if v.get("scheme"):
            blocks.append(Text(f"{name}: {v['scheme']}."))
        if v.get("nodes_in_float"):
            blocks.append(
                Text(
                    f"{name}: kept in float for the accuracy budget: {', '.join(map(str, v['nodes_in_float']))}."
                )
            )
        for f in v.get("failures") or []:
            blocks.append(Alert(f"{name}: {f}"))
        for n in v.get("notes") or []:
            blocks.append(Text(f"{name}: {n}"))
    return blocks


def _bench_blocks(
    run: Path, bench: dict[str, Any] | None, err: str | None, targets: dict[str, str]
) -> list[Block]:
    """One row per variant x provider x batch from bench/bench.json (written by `edgetl bench`)."""
    rows = bench.get("rows") if isinstance(bench, dict) else None
    if not rows:
        return [NotRun(f"no benchmark ({err or 'bench.json has no rows'})", f"edgetl bench {run}")]
    table = []
    for r in rows:
        speed = _num(r.get("speedup_vs_torch"))
        table.append(
            [
                str(r.get("variant", "?")),
                str(r.get("precision", "?")),
                targets.get(str(r.get("variant")), "–"),
                str(r.get("provider", "?")),
                fint(r.get("batch")),
                fnum(r.get("size_mb"), 2),
                pct(r.get("accuracy")),
                pct(r.get("agreement")),
                fnum(r.get("p50_ms"), 2),
                fnum(r.get("p99_ms"), 2),
                fnum(r.get("images_per_s"), 1),
                "–" if speed is None else f"{speed:.2f}x",
                str(r.get("status", "?")),
            ]
        )
    headers = ["variant", "precision", "target", "provider", "batch", "size MB", "accuracy", "agreement",
               "p50 ms", "p99 ms", "images/s", "speedup vs PyTorch", "status"]  # fmt: skip
    blocks: list[Block] = [
        Table(
            headers, table, caption="Latency and accuracy per variant (bench/bench.json)", id="table-variants"
        ),
        Text(
            "Latency is per batch; agreement is the share of images with the same top-1 as the FP32 ONNX model; "
            "speedup compares p50 with PyTorch eager on the same device and batch size."
        ),
    ]
    blocks += [Alert(str(w)) for w in bench.get("warnings") or []]
    blocks += [Text(str(n)) for n in bench.get("notes") or []]
    return blocks


def variants_section(run: Path) -> Section:
    rep, rep_err = read_json(run / "export" / "export_report.json")
    rep = rep if isinstance(rep, dict) else None
    bench, bench_err = read_json(run / "bench" / "bench.json")
    targets = {}
    for v in (rep or {}).get("variants") or []:
        if isinstance(v, dict) and v.get("file"):
            targets[_stem(v["file"])] = str(v.get("target") or rep.get("target", ""))
    blocks = _export_blocks(run, rep, rep_err or "export_report.json is not a mapping")
    blocks += _bench_blocks(run, bench if isinstance(bench, dict) else None, bench_err, targets)
    return Section("Variants", "variants", blocks)


def _sci(v: Any) -> str:
    f = _num(v)
    return "–" if f is None else f"{f:.2e}"


def plots_section(run: Path) -> Section:
    sec = Section("Latency vs accuracy", "plots")
    bench_dir = run / "bench"
    pngs = (
        sorted(bench_dir.glob("*.png"), key=lambda p: (0 if "acc" in p.name else 1, p.name))
        if bench_dir.is_dir()
        else []
    )
    if not pngs:
        sec.blocks.append(NotRun("no benchmark plots (bench/*.png)", f"edgetl bench {run}"))
    for p in pngs:
        sec.blocks.append(Image(p, p.stem.replace("_", " "), f"bench/{p.name}"))
    return sec


def _fastest(run: Path) -> str | None:
    """The lowest-latency ok bench row at the smallest batch, with its accuracy and speedup."""
    bench, _ = read_json(run / "bench" / "bench.json")
    rows = [r for r in (bench or {}).get("rows") or [] if isinstance(r, dict) and r.get("status") == "ok"]
    rows = [r for r in rows if _num(r.get("p50_ms")) is not None and _num(r.get("batch")) is not None]
    if not rows:
        return None
    smallest = min(_num(r["batch"]) for r in rows)
    best = min((r for r in rows if _num(r["batch"]) == smallest), key=lambda r: _num(r["p50_ms"]))
    speed = _num(best.get("speedup_vs_torch"))
    return (
        f"{best.get('variant')} on {best.get('provider')}: p50 {fnum(best['p50_ms'], 2)} ms at batch {fint(smallest)}"
        + (f", {speed:.2f}x PyTorch eager" if speed is not None else "")
        + (f", accuracy {pct(best.get('accuracy'))}" if _num(best.get("accuracy")) is not None else "")
    )


def summary_section(run: Path, pipeline: dict[str, Any]) -> Section:
    sec = Section("Summary", "summary")
    cfg, _ = read_yaml(run / "config.yaml")
    cfg = cfg if isinstance(cfg, dict) else {}
    data, _ = read_json(run / "data.json")
    ev, _ = read_json(run / "eval" / "eval.json")
    m = (ev.get("metrics") if isinstance(ev, dict) and isinstance(ev.get("metrics"), dict) else ev) or {}
    items = [
        ("Model", str(cfg.get("model", "–"))),
        ("Weights", str(cfg.get("pretrained", "–"))),
        ("Mode", str(cfg.get("mode", "–"))),
        ("Data", str(first(data, "source", default=cfg.get("data", "–")))),
        ("Classes", str(len(first(data, "classes", default=[])) or "–")),
        ("Val top-1 (PyTorch)", pct(first(m, "top1"))),
    ]
    if pipeline.get("target"):
        items.append(("Variants for this machine", str(pipeline["target"])))
    if pipeline.get("target_reasons"):
        items.append(("Why", "; ".join(map(str, pipeline["target_reasons"]))))
    if pipeline.get("total_seconds") is not None:
        items.append(("Total time (sum of steps)", f"{fnum(pipeline['total_seconds'], 1)} s"))
    fastest = _fastest(run)
    if fastest:
        items.append(("Fastest variant", fastest))
    sec.blocks.append(KeyValues(items, id="summary"))
    for note in pipeline.get("notes") or []:
        sec.blocks.append(Text(str(note)))
    return sec
