"""Every backbone family trains, exports FP32 through its parity gate, and quantizes to INT8.

The family list is `edgetl.models.families.FAMILIES`, the one `bench/backbones.py` benchmarks;
here each family's tiny config (random init, 32 px, a few generated images) goes through the
same path a user takes: `edgetl.train` (lp-ft: probe on cached features, then fine-tune, with
the default drop-path) -> `edgetl.export` fp32 + int8. The first tests reproduce the failures
issue 10 reported (GhostNet's drop_path_rate, DeiT's fixed img_size, LeViT's two heads).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from conftest import TINY_TRAIN

from edgetl.errors import EdgetlError, ExportError
from edgetl.export import ExportConfig, export
from edgetl.models import create_classifier, load_classifier, save_checkpoint
from edgetl.models.factory import build_model
from edgetl.models.families import FAMILIES
from edgetl.models.heads import classifier_head, head_modules, reset_head
from edgetl.train import TrainConfig, train
from edgetl.train.feature_cache import backbone_hash, extract_features

SIZE = 32


def _x(n: int = 2, size: int = SIZE) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------------ options a model does not take


@pytest.mark.parametrize("name", ["ghostnet_050", "efficientvit_b0"])
def test_options_a_model_does_not_take_are_dropped_with_a_note(name: str) -> None:
    model, info = create_classifier(name, 3, "none", drop_rate=0.2, drop_path_rate=0.1, img_size=SIZE)
    assert "drop_path_rate" in info.dropped
    assert info.notes == [f"--model {name} takes no drop_path_rate (--drop-path 0.1 ignored for it)"]
    assert model.eval()(_x()).shape == (2, 3)


def test_a_model_that_takes_every_option_gets_them_silently() -> None:
    model, info = create_classifier("resnet18", 3, "none", drop_rate=0.2, drop_path_rate=0.1, img_size=SIZE)
    assert info.dropped == ("img_size",) and info.notes == []  # most CNNs take any input size
    assert model.drop_rate == 0.2


def test_other_creation_errors_still_fail_in_one_line() -> None:
    with pytest.raises(EdgetlError, match="--model resnet18: .*bogus"):
        build_model("resnet18", {}, bogus=1)


# ------------------------------------------------------------------ input size fixed at creation


def test_img_size_reaches_a_vit_and_survives_the_checkpoint(tmp_path: Path) -> None:
    from edgetl.models import CheckpointMeta

    model, info = create_classifier("deit_tiny_patch16_224", 2, "none", img_size=SIZE)
    assert model.patch_embed.img_size == (SIZE, SIZE) and info.data_config["input_size"] == (3, SIZE, SIZE)
    out = model.eval()(_x())
    meta = CheckpointMeta(model="deit_tiny_patch16_224", labels=["a", "b"], data_config=info.data_config)
    save_checkpoint(tmp_path / "best.safetensors", model, meta)
    again, _ = load_classifier(tmp_path / "best.safetensors")
    assert torch.equal(again(_x()), out)


def test_local_vit_weights_are_resampled_to_img_size(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src = timm.create_model("deit_tiny_patch16_224", num_classes=0)
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(tmp_path / "w.safetensors"))
    model, _ = create_classifier("deit_tiny_patch16_224", 2, str(tmp_path / "w.safetensors"), img_size=SIZE)
    assert model.pos_embed.shape == (1, 1 + (SIZE // 16) ** 2, 192)
    assert torch.equal(model.cls_token, src.cls_token)
    assert model.eval()(_x()).shape == (2, 2)


@pytest.mark.parametrize("name", ["levit_128s", "deit_tiny_patch16_224", "resnet18"])
def test_trained_weights_move_to_another_input_size(name: str) -> None:
    from edgetl.models.resize import rebuild_at_size

    small, _ = create_classifier(name, 3, "none", img_size=SIZE)
    big = rebuild_at_size(name, small.state_dict(), 3, 64)
    assert big(_x(1, 64)).shape == (1, 3)
    if name == "resnet18":  # nothing depends on the input size: the very same weights
        pairs = zip(small.state_dict().values(), big.state_dict().values(), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)


def test_weights_that_cannot_be_resampled_are_named() -> None:
    from edgetl.errors import CheckpointError
    from edgetl.models.resize import rebuild_at_size

    state = timm.create_model("resnet18", num_classes=3).state_dict()
    state["conv1.weight"] = state["conv1.weight"][:, :, :3, :3]
    with pytest.raises(CheckpointError, match="conv1.weight"):
        rebuild_at_size("resnet18", state, 3, 64)


# ------------------------------------------------------------------ heads that are not one module


@pytest.mark.parametrize("name", ["levit_128s", "deit_tiny_distilled_patch16_224"])
def test_distilled_heads_are_one_classifier(name: str) -> None:
    torch.manual_seed(0)
    model, _ = create_classifier(name, 3, "none", img_size=SIZE)
    model.eval()
    heads = head_modules(model)
    assert len(heads) == 2
    assert all(torch.equal(a, b) for a, b in zip(*(h.state_dict().values() for h in heads), strict=True))
    # the probe's features through the one head are exactly the model's logits
    f, _ = extract_features(model, [(_x(), torch.tensor([0, 1]))], torch.device("cpu"))
    with torch.inference_mode():
        assert torch.allclose(classifier_head(model)(f), model(_x()), atol=1e-5)
    # the feature cache key ignores both heads, and sees the backbone
    h = backbone_hash(model)
    reset_head(model, 5)
    assert backbone_hash(model) == h
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if not n.startswith("head")).add_(1e-3)
    assert backbone_hash(model) != h


def _val_accuracy(run: Path, data: Path) -> float:
    """The saved model's own top-1 on the val images (full forward pass, as export and runtime see it)."""
    from edgetl.data import ImageDataset, build_transform, load_splits

    model, meta = load_classifier(run)
    ds = ImageDataset(load_splits(str(data)).val, build_transform(meta.data_config, train=False))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([ds[i][1] for i in range(len(ds))])
    with torch.inference_mode():
        return float((model(x).argmax(1) == y).float().mean())


