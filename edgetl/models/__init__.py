"""Backbones, weight sources and checkpoints."""

from edgetl.models.checkpoint import (
    CheckpointMeta,
    load_classifier,
    read_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from edgetl.models.factory import ModelInfo, check_model_name, create_classifier
from edgetl.models.weights import WEIGHT_SOURCES, WeightSource, read_weights_file

__all__ = [
    "CheckpointMeta",
    "ModelInfo",
    "WEIGHT_SOURCES",
    "WeightSource",
    "check_model_name",
    "create_classifier",
    "load_classifier",
    "read_checkpoint",
    "read_weights_file",
    "resolve_checkpoint",
    "save_checkpoint",
]
