"""`--model auto`: run the selection first, train its choice, and keep why it was chosen in the run.

    cfg, choice = choose_model(TrainConfig(data="data/hymenoptera", model="auto"), reporter)
    cfg.model, cfg.pretrained, cfg.img_size      # the chosen candidate's: what trains
    choice.write(run_dir)                         # RUN_DIR/select.json + select.png (report: "Model selection")

The candidates are `--auto-candidates`, else the offline Lite0/1/2 weights at their native size and
+-32 px, or at `--img-size` when one is given (the built-in digits preset: 64 px). The latency that
decides is this machine's CPU target (x86 or ARM INT8). Each candidate's exported files go to a
temporary folder that is removed afterwards; the chosen backbone's cached features are reused by
the training run's probe stage (same model, weights, transform and data: a feature-cache hit).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgetl.select.record import Selection

if TYPE_CHECKING:
    from edgetl.progress import Reporter
    from edgetl.train.config import TrainConfig

AUTO = "auto"


def auto_candidates(cfg: TrainConfig) -> list[str]:
    """The candidates `--model auto` measures for this config."""
    from edgetl.select.config import DEFAULT_CANDIDATES, NATIVE

    if cfg.auto_candidates:
        return list(cfg.auto_candidates)
    if cfg.img_size:
        return [f"{m}:{w}@{cfg.img_size}" for m, (w, _) in NATIVE.items()]
    return list(DEFAULT_CANDIDATES)


@dataclass
class AutoChoice:
    """The selection that decided a `--model auto` run, and the options it set."""

    selection: Selection

    def apply(self, cfg: TrainConfig) -> TrainConfig:
        c = self.selection.chosen
        # the --auto-* options are spent: config.yaml trains (and resumes) the chosen model as given
        return dataclasses.replace(cfg, model=c.model, pretrained=c.weights, img_size=c.img_size,
                                   auto_candidates=None, auto_latency_budget=None)  # fmt: skip

    def write(self, run_dir: str | Path) -> None:
        """RUN_DIR/select.json and RUN_DIR/select.png (the candidates' temporary files are gone: no paths)."""
        from edgetl.select.api import write_selection

        write_selection(self.selection, Path(run_dir))


def choose_model(cfg: TrainConfig, reporter: Reporter) -> tuple[TrainConfig, AutoChoice]:
    """Run `edgetl select` for `cfg` (model "auto") and return cfg with the chosen model, weights and size."""
    from edgetl.pipeline.target import cpu_target
    from edgetl.select.api import select
    from edgetl.select.config import SelectConfig
    from edgetl.train.rundir import RunDir

    RunDir(cfg.run_dir(), is_writer=False).check_new()  # a taken --out fails now, not after the selection
    with tempfile.TemporaryDirectory(prefix="edgetl-select-") as tmp:
        scfg = SelectConfig(data=cfg.data, val_split=cfg.val_split, candidates=auto_candidates(cfg),
                            latency_budget=cfg.auto_latency_budget, target=cpu_target(), out=tmp, seed=cfg.seed,
                            cache_dir=str(cfg.feature_cache_dir()))  # fmt: skip
        reporter.info(f"--model auto: measuring {len(scfg.candidates)} candidates (edgetl select)")
        sel = select(scfg, reporter)
    for m in sel.candidates:
        m.files = None
    choice = AutoChoice(sel)
    new = choice.apply(cfg)
    sel.config = {**sel.config, "out": None}
    sel.applied = {k: getattr(new, k) for k in ("model", "pretrained", "img_size")}
    reporter.info(f"--model auto: training {sel.chosen.name} ({sel.chosen.weights}): {sel.rule}")
    return new, choice


__all__ = ["AUTO", "AutoChoice", "auto_candidates", "choose_model"]