def _best_row(run: Path) -> dict[str, str]:
    with open(run / "metrics.csv", newline="") as f:
        return next(r for r in csv.DictReader(f) if r["best"] == "1")


def test_distilled_linear_probe_trains_the_heads_the_model_uses(make_image_folder, tmp_path: Path) -> None:
    """DeiT-distilled: two heads on two tokens; the probe's one head on their mean is what the model runs.
    (A random LeViT's features are ~1e-4 in size: no probe learns on them, so it is checked above only.)"""
    data = make_image_folder(classes=("a", "b", "c"), n_train=6, n_val=4, size=(SIZE, SIZE))
    cfg = TrainConfig(
        data=str(data), out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"),
        **{**TINY_TRAIN, "model": "deit_tiny_distilled_patch16_224", "mode": "linear-probe", "lp_epochs": 15, "lp_lr": 0.1, "quiet": True},
    )  # fmt: skip
    result = train(cfg)
    best = float(_best_row(result.run_dir)["val_acc"])
    assert best > 0.5  # learned (3 classes): a head that the model does not use would show here
    assert _val_accuracy(result.run_dir, data) == pytest.approx(best, abs=1e-5)


# ------------------------------------------------------------------ every family, end to end


def _train_tiny(name: str, data: Path, out: Path) -> Path:
    kw = {
        k: v for k, v in TINY_TRAIN.items() if k != "drop_path"
    }  # the default --drop-path 0.1 must not crash
    cfg = TrainConfig(
        data=str(data), out=str(out), cache_dir=str(out.parent / "cache"),
        **{**kw, "model": name, "img_size": SIZE, "lp_epochs": 1, "epochs": 1, "quiet": True},
    )  # fmt: skip
    return train(cfg).run_dir


@pytest.fixture(scope="module")
def family_data(tmp_path_factory) -> Path:
    from conftest import COLORS, write_images

    root = tmp_path_factory.mktemp("families")
    for i, cls in enumerate(("a", "b", "c")):
        write_images(root / "train" / cls, COLORS[i], 6, (SIZE, SIZE), seed=i)
        write_images(root / "val" / cls, COLORS[i], 4, (SIZE, SIZE), seed=100 + i)
    return root


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_trains_exports_and_quantizes(family: str, family_data: Path, tmp_path: Path) -> None:
    import yaml

    from edgetl.export.report import REPORT_JSON

    fam = FAMILIES.get(family)
    run = _train_tiny(fam.tiny, family_data, tmp_path / "run")
    takes_drop_path = "drop_path_rate" not in build_model(fam.tiny, {"drop_path_rate": 0.1})[1]
    applied = 0.1 if takes_drop_path else 0.0  # the run records what the model really got
    assert yaml.safe_load((run / "config.yaml").read_text())["drop_path"] == applied
    assert json.loads((run / "checkpoints" / "best.json").read_text())["drop_path_rate"] == applied
    try:
        export(ExportConfig(source=str(run), precisions=["fp32", "int8"], max_fallback_nodes=1))
    except ExportError:
        pass  # a missed INT8 gate is a result with its numbers in the report, never a traceback
    report = json.loads((run / "export" / REPORT_JSON).read_text())
    variants = {v["precision"]: v for v in report["variants"]}
    fp32, int8 = variants["fp32"], variants["int8"]
    assert fp32["passed"] and fp32["agreement"] == 1.0 and fp32["max_abs_diff"] < 1e-3, fp32["failures"]
    assert int8["passed"] or (int8["failures"] and int8["agreement"] is not None), int8
    if fam.tiny == "fastvit_t8":
        import onnx

        assert any(n.startswith("reparameterized") for n in report["exporter_notes"]), report[
            "exporter_notes"
        ]
        assert "BatchNormalization" not in {n.op_type for n in onnx.load(fp32["file"]).graph.node}


# ------------------------------------------------------------------ export-time reparameterization


