"""`TrainConfig`: every option of `edgetl train`, typed and validated in one place.

    cfg = TrainConfig(data="data/hymenoptera", mode="linear-probe")
    cfg = load_config(TrainConfig, "train/recipes/lp-ft.yaml", overrides={"lr": 5e-5})

Each field carries its help text (`metadata["help"]`), so the CLI builds its flags from this
class and cannot drift from it. Validation names the flag (`--lr must be > 0`). The probe stage
(linear-probe, and the first stage of lp-ft) has its own `lp_*` epochs and learning rate because
a head on frozen features wants far more, far faster steps than fine-tuning a whole network.
No torch import here: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from edgetl.config import ConfigError
from edgetl.train.modes import MODES


def _opt(default: Any, help: str, **meta: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class TrainConfig:
    """Options of one training run; `config_to_dict` of it is RUN_DIR/config.yaml."""

    # --- data and model
    data: str | None = _opt(
        None,
        "image folder (DIR/train/<class>, DIR/val/<class>, or DIR/<class> with --val-split) or a built-in dataset name (digits)",
    )
    val_split: float | None = _opt(
        None, "fraction of a flat DIR/<class> folder held out for validation (stratified, seeded)"
    )
    model: str = _opt(
        "tf_efficientnet_lite0",
        "any timm model name, or auto: run `edgetl select` first (probe CV accuracy vs measured batch-1 "
        "latency) and train its pick (model, weights, input size); RUN_DIR/select.json says why",
    )
    auto_candidates: list[str] | None = _opt(
        None,
        "with --model auto: comma list of MODEL:WEIGHTS@SIZE (default: Lite0/1/2 at native size and +-32 px, "
        "or at --img-size when given)",
    )
    auto_latency_budget: float | None = _opt(
        None, "with --model auto: the most accurate candidate within this batch-1 latency", metavar="MS"
    )
    pretrained: str = _opt(
        "efficientnet_lite0",
        "weights: efficientnet_lite0|lite1|lite2 (offline), timm (hub download), a .safetensors/.pth file, or none",
    )
    img_size: int | None = _opt(None, "input size in pixels (default: the weights' own size)")
    mode: str = _opt(
        "lp-ft",
        "linear-probe | finetune | lp-ft (probe the head on frozen features, then fine-tune everything)",
    )

    # --- probe stage (linear-probe, and the first stage of lp-ft): head only, on cached features
    lp_epochs: int = _opt(20, "epochs of the linear-probe stage (cheap: features are cached)")
    lp_lr: float = _opt(1e-3, "learning rate of the linear-probe stage")
    probe_solver: Literal["lbfgs", "sgd"] = _opt(
        "lbfgs",
        "probe stage: lbfgs (default) = the head solved as multinomial logistic regression on the cached "
        "features (scikit-learn's LogisticRegressionCV defaults: L2 strength by stratified 5-fold CV on the "
        "training split), its logits scaled to the minimum of the training loss (label smoothing included) "
        "before fine-tuning (one epoch row; probe.json); sgd = --lp-epochs of --optimizer at --lp-lr with "
        "--drop and --label-smoothing",
    )

    # --- fine-tuning stage (finetune, and the second stage of lp-ft): every layer trains
    epochs: int = _opt(4, "epochs of the fine-tuning stage")
    lr: float = _opt(
        1e-4,
        "peak learning rate of the fine-tuning stage (the head's; earlier layers get less with --layer-decay)",
    )
    layer_decay: float = _opt(
        0.8, "layer-wise LR decay for fine-tuning: layer k from the top gets lr * decay^k (1 = off)"
    )
    warmup_epochs: int = _opt(1, "linear warmup epochs at the start of the fine-tuning stage")
    min_lr: float = _opt(1e-6, "learning rate at the end of the cosine schedule")
    freeze_bn: bool = _opt(
        True, "keep BatchNorm statistics and affine weights frozen (eval mode) while fine-tuning"
    )

    # --- optimisation and regularisation (both stages)
    batch_size: int = _opt(32, "images (or feature vectors) per step")
    optimizer: Literal["adamw", "sgd"] = _opt(
        "adamw", "adamw, or sgd (timm SGDW: momentum SGD with decoupled weight decay); never decays norm/bias"
    )
    weight_decay: float = _opt(0.05, "decoupled weight decay")
    momentum: float = _opt(0.9, "SGD momentum")
    drop: float = _opt(0.2, "dropout before the classifier")
    drop_path: float = _opt(0.1, "stochastic depth rate while fine-tuning")
    label_smoothing: float = _opt(0.1, "label smoothing of the training loss")
    clip_grad: float = _opt(0.0, "clip the gradient norm to this value (0 = off)")
    ema: bool = _opt(
        False, "evaluate and keep an exponential moving average of the weights (timm ModelEmaV3)"
    )
    ema_decay: float = _opt(0.998, "EMA decay per step")

    # --- augmentation while fine-tuning (timm transform factory); the probe uses the eval transform
    auto_augment: str | None = _opt(
        "rand-m9-mstd0.5-inc1", "timm policy: rand-..., trivial, augmix-..., original, or none"
    )
    hflip: float = _opt(0.5, "horizontal flip probability")
    scale: tuple[float, float] = _opt((0.08, 1.0), "RandomResizedCrop area range (min max)", nargs=2)
    color_jitter: float = _opt(0.0, "colour jitter strength (timm ignores it while auto_augment is on)")
    re_prob: float = _opt(0.0, "random erasing probability")
    mixup: float = _opt(0.0, "mixup alpha (0 = off)")
    cutmix: float = _opt(0.0, "cutmix alpha (0 = off)")
    mixup_prob: float = _opt(1.0, "probability of applying mixup/cutmix to a batch")

    # --- early stopping (per stage; the best epoch of the whole run is restored at the end)
    monitor: Literal["val_acc", "val_loss"] = _opt("val_acc", "validation metric that picks the best epoch")
    patience: int = _opt(5, "stop a stage after this many epochs without improvement (0 = never stop early)")
    min_delta: float = _opt(0.0, "smallest change of the monitored metric that counts as improvement")

    # --- runtime
    seed: int = _opt(0, "seed of initialisation, data order and augmentation (CPU runs repeat exactly)")
    device: Literal["auto", "cpu", "cuda"] = _opt("auto", "auto | cpu | cuda")
    amp: Literal["auto", "bf16", "fp16", "none"] = _opt(
        "auto",
        "mixed precision: auto = bf16 on GPUs that support it (else fp16) and on CPUs with AVX-512 BF16 or AMX "
        "(else float32); bf16 forces it on a CPU too; fp16 is CUDA-only; none = float32",
    )
    channels_last: bool = _opt(
        True, "channels-last memory format on CUDA and CPU (faster convolutions; --no-channels-last = off)"
    )
    freeze_lr_scale: float = _opt(
        0.05,
        "fine-tuning: the earliest layers whose layer-decayed LR scale (--layer-decay^k) is below this get no "
        "gradient and no backward pass (with 0.8: stem and first 3 blocks of Lite0); 0 = train every layer",
    )
    progressive: float = _opt(
        1.0,
        "fine-tuning: progressive resizing: the first epoch's random crops are this fraction of the input "
        "size, growing linearly (multiples of 32 px) to the full size in the last epoch; validation and export "
        "at the full size. 1 = off (default): 0.6 (128-224 px) made Lite0's 4 fine-tuning epochs only 9%% "
        "faster on 2 CPU cores and raised hymenoptera's val loss (bench/README.md)",
    )
    decode_once: bool = _opt(
        True,
        "fine-tuning: decode each image once per run and keep it in memory as uint8 (photos over "
        "(2 x img size)^2 pixels downscaled, val kept as resized crops); --no-decode-once re-reads files every epoch",
    )
    num_workers: int | None = _opt(
        None, "data loader worker processes (default: 0 on <= 2 CPUs, else up to 8)"
    )
    out: str | None = _opt(None, "run directory (default: runs/<model>-<mode>-<timestamp>)")
    resume: str | None = _opt(
        None, "continue the interrupted run in this directory from its last complete epoch"
    )
    cache_dir: str | None = _opt(
        None, "feature cache folder (default: $EDGETL_CACHE_DIR or ~/.cache/edgetl/features)"
    )
    quiet: bool = _opt(False, "print only warnings, errors and the final result")

    def __post_init__(self) -> None:
        if isinstance(self.auto_augment, str) and self.auto_augment.strip().lower() in (
            "",
            "none",
            "off",
            "false",
        ):
            self.auto_augment = None
        self.scale = tuple(float(x) for x in self.scale)  # type: ignore[assignment]
        _check(self)

    # -- derived values used by the trainer
    def run_dir(self) -> Path:
        """The run directory: --resume, --out, or a fresh timestamped folder under runs/."""
        if self.resume:
            return Path(self.resume)
        if self.out:
            return Path(self.out)
        import time

        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path("runs") / f"{self.model.replace('/', '_')}-{self.mode}-{stamp}"
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
        return path

    def feature_cache_dir(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        env = os.environ.get("EDGETL_CACHE_DIR")
        if env:
            return Path(env).expanduser()
        return Path.home() / ".cache" / "edgetl" / "features"

    def augment(self) -> Any:
        from edgetl.data import AugmentConfig

        return AugmentConfig(
            auto_augment=self.auto_augment,
            hflip=self.hflip,
            scale=self.scale,
            color_jitter=self.color_jitter or None,
            re_prob=self.re_prob,
        )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first bad option; nothing here touches files or torch."""

    def need(ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise ConfigError(f"{_flag(name)} must be {rule} (got {getattr(cfg, name)!r})")

    from edgetl._resources import check_threads
    from edgetl.config import check_finite

    check_finite(cfg, _flag)  # NaN/inf first: `nan > 0` is False and `inf > 0` True in the checks below
    MODES.get(cfg.mode)  # UnknownNameError with suggestions
    need(bool(cfg.model and cfg.model.strip()), "model", "a timm model name")
    _check_auto(cfg)
    if cfg.val_split is not None:
        need(0.0 < cfg.val_split < 1.0, "val_split", "a fraction between 0 and 1, e.g. 0.2")
    if cfg.img_size is not None:
        need(16 <= cfg.img_size <= 4096, "img_size", "between 16 and 4096 pixels")
    for name in ("lp_epochs", "epochs", "batch_size"):
        need(getattr(cfg, name) >= 1, name, ">= 1")
    for name in ("lp_lr", "lr"):
        need(getattr(cfg, name) > 0, name, "> 0")
    need(cfg.min_lr >= 0, "min_lr", ">= 0")
    need(cfg.min_lr <= cfg.lr, "min_lr", f"<= --lr ({cfg.lr})")
    need(0 < cfg.layer_decay <= 1, "layer_decay", "in (0, 1] (1 = off)")
    need(0 <= cfg.warmup_epochs < cfg.epochs, "warmup_epochs", f">= 0 and < --epochs ({cfg.epochs})")
    need(cfg.weight_decay >= 0, "weight_decay", ">= 0")
    need(0 <= cfg.momentum < 1, "momentum", "in [0, 1)")
    for name in ("drop", "drop_path", "label_smoothing"):
        need(0 <= getattr(cfg, name) < 1, name, "in [0, 1)")
    need(cfg.clip_grad >= 0, "clip_grad", ">= 0 (0 = off)")
    need(0.1 <= cfg.progressive <= 1, "progressive", "in [0.1, 1] (1 = off)")
    need(0 <= cfg.freeze_lr_scale < 1, "freeze_lr_scale", "in [0, 1) (0 = train every layer)")
    need(0 < cfg.ema_decay < 1, "ema_decay", "in (0, 1), e.g. 0.998")
    for name in ("hflip", "re_prob", "mixup_prob"):
        need(0 <= getattr(cfg, name) <= 1, name, "a probability in [0, 1]")
    lo, hi = cfg.scale
    need(0 < lo <= hi <= 1, "scale", "two numbers 0 < min <= max <= 1")
    for name in ("color_jitter", "mixup", "cutmix", "min_delta"):
        need(getattr(cfg, name) >= 0, name, ">= 0")
    need(cfg.patience >= 0, "patience", ">= 0 (0 = never stop early)")
    need(cfg.seed >= 0, "seed", ">= 0")
    if cfg.num_workers is not None:
        need(cfg.num_workers >= 0, "num_workers", ">= 0")
        check_threads(cfg.num_workers, "--num-workers", "worker processes")  # 1000 workers hang a machine
    for name, choices in _literal_choices().items():
        need(getattr(cfg, name) in choices, name, "one of " + ", ".join(choices))


def _check_auto(cfg: TrainConfig) -> None:
    """--auto-* options: only with --model auto; each candidate spelled MODEL:WEIGHTS@SIZE."""
    if isinstance(cfg.auto_candidates, str):
        cfg.auto_candidates = [c.strip() for c in cfg.auto_candidates.split(",") if c.strip()]
    given = [n for n in ("auto_candidates", "auto_latency_budget") if getattr(cfg, n) is not None]
    if given and cfg.model != "auto":
        raise ConfigError(f"{_flag(given[0])} applies only with --model auto (got --model {cfg.model})")
    if cfg.auto_latency_budget is not None and not cfg.auto_latency_budget > 0:
        raise ConfigError(f"--auto-latency-budget must be > 0 ms (got {cfg.auto_latency_budget})")
    if cfg.auto_candidates is not None:
        from edgetl.select.config import parse_candidate

        if not cfg.auto_candidates:
            raise ConfigError("--auto-candidates: give at least one MODEL:WEIGHTS@SIZE")
        for c in cfg.auto_candidates:
            parse_candidate(c, flag="--auto-candidates")


def _literal_choices() -> dict[str, tuple[str, ...]]:
    """Choices of the Literal-typed fields (checked here too: direct construction skips from_dict)."""
    import typing

    hints = typing.get_type_hints(TrainConfig)
    return {n: typing.get_args(t) for n, t in hints.items() if typing.get_origin(t) is Literal}


def flag_names() -> dict[str, str]:
    """Field name -> CLI flag, for messages that point at a flag."""
    return {f.name: _flag(f.name) for f in fields(TrainConfig)}


__all__ = ["TrainConfig", "flag_names"]
