"""What is being exported: a trained model, its labels and data config, and where its data is.

    src = resolve_source("runs/ants")                                  # run directory
    src = resolve_source("runs/ants/checkpoints/best.safetensors")     # checkpoint (run found from it)
    src = resolve_source("resnet18", weights="w.safetensors", labels=["ant", "bee"])   # no run

A run directory also tells where its images are (config.yaml: data, val_split, seed) so the
parity gate and calibration use the run's own val and train splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgetl.errors import CheckpointError, EdgetlError
from edgetl.models import CheckpointMeta


@dataclass
class Source:
    model: Any  # torch.nn.Module in eval mode
    meta: CheckpointMeta
    run_dir: Path | None
    data: str | None
    val_split: float | None
    seed: int
    origin: str  # what the user pointed at, for messages and the report


def _run_data(run_dir: Path) -> tuple[str | None, float | None, int]:
    """(data, val_split, seed) from the run's config.yaml (edgetl.runfolder); no config: no data."""
    from edgetl import runfolder as rf

    try:
        cfg = rf.read_train_config(run_dir)
    except rf.MissingRunFile:
        return None, None, 0
    except rf.RunFileError as e:
        raise EdgetlError(f"{e}; pass --data DIR") from None
    return (str(cfg.data) if cfg.data else None), cfg.val_split, int(cfg.seed or 0)


def _looks_like_path(s: str) -> bool:
    return "/" in s or "\\" in s or s.endswith((".safetensors", ".pth", ".pt", ".bin")) or Path(s).exists()


def resolve_source(source: str, weights: str | None = None, labels: list[str] | None = None) -> Source:
    """Load the model to export; missing/corrupt/label-less checkpoints raise CheckpointError."""
    from edgetl.models import load_classifier

    if weights is not None or labels is not None:
        return _from_model_name(source, weights, labels)
    if not _looks_like_path(source):
        import timm

        if timm.is_model(source):
            raise EdgetlError(
                f"--model {source}: also give --weights FILE and --labels (a labels.txt or a,b,c)"
            )
        raise CheckpointError(
            f"{source} does not exist (not a run directory, a checkpoint file or a timm model name)"
        )
    from edgetl import runfolder as rf

    path = Path(source)
    model, meta = load_classifier(path)
    if path.is_dir():
        run_dir: Path | None = path
    elif path.parent.name == rf.CHECKPOINTS and rf.RunFolder(path.parent.parent).config.is_file():
        run_dir = path.parent.parent
    else:
        run_dir = None
    data, val_split, seed = _run_data(run_dir) if run_dir else (None, None, 0)
    return Source(
        model=model, meta=meta, run_dir=run_dir, data=data, val_split=val_split, seed=seed, origin=str(path)
    )


def _from_model_name(name: str, weights: str | None, labels: list[str] | None) -> Source:
    from edgetl.models import check_model_name, create_classifier, read_weights_file
    from edgetl.models.weights import check_state_fits

    if weights is None or not labels:
        raise EdgetlError(f"--model {name}: also give --weights FILE and --labels (a labels.txt or a,b,c)")
    if len(set(labels)) != len(labels):
        raise EdgetlError(
            f"--labels has duplicates: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))}"
        )
    check_model_name(name)
    model, info = create_classifier(name, num_classes=len(labels), pretrained="none")
    state = read_weights_file(weights)
    check_state_fits(model.state_dict(), state, str(weights), f"{name} with {len(labels)} classes")
    model.load_state_dict(state, strict=True)
    meta = CheckpointMeta(
        model=name, labels=list(labels), data_config=info.data_config, weights=str(Path(weights).resolve())
    )
    return Source(model=model.eval(), meta=meta, run_dir=None, data=None, val_split=None, seed=0, origin=name)


__all__ = ["Source", "resolve_source"]
