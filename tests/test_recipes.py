"""Every recipe in train/recipes loads into TrainConfig and holds only real overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgetl.config import load_config, read_yaml
from edgetl.train import TrainConfig
from edgetl.train.modes import MODES

RECIPES = sorted((Path(__file__).resolve().parents[1] / "train" / "recipes").glob("*.yaml"))


def test_there_is_a_recipe_per_mode() -> None:
    assert {p.stem for p in RECIPES} == set(MODES.names())


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_loads_and_only_overrides(recipe: Path) -> None:
    cfg = load_config(TrainConfig, recipe, overrides={"data": "somewhere"})
    assert cfg.mode == recipe.stem
    defaults = TrainConfig()
    for key in read_yaml(recipe):
        if key == "mode":
            continue
        assert getattr(cfg, key) != getattr(defaults, key), f"{recipe.name}: {key} repeats the default"
    assert dataclasses.replace(cfg) == cfg  # still valid after validation re-runs
