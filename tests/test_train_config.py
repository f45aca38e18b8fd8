"""TrainConfig validation, the CLI flags generated from it, and --resume option rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgetl.cli import build_parser
from edgetl.config import ConfigError, dump_yaml, from_dict, load_config
from edgetl.errors import UnknownNameError
from edgetl.train import TrainConfig
from edgetl.train.modes import MODES


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1.0}, r"--lr must be > 0 \(got -1.0\)"),
        ({"lp_lr": 0.0}, r"--lp-lr must be > 0"),
        ({"epochs": 0}, r"--epochs must be >= 1"),
        ({"batch_size": 0}, r"--batch-size must be >= 1"),
        ({"val_split": 1.5}, r"--val-split must be a fraction between 0 and 1"),
        ({"drop": 1.0}, r"--drop must be in \[0, 1\)"),
        ({"label_smoothing": -0.1}, r"--label-smoothing must be in \[0, 1\)"),
        ({"layer_decay": 0.0}, r"--layer-decay must be in \(0, 1\]"),
        ({"warmup_epochs": 4, "epochs": 4}, r"--warmup-epochs must be >= 0 and < --epochs \(4\)"),
        ({"scale": (0.9, 0.1)}, r"--scale must be two numbers 0 < min <= max <= 1"),
        ({"patience": -1}, r"--patience must be >= 0"),
        ({"ema_decay": 1.0}, r"--ema-decay must be in \(0, 1\)"),
        ({"img_size": 4}, r"--img-size must be between 16 and 4096"),
        ({"device": "tpu"}, r"--device must be one of auto, cpu, cuda"),
        ({"monitor": "acc"}, r"--monitor must be one of val_acc, val_loss"),
    ],
)
def test_bad_values_name_the_flag(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(data="x", **options)


def test_unknown_mode_suggests() -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown training mode \(--mode\) 'lp_ft'; did you mean 'lp-ft'"
    ):
        TrainConfig(mode="lp_ft")


def test_unknown_yaml_key_is_named(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("mode: finetune\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: unknown key 'learning_rate'"):
        load_config(TrainConfig, recipe)


def test_config_yaml_roundtrip_writes_every_default() -> None:
    cfg = TrainConfig(data="d", mode="linear-probe", scale=(0.5, 1.0), auto_augment="none")
    assert cfg.auto_augment is None
    text = dump_yaml(cfg)
    for f in dataclasses.fields(TrainConfig):
        assert f"{f.name}:" in text
    import yaml

    assert from_dict(TrainConfig, yaml.safe_load(text)) == cfg


def test_every_mode_is_a_list_of_stages() -> None:
    cfg = TrainConfig(lp_epochs=3, epochs=2, warmup_epochs=1)
    kinds = {name: [s.kind for s in MODES.get(name)(cfg)] for name in MODES.names()}
    assert kinds == {"linear-probe": ["probe"], "finetune": ["finetune"], "lp-ft": ["probe", "finetune"]}


def _parse(*argv: str):
    return build_parser().parse_args(["train", *argv])


def test_cli_flags_are_generated_from_every_field() -> None:
    args = _parse(
        "--data", "d", "--lr", "0.01", "--scale", "0.3", "1", "--no-freeze-bn", "--mode", "finetune"
    )
    for f in dataclasses.fields(TrainConfig):
        assert hasattr(args, f.name), f"no flag for {f.name}"
    assert args.lr == 0.01 and args.scale == [0.3, 1.0] and args.freeze_bn is False
    assert args.epochs is None  # flags not given do not override a recipe


def test_cli_flags_override_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgetl.train as train_pkg
    from edgetl.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text("mode: finetune\nepochs: 7\nlr: 0.002\n")
    seen = {}
    monkeypatch.setattr(train_pkg, "train", lambda cfg: seen.setdefault("cfg", cfg))
    assert main(["train", "--config", str(recipe), "--data", "d", "--lr", "0.5"]) == 0
    cfg = seen["cfg"]
    assert (cfg.mode, cfg.epochs, cfg.lr, cfg.data) == ("finetune", 7, 0.5, "d")


def test_cli_resume_rejects_other_options(capsys: pytest.CaptureFixture) -> None:
    from edgetl.cli import main

    assert main(["train", "--resume", "runs/x", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--resume takes the options from the run's config.yaml; drop --lr" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_and_library_agree_on_what_may_accompany_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """One list: --out with --resume is refused by the CLI and by train() alike; --quiet is fine."""
    from edgetl.cli import main
    from edgetl.train.trainer import resume_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_yaml(TrainConfig(data="d", out=str(run), lr=2e-4)))
    assert main(["train", "--resume", str(run), "--out", str(tmp_path / "other")]) == 2
    assert "drop --out" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--out .* differs from the run's"):
        resume_config(TrainConfig(resume=str(run), out=str(tmp_path / "other")))
    cfg = resume_config(TrainConfig(resume=str(run), quiet=True, cache_dir=str(tmp_path / "cache")))
    assert (cfg.lr, cfg.quiet, cfg.out, cfg.cache_dir) == (2e-4, True, str(run), str(tmp_path / "cache"))
