"""What to export and how: one typed config, validated before any work starts.

    cfg = ExportConfig(source="runs/ants", precisions=["fp32", "fp16", "int8"], target="cpu-x86")
    cfg = ExportConfig(source="resnet18", weights="head.safetensors", labels=["ant", "bee"], data="photos/")

`source` is a run directory, a checkpoint `.safetensors`, or a timm model name (then `weights`
and `labels` are required). Mistakes (unknown target or precision, bad numbers) raise a
one-line error naming the option here, not halfway through an export. Each field's help text
(`metadata["help"]`, and `metadata["flag"]` where the flag is not spelled like the field) is
what `edgetl export --help` shows: the CLI's flags are generated from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.config import check_finite
from edgetl.config import option as _opt
from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.export.precisions import PRECISIONS, check_precision
from edgetl.export.targets import TARGETS

EXPORTERS = ("auto", "dynamo", "torchscript")
CALIB_METHODS = ("minmax", "entropy", "percentile")


@dataclass
class ExportConfig:
    source: str = _opt(
        "",
        "run directory or checkpoint .safetensors (or a timm model name with --model)",
        positional=True,
        nargs="?",
    )
    weights: str | None = _opt(None, "state dict (.safetensors or .pth) for --model, head included")
    labels: list[str] | None = _opt(None, "class names for --model: a labels.txt (one per line) or a,b,c")
    precisions: list[str] = _opt(["fp32", "int8"], "comma list of " + ", ".join(PRECISIONS.names()))
    target: str = _opt("cpu-x86", " | ".join(TARGETS.names()) + " (picks the INT8 scheme)")
    opset: int | None = _opt(None, "ONNX opset (default 18 when the installed onnxruntime runs it)")
    dynamic_batch: bool = _opt(
        True, "fix the batch size to 1 instead of a dynamic batch axis", flag="--static-batch"
    )
    exporter: str = _opt("auto", " | ".join(EXPORTERS) + " (auto: whichever gives a clean graph)")
    bake_preprocess: bool = _opt(False, "graph takes uint8 NHWC images (resized) and normalises itself")
    softmax: bool = _opt(False, 'add a "probs" output next to "logits"')
    calib_images: int = _opt(128, "INT8 calibration images from the train split, stratified by class")
    calib_method: str = _opt("minmax", " | ".join(CALIB_METHODS) + " (INT8 calibration)")
    max_acc_drop: float | None = _opt(0.5, "top-1 points INT8 may lose on val, or 'none'")
    max_fallback_nodes: int = _opt(12, "nodes the accuracy budget may keep in float before giving up")
    int8_min_agreement: float = _opt(
        0.0,
        "INT8 top-1 agreement with PyTorch on val that is required, a fraction (0: reported, not "
        "required; the gate judges the accuracy drop, see export/README.md)",
        flag="--min-agreement",
    )
    data: str | None = _opt(
        None, "image folder overriding the run's data (val: parity gate, train: calibration)"
    )
    val_split: float | None = _opt(None, "for a --data folder without train/ and val/: fraction held out")
    seed: int = _opt(0, "seed for --val-split and image sampling with --data")
    parity_images: int | None = _opt(None, "check on this many val images (default: all)")
    out_dir: str | None = _opt(None, "output folder (default RUN_DIR/export)", flag="--out")

    def __post_init__(self) -> None:
        check_finite(self)  # --max-acc-drop nan would pass every range check below
        if not str(self.source).strip():
            raise EdgetlError("nothing to export: give a run directory, a checkpoint, or --model NAME")
        if isinstance(self.precisions, str):
            self.precisions = [p for p in self.precisions.split(",") if p.strip()]
        self.precisions = [check_precision(p.strip()) for p in self.precisions]
        if not self.precisions:
            raise EdgetlError(f"--precisions is empty; choose from {', '.join(PRECISIONS.names())}")
        # fp32 first: every other variant is derived from (and compared next to) the fp32 graph
        self.precisions = sorted(dict.fromkeys(self.precisions), key=lambda p: PRECISIONS.get(p).derived)
        target = TARGETS.get(self.target)
        for p in self.precisions:
            target.check(p)
        if self.exporter not in EXPORTERS:
            raise UnknownNameError("exporter (--exporter)", self.exporter, EXPORTERS)
        if self.calib_method not in CALIB_METHODS:
            raise UnknownNameError("calibration method (--calib-method)", self.calib_method, CALIB_METHODS)
        if self.calib_images < 1:
            raise EdgetlError(f"--calib-images must be at least 1, got {self.calib_images}")
        if self.max_acc_drop is not None and self.max_acc_drop < 0:
            raise EdgetlError(f"--max-acc-drop must be >= 0 top-1 points (or none), got {self.max_acc_drop}")
        if self.max_fallback_nodes < 0:
            raise EdgetlError(f"--max-fallback-nodes must be >= 0, got {self.max_fallback_nodes}")
        if not 0.0 <= self.int8_min_agreement <= 1.0:
            raise EdgetlError(f"--min-agreement must be a fraction in [0, 1], got {self.int8_min_agreement}")
        if self.parity_images is not None and self.parity_images < 1:
            raise EdgetlError(f"--parity-images must be at least 1, got {self.parity_images}")
        if self.opset is not None and (isinstance(self.opset, bool) or not isinstance(self.opset, int)):
            raise EdgetlError(f"--opset must be an integer, got {self.opset!r}")


__all__ = ["CALIB_METHODS", "EXPORTERS", "ExportConfig"]
