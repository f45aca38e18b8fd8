"""Export stage: clean ONNX, parity gates, FP16/INT8 variants, accuracy budget, bad input.

Models are tiny timm nets (random backbone) with a head fitted by logistic regression on the
generated colour images, so accuracy and agreement mean something; real photos are covered by
test_export_hymenoptera.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

CLASSES = ("ant", "bee", "cat")


def fitted_run(run_dir: Path, data: Path, model_name: str, size: int, outlier: float | None = None, labels=CLASSES) -> Path:
    """A run directory like `edgetl train` writes: linear-probe head on a random-init backbone.

    outlier=K (test_resnet only) scales one channel after the stem's first conv+BN by K and the
    next conv's weights for it by 1/K: the float function is unchanged (ReLU is positively
    homogeneous), but that activation's range grows K-fold, so per-tensor INT8 rounds every other
    channel to zero. The stem has no shortcut around it, so the damage reaches the logits.
    """
    import torch
    import yaml
    from sklearn.linear_model import LogisticRegression

    from edgetl.data import ImageDataset, build_transform, load_splits
    from edgetl.models import CheckpointMeta, create_classifier, save_checkpoint

    torch.manual_seed(0)
    model, info = create_classifier(model_name, len(labels), "none", img_size=size)
    model.eval()
    splits = load_splits(data)
    ds = ImageDataset(splits.train, build_transform(info.data_config, train=False))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = np.array([ds[i][1] for i in range(len(ds))])
    with torch.inference_mode():
        feats = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    clf = LogisticRegression(C=10.0, max_iter=2000).fit((feats - mu) / sd, y)
    head = model.get_classifier()
    with torch.no_grad():
        w = torch.tensor(clf.coef_ / sd, dtype=torch.float32)
        head.weight.copy_(w)
        head.bias.copy_(torch.tensor(clf.intercept_ - (clf.coef_ / sd) @ mu, dtype=torch.float32))
        if outlier is not None:
            bn, nxt = model.conv1[1], model.conv1[3]
            bn.weight[0] *= outlier
            bn.bias[0] *= outlier
            nxt.weight[:, 0] /= outlier
    meta = CheckpointMeta(model=model_name, labels=list(labels), data_config=info.data_config, weights="none", run_id=run_dir.name)
    save_checkpoint(run_dir / "checkpoints" / "best.safetensors", model, meta)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"data": str(data), "val_split": None, "seed": 0}))
    return run_dir
