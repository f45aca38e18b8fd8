"""The feature cache: keys that change with whatever changes the features, atomic entries, hits."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import timm
import torch

from edgetl.data import load_splits
from edgetl.models import create_classifier
from edgetl.train.feature_cache import FeatureCache, FeatureSet, backbone_hash, feature_key, get_features
from edgetl.train.progress import Reporter


def _feats(n: int = 4) -> FeatureSet:
    g = torch.Generator().manual_seed(0)
    return FeatureSet(
        torch.randn(n, 8, generator=g),
        torch.arange(n) % 2,
        torch.randn(2, 8, generator=g),
        torch.tensor([0, 1]),
    )


def test_roundtrip_and_damaged_entries(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    f = _feats()
    path = cache.save("k" * 64, f, {"model": "m"})
    got = cache.load("k" * 64)
    assert got is not None and got.hit and got.path == path
    assert torch.equal(got.train_x, f.train_x) and torch.equal(got.val_y, f.val_y)
    assert not list(tmp_path.glob(".*.tmp"))
    assert cache.load("j" * 64) is None
    path.write_bytes(path.read_bytes()[:50])  # truncated by someone else: recomputed, never trusted
    assert cache.load("k" * 64) is None


def test_key_changes_with_every_input() -> None:
    base = dict(
        model_name="m",
        weights_hash="w",
        data_fingerprint="d",
        transform="T",
        data_config={"input_size": (3, 32, 32)},
    )
    key = feature_key(**base)
    assert key == feature_key(**base)
    for name, other in [
        ("model_name", "m2"),
        ("weights_hash", "w2"),
        ("data_fingerprint", "d2"),
        ("transform", "T2"),
        ("data_config", {"input_size": (3, 64, 64)}),
    ]:
        assert feature_key(**{**base, name: other}) != key, name


def test_backbone_hash_ignores_the_head_only() -> None:
    torch.manual_seed(0)
    m = timm.create_model("test_efficientnet", pretrained=False)
    h = backbone_hash(m)
    m.reset_classifier(5)
    assert backbone_hash(m) == h
    with torch.no_grad():
        m.conv_stem.weight[0, 0, 0, 0] += 1e-3
    assert backbone_hash(m) != h


def test_get_features_miss_then_hit(make_image_folder, tmp_path: Path) -> None:
    splits = load_splits(make_image_folder(n_train=5, n_val=3))
    torch.manual_seed(0)
    model, info = create_classifier("test_efficientnet", 2, "none", img_size=32)
    log = io.StringIO()
    rep = Reporter(stream=log, tty=False)
    cache = FeatureCache(tmp_path / "cache")
    first = get_features(
        model, splits, info.data_config, cache, torch.device("cpu"), rep, model_name="test_efficientnet"
    )
    assert not first.hit and first.train_x.shape == (10, model.num_features) and first.val_x.shape[0] == 6
    assert first.train_y.tolist() == [0] * 5 + [1] * 5
    second = get_features(
        model, splits, info.data_config, cache, torch.device("cpu"), rep, model_name="test_efficientnet"
    )
    assert second.hit and torch.equal(second.train_x, first.train_x)
    assert f"feature cache hit: {second.path}" in log.getvalue()


def test_unwritable_cache_warns_and_goes_on(make_image_folder, tmp_path: Path) -> None:
    splits = load_splits(make_image_folder(n_train=3, n_val=2))
    model, info = create_classifier("test_efficientnet", 2, "none", img_size=32)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    log = io.StringIO()
    feats = get_features(
        model,
        splits,
        info.data_config,
        FeatureCache(blocker / "cache"),
        torch.device("cpu"),
        Reporter(stream=log),
    )
    assert feats.train_x.shape[0] == 6
    assert "warning: could not write the feature cache" in log.getvalue()


@pytest.mark.parametrize("name", ["test_resnet", "test_vit", "test_convnext"])
def test_features_are_the_heads_input(name: str) -> None:
    """Probing on cached features trains exactly the head the full model uses at inference."""
    from edgetl.train.feature_cache import extract_features

    torch.manual_seed(0)
    m = timm.create_model(name, pretrained=False, num_classes=3).eval()
    x = (
        torch.randn(2, 3, 64, 64)
        if name != "test_vit"
        else torch.randn(2, 3, *m.default_cfg["input_size"][1:])
    )
    f, _ = extract_features(m, [(x, torch.tensor([0, 1]))], torch.device("cpu"))
    with torch.inference_mode():
        assert torch.allclose(m.get_classifier()(f), m(x), atol=1e-5)


def test_feature_pass_leaves_the_model_trainable_in_its_own_layout() -> None:
    """The feature pass (channels-last inputs, inference mode) must not touch the parameters: a
    version that converted them inside inference mode left inference tensors behind, and the
    fine-tuning stage after the probe failed with --no-channels-last ("Setting requires_grad=True
    on inference tensor")."""
    from edgetl.train.feature_cache import extract_features

    torch.manual_seed(0)
    m = timm.create_model("test_efficientnet", pretrained=False, num_classes=2)
    before = {k: (v.data_ptr(), v.is_contiguous()) for k, v in m.named_parameters()}
    x = torch.randn(4, 3, 48, 48)
    extract_features(m, [(x, torch.tensor([0, 1, 0, 1]))], torch.device("cpu"))
    assert {k: (v.data_ptr(), v.is_contiguous()) for k, v in m.named_parameters()} == before
    assert not any(p.is_inference() for p in m.parameters())
    m.train().requires_grad_(True)
    m(x).sum().backward()  # the fine-tuning stage's first step
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
