"""Commands rendered from a config (`edgetl.flags`) parse back, with the real CLI, to the same config.

This is what keeps the "commands that redo each step" in pipeline.json and the report from
drifting away from the flags the subcommands generate from the same dataclass fields.
"""

from __future__ import annotations

import shlex

import pytest

from edgetl.cli import build_parser
from edgetl.cli._fields import given
from edgetl.config import from_dict
from edgetl.flags import command, to_argv


def _parse(line: str):
    words = shlex.split(line)
    assert words[0] == "edgetl"
    return build_parser().parse_args(words[1:])


def _export_config(args):
    """What `edgetl export` builds from its arguments (edgetl/cli/export.py)."""
    from edgetl.export.config import ExportConfig

    return from_dict(ExportConfig, {**given(args, ExportConfig), "source": args.source})


EXPORTS = [
    {"target": "cuda", "precisions": ["fp32", "fp16"]},
    {"dynamic_batch": False, "softmax": True, "bake_preprocess": True, "max_acc_drop": None},
    {"calib_images": 16, "calib_method": "entropy", "int8_min_agreement": 0.0, "opset": 17, "seed": 3},
    {"data": "my photos/val", "val_split": 0.25, "parity_images": 10, "max_fallback_nodes": 0},
]


@pytest.mark.parametrize("options", EXPORTS, ids=lambda o: ",".join(o))
def test_export_command_parses_back_to_the_same_config(options: dict):
    from edgetl.export.config import ExportConfig

    cfg = ExportConfig(source="runs/my run", **options)
    line = command(["edgetl", "export", cfg.source], cfg, first=("target", "precisions"), skip=("source",))
    assert line.startswith(f"edgetl export 'runs/my run' --target {cfg.target} --precisions ")
    assert _export_config(_parse(line)) == cfg


BENCHES = [
    {"providers": ["cpu", "cuda"], "native_only": True, "batch": [1, 8]},
    {"plots": False, "torch": None, "threads": 1, "repeat": 2, "runs": 12, "warmup": 0},
    {"data": "val dir", "max_images": 20, "pool": 4, "time_budget": 1.5, "cuda_host_copies": True},
]


@pytest.mark.parametrize("options", BENCHES, ids=lambda o: ",".join(o))
def test_bench_command_parses_back_to_the_same_config(options: dict):
    from edgetl.bench.config import BenchConfig
    from edgetl.cli.bench import build_config

    cfg = BenchConfig(models=["runs/a"], **options)
    line = command(["edgetl", "bench", "runs/a"], cfg, first=("providers",), skip=("models",))
    assert build_config(_parse(line)) == cfg


def test_train_flags_share_the_spelling():
    from edgetl.train.config import TrainConfig

    cfg = TrainConfig(data="photos", mode="finetune", hflip=0.0, scale=(0.5, 1.0), channels_last=False)
    argv = to_argv(cfg)
    assert argv[:2] == ["--data", "photos"] and "--scale" in argv
    args = build_parser().parse_args(["train", *argv])
    assert from_dict(TrainConfig, given(args, TrainConfig)) == cfg


def test_only_what_differs_from_the_default_is_written():
    from edgetl.bench.config import BenchConfig

    assert to_argv(BenchConfig(models=["x"]), skip=("models",)) == []
    assert to_argv(BenchConfig(models=["x"], plots=False), skip=("models",)) == ["--no-plots"]
