"""Report section: how the solved probe chose its L2 strength (probe.json), one table of the CV grid."""

from __future__ import annotations

from edgetl.report.document import KeyValues, NotRun, Section, Table, Text
from edgetl.report.fmt import fint, fnum, pct
from edgetl.report.load import RunData


def probe_section(run: RunData) -> Section:
    sec = Section("Probe", "probe")
    cfg, p = run.config, run.probe
    if p is None:
        if cfg is not None and cfg.mode == "finetune":
            sec.blocks.append(Text("Mode finetune: no probe stage."))
        elif cfg is not None and getattr(cfg, "probe_solver", "lbfgs") == "sgd":
            sec.blocks.append(
                Text(f"The probe stage ran up to {cfg.lp_epochs} SGD epochs (--probe-solver sgd).")
            )
        else:
            sec.blocks.append(
                NotRun(f"no solved probe ({run.why('probe')})", "edgetl train --data DIR --out RUN_DIR")
            )
        return sec
    cv = f"{pct(p.cv_acc)} ({p.folds}-fold, training split only)" if p.cv_acc is not None else "no CV"
    items = [("Solver", "multinomial logistic regression, L-BFGS to convergence"), ("Chosen C (1 / L2 strength)", f"{p.C:.3g}"),
             ("CV accuracy at C", cv), ("Train / val accuracy", f"{pct(p.train_acc)} / {pct(p.val_acc)}"),
             ("Features x images", f"{fint(p.num_features)} x {fint(p.num_train)}"), ("Solve time", f"{fnum(p.seconds, 1)} s")]  # fmt: skip
    if p.scale is not None:
        items.append(
            (
                "Logit scale handed on",
                f"{p.scale:.3g} (minimises the stage's loss, label smoothing included, along the fit)",
            )
        )
    if p.note:
        items.append(("Note", p.note))
    sec.blocks.append(KeyValues(items, id="probe-summary"))
    rows = [[f"{g.C:.3g}", pct(g.cv_acc), pct(g.cv_std), "chosen" if g.C == p.C else ""] for g in p.grid]
    if rows:
        cap = "CV accuracy per C (val never used to choose; ties go to the stronger L2)"
        sec.blocks.append(Table(["C", "CV acc", "CV std", ""], rows, caption=cap, id="table-probe-grid"))
    return sec


__all__ = ["probe_section"]
