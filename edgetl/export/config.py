"""What to export and how: one typed config, validated before any work starts.

    cfg = ExportConfig(source="runs/ants", precisions=["fp32", "fp16", "int8"], target="cpu-x86")
    cfg = ExportConfig(source="resnet18", weights="head.safetensors", labels=["ant", "bee"], data="photos/")

`source` is a run directory, a checkpoint `.safetensors`, or a timm model name (then `weights`
and `labels` are required). Mistakes (unknown target or precision, bad numbers) raise a
one-line error naming the option here, not halfway through an export.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.export.targets import TARGETS, check_precision

EXPORTERS = ("auto", "dynamo", "torchscript")
CALIB_METHODS = ("minmax", "entropy", "percentile")


@dataclass
class ExportConfig:
    source: str = ""  # RUN_DIR, checkpoint .safetensors, or a timm model name (with weights + labels)
    weights: str | None = None  # state dict file for a timm model name source
    labels: list[str] | None = None  # class names for a timm model name source
    precisions: list[str] = field(default_factory=lambda: ["fp32", "int8"])
    target: str = "cpu-x86"
    opset: int | None = None  # None: DEFAULT_OPSET when the installed onnxruntime runs it
    dynamic_batch: bool = True
    exporter: str = "auto"  # auto | dynamo | torchscript
    bake_preprocess: bool = False  # graph takes uint8 NHWC images and normalises itself
    softmax: bool = False  # add a "probs" output next to "logits"
    calib_images: int = 128  # from the TRAIN split, stratified by class
    calib_method: str = "minmax"
    max_acc_drop: float | None = 0.5  # top-1 points on val an INT8 variant may lose; None: no budget
    max_fallback_nodes: int = 12  # nodes the budget may keep in float before giving up
    int8_min_agreement: float = 0.95  # INT8 top-1 agreement with PyTorch on val
    data: str | None = None  # overrides the run's data folder
    val_split: float | None = None  # for a flat data folder without train/ and val/
    seed: int = 0
    parity_images: int | None = None  # None: every val image
    out_dir: str | None = None  # default RUN_DIR/export

    def __post_init__(self) -> None:
        if not str(self.source).strip():
            raise EdgetlError("nothing to export: give a run directory, a checkpoint, or --model NAME")
        if isinstance(self.precisions, str):
            self.precisions = [p for p in self.precisions.split(",") if p.strip()]
        self.precisions = [check_precision(p.strip()) for p in self.precisions]
        if not self.precisions:
            raise EdgetlError("--precisions is empty; choose from fp32, fp16, int8-dynamic, int8")
        # fp32 first: every other variant is derived from (and compared next to) the fp32 graph
        self.precisions = sorted(dict.fromkeys(self.precisions), key=lambda p: p != "fp32")
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
            raise EdgetlError(
                f"int8_min_agreement must be a fraction in [0, 1], got {self.int8_min_agreement}"
            )
        if self.parity_images is not None and self.parity_images < 1:
            raise EdgetlError(f"--parity-images must be at least 1, got {self.parity_images}")
        if self.opset is not None and (isinstance(self.opset, bool) or not isinstance(self.opset, int)):
            raise EdgetlError(f"--opset must be an integer, got {self.opset!r}")


__all__ = ["CALIB_METHODS", "EXPORTERS", "ExportConfig"]
