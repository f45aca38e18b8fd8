"""`edgetl run`: config resolution, and a tiny end-to-end run (train -> export -> bench -> report).

The end-to-end test uses a tiny random-init timm model on generated colour images at 32 px, so
it runs in well under a minute; the report it writes is opened in real headless Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from edgetl.config import ConfigError
from edgetl.errors import EdgetlError
from edgetl.pipeline import load_run_config

# ------------------------------------------------------------------------------------ configuration


def test_default_is_lite0_with_offline_weights_on_builtin_digits():
    cfg = load_run_config()
    assert cfg.train.data == "digits"
    assert cfg.train.model == "tf_efficientnet_lite0"
    assert cfg.train.pretrained == "efficientnet_lite0"
    assert cfg.train.img_size == 64 and cfg.train.hflip == 0.0  # the digits preset
    assert cfg.target == "auto" and cfg.steps == ["train", "export", "bench", "report"]
    assert cfg.notes == []


def test_user_data_keeps_the_stage_defaults_not_the_digits_preset(tmp_path: Path):
    from edgetl.train.config import TrainConfig

    cfg = load_run_config(cli={"train": {"data": str(tmp_path)}})
    assert cfg.train.img_size is None and cfg.train.hflip == TrainConfig().hflip
    assert cfg.train.pretrained == "efficientnet_lite0"


def test_other_model_falls_back_to_no_pretrained_weights_and_says_so():
    cfg = load_run_config(cli={"train": {"model": "resnet18"}})
    assert cfg.train.pretrained == "none"
    assert len(cfg.notes) == 1 and "resnet18" in cfg.notes[0] and "random weights" in cfg.notes[0]
    given = load_run_config(cli={"train": {"model": "resnet18", "pretrained": "timm"}})
    assert given.train.pretrained == "timm" and given.notes == []


def test_yaml_overrides_preset_and_flags_override_yaml(tmp_path: Path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "train:\n  epochs: 5\n  img-size: 48\nexport:\n  max_acc_drop: 1.0\nbench:\n  batch: [1, 8]\n"
    )
    cfg = load_run_config(path, cli={"train": {"epochs": 2}})
    assert cfg.train.epochs == 2 and cfg.train.img_size == 48 and cfg.train.hflip == 0.0
    assert cfg.export.max_acc_drop == 1.0 and cfg.bench.batch == [1, 8]
    # The stages' own typed configs, with what `edgetl run` does differently and leaves to the plan.
    assert cfg.bench.native_only is True and cfg.providers is None and cfg.precisions is None
    assert cfg.export.calib_images == 128  # ExportConfig's own default


def test_run_yaml_reads_back_as_the_same_config(tmp_path: Path):
    from edgetl.config import dump_yaml
    from edgetl.pipeline.config import to_yaml_dict

    path = tmp_path / "my.yaml"
    path.write_text(
        "train: {epochs: 2}\nexport: {precisions: [fp32], softmax: true}\n"
        "bench: {providers: [cpu], native_only: false}\ntarget: tensorrt\n"
    )
    cfg = load_run_config(path)
    assert cfg.target == "tensorrt" and cfg.precisions == ["fp32"] and not cfg.bench.native_only
    saved = to_yaml_dict(cfg)
    assert saved["export"] == {"precisions": ["fp32"], "softmax": True}  # overrides only, no run-owned key
    assert saved["bench"] == {"native_only": False}
    (tmp_path / "run.yaml").write_text(dump_yaml(saved))
    again = load_run_config(tmp_path / "run.yaml")
    assert (again.train, again.export, again.bench, again.target) == (
        cfg.train,
        cfg.export,
        cfg.bench,
        cfg.target,
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("trian: {}\n", "unknown key 'trian'; did you mean 'train'?"),
        ("train: {epoch: 3}\n", "did you mean 'epochs'?"),
        ("export: {max_acc_dro: 1}\n", "export: unknown key 'max_acc_dro'; did you mean 'max_acc_drop'?"),
        ("bench: {batchs: [1]}\n", "bench: unknown key 'batchs'; did you mean 'batch'?"),
        ("bench: {batch: [0]}\n", "--batch must be positive"),
        ("export: {source: x}\n", "export.source is set by edgetl run"),
        ("target: gpu\n", "unknown target (--target) 'gpu'"),
        ("export: {target: cuda}\n", "export.target is set by edgetl run"),
        ("bench: {native-only: 3}\n", "bench: native_only: expected true or false"),
        ("export: [1]\n", "export: expected a mapping of export options"),
        ("steps: [train, deploy]\n", "--steps must be a comma list"),
        ("train: {epochs: many}\n", "epochs: expected an integer"),
    ],
)
def test_bad_config_is_a_one_line_error_before_any_work(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(EdgetlError) as e:
        load_run_config(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cli_builds_the_config_and_reuses_the_runs_own_yaml(tmp_path: Path):
    from edgetl.cli import build_parser
    from edgetl.cli.run import build_config

    args = build_parser().parse_args(
        ["run", "--model", "resnet10t", "--steps", "train,export", "--target", "cpu-x86"]
    )
    cfg = build_config(args)
    assert cfg.train.model == "resnet10t" and cfg.steps == ["train", "export"] and cfg.target == "cpu-x86"

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.yaml").write_text(
        yaml.safe_dump({"train": {"data": "digits", "epochs": 7}, "bench": {"batch": [1, 4]}})
    )
    args = build_parser().parse_args(["run", "--steps", "bench,report", "--out", str(run)])
    cfg = build_config(args)
    assert cfg.train.epochs == 7 and cfg.bench.batch == [1, 4] and cfg.train.out == str(run)


def test_target_plan_follows_the_cpu():
    from edgetl.pipeline.target import cpu_target, plan_target

    assert cpu_target("x86_64") == "cpu-x86" and cpu_target("AMD64") == "cpu-x86"
    assert cpu_target("aarch64") == "cpu-arm" and cpu_target("arm64") == "cpu-arm"
    with pytest.raises(EdgetlError, match="--target"):
        cpu_target("riscv64")
    plan = plan_target("cpu-arm")
    assert plan.exports == [("cpu-arm", ["fp32", "int8"])] and plan.providers == ["cpu"]
    assert plan_target("cuda").exports == [("cuda", ["fp32", "fp16"])]


def test_cuda_is_not_claimed_without_a_working_gpu(tmp_path: Path):
    import torch

    from edgetl.pipeline.target import add_cuda_if_working, plan_target

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the fallback path is what is tested here")
    plan = add_cuda_if_working(plan_target("auto"), tmp_path / "unused.onnx")
    assert plan.providers == ["cpu"] and len(plan.exports) == 1 and not plan.cuda
    assert "no GPU variants" in plan.reasons[-1]


def test_existing_run_folder_is_refused_before_training(tmp_path: Path):
    from edgetl.pipeline import run

    out = tmp_path / "busy"
    out.mkdir()
    (out / "something.txt").write_text("x")
    cfg = load_run_config(cli={"train": {"out": str(out)}})
    with pytest.raises(EdgetlError, match="folder is not empty"):
        run(cfg)
    assert sorted(p.name for p in out.iterdir()) == ["something.txt"]


def test_steps_without_train_need_a_trained_run(tmp_path: Path):
    from edgetl.pipeline import run

    cfg = load_run_config(cli={"train": {"out": str(tmp_path / "none")}, "steps": ["export"]})
    with pytest.raises(EdgetlError, match="no trained run here"):
        run(cfg)


def test_config_error_type_is_edgetl_error():
    assert issubclass(ConfigError, EdgetlError)


# ------------------------------------------------------------------------------------- end to end


TINY = {
    "model": "test_efficientnet",
    "pretrained": "none",
    "img_size": 32,
    "mode": "lp-ft",
    "lp_epochs": 3,
    "epochs": 1,
    "warmup_epochs": 0,
    "batch_size": 16,
    "auto_augment": None,
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple:
    """One complete tiny pipeline run (train, export fp32+int8, bench, report), shared by the tests below."""
    from conftest import COLORS, write_images

    from edgetl.pipeline import run

    tmp_path = tmp_path_factory.mktemp("pipeline")
    data = tmp_path / "data"
    for i, cls in enumerate(("ant", "bee", "<wasp>")):
        write_images(data / "train" / cls, COLORS[i], 10, seed=i)
        write_images(data / "val" / cls, COLORS[i], 6, seed=100 + i)
    path = tmp_path / "tiny.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "train": {
                    **TINY,
                    "data": str(data),
                    "out": str(tmp_path / "run"),
                    "cache_dir": str(tmp_path / "cache"),
                },
                "export": {"calib_images": 16, "max_acc_drop": None, "int8_min_agreement": 0.0},
                "bench": {"runs": 6, "warmup": 1, "repeat": 1, "threads": 1},
                "target": "cpu-x86",
            }
        )
    )
    cfg = load_run_config(path, cli={"train": {"quiet": True}})
    return run(cfg, command=f"edgetl run --config {path}"), tmp_path


def test_tiny_end_to_end_run_writes_everything_the_report_shows(tiny_run, tmp_path: Path):
    from test_report import REPORT_TABLES, assert_renders

    result, run_tmp = tiny_run
    run_dir = run_tmp / "run"
    assert result.ok, [(s.step, s.status, s.error) for s in result.steps]
    assert result.run_dir == run_dir and result.report_html == run_dir / "report.html"
    for rel in ("config.yaml", "run.yaml", "data.json", "metrics.csv", "curves.png", "eval/eval.json",
                "eval/confusion.png", "export/export_report.json", "bench/bench.json", "pipeline.json", "report.md"):  # fmt: skip
        assert (run_dir / rel).is_file(), rel
    onnx = sorted(p.name for p in (run_dir / "export").glob("*.onnx"))
    assert onnx == ["test_efficientnet-fp32-cpu-x86.onnx", "test_efficientnet-int8-cpu-x86.onnx"]

    pipeline = json.loads((run_dir / "pipeline.json").read_text())
    steps = {s["step"]: s for s in pipeline["steps"]}
    assert [s["status"] for s in pipeline["steps"]] == ["ok"] * 4
    assert steps["export"]["command"].startswith(
        f"edgetl export {run_dir} --target cpu-x86 --precisions fp32,int8"
    )
    assert steps["bench"]["command"].startswith(f"edgetl bench {run_dir}")
    assert pipeline["command"].startswith("edgetl run --config")

    bench = json.loads((run_dir / "bench" / "bench.json").read_text())
    variants = {r["variant"] for r in bench["rows"]}
    assert {"pytorch-eager", "test_efficientnet-fp32-cpu-x86", "test_efficientnet-int8-cpu-x86"} <= variants

    n_png = 2 + len(list((run_dir / "bench").glob("*.png")))
    dom = assert_renders(result.report_html, tmp_path, REPORT_TABLES, n_images=n_png)
    assert "<wasp>" in dom["text"]
    for s in ("edgetl export", "edgetl bench", "edgetl run --steps report"):
        assert s in dom["text"]


def test_a_single_step_reruns_on_the_run_directory(tiny_run):
    """`edgetl run --steps report --out RUN_DIR` rebuilds the report from the files alone."""
    from edgetl.cli import main

    result, run_tmp = tiny_run
    run_dir = run_tmp / "run"
    (run_dir / "report.html").unlink()
    (run_dir / "report.md").unlink()
    assert main(["run", "--steps", "report", "--out", str(run_dir), "--quiet"]) == 0
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    pipeline = json.loads((run_dir / "pipeline.json").read_text())
    assert [s["status"] for s in pipeline["steps"]] == ["ok"] * 4
    # The per-step commands of the original run are kept for the steps not rerun.
    assert "edgetl export" in (run_dir / "report.html").read_text()
