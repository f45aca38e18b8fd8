"""What an exported variant must meet against PyTorch, and every check that decides it.

    gate = Gate(min_agreement=None, max_acc_drop=0.5, agreement_flag="--min-agreement")
    gate.text()          # "val top-1 drop <= 0.5 points vs PyTorch (at least one val image); ..."
    gate.checks(res)     # [Check(name="accuracy_drop", passed=True, value=0.2, limit=0.5, ...), ...]
    gate.failures(res)   # [] = passed; otherwise one line per failed check, with its numbers and flag

A gate owns all of its checks: what `text()` shows is exactly what `checks()` tests, so the
report cannot describe a condition that is checked somewhere else. A check whose limit is None
is a diagnostic: measured and reported, never a reason to refuse. Torch-free.
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


@dataclass(frozen=True)
class Check:
    """One measured condition: its value, its limit (None: diagnostic only) and the flag that relaxes it."""

    name: str  # "agreement" | "max_abs_diff" | "rel_diff" | "accuracy_drop"
    passed: bool
    value: float
    limit: float | None
    message: str
    flag: str | None = None


def applied_budget(max_acc_drop: float, n: int) -> float:
    """The budget the val set can measure: with n images one image is 100/n points, the finest step."""
    return max(max_acc_drop, 100.0 / max(n, 1))


def equal_accuracy_agreement(reference_accuracy: float) -> float:
    """The lowest top-1 agreement an INT8 exactly as accurate as PyTorch can have.

    With PyTorch error e, every image PyTorch gets wrong may change to another wrong class, and as
    many right answers may turn wrong as wrong ones turn right: up to 2e of the images flip.
    """
    return max(0.0, 1.0 - 2.0 * (1.0 - reference_accuracy))


def _relax(flag: str | None, verb: str) -> str:
    return f": {verb} {flag} to accept it" if flag else ""


@dataclass(frozen=True)
class Gate:
    """Agreement, logit-difference and accuracy-drop limits; None = that check is off (agreement: reported)."""

    min_agreement: float | None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    max_acc_drop: float | None = None  # top-1 points on val; finer than one image counts as one image
    agreement_flag: str | None = None  # the option that sets min_agreement (None: fixed by the precision)
    acc_drop_flag: str | None = None

    def text(self) -> str:
        parts = []
        if self.max_acc_drop is not None:
            parts.append(
                f"val top-1 drop <= {self.max_acc_drop:g} points vs PyTorch (at least one val image)"
            )
        if self.min_agreement is not None:
            parts.append(f"top-1 agreement >= {self.min_agreement:.1%}")
        if self.max_abs_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_abs_diff:g}")
        if self.max_rel_diff is not None:
            parts.append(f"max |logit diff| <= {self.max_rel_diff:g} x max(1, max |logit|)")
        if self.min_agreement is None:
            how = f" ({self.agreement_flag} makes it a limit)" if self.agreement_flag else ""
            parts.append(f"top-1 agreement reported, not required{how}")
        return ", ".join(parts)

    def checks(self, r: ParityResult) -> list[Check]:
        out = [self._agreement(r)]
        if self.max_abs_diff is not None:
            ok = r.max_abs_diff <= self.max_abs_diff
            msg = f"max |logit diff| {r.max_abs_diff:.3g} {'<=' if ok else '>'} {self.max_abs_diff:g}"
            out.append(Check("max_abs_diff", ok, r.max_abs_diff, self.max_abs_diff, msg))
        if self.max_rel_diff is not None:
            ok = r.rel_diff <= self.max_rel_diff
            msg = f"relative logit diff {r.rel_diff:.3g} {'<=' if ok else '>'} {self.max_rel_diff:g}"
            out.append(Check("rel_diff", ok, r.rel_diff, self.max_rel_diff, msg))
        if self.max_acc_drop is not None:
            out.append(self._accuracy(r, self.max_acc_drop))
        return out

    def failures(self, r: ParityResult) -> list[str]:
        return [c.message for c in self.checks(r) if not c.passed]

    def _agreement(self, r: ParityResult) -> Check:
        seen = f"agreement {r.agreement:.2%} ({r.flips} of {r.n} top-1 flips)"
        if self.min_agreement is None:
            floor = equal_accuracy_agreement(r.reference_accuracy)
            msg = (
                f"{seen}, not required: an INT8 exactly as accurate as PyTorch ({r.reference_accuracy:.2%} "
                f"on these images) can agree on as few as {floor:.2%}"
            )
            return Check("agreement", True, r.agreement, None, msg, self.agreement_flag)
        ok = r.agreement >= self.min_agreement
        msg = f"{seen} {'>=' if ok else '<'} {self.min_agreement:.1%}"
        return Check("agreement", ok, r.agreement, self.min_agreement,
                     msg + ("" if ok else _relax(self.agreement_flag, "lower")), self.agreement_flag)  # fmt: skip

    def _accuracy(self, r: ParityResult, max_drop: float) -> Check:
        drop = 100.0 * (r.reference_accuracy - r.accuracy)
        budget = applied_budget(max_drop, r.n)
        ok = drop <= budget + 1e-9
        unit = "" if budget == max_drop else f", applied as one of {r.n} val images = {budget:.2f}"
        msg = (
            f"val top-1 {100 * r.accuracy:.2f}% is {drop:.2f} points below PyTorch's "
            f"{100 * r.reference_accuracy:.2f}% (budget {max_drop:g}{unit})"
        )
        return Check("accuracy_drop", ok, drop, budget, msg + ("" if ok else _relax(self.acc_drop_flag, "raise")),
                     self.acc_drop_flag)  # fmt: skip


__all__ = ["Check", "Gate", "ParityResult", "applied_budget", "equal_accuracy_agreement"]
