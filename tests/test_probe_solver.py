"""The solved probe: the same fit as scikit-learn's CV-tuned logistic regression, on training data only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from edgetl.errors import EdgetlError
from edgetl.train.probe_solver import solve_probe

GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    return train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)


def _acc(fit, x, y):
    return float(((x @ fit.weight.T + fit.bias).argmax(1) == y).mean())


def test_defaults_are_scikit_learns_logistic_regression_cv_defaults(digits):
    """The recipe suite's reference is LogisticRegressionCV(cv=5) at its own defaults: the default
    probe is that fit (same C, same predictions), so it can never score below it on the same split."""
    from sklearn.linear_model import LogisticRegressionCV

    xtr, xva, ytr, yva = digits
    xtr, ytr = xtr[:400], ytr[:400]  # small enough for 10 C values x 5 folds in a few seconds
    fit = solve_probe(xtr, ytr, num_classes=10)
    ref = LogisticRegressionCV(cv=5, max_iter=5000).fit(xtr, ytr)
    assert fit.C == pytest.approx(float(ref.C_[0])) and fit.folds == 5 and len(fit.grid) == 10
    np.testing.assert_array_equal((xva @ fit.weight.T + fit.bias).argmax(1), ref.predict(xva))


def test_matches_the_cv_tuned_reference_and_records_the_grid(digits):
    xtr, xva, ytr, yva = digits
    fit = solve_probe(xtr, ytr, num_classes=10, grid=GRID, folds=3)
    ref = LogisticRegression(C=fit.C, max_iter=2000).fit(xtr, ytr)
    assert _acc(fit, xva, yva) == pytest.approx(
        ref.score(xva, yva), abs=1.5 / len(yva)
    )  # converged fits: at most one image apart
    assert [r["C"] for r in fit.grid] == list(GRID)
    assert fit.cv_acc == max(r["cv_acc"] for r in fit.grid)
    assert fit.C == next(r["C"] for r in fit.grid if r["cv_acc"] == fit.cv_acc)  # ties: strongest L2
    assert fit.folds == 3 and fit.weight.shape == (10, 64) and fit.bias.shape == (10,)


def test_binary_head_gives_scikit_learns_probabilities(digits):
    xtr, xva, ytr, _ = digits
    m = ytr < 2
    fit = solve_probe(xtr[m], ytr[m], num_classes=2, grid=(1.0,), folds=3)
    ref = LogisticRegression(C=1.0, max_iter=2000).fit(xtr[m], ytr[m])
    z = xva @ fit.weight.T + fit.bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    # both converged to L-BFGS's tolerance, not bit-equal; sigmoid(z) vs a wrong sigmoid(2z) differs by far more
    np.testing.assert_allclose(p, ref.predict_proba(xva), atol=2e-2)
    assert (p.argmax(1) == ref.predict(xva)).mean() > 0.99


def test_regularization_is_chosen_by_cv_not_fixed():
    rng = np.random.default_rng(0)
    # pure noise with many features: CV must pick strong regularization (small C)
    noise = solve_probe(rng.normal(size=(60, 200)), rng.integers(0, 2, 60), 2, grid=GRID, folds=3)
    # well separated clusters: any C fits; CV accuracy is perfect
    x = np.concatenate([rng.normal(-3, 1, (30, 5)), rng.normal(3, 1, (30, 5))])
    clean = solve_probe(x, np.repeat([0, 1], 30), 2, grid=GRID, folds=3)
    assert clean.cv_acc == 1.0
    assert noise.cv_acc < 0.8


def test_a_class_with_one_image_skips_cv_and_says_so():
    x = np.array([[0.0], [0.1], [0.2], [5.0]])
    fit = solve_probe(x, np.array([0, 0, 0, 1]), num_classes=2)
    assert fit.cv_acc is None and fit.folds == 0 and "single training image" in fit.note
    assert (x @ fit.weight.T + fit.bias).argmax(1).tolist() == [0, 0, 0, 1]


def test_a_class_absent_from_training_is_never_predicted():
    x = np.array([[0.0], [0.1], [5.0], [5.1]] * 3)
    fit = solve_probe(x, np.array([0, 0, 2, 2] * 3), num_classes=3, grid=(1.0,), folds=2)
    assert set((x @ fit.weight.T + fit.bias).argmax(1).tolist()) == {0, 2}


@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.zeros((4, 2)), np.zeros(4, dtype=int), "single class"),
        (np.full((4, 2), np.nan), np.array([0, 1, 0, 1]), "non-finite"),
        (np.zeros((4, 2)), np.array([0, 1, 0]), "expected features"),
    ],
)
def test_bad_features_are_one_clear_error(x, y, match):
    with pytest.raises(EdgetlError, match=match):
        solve_probe(x, y, num_classes=2)


def test_the_handed_on_scale_is_the_minimum_of_the_smoothed_loss_and_never_above_one(digits):
    import torch
    from torch import nn

    from edgetl.train.probe_solver import fit_scale

    xtr, _, ytr, _ = digits
    fit = solve_probe(xtr, ytr, num_classes=10, grid=(100.0,), folds=3)  # weak L2: a near-zero training loss
    z = xtr @ fit.weight.T.astype(np.float64) + fit.bias
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)

    def loss(k: float) -> float:
        return float(smoothed(torch.as_tensor(z * k), torch.as_tensor(ytr)))

    s = fit_scale(z, ytr, smoothed)
    assert 0 < s < 1 and loss(s) < loss(1.0)
    assert loss(s) <= min(loss(0.9 * s), loss(1.1 * s))
    assert fit_scale(z, ytr, nn.CrossEntropyLoss()) == 1.0  # plain CE would want a larger scale: capped at 1
