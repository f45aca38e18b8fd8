"""`RunConfig`: one YAML file for everything `edgetl run` does (train, export, bench, report).

    cfg = load_run_config("my-run.yaml", cli={"train": {"data": "photos"}})
    cfg.train          # TrainConfig (every default written out)
    cfg.export         # ExportConfig (source, target and out_dir are set by run, per target)
    cfg.bench          # BenchConfig (models and out are set by run)

A YAML file holds only overrides:

    train: {data: photos, epochs: 6}
    export: {max_acc_drop: 1.0}
    bench: {batch: [1, 8]}

Resolution order: TrainConfig defaults <- the built-in dataset's preset (only for a built-in
dataset such as `digits`) <- YAML <- command-line flags. Unknown keys anywhere are errors
with the closest valid key, exactly as for the stage commands, since each section is read into
the stage's own config. Export precisions and bench providers left at the stage's default
follow the target plan (each target's default precisions; the providers that plan found).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetl.bench.config import BenchConfig
from edgetl.config import ConfigError, config_to_dict, from_dict, read_yaml
from edgetl.errors import UnknownNameError
from edgetl.export.config import ExportConfig
from edgetl.export.targets import TARGETS
from edgetl.registry import Registry
from edgetl.train.config import TrainConfig

DEFAULT_DATA = "digits"
DEFAULT_MODEL = "tf_efficientnet_lite0"
DEFAULT_WEIGHTS = "efficientnet_lite0"  # the offline ImageNet weights that ship with the package
STEPS = ("train", "export", "bench", "report")
RUN_SOURCE = "RUN_DIR"  # export source / bench model until run() knows the run directory
# Set by `edgetl run` itself: the run directory is the source of export and bench.
RUN_OWNED = {"export": ("source", "out_dir", "target"), "bench": ("models", "out")}
# What `edgetl run` does differently from the stage commands when the YAML does not say:
# bench each export on the providers its target was made for.
RUN_DEFAULTS: dict[str, dict[str, Any]] = {
    "export": {"source": RUN_SOURCE},
    "bench": {"models": [RUN_SOURCE], "native_only": True},
}


STAGES: dict[str, type] = {"export": ExportConfig, "bench": BenchConfig}


def run_default(section: str) -> Any:
    """The stage config `edgetl run` uses when the YAML's section is empty."""
    return STAGES[section](**RUN_DEFAULTS[section])


def target_choices() -> list[str]:
    return ["auto", *TARGETS.names()]


# Train options tuned per built-in dataset, applied under the user's YAML and flags.
DATASET_PRESETS: Registry[dict[str, Any]] = Registry("built-in dataset preset")
DATASET_PRESETS.register(
    "digits",
    {
        # 8x8 source images: 64 px is already an 8x upscale, and costs ~12x less than 224 px.
        "img_size": 64,
        "lp_epochs": 20,
        # Measured here (64 px, seed 0): the probe alone reaches 93.6% val; fine-tuning at lr 5e-4
        # reaches 96.7% with 3 epochs (94.2% with 2; lr 1e-4 stayed below the probe after 2).
        "epochs": 3,
        "lr": 5e-4,
        "warmup_epochs": 0,
        # Digits are not mirror-symmetric, and RandAugment's colour ops mean little on 16 grey levels.
        "hflip": 0.0,
        "auto_augment": None,
        "scale": [0.6, 1.0],
    },
)


@dataclass
class RunConfig:
    """What `edgetl run` does; `dump_yaml(to_yaml_dict(cfg))` of it is RUN_DIR/run.yaml."""

    train: TrainConfig = field(default_factory=lambda: TrainConfig(data=DEFAULT_DATA))
    export: ExportConfig = field(default_factory=lambda: run_default("export"))
    bench: BenchConfig = field(default_factory=lambda: run_default("bench"))
    target: str = "auto"  # auto: detect (x86 -> cpu-x86, or cpu-x86-avx2 without VNNI; ARM -> cpu-arm; + cuda fp16 with a working GPU)
    steps: list[str] = field(default_factory=lambda: list(STEPS))
    # What resolution decided for the user (printed and reported); not an option.
    notes: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.target not in target_choices():
            raise UnknownNameError("target (--target)", self.target, target_choices())
        bad = [s for s in self.steps if s not in STEPS]
        if bad or not self.steps:
            raise ConfigError(
                f"--steps must be a comma list of {', '.join(STEPS)}; got {','.join(self.steps) or 'nothing'}"
            )
        self.steps = [s for s in STEPS if s in self.steps]  # always in pipeline order

    @property
    def precisions(self) -> list[str] | None:
        """The export precisions asked for; None (ExportConfig's default): each target's default."""
        return None if self.export.precisions == run_default("export").precisions else self.export.precisions

    @property
    def providers(self) -> list[str] | None:
        """The bench providers asked for; None (BenchConfig's default): the ones the target plan found."""
        return None if self.bench.providers == run_default("bench").providers else self.bench.providers


