"""`edgetl eval`: metrics of the best checkpoint, other data, and K-fold CV on cached features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import COLORS, write_images

from edgetl.cli import main
from edgetl.train import TrainConfig, train


def _folder(root: Path, classes=("ant", "bee", "cat"), n_train=10, n_val=5) -> Path:
    for i, cls in enumerate(classes):
        write_images(root / "train" / cls, COLORS[i], n_train, seed=i)
        write_images(root / "val" / cls, COLORS[i], n_val, seed=100 + i)
    return root


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("eval")
    data = _folder(base / "data")
    cfg = TrainConfig(
        data=str(data),
        model="test_efficientnet",
        pretrained="none",
        img_size=32,
        mode="linear-probe",
        lp_epochs=4,
        lp_lr=0.05,
        batch_size=8,
        out=str(base / "run"),
        cache_dir=str(base / "cache"),
        quiet=True,
    )
    train(cfg)
    return base / "run"


def test_eval_reports_every_metric(probe_run: Path, capsys) -> None:
    trained = json.loads((probe_run / "eval" / "eval.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(probe_run), "--quiet"]) == 0
    out = capsys.readouterr().out
    for text in ("top1=", "top3=", "macro-F1=", "AUC(ovr, macro)=", "precision", "confusion (rows = true"):
        assert text in out
    report = json.loads((probe_run / "eval" / "eval.json").read_text())
    assert report["n"] == 15 and report["top1"] == pytest.approx(trained["top1"], abs=1e-6)
    assert set(report["per_class"]) == {"ant", "bee", "cat"}
    assert report["auc_macro_ovr"] is not None and sum(map(sum, report["confusion"])) == 15
    assert (probe_run / "eval" / "confusion.png").stat().st_size > 0


def test_cv_reuses_the_feature_cache(probe_run: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["eval", str(probe_run), "--cv", "3", "--cache-dir", str(probe_run.parent / "cache")]) == 0
    captured = capsys.readouterr()
    assert "feature cache hit: " in captured.err  # the training run's features: no image is decoded again
    assert "3-fold CV (linear probe on frozen test_efficientnet" in captured.out
    cv = json.loads((probe_run / "eval" / "eval.json").read_text())["cv"]
    assert len(cv["per_fold"]) == 3 and sum(f["n"] for f in cv["per_fold"]) == 45
    assert 0 <= cv["top1_mean"] <= 1 and cv["top1_std"] is not None
    assert "4 epochs" in cv["method"] or "epochs (the run's best probe epoch)" in cv["method"]


def test_eval_on_other_data(probe_run: Path, tmp_path: Path, capsys) -> None:
    other = _folder(tmp_path / "field_photos", n_train=2, n_val=3)
    assert main(["eval", str(probe_run), "--data", str(other), "--quiet"]) == 0
    report = json.loads((probe_run / "eval" / "field_photos" / "eval.json").read_text())
    assert report["n"] == 9 and report["data"].endswith("field_photos")
    assert main(["eval", str(probe_run), "--data", str(other), "--split", "all", "--quiet"]) == 0
    assert json.loads((probe_run / "eval" / "field_photos" / "eval.json").read_text())["n"] == 15

    wrong = _folder(tmp_path / "wrong", classes=("ant", "bee", "dog"), n_train=2, n_val=2)
    capsys.readouterr()
    assert main(["eval", str(probe_run), "--data", str(wrong)]) == 2
    err = capsys.readouterr().err.strip()
    assert "classes ['ant', 'bee', 'dog'] differ from the run's ['ant', 'bee', 'cat']" in err
    assert len(err.splitlines()) == 1


def test_eval_bad_inputs(probe_run: Path, tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["eval", str(tmp_path)]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    assert main(["eval", str(probe_run), "--cv", "1"]) == 2
    assert "--cv must be >= 2 folds" in capsys.readouterr().err
    assert main(["eval", str(probe_run), "--cv", "20"]) == 2
    assert "--cv 20:" in capsys.readouterr().err


def test_eval_flags_are_evaluates_arguments() -> None:
    """EvalConfig's fields are `evaluate`'s arguments (same names, same defaults) and the CLI's flags."""
    import dataclasses
    import inspect

    from edgetl.cli import build_parser
    from edgetl.train import evaluate
    from edgetl.train.eval_config import EvalConfig

    params = {n: p.default for n, p in inspect.signature(evaluate).parameters.items() if n != "reporter"}
    fields = {f.name: f.default for f in dataclasses.fields(EvalConfig)}
    assert fields == {**params, "run_dir": dataclasses.MISSING}
    args = build_parser().parse_args(["eval", "runs/x", "--cv", "5", "--split", "all", "--quiet"])
    assert (args.run_dir, args.cv, args.split, args.data, args.quiet) == ("runs/x", 5, "all", None, True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "runs/x", "--device", "tpu"])
