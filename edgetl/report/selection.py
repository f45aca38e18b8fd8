"""Report section: how `--model auto` chose the backbone (RUN_DIR/select.json and select.png)."""

from __future__ import annotations

from edgetl.report.document import Block, Image, KeyValues, Section, Table, Text
from edgetl.report.fmt import fnum, pct
from edgetl.report.load import RunData

HEADERS = ["candidate", "weights", "CV acc (train)", "val acc", "INT8 val acc", "FP32 p50 ms", "INT8 p50 ms",
           "Pareto front", ""]  # fmt: skip


def selection_section(run: RunData) -> Section:
    sec = Section("Model selection", "selection")
    sel, cfg = run.selection, run.config
    if sel is None:
        why = run.why("selection")
        given = f"--model {cfg.model} was given" if cfg is not None else "the model was given"
        text = f"{given}; `--model auto` picks it by measured probe accuracy and latency (edgetl select)."
        sec.blocks.append(Text(f"select.json {why}." if why and "not found" not in why else text))
        return sec
    c = sel.chosen
    items = [("Chosen", f"{c.name} ({c.weights})"), ("Rule", sel.rule),
             ("Candidates", str(len(sel.candidates))), ("Selection time", f"{fnum(sel.seconds, 0)} s")]  # fmt: skip
    rows = [[m.name, m.weights, pct(m.cv_acc), pct(m.val_acc), pct(m.int8_val_acc), fnum(m.fp32_ms, 2), fnum(m.int8_ms, 2),
             "yes" if i in sel.front else "", "chosen" if i == sel.chosen_index else ""]
            for i, m in enumerate(sel.candidates)]  # fmt: skip
    cap = ("Each candidate's solved probe on cached features (CV on the training split decides; val is only "
           "reported) and its exported models timed at batch 1 on this machine")  # fmt: skip
    blocks: list[Block] = [KeyValues(items, id="selection-summary"),
                           Table(HEADERS, rows, caption=cap, id="table-selection")]  # fmt: skip
    blocks += [Text(f"{m.name}: {m.note}") for m in sel.candidates if m.note]
    if run.folder.selection_png.is_file():
        blocks.append(
            Image(
                run.folder.selection_png,
                "selection plot",
                "CV accuracy vs latency, Pareto front (select.png).",
            )
        )
    sec.blocks += blocks
    return sec


__all__ = ["selection_section"]
