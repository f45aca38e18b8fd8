"""One run's mutable side: metrics rows, best weights, and every file written after each epoch.

    session = RunSession(run_dir, fit_ctx, checkpoint_meta, EarlyStopping("val_acc", 5))
    runner = session.run_stage(runner_ctx, stages, 0, resume=None)   # trains, writes after each epoch
    result = session.finish(runner_ctx, stages, runner, splits, started)

After each epoch: best.safetensors (when improved), last.safetensors, metrics.csv, curves.png
and the resumable train state, in that order, each atomically; the train state is the commit
point `--resume` continues from. The state stores only tensors that differ from the model as
created (pretrained backbone + seeded head), so during a probe it holds the head alone.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from edgetl.errors import EdgetlError
from edgetl.train.result import TrainResult

if TYPE_CHECKING:
    from edgetl.data import DataSplits
    from edgetl.models import CheckpointMeta
    from edgetl.train.early_stopping import EarlyStopping
    from edgetl.train.loop import EpochEnd, FitContext, StageState
    from edgetl.train.modes import Stage
    from edgetl.train.rundir import RunDir
    from edgetl.train.runners import Runner, RunnerContext


class RunSession:
    """The mutable side of one run: rows, best weights, early stopping, and the files after each epoch."""

    def __init__(self, run: RunDir, ctx: FitContext, meta: CheckpointMeta, stopper: EarlyStopping):
        from edgetl.train.feature_cache import backbone_hash

        self.run, self.ctx, self.meta, self.stopper = run, ctx, meta, stopper
        self.rows: list[dict[str, Any]] = []
        self.best_state: dict[str, Any] | None = None
        # The model as created (pretrained backbone + seeded head). The train state stores only
        # tensors that differ from it: during a probe that is the head alone, kilobytes not megabytes.
        self.reference = {k: v.detach().cpu().clone() for k, v in ctx.model.state_dict().items()}
        self.reference_hash = backbone_hash(ctx.model)

    def _delta(self, state: dict[str, Any] | None) -> dict[str, Any] | None:
        import torch

        if state is None:
            return None
        out = {}
        for k, v in state.items():
            v = v.detach().cpu()
            if not torch.equal(v, self.reference[k]):
                out[k] = v.clone()
        return out

    def _full(self, delta: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if delta is None else {**self.reference, **delta}

    def restore(self, state: dict[str, Any]) -> tuple[int, StageState | None]:
        """Load a saved train state -> (stage to run next, how far into it; None = from its start)."""
        from edgetl.train.loop import StageState

        if state.get("reference_hash") != self.reference_hash:
            raise EdgetlError(
                f"--resume {self.run.path}: the pretrained weights ({self.meta.weights}) changed since the run "
                "started; it cannot continue exactly: start a new run"
            )
        self.ctx.model.load_state_dict(self._full(state["model"]))
        self.stopper.load_state_dict(state["stopper"])
        self.rows = [dict(r) for r in state["rows"]]
        self.best_state = self._full(state["best_model"])
        if state["stage_done"]:
            return int(state["stage_index"]) + 1, None
        stage = dict(state["stage"])
        stage["ema"] = self._full(stage.get("ema"))
        return int(state["stage_index"]), StageState(**stage)

    def _meta(self, row: dict[str, Any]) -> CheckpointMeta:
        keys = ("train_loss", "train_acc", "val_loss", "val_acc")
        return dataclasses.replace(
            self.meta, epoch=int(row["epoch"]), metrics={k: float(row[k]) for k in keys}
        )

    def run_stage(
        self, rctx: RunnerContext, stages: list[Stage], si: int, resume: StageState | None
    ) -> Runner:
        """Train stage `si` (from `resume`), writing checkpoints, metrics and the train state after each epoch."""
        from edgetl.models import save_checkpoint
        from edgetl.train.loop import METRIC_COLUMNS, run_stage
        from edgetl.train.runners import RUNNERS

        stage, model, run = stages[si], self.ctx.model, self.run
        if resume is None and si > 0 and self.best_state is not None:
            model.load_state_dict(self.best_state)  # e.g. fine-tuning starts from the best probed head
        runner = RUNNERS.get(stage.kind)(rctx)
        first_epoch = len(self.rows) - (resume.epochs_done if resume else 0) + 1

        def on_epoch(end: EpochEnd) -> None:
            row = end.row
            if end.probe is not None:  # before the train state: a resumed run skips the solved stage
                run.write_json(run.layout.probe, end.probe)
            if end.improved:
                self.best_state = {
                    k: v.detach().cpu().clone() for k, v in end.eval_model.state_dict().items()
                }
                for r in self.rows:
                    r["best"] = 0
                row["best"] = 1
                if run.is_writer:
                    save_checkpoint(run.best, end.eval_model, self._meta(row))
            self.rows.append(row)
            if run.is_writer:
                save_checkpoint(run.last, end.eval_model, self._meta(row))
            row["seconds"] += time.perf_counter() - end.clock  # an epoch's cost includes its checkpoints
            run.write_metrics(self.rows, METRIC_COLUMNS)
            if runner.kind == "finetune" or end.stage_done:
                run.write_curves(self.rows)
            if not run.is_writer:
                return  # ranks > 0 of a torchrun run keep the same rows and best weights, but write nothing
            stage_state = dataclasses.asdict(end.state)
            stage_state["ema"] = self._delta(stage_state["ema"])
            run.save_state(
                {
                    "stage_index": si,
                    "stage_done": end.stage_done,
                    "stage": stage_state,
                    "model": self._delta(model.state_dict()),
                    "best_model": self._delta(self.best_state),
                    "reference_hash": self.reference_hash,
                    "stopper": self.stopper.state_dict(),
                    "rows": self.rows,
                }
            )

        run_stage(self.ctx, runner, stage, si, self.stopper, first_epoch, resume, on_epoch)
        return runner

    def finish(
        self,
        rctx: RunnerContext,
        stages: list[Stage],
        runner: Runner | None,
        splits: DataSplits,
        started: float,
    ) -> TrainResult:
        """Restore the best weights, evaluate them on val into eval/, remove the train state -> TrainResult."""
        from edgetl.metrics import classification_metrics, format_metrics, plot_confusion
        from edgetl.train.loop import METRIC_COLUMNS, predict
        from edgetl.train.runners import RUNNERS

        run, model, rep = self.run, self.ctx.model, self.ctx.reporter
        if self.best_state is None:
            raise EdgetlError(
                "no epoch produced a usable validation metric (NaN); check the data and lower the learning rate"
            )
        model.load_state_dict(self.best_state)
        if runner is None:  # resumed after the last epoch: only the final evaluation was missing
            runner = RUNNERS.get(stages[-1].kind)(rctx)
            runner.prepare(model)
        scores, labels = predict(self.ctx, model, runner)
        metrics = classification_metrics(scores, labels, splits.classes)
        best = next(r for r in self.rows if int(r["best"]) == 1)
        report = {
            **metrics,
            "split": "val",
            "data": splits.source,
            "checkpoint": "best",
            "epoch": int(best["epoch"]),
            "stage": best["stage"],
        }
        run.write_json(run.eval_dir / "eval.json", report)
        if run.is_writer:
            plot_confusion(metrics["confusion"], splits.classes, run.eval_dir / "confusion.png")
        run.write_metrics(self.rows, METRIC_COLUMNS)
        run.write_curves(self.rows)
        run.remove_state()
        failed = getattr(runner, "failed", lambda: [])()
        if failed:
            from edgetl.data import skipped_message

            rep.warn(f"during training {skipped_message(failed)} (neighbouring images were used instead)")
        stopped = any(sum(1 for r in self.rows if r["stage"] == s.name) < s.epochs for s in stages)
        rep.info(format_metrics(metrics))
        rep.result(
            f"best epoch {best['epoch']} ({best['stage']}): val acc {100 * float(best['val_acc']):.2f}%, "
            f"val loss {float(best['val_loss']):.4f}; run dir {run.path}"
        )
        return TrainResult(
            run_dir=run.path,
            best_epoch=int(best["epoch"]),
            best_stage=str(best["stage"]),
            best_metrics={
                k: best[k] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
            },
            stopped_early=stopped,
            epochs_run=len(self.rows),
            eval=report,
            classes=list(splits.classes),
            seconds=time.perf_counter() - started,
        )


__all__ = ["RunSession"]
