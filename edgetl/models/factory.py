"""Create a timm backbone with a fresh head for N classes, from any weight source.

    model, info = create_classifier("tf_efficientnet_lite0", num_classes=2, pretrained="efficientnet_lite0")

The new head is built with `reset_classifier` (PyTorch's small default init), not with
`create_model(num_classes=N)`: timm's EfficientNet init gives a 2-class head +-0.71 weights
and huge initial logits (see NOTES). The returned data config (input size, mean/std,
interpolation, crop) is what the weights were trained with; it drives every transform.

Options a model's class does not take (GhostNet and EfficientViT have no stochastic depth, most
CNNs fix no input size) are dropped rather than failing the run: `ModelInfo.dropped` lists them
and `ModelInfo.notes` says so in one line each. `img_size` reaches models whose input size is
fixed at creation (ViT/DeiT position embeddings, LeViT attention biases); timm resamples the
position embeddings of hub weights to it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.models.heads import reset_head
from edgetl.models.weights import HUB_NAMES, NO_WEIGHTS, WEIGHT_SOURCES, check_state_fits, read_weights_file

DATA_CONFIG_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode")


@dataclass
class ModelInfo:
    model: str  # timm architecture name
    weights: str  # weight source id as given (name, "timm", file path, or "none")
    data_config: dict[str, Any]
    dropped: tuple[str, ...] = ()  # creation options the model does not take (timm kwarg names)
    notes: list[str] = field(default_factory=list)


# Creation options a model may not take -> the flag to name when one is dropped (img_size: none,
# dropping it is normal: most CNNs take any input size).
OPTIONAL_KWARGS = {"drop_rate": "--drop", "drop_path_rate": "--drop-path", "img_size": None}
_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def build_model(name: str, optional: dict[str, Any], **fixed: Any) -> tuple[Any, tuple[str, ...]]:
    """`timm.create_model(name, **fixed, **optional)`, retried without each optional kwarg the model
    rejects (timm forwards kwargs to the model class, which raises TypeError naming it)."""
    import timm

    optional = {k: v for k, v in optional.items() if v is not None}
    dropped: list[str] = []
    while True:
        try:
            return timm.create_model(name, **fixed, **optional), tuple(dropped)
        except TypeError as e:
            m = _UNEXPECTED.search(str(e))
            if not m or m.group(1) not in optional:
                raise EdgetlError(f"--model {name}: {e}") from None
            dropped.append(m.group(1))
            del optional[m.group(1)]


def dropped_notes(name: str, dropped: tuple[str, ...], given: dict[str, Any]) -> list[str]:
    """One line per user-visible option the model did not take."""
    return [
        f"--model {name} takes no {k} ({OPTIONAL_KWARGS[k]} {given[k]:g} ignored for it)"
        for k in dropped
        if OPTIONAL_KWARGS.get(k)
    ]


def input_hw(input_size: Any) -> int | tuple[int, int]:
    """timm's `img_size` for a (C, H, W) data-config input size."""
    h, w = int(input_size[-2]), int(input_size[-1])
    return h if h == w else (h, w)


@functools.lru_cache(maxsize=1)
def _all_models() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def check_model_name(name: str) -> None:
    import timm

    if not timm.is_model(name):
        raise UnknownNameError("timm model (--model)", name, _all_models())


def _data_config(model: Any, override: dict[str, Any] | None = None) -> dict[str, Any]:
    from timm.data import resolve_data_config

    cfg = resolve_data_config({}, model=model)
    if override:
        cfg.update(override)
    out = {k: cfg[k] for k in DATA_CONFIG_KEYS if k in cfg}
    out.setdefault("crop_mode", "center")
    out["input_size"] = tuple(int(x) for x in out["input_size"])
    out["mean"] = tuple(float(x) for x in out["mean"])
    out["std"] = tuple(float(x) for x in out["std"])
    return out


def create_classifier(
    name: str,
    num_classes: int,
    pretrained: str | None = None,
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    img_size: int | None = None,
) -> tuple[Any, ModelInfo]:
    """Build `name` with `pretrained` weights and a freshly initialised `num_classes` head."""
    check_model_name(name)
    pretrained = (pretrained or "none").strip()
    optional: dict[str, Any] = {"drop_rate": drop_rate, "drop_path_rate": drop_path_rate or None}
    if img_size:
        optional["img_size"] = int(img_size)
    data_override: dict[str, Any] | None = None
    dropped: tuple[str, ...] = ()

    def build(**extra: Any) -> Any:
        nonlocal dropped
        model, dropped = build_model(name, optional, **extra)
        return model

    if pretrained.lower() in NO_WEIGHTS:
        model = build(pretrained=False)
        weights = "none"
    elif pretrained.lower() in HUB_NAMES:
        from edgetl.models.hub import offline_unless_reachable

        offline = False
        try:
            with offline_unless_reachable() as offline:
                model = build(pretrained=True)
        except Exception as e:  # network/hub errors of many kinds
            why = (
                "the Hub cannot be reached and they are not in the local cache"
                if offline
                else f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            )
            raise EdgetlError(
                f"--pretrained {pretrained}: downloading timm weights for {name} failed ({why}); "
                "use --pretrained efficientnet_lite0 or a local file offline"
            ) from None
        weights = f"timm:{model.pretrained_cfg.get('hf_hub_id') or name}"
    elif pretrained in WEIGHT_SOURCES:
        src = WEIGHT_SOURCES.get(pretrained)
        if src.arch != name:
            raise EdgetlError(
                f"--pretrained {pretrained} holds weights for {src.arch}, not {name}; use --model {src.arch}"
            )
        model = build(pretrained=False)
        model.load_state_dict(src.load(), strict=True)
        data_override = src.data_config
        weights = pretrained
    elif Path(pretrained).suffix in (".safetensors", ".pth", ".pt", ".bin") or Path(pretrained).exists():
        model = build(pretrained=False)
        state = read_weights_file(pretrained)
        _load_backbone_state(model, state, pretrained)
        weights = str(Path(pretrained).resolve())
    else:
        raise UnknownNameError(
            "weight source (--pretrained)", pretrained, [*WEIGHT_SOURCES.names(), *HUB_NAMES, "none"]
        )

    reset_head(model, num_classes)
    data_config = _data_config(model, data_override)
    if img_size:
        data_config["input_size"] = (3, int(img_size), int(img_size))
    notes = dropped_notes(name, dropped, optional)
    return model, ModelInfo(
        model=name, weights=weights, data_config=data_config, dropped=dropped, notes=notes
    )


def _load_backbone_state(model: Any, state: dict[str, Any], origin: str) -> None:
    """Load a full or backbone-only state dict; the classifier may differ (it is replaced)."""
    own = model.state_dict()
    head = model.default_cfg.get("classifier", "classifier")
    heads = head if isinstance(head, (list, tuple)) else [head]
    is_head = lambda k: any(k == h or k.startswith(h + ".") for h in heads)  # noqa: E731
    from edgetl.models.resize import fit_state_to

    body = fit_state_to(model, {k: v for k, v in state.items() if not is_head(k)})  # e.g. ViT at --img-size
    arch = model.default_cfg.get("architecture", type(model).__name__)
    own_body = {k: v for k, v in own.items() if not is_head(k)}
    check_state_fits(own_body, body, origin, f"the {arch} backbone (weights do not fit)")
    model.load_state_dict(body, strict=False)
