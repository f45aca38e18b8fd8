"""Checkpoints: safetensors weights with the run's labels and data config embedded.

One file is the unit of truth (`best.safetensors` carries its own metadata in the safetensors
header under "edgetl"), written atomically; a JSON twin beside it is for people and tools.

    save_checkpoint(run_dir / "checkpoints/best.safetensors", model, meta)
    model, meta = load_classifier(run_dir)          # a run dir or a .safetensors path
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgetl._io import atomic_write, atomic_write_json
from edgetl.errors import CheckpointError

CHECKPOINT_DIR = "checkpoints"


@dataclass
class CheckpointMeta:
    model: str  # timm architecture
    labels: list[str]
    data_config: dict[str, Any]  # input_size, mean, std, interpolation, crop_pct, crop_mode
    weights: str = "none"  # where the backbone weights came from
    run_id: str = ""
    epoch: int = -1
    metrics: dict[str, float] = field(default_factory=dict)
    drop_rate: float = 0.0
    drop_path_rate: float = 0.0
    edgetl_version: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=list)

    @classmethod
    def from_json(cls, text: str, origin: str = "checkpoint") -> CheckpointMeta:
        try:
            data = json.loads(text)
            known = set(cls.__dataclass_fields__)
            meta = cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{origin}: unreadable edgetl metadata ({e})") from None
        if not meta.labels:
            raise CheckpointError(f"{origin}: the checkpoint has no class labels; retrain with edgetl train")
        dc = dict(meta.data_config)
        for k in ("input_size", "mean", "std"):
            if k in dc:
                dc[k] = tuple(dc[k])
        meta.data_config = dc
        return meta


def save_checkpoint(path: str | Path, model: Any, meta: CheckpointMeta) -> Path:
    """Write weights + metadata atomically; a JSON twin (`.json`) is written after it."""
    from safetensors.torch import save_file

    from edgetl import __version__

    meta.edgetl_version = meta.edgetl_version or __version__
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"edgetl": meta.to_json()}))
    atomic_write_json(path.with_suffix(".json"), json.loads(meta.to_json()))
    return path


def resolve_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A run directory -> its `checkpoints/<which>.safetensors`; a file path is returned as is."""
    path = Path(path)
    if path.is_dir():
        cand = path / CHECKPOINT_DIR / f"{which}.safetensors"
        if not cand.is_file():
            raise CheckpointError(
                f"{path}: no {CHECKPOINT_DIR}/{which}.safetensors; is this an edgetl run directory?"
            )
        return cand
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    return path


def read_checkpoint(path: str | Path, which: str = "best") -> tuple[dict[str, Any], CheckpointMeta]:
    """(state_dict, meta) from a run dir or .safetensors file; never unpickles anything."""
    from safetensors.torch import load as load_safetensors

    path = resolve_checkpoint(path, which)
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: edgetl checkpoints are .safetensors files; for .pth weights use --pretrained"
        )
    # One read: header and tensors come from the same version even if a writer renames over it.
    try:
        blob = path.read_bytes()
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + n]).get("__metadata__") or {}
        state = load_safetensors(blob)
    except Exception as e:
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    if "edgetl" not in header:
        raise CheckpointError(
            f"{path}: no edgetl metadata (labels, data config); was it written by edgetl train?"
        )
    return state, CheckpointMeta.from_json(header["edgetl"], str(path))


def load_classifier(path: str | Path, which: str = "best") -> tuple[Any, CheckpointMeta]:
    """Rebuild the trained model (eval mode, CPU) from a run dir or checkpoint file."""
    from edgetl.models.factory import build_model, check_model_name, input_hw
    from edgetl.models.weights import check_state_fits

    state, meta = read_checkpoint(path, which)
    check_model_name(meta.model)
    size = meta.data_config.get("input_size")  # models that fix their input size at creation (ViT, LeViT)
    options = {"drop_rate": meta.drop_rate, "img_size": input_hw(size) if size else None}
    model, _ = build_model(meta.model, options, pretrained=False, num_classes=meta.num_classes)
    check_state_fits(model.state_dict(), state, str(path), f"{meta.model} with {meta.num_classes} classes")
    model.load_state_dict(state, strict=True)
    return model.eval(), meta
