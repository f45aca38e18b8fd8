"""Must-show 1 on real photos: a hymenoptera linear-probe run exported at FP32, FP16 and INT8.

The run is a stand-in for `edgetl train --mode lp-ft`: Lite0 with the offline ImageNet weights
and a head fitted by logistic regression on the frozen features of the train split (NOTES:
94.8% val). It is a legitimate linear-probe model, written exactly as a run directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def linear_probe_run(run_dir: Path, data: Path, model_name: str = "tf_efficientnet_lite0") -> Path:
    """Lite0 (offline ImageNet weights) + logistic-regression head, saved as an edgetl run."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from test_export import save_run

    from edgetl.data import ImageDataset, build_transform, load_splits
    from edgetl.models import create_classifier

    splits = load_splits(data)
    model, info = create_classifier(model_name, len(splits.classes), "efficientnet_lite0")
    model.eval()
    ds = ImageDataset(splits.train, build_transform(info.data_config, train=False))
    loader = torch.utils.data.DataLoader(ds, batch_size=32)
    feats, ys = [], []
    with torch.inference_mode():
        for x, y in loader:
            feats.append(model.forward_head(model.forward_features(x), pre_logits=True).numpy())
            ys.append(y.numpy())
    f, y = np.concatenate(feats), np.concatenate(ys)
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(f, y)
    head = model.get_classifier()
    with torch.no_grad():
        # sklearn's binary model has one row z: logits (-z/2, z/2) give the same softmax
        if len(splits.classes) == 2:
            coef = np.concatenate([-clf.coef_ / 2, clf.coef_ / 2])
            bias = np.concatenate([-clf.intercept_ / 2, clf.intercept_ / 2])
        else:
            coef, bias = clf.coef_, clf.intercept_
        head.weight.copy_(torch.tensor(coef, dtype=torch.float32))
        head.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return save_run(
        run_dir, model, model_name, list(splits.classes), info.data_config, "efficientnet_lite0", data
    )


def test_hymenoptera_fp32_fp16_int8(tmp_path, hymenoptera):
    from edgetl.export import ExportConfig, export
    from edgetl.runtime.metadata import ModelMetadata

    run = linear_probe_run(tmp_path / "lp-run", hymenoptera)
    report = export(ExportConfig(source=str(run), precisions=["fp32", "fp16", "int8"], target="cpu-x86"))

    fp32, fp16, int8 = (report.variant(p) for p in ("fp32", "fp16", "int8"))
    assert report.n_val_images == 153
    assert fp32.passed and fp32.max_abs_diff <= 1e-4 and fp32.agreement >= 0.999
    assert fp32.val_accuracy >= 0.90  # NOTES: 94.8% for this linear probe
    assert fp16.passed is not False and fp16.agreement >= 0.99
    assert int8.passed
    assert 100 * (fp32.val_accuracy - int8.val_accuracy) <= 1.0
    assert int8.size_mb <= 0.30 * fp32.size_mb
    for v in (fp32, fp16, int8):
        assert Path(v.file).is_file() and Path(v.file).parent == run / "export"
    saved = json.loads((run / "export" / "export_report.json").read_text())
    assert [v["precision"] for v in saved["variants"]] == ["fp32", "fp16", "int8"]
    assert saved["exporter"] in ("torchscript", "dynamo")

    import onnx

    md = ModelMetadata.from_props({p.key: p.value for p in onnx.load(int8.file).metadata_props})
    assert md.labels == ["ants", "bees"] and md.precision == "int8" and md.input_size == (3, 224, 224)
    assert md.mean == (0.5, 0.5, 0.5) and md.interpolation == "bicubic" and md.weights == "efficientnet_lite0"
    print("\n" + (run / "export" / "export_report.md").read_text())
