"""Train and eval transforms from a model's data config, built by timm's transform factory.

    tf_eval = build_transform(info.data_config, train=False)       # what export/runtime reproduce
    tf_train = build_transform(info.data_config, train=True, aug=AugmentConfig(auto_augment="trivial"))

The eval transform is exactly `timm.data.create_transform(..., is_training=False)` (resize,
center crop, normalize); the torch-free runtime re-implements precisely that, so nothing is
added here. Train-time augmentation is timm's RandomResizedCrop + flip + RandAugment family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgetl.config import ConfigError

# Named shortcuts for `auto_augment`; any other timm policy string is passed through unchanged.
# timm has no TrivialAugment class; its RandAugment expresses it: one op per image (n1), always
# applied (p1.0), magnitude drawn uniformly from [0, 10] (mstd > 100 means uniform in timm).
AUTO_AUGMENT_ALIASES = {
    "randaugment": "rand-m9-mstd0.5-inc1",
    "trivial": "rand-n1-m10-mstd101-p1.0-inc1",
    "trivialaugment": "rand-n1-m10-mstd101-p1.0-inc1",
}
_OFF = ("", "none", "off", "false")


@dataclass
class AugmentConfig:
    """Train-time augmentation (timm transform factory options)."""

    auto_augment: str | None = (
        "rand-m9-mstd0.5-inc1"  # timm policy ("rand-...", "augmix-...", "original"), "trivial", or None
    )
    hflip: float = 0.5
    scale: tuple[float, float] = (0.08, 1.0)
    color_jitter: float | None = None  # ignored by timm while RandAugment is on
    re_prob: float = 0.0  # random erasing probability

    def __post_init__(self) -> None:
        if not 0.0 <= self.hflip <= 1.0:
            raise ConfigError(f"hflip must be a probability in [0, 1], got {self.hflip}")
        if not 0.0 <= self.re_prob <= 1.0:
            raise ConfigError(f"re_prob must be a probability in [0, 1], got {self.re_prob}")
        lo, hi = self.scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"scale must be (min, max) with 0 < min <= max <= 1, got {tuple(self.scale)}")
        if self.color_jitter is not None and self.color_jitter < 0:
            raise ConfigError(f"color_jitter must be >= 0, got {self.color_jitter}")

    def policy(self) -> str | None:
        """The timm policy string actually used (aliases resolved, "none" -> None)."""
        aa = self.auto_augment
        if aa is None or aa.strip().lower() in _OFF:
            return None
        return AUTO_AUGMENT_ALIASES.get(aa.strip().lower(), aa.strip())


def _size(data_config: dict[str, Any]) -> Any:
    size = data_config["input_size"]
    return tuple(size) if isinstance(size, (list, tuple)) else size


def build_transform(data_config: dict[str, Any], train: bool, aug: AugmentConfig | None = None) -> Callable:
    """PIL RGB image -> normalized CHW float tensor, as timm would build it for this model."""
    from timm.data import create_transform

    common = dict(
        input_size=_size(data_config),
        interpolation=data_config.get("interpolation", "bilinear"),
        mean=tuple(data_config.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(data_config.get("std", (0.229, 0.224, 0.225))),
    )
    if not train:
        return create_transform(
            **common,
            crop_pct=data_config.get("crop_pct"),
            crop_mode=data_config.get("crop_mode"),
            is_training=False,
        )
    aug = aug or AugmentConfig()
    policy = aug.policy()
    try:
        from edgetl.data._timm_compat import patch_timm_posterize

        patch_timm_posterize()  # timm posterize vs Pillow >= 12: see _timm_compat
        return create_transform(
            **common,
            is_training=True,
            scale=tuple(aug.scale),
            hflip=aug.hflip,
            color_jitter=aug.color_jitter if aug.color_jitter else None,
            auto_augment=policy,
            re_prob=aug.re_prob,
        )
    except (AssertionError, ValueError, KeyError) as e:
        if policy is None:
            raise
        raise ConfigError(
            f"auto_augment {aug.auto_augment!r} is not a timm augmentation policy ({e or type(e).__name__}); "
            "use e.g. 'rand-m9-mstd0.5-inc1', 'trivial', 'augmix-m5-w4-d2', 'original', or none"
        ) from None


def set_crop_size(transform: Callable, size: int) -> bool:
    """Make the train transform's random-resized crop output `size` px; False when it has none.

    Progressive resizing (`edgetl.train.speed.progressive_sizes`) changes only this step: the
    augmentation policy and normalization stay as timm built them.
    """
    for step in getattr(transform, "transforms", []):
        if "RandomResizedCrop" in type(step).__name__ and hasattr(step, "size"):
            step.size = (size, size)
            return True
    return False


__all__ = ["AUTO_AUGMENT_ALIASES", "AugmentConfig", "build_transform", "set_crop_size"]
