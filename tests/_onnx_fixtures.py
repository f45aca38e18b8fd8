"""Tiny edgetl-style ONNX models for runtime/bench/predict tests (not library code).

    path = export_tiny(tmp_path / "m-fp32.onnx", labels=["ant", "bee"])
    q = quantize_tiny(path, tmp_path / "m-int8-dynamic.onnx")
    run_dir = make_run_dir(tmp_path / "run", data_root)   # checkpoint + export/ + config.yaml

The models are random-init timm `test_*` nets (or ones fitted to the generated colour images),
exported with the TorchScript exporter (fast) and stamped with `ModelMetadata.to_props()` the
way `edgetl export` does.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.runtime.metadata import ModelMetadata

TINY_MODEL = "test_efficientnet"
TINY_CONFIG = {
    "input_size": (3, 32, 32),
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "interpolation": "bicubic",
    "crop_pct": 0.875,
    "crop_mode": "center",
}


def tiny_model(num_classes: int = 2, model: str = TINY_MODEL, seed: int = 0) -> Any:
    import timm
    import torch

    torch.manual_seed(seed)
    m = timm.create_model(model, pretrained=False)
    m.reset_classifier(num_classes)
    return m.eval()


def fit_colors(model: Any, data_root: Path, labels: list[str], data_config: dict, steps: int = 30) -> Any:
    """A few SGD steps on DIR/train/<class>/ images so the model's predictions mean something."""
    import torch

    from edgetl.runtime.image import load_rgb
    from edgetl.runtime.preprocess import Preprocess

    pre = Preprocess.from_data_config(data_config)
    xs, ys = [], []
    for i, lab in enumerate(labels):
        for p in sorted((data_root / "train" / lab).glob("*.png")):
            xs.append(pre(load_rgb(p)))
            ys.append(i)
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()


def metadata_for(labels: list[str], data_config: dict | None = None, **kw: Any) -> ModelMetadata:
    dc = {**TINY_CONFIG, **(data_config or {})}
    return ModelMetadata(
        labels=list(labels),
        input_size=tuple(dc["input_size"]),
        mean=tuple(dc["mean"]),
        std=tuple(dc["std"]),
        interpolation=dc["interpolation"],
        crop_pct=dc["crop_pct"],
        crop_mode=dc["crop_mode"],
        model=kw.pop("model", TINY_MODEL),
        **kw,
    )


def stamp(path: Path, md: ModelMetadata | dict[str, str] | None) -> Path:
    """Replace the file's metadata_props with `md` (None: remove all)."""
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    props = md.to_props() if isinstance(md, ModelMetadata) else (md or {})
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))
    return path


def export_tiny(
    path: Path,
    labels: list[str] | tuple[str, ...] = ("ant", "bee"),
    model: Any = None,
    data_config: dict | None = None,
    dynamic_batch: bool = True,
    softmax: bool = False,
    precision: str = "fp32",
) -> Path:
    """Export `model` (default: a random tiny net) to `path` with edgetl metadata."""
    import torch

    dc = {**TINY_CONFIG, **(data_config or {})}
    model = model if model is not None else tiny_model(len(labels))
    if softmax:
        model = _WithProbs(model)
    _, h, w = dc["input_size"]
    outputs = ["logits", "probs"] if softmax else ["logits"]
    axes = {n: {0: "batch"} for n in ["input", *outputs]} if dynamic_batch else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.randn(1, 3, h, w),
            str(path),
            input_names=["input"],
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    return stamp(path, metadata_for(labels, dc, precision=precision, softmax=softmax))


class _WithProbs:
    def __new__(cls, model: Any) -> Any:
        import torch

        class WithProbs(torch.nn.Module):
            def __init__(self, m: Any):
                super().__init__()
                self.m = m

            def forward(self, x: Any) -> Any:
                logits = self.m(x)
                return logits, torch.softmax(logits, dim=1)

        return WithProbs(model).eval()


def quantize_tiny(src: Path, dst: Path) -> Path:
    """INT8 (dynamic) copy of an exported tiny model, metadata carried over with precision int8-dynamic."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    md = ModelMetadata.from_props({p.key: p.value for p in onnx.load(str(src)).metadata_props})
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QUInt8)
    md.precision = "int8-dynamic"
    return stamp(dst, md)


def make_run_dir(
    run_dir: Path, data_root: Path, labels=("ant", "bee"), int8: bool = True, fit: bool = True
) -> Path:
    """A RUN_DIR as train/export leave it: config.yaml, checkpoints/best.safetensors, export/*.onnx."""
    import yaml

    from edgetl.models import CheckpointMeta, save_checkpoint

    labels = list(labels)
    model = tiny_model(len(labels))
    if fit:
        model = fit_colors(model, data_root, labels, TINY_CONFIG)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump({"data": str(data_root), "val_split": None, "seed": 0})
    )
    meta = CheckpointMeta(model=TINY_MODEL, labels=labels, data_config=dict(TINY_CONFIG), run_id="test")
    save_checkpoint(run_dir / "checkpoints" / "best.safetensors", model, meta)
    fp32 = export_tiny(run_dir / "export" / f"{TINY_MODEL}-fp32-cpu-x86.onnx", labels, model=model)
    if int8:
        quantize_tiny(fp32, run_dir / "export" / f"{TINY_MODEL}-int8-dynamic-cpu-x86.onnx")
    return run_dir
