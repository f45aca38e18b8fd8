"""What an exported variant must meet against PyTorch, and every check that decides it.

    gate = Gate(min_agreement=0.95, max_acc_drop=0.5)
    gate.text()          # "top-1 agreement >= 95.0%, val top-1 drop <= 0.5 points vs PyTorch"
    gate.failures(res)   # [] = passed; otherwise one line per failed check, with its numbers

A gate owns all of its checks: what `text()` shows is exactly what `failures()` tests, so the
report cannot describe a condition that is checked somewhere else. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ParityResult:
    """A variant's outputs against PyTorch's on the same preprocessed val images."""

    n: int
    max_abs_diff: float
    mean_abs_diff: float
    rel_diff: float  # max_abs_diff / max(1, max |reference logit|)
    agreement: float  # top-1 agreement with PyTorch, 0-1
    flips: int
    accuracy: float  # top-1 on val, 0-1
    reference_accuracy: float  # PyTorch top-1 on the same images
    provider: str  # onnxruntime provider that really ran
    provider_note: str | None = None


def applied_budget(max_acc_drop: float, n: int) -> float:
    """The budget the val set can measure: with n images one image is 100/n points, the finest step."""
    return max(max_acc_drop, 100.0 / max(n, 1))


@dataclass(frozen=True)
class Gate:
    """Agreement, logit-difference and accuracy-drop limits; None = that check is off."""

    min_agreement: float
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    max_acc_drop: float | None = None  # top-1 points on val; finer than one image counts as one image

    def text(self) -> str:
        parts = [f"top-1 agreement >= {self.min_agreement:.1%}"]
        if self.max_abs_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_abs_diff:g}")
        if self.max_rel_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_rel_diff:g} x max(1, max |logit|)")
        if self.max_acc_drop is not None:
            parts.append(f"val top-1 drop <= {self.max_acc_drop:g} points vs PyTorch")
        return ", ".join(parts)

    def failures(self, r: ParityResult) -> list[str]:
        bad = []
        if r.agreement < self.min_agreement:
            bad.append(
                f"agreement {r.agreement:.2%} ({r.flips} of {r.n} top-1 flips) < {self.min_agreement:.1%}"
            )
        if self.max_abs_diff is not None and not r.max_abs_diff <= self.max_abs_diff:
            bad.append(f"max |logit diff| {r.max_abs_diff:.3g} > {self.max_abs_diff:g}")
        if self.max_rel_diff is not None and not r.rel_diff <= self.max_rel_diff:
            bad.append(f"relative logit diff {r.rel_diff:.3g} > {self.max_rel_diff:g}")
        if self.max_acc_drop is not None:
            drop = 100.0 * (r.reference_accuracy - r.accuracy)
            budget = applied_budget(self.max_acc_drop, r.n)
            if drop > budget + 1e-9:
                unit = (
                    ""
                    if budget == self.max_acc_drop
                    else f", applied as one of {r.n} val images = {budget:.2f}"
                )
                bad.append(
                    f"val top-1 {100 * r.accuracy:.2f}% is {drop:.2f} points below PyTorch's "
                    f"{100 * r.reference_accuracy:.2f}% (budget {self.max_acc_drop:g}{unit})"
                )
        return bad


__all__ = ["Gate", "ParityResult", "applied_budget"]
