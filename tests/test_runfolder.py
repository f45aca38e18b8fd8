"""The run folder's typed readers: real writers' output in, typed data out, one-line errors naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgetl import runfolder as rf


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from test_report import make_fixture_run

    return make_fixture_run(tmp_path_factory.mktemp("runfolder") / "run")


@pytest.fixture
def run(template: Path, tmp_path: Path) -> Path:
    """A complete run directory written by the stages' own writers (a fresh copy per test)."""
    return Path(shutil.copytree(template, tmp_path / "run"))


def test_readers_return_typed_data_of_a_complete_run(run: Path):
    cfg = rf.read_train_config(run)
    assert cfg.model == "test_efficientnet" and cfg.epochs == 2 and cfg.mode == "lp-ft"
    data = rf.read_data_summary(run)
    assert (
        data.num_train == 33 and data.skipped_count == 1 and data.skipped[0].reason == "cannot identify image"
    )
    assert data.counts["val"]["bee & wasp"] == 4 and len(data.classes) == 3
    metrics = rf.read_metrics(run)
    assert metrics.columns[:2] == ("epoch", "stage") and len(metrics.rows) == 4
    assert metrics.best_row().epoch == 3 and isinstance(metrics.rows[0].val_acc, float)
    ev = rf.read_eval(run)
    assert ev.top1 is not None and set(ev.per_class) == set(data.classes)
    export = rf.read_export_report(run)
    assert export.variant("int8").nodes_in_float == ["/head/Gemm"] and export.input_size == (3, 32, 32)
    bench = rf.read_bench_report(run)
    assert bench.rows[2].speedup_vs_torch == 5.0
    assert rf.read_bench_report(run / "bench").rows == bench.rows  # a bench output folder works too


def test_checkpoint_meta_and_pipeline_record_round_trip(run: Path):
    from edgetl.models.checkpoint import CheckpointMeta

    meta = CheckpointMeta("resnet10t", ["a", "b"], {"input_size": [3, 32, 32]}, epoch=4)
    rf.RunFolder(run).checkpoints.mkdir()
    (rf.RunFolder(run).checkpoints / "best.json").write_text(meta.to_json())
    back = rf.read_checkpoint_meta(run)
    assert back.labels == ["a", "b"] and back.data_config["input_size"] == (3, 32, 32) and back.epoch == 4

    record = rf.PipelineRecord(
        command="edgetl run", steps=(rf.StepRecord("train", "ok", 1.5, "edgetl train ..."),), notes=("n",)
    )
    rf.RunFolder(run).pipeline.write_text(json.dumps(record.to_dict()))
    assert rf.read_pipeline(run) == record


def test_missing_file_is_its_own_error_and_maybe_turns_it_into_none(run: Path):
    (run / "data.json").unlink()
    with pytest.raises(rf.MissingRunFile) as e:
        rf.read_data_summary(run)
    assert str(e.value) == f"{run / 'data.json'} not found"
    assert rf.maybe(rf.read_data_summary, run) is None
    assert rf.maybe(rf.read_pipeline, run) is None


@pytest.mark.parametrize(
    "rel, text, reader",
    [
        ("config.yaml", "epochs: [\n", rf.read_train_config),
        ("config.yaml", "epoch: 3\n", rf.read_train_config),  # misspelled key: named, with the fix
        ("data.json", "{ not json", rf.read_data_summary),
        ("data.json", "[1, 2]", rf.read_data_summary),
        ("metrics.csv", "epoch,val_acc\nx,0.5\n", rf.read_metrics),
        ("eval/eval.json", '{"per_class": {"a": 3}}', rf.read_eval),
        ("export/export_report.json", '{"model": "m"}', rf.read_export_report),
        ("bench/bench.json", '{"rows": [{"nope": 1}]}', rf.read_bench_report),
    ],
)
def test_corrupt_file_is_a_one_line_error_naming_it(run: Path, rel: str, text: str, reader):
    (run / rel).write_text(text)
    with pytest.raises(rf.RunFileError) as e:
        reader(run)
    assert not isinstance(e.value, rf.MissingRunFile)
    assert str(e.value).startswith(str(run / rel)) and "\n" not in str(e.value)
    assert e.value.path == run / rel
    if "epoch: 3" in text:
        assert "did you mean 'epochs'?" in str(e.value)


def test_layout_names_match_what_train_writes(tmp_path: Path):
    from edgetl.train.rundir import RunDir

    d, f = RunDir(tmp_path), rf.RunFolder(tmp_path)
    assert (d.config, d.data, d.metrics, d.curves, d.best, d.last, d.state, d.eval_dir) == (
        f.config, f.data, f.metrics, f.curves, f.best, f.last, f.train_state, f.eval_dir,
    )  # fmt: skip


def test_import_needs_no_torch():
    code = "import sys, edgetl.runfolder; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_best_row_is_the_epoch_the_run_kept_not_the_highest_val_accuracy(tmp_path: Path):
    """--monitor val_loss (or a tie broken by val loss) keeps an epoch that need not have the top val_acc."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(
        "epoch,stage,val_loss,val_acc,best\n1,probe,0.9,0.80,1\n2,probe,0.5,0.90,1\n3,finetune,0.6,0.92,0\n"
    )
    assert (
        rf.read_metrics(run).best_row().epoch == 2
    )  # the last epoch marked best: its weights are best.safetensors
    (run / "metrics.csv").write_text("epoch,val_acc\n1,0.80\n2,0.92\n3,0.92\n")  # no best column (older runs)
    assert rf.read_metrics(run).best_row().epoch == 2
