"""`select(cfg)`: measure every candidate, mark the Pareto front, pick one by the rule, write it down.

    sel = select(SelectConfig(data="data/hymenoptera", latency_budget=3.0))
    sel.chosen.name, sel.rule                      # e.g. "tf_efficientnet_lite0@224", "--latency-budget ..."

The deciding accuracy is the probe's CV accuracy on the training split (val is reported, never
used to choose); the deciding latency is the target's INT8 model at batch 1 (FP32 where no INT8
file passed its gate). OUT/select.json holds every number, OUT/select.png the plot.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from edgetl._io import atomic_write_json, claim_outputs
from edgetl._lock import lock_folder, lock_scope
from edgetl.errors import EdgetlError
from edgetl.progress import Reporter
from edgetl.select.config import SelectConfig
from edgetl.select.measure import ROUNDS, Measured, MeasureOptions, check_candidate, measure, time_candidates
from edgetl.select.record import Selection
from edgetl.select.rule import Point, choose, pareto_front

SELECT_JSON = "select.json"
SELECT_PNG = "select.png"


def deciding_latency(m: Measured) -> tuple[float | None, str]:
    return (m.int8_ms, "int8") if m.int8_ms is not None else (m.fp32_ms, "fp32")


def decide(measured: list[Measured], budget_ms: float | None) -> tuple[list[int], int, str, str]:
    """(front indices, chosen index, rule sentence, latency kind) over the candidates that were timed."""
    usable = [
        i for i, m in enumerate(measured) if m.cv_acc is not None and deciding_latency(m)[0] is not None
    ]
    if not usable:
        raise EdgetlError(
            "select: no candidate has both a CV accuracy and a latency; see the notes in select.json"
        )
    kinds = {deciding_latency(measured[i])[1] for i in usable}
    points = [
        Point(measured[i].name, float(measured[i].cv_acc), float(deciding_latency(measured[i])[0]))
        for i in usable
    ]  # type: ignore[arg-type]
    pick = choose(points, budget_ms)
    front = [usable[j] for j in pareto_front(points)]
    kind = "int8" if kinds == {"int8"} else "int8 where measured, else fp32"
    rule = pick.rule + f"; latency = {kind} p50 at batch 1 ({ROUNDS} interleaved rounds)"
    return front, usable[pick.index], rule, kind


@lock_scope()  # --out's writer lock is held until the selection is written (or the process dies)
def select(cfg: SelectConfig, reporter: Reporter | None = None) -> Selection:
    """Measure the candidates of `cfg` and pick one; writes OUT/select.json and OUT/select.png."""
    from edgetl.data import load_splits
    from edgetl.pipeline.target import cpu_target
    from edgetl.select.show import table_text, terminal_plot

    rep = reporter or Reporter()
    if not cfg.data:
        raise EdgetlError("--data is required: an image folder or a built-in dataset such as 'digits'")
    for cand in cfg.parsed():
        check_candidate(cand)  # every name, before the first candidate is measured
    out = Path(cfg.out)
    lock_folder(out, "--out")  # one writer; and never replace a select.json/png edgetl did not write
    claim_outputs(out, [SELECT_JSON, SELECT_PNG])
    start = time.perf_counter()
    data = str(Path(cfg.data).resolve()) if Path(cfg.data).is_dir() else cfg.data
    splits = load_splits(data, cfg.val_split, cfg.seed)
    target = cpu_target() if cfg.target == "auto" else cfg.target
    opts = MeasureOptions(data=data, val_split=cfg.val_split, seed=cfg.seed, target=target, threads=cfg.threads,
                          runs=cfg.runs, budget_s=cfg.time_budget, calib_images=cfg.calib_images,
                          cache_dir=cfg.cache_dir)  # fmt: skip
    measured = []
    cands = cfg.parsed()
    for k, cand in enumerate(cands, 1):
        rep.info(f"select: candidate {k}/{len(cands)} {cand.name} ({cand.weights})")
        m = measure(cand, splits, opts, out, rep)
        rep.info(f"  CV acc {100 * (m.cv_acc or 0):.2f}%  val acc {100 * m.val_acc:.2f}%  "
                 f"exported {', '.join(m.files or {}) or 'nothing'}  {m.seconds:.0f} s")  # fmt: skip
        measured.append(m)
    rep.info(f"select: timing {sum(len(m.files or {}) for m in measured)} models at batch 1, "
             f"{ROUNDS} interleaved rounds")  # fmt: skip
    time_candidates(measured, opts)
    front, chosen, rule, kind = decide(measured, cfg.latency_budget)
    sel = Selection(measured, front, chosen, rule, kind, time.perf_counter() - start, data,
                    {**dataclasses.asdict(cfg), "target": target})  # fmt: skip
    write_selection(sel, out)
    rep.result(table_text(sel))
    rep.result(terminal_plot(sel))
    rep.result(f"chosen: {sel.chosen.name} ({sel.chosen.weights}): {rule}; wrote {out / SELECT_JSON}")
    return sel


def write_selection(sel: Selection, folder: Path) -> None:
    """FOLDER/select.json (every number) and FOLDER/select.png (the plot), both atomic."""
    from edgetl.select.show import plot_png

    atomic_write_json(folder / SELECT_JSON, sel.to_dict())
    plot_png(sel, folder / SELECT_PNG)


__all__ = [
    "SELECT_JSON",
    "SELECT_PNG",
    "Selection",
    "decide",
    "deciding_latency",
    "select",
    "write_selection",
]