@pytest.mark.parametrize("name", ["fastvit_t8", "mobileone_s0", "repghostnet_050"])
def test_reparameterization_matches_the_unfused_model(name: str) -> None:
    from edgetl.export.parity import torch_logits
    from edgetl.export.prepare import prepare_for_export, reparameterizable

    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=3).eval()
    for m in model.modules():  # non-trivial BN statistics, so a wrong fold would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    images = _x(4).numpy()
    ref = torch_logits(model, images)
    n_params = sum(p.numel() for p in model.parameters())
    prep = prepare_for_export(model, images, ref)
    assert prep.reparameterized == reparameterizable(model) > 0
    assert prep.model is not model and sum(p.numel() for p in prep.model.parameters()) < n_params
    scale = max(
        1.0, float(np.abs(ref).max())
    )  # a random MobileOne's logits reach ~1e11: the tolerance is relative
    assert prep.max_abs_diff is not None and prep.max_abs_diff < 1e-4 * scale
    assert np.allclose(torch_logits(model, images), ref)  # the caller's model is untouched
    assert f"max abs logit diff {prep.max_abs_diff:.2e}" in prep.notes[0]


def test_a_fold_that_changes_the_logits_is_rejected() -> None:
    from edgetl.export.prepare import prepare_for_export

    model = timm.create_model("mobileone_s0", num_classes=3).eval()
    images = _x(2).numpy()
    wrong = np.zeros((2, 3), np.float32) + 100.0
    prep = prepare_for_export(model, images, wrong)
    assert prep.model is model and prep.reparameterized == 0
    assert prep.notes[0].startswith("reparameterization rejected")


def test_a_model_with_nothing_to_fold_is_exported_as_is() -> None:
    from edgetl.export.prepare import prepare_for_export

    model = timm.create_model("test_resnet", num_classes=3).eval()
    prep = prepare_for_export(model, _x(2).numpy(), np.zeros((2, 3), np.float32))
    assert prep.model is model and prep.notes == []


def test_channels_last_is_off_on_cpu_where_torch_crashes() -> None:
    """torch 2.14's CPU channels-last backward of a 1x1 stride-2 conv on 3 channels corrupts the heap
    (FastViT/MobileOne stems): training such a model falls back to contiguous tensors."""
    from edgetl.train.speed import channels_last_safe

    assert not channels_last_safe(timm.create_model("fastvit_t8"))
    assert not channels_last_safe(timm.create_model("mobileone_s0"))
    assert channels_last_safe(timm.create_model("resnet18"))


def _backbones_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "backbones.py"
    spec = importlib.util.spec_from_file_location("edgetl_bench_backbones", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["results.json", "backbones-x.md"])
def test_matrix_update_target_is_checked_before_any_family_runs(tmp_path: Path, name: str, capsys) -> None:
    bad = tmp_path / name
    bad.write_text("{}")
    code = _backbones_script().main(["--only", "ResNet", "--update", str(bad), "--work", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--update" in err[0] and "backbones-<stamp>.json" in err[0]
    assert not (tmp_path / "w").exists()  # nothing trained


def _row(family: str, speedup: float, quartiles: list[float] | None) -> dict:
    return {
        "family": family, "model": family.lower(), "weights": "none", "errors": {}, "train_val_acc": 0.9,
        "fp32_ok": True, "fp32_max_abs_diff": 1e-6, "fp16_ok": True, "int8_ok": True, "int8_val_acc": 0.9,
        "torch_val_acc": 0.9, "int8_agreement": 1.0, "nodes_in_float": 0, "native_size": 224,
        "int8_speedup": speedup, "int8_speedup_quartiles": quartiles, "fp32_vs_eager": 3.0,
        "int8_policy": ["hard-swish-int8 x21"], "int8_top_ops": ["QLinearMul 1.1 ms (19%)"],
        "fp32_top_ops": ["Conv 3.8 ms (62%)"],
    }  # fmt: skip


def test_matrix_table_shows_the_round_spread_and_explains_ratios_inside_it() -> None:
    mod = _backbones_script()
    result = {
        "settings": {"img_size": 32, "epochs": 8, "threads": 2, "repeat": 10}, "loadavg_start": 1.0,
        "loadavg_end": 1.2, "cpu": "Test CPU", "command": "python bench/backbones.py",
        "rows": [_row("Clear", 1.5, [1.3, 1.6]), _row("Marginal", 1.06, [0.95, 1.12]), _row("Slower", 0.8, [0.7, 0.9])],
    }  # fmt: skip
    rows = {
        line.split("|")[1].strip(): line
        for line in mod.to_markdown(result).splitlines()
        if line.startswith("| ")
    }
    assert "1.50x (1.30-1.60)" in rows["Clear"] and "QLinearMul" not in rows["Clear"]
    # a median above 1.0x whose rounds straddle it is not "faster": the operators are named as for a slower one
    assert "1.06x (0.95-1.12)" in rows["Marginal"] and "QLinearMul 1.1 ms" in rows["Marginal"]
    assert "Conv 3.8 ms" in rows["Slower"]
