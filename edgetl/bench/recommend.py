""" "Ship this": the fastest measured configuration that keeps FP32's accuracy, as a pure function of rows.

    rec = recommend(report.rows, max_acc_drop=0.5, min_agreement=None)
    rec.choice, rec.runner_up, rec.reason          # BenchRows and one sentence
    rec.deploy_config()                             # what `Classifier.load(RUN_DIR/deploy)` runs

Candidates are the timed onnxruntime/OpenVINO rows at the smallest batch measured. Each is held
to the onnxruntime FP32 row of its provider: its accuracy may be at most `max_acc_drop` top-1
points lower (one eval image at least, like the export gate), and its agreement with FP32 must
meet its precision's gate: FP32 graphs the FP32 parity limit, runtime-chosen lower precisions
(bf16, fp16) FP16's, INT8 `min_agreement` (reported, not required, when None).
The fastest passing row wins unless the runner-up is not separable from it within noise (the
per-round p50 ranges overlap): then the simpler one wins, onnxruntime before OpenVINO, then
FP32 before lower precisions, and the reason says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgetl.bench.compare import compare, fp32_reference
from edgetl.bench.results import BenchRow
from edgetl.export.gate import applied_budget
from edgetl.export.precisions import FP16_GATE, FP32_GATE

RUNTIME = {"onnx": "onnxruntime", "openvino": "openvino"}  # row kind -> Classifier.load(backend=)
OPENVINO_HINT = {"fp32": "f32", "bf16": "bf16"}  # row precision -> OpenVINO's precision option


def min_agreement_for(precision: str, int8_min: float | None) -> float | None:
    """The agreement with FP32 a precision must reach (None: reported, not required)."""
    if precision == "fp32":
        return FP32_GATE.min_agreement
    if precision in ("bf16", "fp16"):
        return FP16_GATE.min_agreement
    return int8_min


def gate_failure(
    r: BenchRow, ref: BenchRow | None, max_acc_drop: float, int8_min: float | None
) -> str | None:
    """Why `r` may not be shipped (None: it passes)."""
    if ref is None:
        return "no timed onnxruntime FP32 row on this provider and batch to hold it to"
    if r.accuracy is None or ref.accuracy is None:
        return "not scored (no eval images with the model's labels: pass --data VAL_DIR)"
    drop = (ref.accuracy - r.accuracy) * 100
    budget = applied_budget(max_acc_drop, r.n_eval or 0)
    if drop > budget + 1e-3:  # accuracies are stored rounded to 1e-6 (1e-4 points)
        return f"accuracy {r.accuracy:.2%} is {drop:.2f} points below FP32 (--max-acc-drop {max_acc_drop:g})"
    need = min_agreement_for(r.precision, int8_min)
    if need is not None and (r.agreement is None or r.agreement < need):
        seen = "unknown" if r.agreement is None else f"{r.agreement:.2%}"
        return f"agreement with FP32 {seen} < {need:.1%} ({r.precision} gate)"
    return None


def simplicity(r: BenchRow) -> tuple[int, int]:
    return (0 if r.kind == "onnx" else 1, 0 if r.precision == "fp32" else 1)


@dataclass
class Recommendation:
    choice: BenchRow | None
    runner_up: BenchRow | None
    reason: str
    separable: bool | None = None
    rejected: list[str] = field(default_factory=list)  # "<variant> on <provider>: why"
    threads: int | None = None

    def deploy_config(self) -> dict[str, Any] | None:
        """deploy.json's fields for the choice (None: nothing passed)."""
        r = self.choice
        if r is None:
            return None
        options: dict[str, Any] = {}
        if r.kind == "openvino" and r.precision in OPENVINO_HINT:
            options["precision"] = OPENVINO_HINT[r.precision]
        if r.kind == "onnx" and r.provider != "cpu":
            options["providers"] = r.provider
        measured = {
            k: getattr(r, k) for k in ("variant", "provider", "batch", "p50_ms", "accuracy", "agreement")
        }
        return dict(backend=RUNTIME[r.kind], precision=r.precision, threads=r.threads or self.threads, options=options,
                    measured={**measured, "spread": r.spread, "reason": self.reason})  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        def name(r: BenchRow | None) -> str | None:
            t = f", {r.threads} threads" if r is not None and r.threads else ""
            return None if r is None else f"{r.variant} ({RUNTIME[r.kind]} {r.precision}, {r.provider}{t})"

        return {
            "choice": name(self.choice),
            "runner_up": name(self.runner_up),
            "reason": self.reason,
            "separable": self.separable,
            "rejected": list(self.rejected),
            "threads": (self.choice.threads if self.choice else None) or self.threads,
            "deploy": self.deploy_config(),
        }


