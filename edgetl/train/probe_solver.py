"""The linear probe solved as the convex problem it is: multinomial logistic regression on cached
features, fitted to convergence (L-BFGS), with the L2 strength chosen by stratified k-fold
cross-validation on the training features only.

    fit = solve_probe(train_x, train_y, num_classes=2)
    fit.C, fit.cv_acc, fit.grid      # chosen strength, its CV accuracy, every grid point
    fit.weight, fit.bias             # (classes, features), (classes,): load into the nn.Linear head
    s = fit_scale(logits, y, loss)   # the factor (<= 1) on the logits that minimises the training loss

A few epochs of SGD with dropout stop short of the optimum on these features (a 2-point gap to
scikit-learn's `LogisticRegression` was measured on a held-out photo set). The fit is
scikit-learn's `LogisticRegressionCV` at its own defaults (10 C values from 1e-4 to 1e4,
stratified 5-fold CV in file order, accuracy), so the kit's probe and that reference are the same
fit by construction. Other rules were tried on four datasets' cached features (bench/README.md,
"Recipe suite"): a finer 15-point grid with shuffled folds lost up to 11 of 330 val images on
Fashion-MNIST by picking too strong an L2 among near-ties, and choosing C by CV log-loss lost 3;
neither beat the defaults on the sum over the four. Validation images are never seen here: they
only score the result.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgetl.errors import EdgetlError

# C = 1 / L2 strength; scikit-learn's `LogisticRegressionCV(Cs=10)` grid
DEFAULT_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 4, 10))
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class ProbeFit:
    """A solved head and how its regularization was chosen (saved as the run's `probe.json`)."""

    weight: np.ndarray = field(repr=False)  # (classes, features) float32
    bias: np.ndarray = field(repr=False)  # (classes,) float32
    C: float  # inverse L2 strength (scikit-learn convention: loss summed over samples + ||w||^2 / (2C))
    cv_acc: float | None  # mean CV accuracy at C; None when no class had enough images for CV
    folds: int
    grid: list[dict[str, float]]  # [{"C", "cv_acc", "cv_std"}] in grid order
    seconds: float
    note: str = ""

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("weight")
        d.pop("bias")
        return d


def _folds_for(y: np.ndarray, folds: int) -> int:
    present = np.bincount(y)
    smallest = int(present[present > 0].min()) if present.any() else 0
    return min(folds, smallest)


def _as_head(coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray, num_classes: int) -> tuple:
    """scikit-learn's coefficients as a (num_classes, D) softmax head with the same predictions."""
    d = coef.shape[1]
    w = np.zeros((num_classes, d), dtype=np.float64)
    b = np.zeros(num_classes, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: one logit z for classes[1]; softmax(-z/2, z/2) == sigmoid(z)
        w[classes[0]], w[classes[1]] = -coef[0] / 2, coef[0] / 2
        b[classes[0]], b[classes[1]] = -intercept[0] / 2, intercept[0] / 2
    else:
        w[classes], b[classes] = coef, intercept
        absent = np.setdiff1d(np.arange(num_classes), classes)
        b[absent] = -1e4  # a class with no training image can never be predicted
    return w.astype(np.float32), b.astype(np.float32)


def solve_probe(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    grid: tuple[float, ...] = DEFAULT_GRID,
    folds: int = DEFAULT_FOLDS,
    max_iter: int = 5000,
) -> ProbeFit:
    """Fit the head on (x, y) with C picked by stratified `folds`-fold CV accuracy (ties: stronger L2).

    The folds are scikit-learn's `cv=5` default (StratifiedKFold in the features' order, no
    shuffle), so the result does not depend on a seed.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise EdgetlError(f"probe: expected features (N, D) and N labels, got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise EdgetlError("probe: the backbone produced non-finite features (NaN/inf); check the weights")
    classes = np.unique(y)
    if len(classes) < 2:
        raise EdgetlError("probe: the training split has a single class; a classifier needs at least two")
    grid = tuple(sorted(float(c) for c in grid))
    start = time.perf_counter()
    k = _folds_for(y, folds)
    # One BLAS thread: these matrices are small, and OpenBLAS's spinning threads made one fit 35x
    # slower on 2 busy cores (60 s vs 1.7 s for scikit-learn's digits, load average 18).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.8-1.9 attribute/l1_ratios notices
        if k >= 2:
            cv = StratifiedKFold(n_splits=k)
            model = LogisticRegressionCV(Cs=list(grid), cv=cv, scoring="accuracy", max_iter=max_iter)
            model.fit(x, y)
            scores = next(iter(model.scores_.values()))  # (folds, len(grid)); the same for every class
            mean, std = scores.mean(axis=0), scores.std(axis=0)
            best = int(np.argmax(mean))  # first maximum: the strongest regularization among ties
            c, cv_acc, note = grid[best], float(mean[best]), ""
            rows = [
                {"C": g, "cv_acc": float(m), "cv_std": float(s)}
                for g, m, s in zip(grid, mean, std, strict=True)
            ]
            if float(model.C_[0]) != c:  # refit at exactly the reported C
                model = LogisticRegression(C=c, max_iter=max_iter).fit(x, y)
        else:
            c, cv_acc, rows = 1.0, None, []
            note = "a class has a single training image: no cross-validation, C=1 (scikit-learn's default)"
            model = LogisticRegression(C=c, max_iter=max_iter).fit(x, y)
    w, b = _as_head(model.coef_, model.intercept_, model.classes_, num_classes)
    return ProbeFit(w, b, c, cv_acc, k if k >= 2 else 0, rows, time.perf_counter() - start, note)


def fit_scale(logits: np.ndarray, y: np.ndarray, loss: Callable[[Any, Any], Any]) -> float:
    """The factor s in (0, 1] that minimises `loss(s * logits, y)` on the training features.

    The solved head fits plain cross-entropy to near-zero training loss (huge logits); the stage
    and the fine-tuning after it train with label smoothing, whose minimum along that same head is
    a smaller scale. Handing over the rescaled head (same predictions) starts fine-tuning at that
    loss's minimum along the head instead of with large gradients into the backbone. Never > 1:
    a head is not made more confident than the CV-chosen fit.
    """
    import torch
    from scipy.optimize import minimize_scalar

    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    t = torch.as_tensor(np.asarray(y, dtype=np.int64))

    def at(log_s: float) -> float:
        with torch.no_grad():
            return float(loss(z * float(np.exp(log_s)), t))

    res = minimize_scalar(at, bounds=(float(np.log(1e-3)), 0.0), method="bounded", options={"xatol": 1e-4})
    best = float(np.exp(res.x))
    return 1.0 if at(0.0) <= at(float(res.x)) else best


__all__ = ["DEFAULT_FOLDS", "DEFAULT_GRID", "ProbeFit", "fit_scale", "solve_probe"]
