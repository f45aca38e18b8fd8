"""Report sections about the model and its training: summary, data, training curves, evaluation.

Each section is a function of the `RunData` loaded once by `edgetl.report.load`; what a run has
not produced shows as "not run" with the command that would produce it.
"""

from __future__ import annotations

from edgetl.report.document import Image, KeyValues, NotRun, Section, Table, Text
from edgetl.report.fmt import fint, fnum, pct, short
from edgetl.report.load import RunData
from edgetl.report.variants import fastest

SHOWN_SKIPPED = 20  # skipped files listed by name; the rest are counted
TRAIN_KEYS = ("model", "pretrained", "mode", "img_size", "probe_solver", "lp_epochs", "lp_lr", "epochs", "lr", "batch_size",
              "optimizer", "auto_augment", "device")  # fmt: skip
METRIC_COLUMNS = ("epoch", "stage", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
TRAIN_HOW = "edgetl train --data DIR --out RUN_DIR"


def summary_section(run: RunData) -> Section:
    cfg, data, ev, pipe = run.config, run.data, run.eval, run.pipeline
    items = [
        ("Model", cfg.model if cfg else "–"),
        ("Weights", cfg.pretrained if cfg else "–"),
        ("Mode", cfg.mode if cfg else "–"),
        ("Data", (data.source if data else None) or (cfg.data if cfg else None) or "–"),
        ("Classes", str(len(data.classes) if data else "") or "–"),
        ("Val top-1 (PyTorch)", pct(ev.top1 if ev else None)),
    ]
    if pipe and pipe.target:
        items.append(("Variants for this machine", pipe.target))
    if pipe and pipe.target_reasons:
        items.append(("Why", "; ".join(pipe.target_reasons)))
    if pipe and pipe.total_seconds is not None:
        items.append(("Total time (sum of steps)", f"{fnum(pipe.total_seconds, 1)} s"))
    best = fastest(run)
    if best:
        items.append(("Fastest variant", best))
    sec = Section("Summary", "summary", [KeyValues([(k, str(v)) for k, v in items], id="summary")])
    sec.blocks += [Text(n) for n in (pipe.notes if pipe else ())]
    return sec


def data_section(run: RunData) -> Section:
    sec = Section("Data", "data")
    data = run.data
    if data is None:
        sec.blocks.append(NotRun(f"no data summary ({run.why('data')})", TRAIN_HOW))
        return sec
    summary = [("Source", data.source or "–"), ("Layout", data.layout or "–"), ("Classes", str(len(data.classes))),
               ("Train images", fint(data.num_train)), ("Val images", fint(data.num_val)),
               ("Skipped files", fint(data.skipped_count))]  # fmt: skip
    sec.blocks.append(KeyValues(summary, id="data-summary"))
    splits = [s for s in ("train", "val") if s in data.counts]
    rows = [[c] + [fint(data.counts[s].get(c, 0)) for s in splits] for c in data.classes]
    if splits:
        rows.append(["total"] + [fint(sum(data.counts[s].values())) for s in splits])
    sec.blocks.append(Table(["class", *splits], rows, caption="Images per class", id="table-classes"))
    n = data.skipped_count
    if not n:
        sec.blocks.append(Text("No file was skipped: every image decoded."))
        return sec
    shown = [[f.path, f.reason] for f in data.skipped[:SHOWN_SKIPPED]]
    cap = f"Skipped files ({n}" + (f", first {SHOWN_SKIPPED} shown)" if n > SHOWN_SKIPPED else ")")
    sec.blocks.append(Table(["file", "reason"], shown, caption=cap, id="table-skipped"))
    return sec


def training_section(run: RunData) -> Section:
    sec = Section("Training", "training")
    if run.config is not None:
        items = [(k, short(getattr(run.config, k))) for k in TRAIN_KEYS]
        sec.blocks.append(KeyValues(items, id="train-config"))
    m = run.metrics
    if m is None:
        sec.blocks.append(NotRun(f"no training metrics ({run.why('metrics')})", TRAIN_HOW))
        return sec
    sec.blocks.append(
        Image(run.folder.curves, "training curves", "Loss and accuracy per epoch (curves.png).")
    )
    if not m.rows:
        return sec
    best = m.best_row()
    if best is not None:
        sec.blocks.append(
            Text(
                f"Best epoch {best.epoch} ({best.stage}), the weights the run kept: val accuracy {pct(best.val_acc)}."
            )
        )
    total = sum(r.seconds or 0.0 for r in m.rows)
    if total:
        sec.blocks.append(Text(f"Training time (sum over epochs): {total:.1f} s."))
    cols = [c for c in METRIC_COLUMNS if c in m.columns]
    table = [[_metric_cell(c, getattr(r, c)) for c in cols] for r in m.rows]
    sec.blocks.append(Table(cols, table, caption="Per-epoch metrics (metrics.csv)", id="table-metrics"))
    return sec


def _metric_cell(column: str, value: object) -> str:
    if column.endswith("_acc"):
        return pct(value)
    if column.endswith("_loss"):
        return fnum(value, 4)
    if column == "lr":
        return fnum(value, 6)
    if column == "seconds":
        return fnum(value, 1)
    return "" if value is None else str(value)


def evaluation_section(run: RunData) -> Section:
    sec = Section("Evaluation", "evaluation")
    ev = run.eval
    if ev is None:
        sec.blocks.append(NotRun(f"no evaluation ({run.why('eval')})", f"edgetl eval {run.folder.root}"))
        return sec
    auc = fnum(ev.auc_macro_ovr, 4) + (f" ({ev.auc_note})" if ev.auc_note else "")
    items = [("Images", fint(ev.n)), ("Top-1", pct(ev.top1)), (f"Top-{ev.top5_k}", pct(ev.top5)),
             ("Macro F1", fnum(ev.macro_f1, 4)), ("Macro one-vs-rest AUC-ROC", auc)]  # fmt: skip
    items += [(k.capitalize(), short(v)) for k, v in (("checkpoint", ev.checkpoint), ("data", ev.data)) if v]
    sec.blocks.append(KeyValues(items, id="eval-summary"))
    if ev.per_class:
        rows = [[name, fnum(c.precision, 4), fnum(c.recall, 4), fnum(c.f1, 4), fint(c.support)]
                for name, c in ev.per_class.items()]  # fmt: skip
        headers = ["class", "precision", "recall", "F1", "support"]
        sec.blocks.append(Table(headers, rows, caption="Per-class metrics", id="table-per-class"))
    caption = "Confusion matrix on the validation set (rows = true class)."
    sec.blocks.append(Image(run.folder.confusion, "confusion matrix", caption))
    return sec


__all__ = ["data_section", "evaluation_section", "summary_section", "training_section"]