def recommend(
    rows: Sequence[BenchRow],
    max_acc_drop: float = 0.5,
    min_agreement: float | None = None,
    threads: int | None = None,
) -> Recommendation:
    """The row to ship, its runner-up and why; see the module docstring for the rule."""
    timed = [r for r in rows if r.ok and r.p50_ms and r.kind in RUNTIME]
    if not timed:
        return Recommendation(None, None, "no timed onnxruntime/OpenVINO row to recommend", threads=threads)
    batch = min(r.batch or 0 for r in timed)
    passing, rejected = [], []
    for r in (r for r in timed if r.batch == batch):
        why = gate_failure(r, fp32_reference(rows, r.provider, batch, r.threads), max_acc_drop, min_agreement)
        if why:
            rejected.append(
                f"{r.variant} on {r.provider}" + (f" ({r.threads} threads)" if r.threads else "") + f": {why}"
            )
        else:
            passing.append(r)
    if not passing:
        return Recommendation(
            None, None, "no configuration passed the accuracy gate", rejected=rejected, threads=threads
        )
    ranked = sorted(passing, key=lambda r: r.p50_ms or 0.0)
    fastest = ranked[0]
    tied = [r for r in ranked[1:] if not compare(fastest, r)["separable"]]
    choice = min([fastest, *tied], key=lambda r: (simplicity(r), r.p50_ms))
    others = [r for r in ranked if r is not choice]
    runner = others[0] if others else None
    return Recommendation(
        choice, runner, _reason(choice, runner, fastest, tied), _sep(choice, runner), rejected, threads
    )


def _sep(a: BenchRow, b: BenchRow | None) -> bool | None:
    return None if b is None else bool(compare(a, b)["separable"])


def _reason(choice: BenchRow, runner: BenchRow | None, fastest: BenchRow, tied: list[BenchRow]) -> str:
    if runner is None:
        return f"the only configuration that passed the accuracy gate (batch {choice.batch})"
    c = compare(choice, runner)
    if choice is not fastest:
        return (
            f"not separable within noise from the fastest, {fastest.variant} ({fastest.p50_ms:.3f} vs "
            f"{choice.p50_ms:.3f} ms p50, per-round ranges overlap): the simpler configuration is preferred"
        )
    if not c["separable"]:
        return (
            f"fastest by p50 ({choice.p50_ms:.3f} vs {runner.p50_ms:.3f} ms) but not separable within noise "
            f"from {runner.variant}; it is also the simpler (or equally simple) one"
        )
    lo = c["speedup_range"][0]
    rng = f", {lo:.2f}x at worst across rounds" if lo else ""
    return f"{c['speedup']:.2f}x faster than the runner-up {runner.variant} at batch {choice.batch}{rng}, within the accuracy gate"


def recommendation_lines(rec: dict[str, Any]) -> list[str]:
    """How `edgetl bench` ends: what to ship, the runner-up, why (from report.recommendation)."""
    if not rec:
        return []
    if not rec.get("choice"):
        return [
            f"ship this: nothing ({rec.get('reason')})",
            *[f"  not shipped: {x}" for x in rec.get("rejected", [])],
        ]
    lines = [f"ship this: {rec['choice']}: {rec['reason']}"]
    if rec.get("runner_up"):
        lines.append(f"  runner-up: {rec['runner_up']}")
    lines += [f"  not shipped: {x}" for x in rec.get("rejected", [])]
    if rec.get("deploy_dir"):
        lines.append(f"  written: {rec['deploy_dir']} (Classifier.load or edgetl predict runs exactly this)")
    return lines


__all__ = ["Recommendation", "gate_failure", "min_agreement_for", "recommend", "recommendation_lines"]
