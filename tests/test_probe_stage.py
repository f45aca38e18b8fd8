"""The solved probe as the default probe stage: one row, probe.json, the report, heads, fallback, torchrun."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_TRAIN
from safetensors.torch import load_file
from torch import nn

from edgetl.progress import Reporter
from edgetl.train import TrainConfig, train
from edgetl.train.probe_stage import linear_heads, load_solution

SOLVED = {**TINY_TRAIN, "probe_solver": "lbfgs", "quiet": True}


def rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def cached_features(cache: Path) -> dict[str, torch.Tensor]:
    (entry,) = list(cache.glob("*.safetensors"))
    return load_file(str(entry))


@pytest.fixture(scope="module")
def solved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A default-solver linear-probe run on 3 classes of generated images (module-wide: ~5 s)."""
    from conftest import COLORS, write_images

    root = tmp_path_factory.mktemp("probe")
    for i, cls in enumerate(("ant", "bee", "cat")):
        write_images(root / "data" / "train" / cls, COLORS[i], 12, (40, 32), seed=i)
        write_images(root / "data" / "val" / cls, COLORS[i], 6, (40, 32), seed=100 + i)
    run, cache = root / "run", root / "cache"
    train(
        TrainConfig(
            data=str(root / "data"), out=str(run), cache_dir=str(cache), mode="linear-probe", **SOLVED
        )
    )
    return run, cache


def test_solved_probe_is_one_row_with_its_choice_recorded(solved_run: tuple[Path, Path]) -> None:
    from edgetl.runfolder import read_probe
    from edgetl.train.probe_solver import DEFAULT_GRID

    assert TrainConfig().probe_solver == "lbfgs"  # the default since issue 11
    run, _ = solved_run
    table = rows(run)
    assert [(r["epoch"], r["stage"], r["best"]) for r in table] == [("1", "probe", "1")]
    rec = read_probe(run)
    assert rec.C in DEFAULT_GRID and [g.C for g in rec.grid] == list(DEFAULT_GRID)
    assert rec.folds == 5 and rec.cv_acc == max(g.cv_acc for g in rec.grid)
    assert rec.num_train == 36 and rec.heads == 1
    assert rec.val_acc == pytest.approx(float(table[0]["val_acc"]))
    assert (
        rec.scale is not None and 0 < rec.scale <= 1
    )  # the solved logits as handed on (label smoothing 0.1)


def test_saved_head_is_scikit_learns_fit_at_the_chosen_C(solved_run: tuple[Path, Path]) -> None:
    """The checkpoint's head predicts what `LogisticRegression(C=chosen)` predicts on the same cached features."""
    from sklearn.linear_model import LogisticRegression

    from edgetl.runfolder import read_probe

    run, cache = solved_run
    f = cached_features(cache)
    ref = LogisticRegression(C=read_probe(run).C, max_iter=2000).fit(f["train_x"].double(), f["train_y"])
    best = load_file(str(run / "checkpoints" / "best.safetensors"))
    w, b = best["classifier.weight"].double(), best["classifier.bias"].double()
    ours = (f["val_x"].double() @ w.T + b).argmax(1).numpy()
    assert (ours == ref.predict(f["val_x"].double())).mean() == 1.0
    assert float(rows(run)[0]["val_acc"]) == pytest.approx(ref.score(f["val_x"].double(), f["val_y"]))


def test_report_shows_the_probe_choice(solved_run: tuple[Path, Path]) -> None:
    from edgetl.report.build import build_report
    from edgetl.runfolder import read_probe

    run, _ = solved_run
    _, md = build_report(run)
    text = md.read_text()
    assert "## Probe" in text and f"{read_probe(run).C:.3g}" in text and "chosen" in text
    assert f"**Logit scale handed on:** {read_probe(run).scale:.3g}" in text


class _TwoHeads(nn.Module):
    def __init__(self, head: nn.Module, dist: nn.Module):
        super().__init__()
        self.head, self.head_dist = head, dist

    def get_classifier(self) -> tuple[nn.Module, nn.Module]:
        return self.head, self.head_dist


def test_tied_linear_heads_all_take_the_solution_and_other_heads_are_refused() -> None:
    from edgetl.models.heads import classifier_head

    model = _TwoHeads(nn.Linear(4, 3), nn.Linear(4, 3))
    heads = linear_heads(model)
    assert heads is not None and len(heads) == 2
    w, b = np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1, 2, 3], dtype=np.float32)
    load_solution(heads, w, b)
    x = torch.randn(5, 4)
    assert torch.allclose(classifier_head(model)(x), x @ torch.from_numpy(w).T + torch.from_numpy(b))
    assert linear_heads(_TwoHeads(nn.Linear(4, 3), nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 3)))) is None
    assert linear_heads(_TwoHeads(nn.Linear(4, 3), nn.Linear(4, 3, bias=False))) is None


def test_a_head_the_solver_cannot_fill_trains_with_sgd_and_says_so(
    make_image_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from edgetl.train import probe_stage

    monkeypatch.setattr(probe_stage, "linear_heads", lambda model: None)  # as LeViT's BatchNorm + Linear head
    stream = io.StringIO()
    run = tmp_path / "run"
    cfg = TrainConfig(data=str(make_image_folder()), out=str(run), cache_dir=str(tmp_path / "c"),
                      mode="linear-probe", **{**SOLVED, "quiet": False})  # fmt: skip
    train(cfg, reporter=Reporter(stream=stream))
    assert [r["stage"] for r in rows(run)] == ["probe"] * TINY_TRAIN["lp_epochs"]
    assert not (run / "probe.json").exists()
    assert "is not a linear layer the solver can fill" in stream.getvalue()


def test_lp_ft_fine_tunes_from_the_solved_head(make_image_folder, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = TrainConfig(data=str(make_image_folder()), out=str(run), cache_dir=str(tmp_path / "c"),
                      mode="lp-ft", **SOLVED)  # fmt: skip
    result = train(cfg)
    assert [r["stage"] for r in rows(run)] == ["probe"] + ["finetune"] * TINY_TRAIN["epochs"]
    assert result.epochs_run == 1 + TINY_TRAIN["epochs"] and not result.stopped_early
    assert (run / "probe.json").is_file()


def test_two_processes_solve_the_same_head_as_one(tmp_path: Path) -> None:
    """Under torchrun each rank solves the gathered features: the same rows and head as one process."""
    from conftest import COLORS, write_images
    from test_train_ddp import OPTS, TESTS, assert_same_training, flags, torchrun

    data = tmp_path / "data"
    for i, cls in enumerate(("a", "b", "c")):
        write_images(data / "train" / cls, COLORS[i], 9, size=(32, 32), seed=i)
        write_images(data / "val" / cls, COLORS[i], 5, size=(32, 32), seed=100 + i)
    opts = {**OPTS, "probe_solver": "lbfgs"}
    ref = tmp_path / "single"
    train(TrainConfig(data=str(data), out=str(ref), cache_dir=str(tmp_path / "c1"), quiet=True, **opts))
    run = tmp_path / "two"
    p = torchrun(str(TESTS / "_ddp_cli.py"), "train", "--data", str(data), "--out", str(run),
                 "--cache-dir", str(tmp_path / "c2"), *flags(opts), record=tmp_path / "rec")  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert [r["stage"] for r in rows(run)] == ["probe"] + ["finetune"] * OPTS["epochs"]
    assert_same_training(run, ref)
    assert (run / "probe.json").read_bytes() != b"" and p.stderr.count("probe solved (L-BFGS)") == 1