def _stage_section(section: str, given: Any, where: str) -> dict[str, Any]:
    """A YAML section with the run-owned keys refused and the run's own defaults under it."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: {section}: expected a mapping of {section} options, got {given!r}")
    given = _norm_keys(given)
    owned = [k for k in given if k in RUN_OWNED[section]]
    if owned:
        raise ConfigError(
            f"{section}.{owned[0]} is set by edgetl run (from the run directory / --target); remove it"
        )
    return {**RUN_DEFAULTS[section], **given}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _norm_keys(d: dict[str, Any]) -> dict[str, Any]:
    return {(k.replace("-", "_") if isinstance(k, str) else k): v for k, v in d.items()}


def _train_section(given: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """TrainConfig defaults <- the built-in dataset's preset <- `given`, and the notes on what was decided."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: train: expected a mapping of train options")
    given = _norm_keys(given)
    notes: list[str] = []
    data = given.get("data") or DEFAULT_DATA
    model = given.get("model") or DEFAULT_MODEL
    base = config_to_dict(TrainConfig())
    base["data"] = data
    if isinstance(data, str) and data in DATASET_PRESETS:
        base = _merge(base, DATASET_PRESETS.get(data))
    if "pretrained" not in given:
        if model in (DEFAULT_MODEL, "auto"):  # auto: the selection sets the weights with the model
            base["pretrained"] = DEFAULT_WEIGHTS
        else:
            base["pretrained"] = "none"
            notes.append(
                f"--model {model}: the offline ImageNet weights fit only {DEFAULT_MODEL}, so {model} starts from "
                "random weights (pretrained: none); pass --pretrained timm (download) or a weights file to change that"
            )
    return _merge(base, given), notes


def load_run_config(path: str | Path | None = None, cli: dict[str, Any] | None = None) -> RunConfig:
    """Defaults <- dataset preset <- YAML file <- `cli` (a nested dict of the flags that were given)."""
    user: dict[str, Any] = read_yaml(path) if path is not None else {}
    where = str(path) if path is not None else "config"
    for section in ("train", "export", "bench"):
        if user.get(section) is not None and not isinstance(user[section], dict):
            raise ConfigError(
                f"{where}: {section}: expected a mapping of {section} options, got {user[section]!r}"
            )
    user = _merge(_norm_keys(user), _norm_keys(cli or {}))
    train, notes = _train_section(user.get("train"), where)
    stages = {s: _stage_section(s, user.get(s), where) for s in ("export", "bench")}
    cfg = from_dict(RunConfig, {**user, "train": train, **stages}, where=where)
    cfg.notes = notes
    return cfg


def _overrides(section: str, stage_cfg: Any) -> dict[str, Any]:
    """The options of a stage config that differ from what `edgetl run` uses by default."""
    default = config_to_dict(run_default(section))
    given = config_to_dict(stage_cfg)
    return {k: v for k, v in given.items() if k not in RUN_OWNED[section] and v != default[k]}


def to_yaml_dict(cfg: RunConfig) -> dict[str, Any]:
    """RunConfig as plain data for RUN_DIR/run.yaml: train in full, export and bench as the overrides
    they were given (so the file reads back with `--config`); notes are not options: left out."""
    return {
        "train": config_to_dict(cfg.train),
        "export": _overrides("export", cfg.export),
        "bench": _overrides("bench", cfg.bench),
        "target": cfg.target,
        "steps": list(cfg.steps),
    }


__all__ = [
    "DATASET_PRESETS",
    "DEFAULT_DATA",
    "DEFAULT_MODEL",
    "STEPS",
    "RUN_SOURCE",
    "RunConfig",
    "load_run_config",
    "run_default",
    "target_choices",
    "to_yaml_dict",
]
