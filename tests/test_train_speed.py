"""CPU fine-tuning speed levers: each flag is honoured, and seeded runs still repeat exactly.

Speed itself is measured by `bench/train_speed.py`, never here; these tests check behaviour with
tiny models on generated images (seconds each).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_TRAIN, write_images
from PIL import Image

from edgetl.config import ConfigError
from edgetl.data import ImageDataset, build_transform
from edgetl.data.decoded_cache import budget_pixels
from edgetl.models import create_classifier, read_checkpoint
from edgetl.train import TrainConfig, train
from edgetl.train import speed as speed_mod
from edgetl.train.device import resolve_amp
from edgetl.train.early_stopping import EarlyStopping
from edgetl.train.loop import FitContext, run_stage, seed_everything
from edgetl.train.modes import finetune_stage
from edgetl.train.progress import Reporter
from edgetl.train.runners import FinetuneRunner, RunnerContext

CPU = torch.device("cpu")


def _finetune(data: Path, seen: list[dict], **kw):
    """One fine-tuning stage of test_efficientnet through the real loop; records what conv_stem saw."""
    from edgetl.data import load_splits

    cfg = TrainConfig(data=str(data), **{**TINY_TRAIN, "mode": "finetune", "epochs": 1, "quiet": True, **kw})
    splits = load_splits(cfg.data)
    torch.manual_seed(0)
    model, info = create_classifier(cfg.model, len(splits.classes), "none", img_size=cfg.img_size)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}

    def hook(module, args, out):
        x = args[0]
        seen.append(
            {
                "channels_last": x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(),
                "autocast": torch.is_autocast_enabled("cpu"),
                "out_dtype": out.dtype,
                "grad": module.weight.requires_grad,
                "size": x.shape[-1],
                "batch": x.shape[0],
                "training": module.training,
            }
        )

    model.conv_stem.register_forward_hook(hook)
    rep = Reporter(quiet=True)
    ctx = FitContext.for_run(cfg, model, CPU, rep, total_epochs=1)
    rctx = RunnerContext(
        cfg=cfg, splits=splits, data_config=info.data_config, device=CPU, num_workers=0, reporter=rep
    )
    runner = FinetuneRunner(rctx)
    run_stage(ctx, runner, finetune_stage(cfg), 0, EarlyStopping("val_acc", 0), 1)
    return model, before, runner


@pytest.fixture
def data(make_image_folder) -> Path:
    return make_image_folder(n_train=8, n_val=4)


@pytest.mark.parametrize("on", [True, False])
def test_channels_last_flag_reaches_the_training_step(data: Path, on: bool) -> None:
    seen: list[dict] = []
    model, _, _ = _finetune(data, seen, channels_last=on)
    assert seen and all(s["channels_last"] is on for s in seen)
    assert model.conv_stem.weight.is_contiguous(memory_format=torch.channels_last) is on


def test_bf16_autocast_when_forced_and_float32_when_off(data: Path) -> None:
    seen: list[dict] = []
    _finetune(data, seen, amp="bf16")
    assert seen and all(s["autocast"] and s["out_dtype"] == torch.bfloat16 for s in seen)
    seen.clear()
    _finetune(data, seen, amp="none")
    assert seen and all(not s["autocast"] and s["out_dtype"] == torch.float32 for s in seen)


def test_amp_auto_on_cpu_follows_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """bf16 only where the CPU has AVX-512 BF16 or AMX: elsewhere oneDNN emulates it, slower than fp32."""
    monkeypatch.setattr(speed_mod, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert resolve_amp("auto", CPU) == "bf16"
    monkeypatch.setattr(speed_mod, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert resolve_amp("auto", CPU) == "bf16"
    monkeypatch.setattr(speed_mod, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert resolve_amp("auto", CPU) == "none"
    assert resolve_amp("none", CPU) == "none"
    assert resolve_amp("fp16", CPU) == "none"  # fp16 autocast is CUDA-only
    assert resolve_amp("bf16", CPU) == "bf16"  # forced: honoured even without native bf16


def test_layers_below_the_freeze_scale_get_no_gradient(data: Path) -> None:
    # decay 0.8, threshold 0.6: every layer but the top two (0.8^0, 0.8^1, 0.8^2 = 0.64) is frozen
    seen: list[dict] = []
    model, before, _ = _finetune(data, seen, layer_decay=0.8, freeze_lr_scale=0.6)
    assert seen and not any(s["grad"] for s in seen)
    assert model.conv_stem.weight.grad is None
    assert torch.equal(model.conv_stem.weight.detach(), before["conv_stem.weight"])
    head = model.get_classifier().weight
    assert head.grad is not None and not torch.equal(head.detach(), before["classifier.weight"])
    seen.clear()
    model, before, _ = _finetune(data, seen, layer_decay=0.8, freeze_lr_scale=0.0)
    assert all(s["grad"] for s in seen)
    assert not torch.equal(model.conv_stem.weight.detach(), before["conv_stem.weight"])


def test_progressive_sizes_grow_to_the_full_size_in_the_last_epoch() -> None:
    assert speed_mod.progressive_sizes(224, 4, 0.6) == [128, 160, 192, 224]
    assert speed_mod.progressive_sizes(224, 4, 1.0) == [224] * 4  # off
    assert speed_mod.progressive_sizes(224, 1, 0.6) == [224]  # one epoch: full size
    assert speed_mod.progressive_sizes(64, 3, 0.1) == [32, 32, 64]  # never below one stride
    assert speed_mod.progressive_sizes(200, 2, 0.5) == [96, 200]  # the last epoch exactly the input size


def test_progressive_resizing_trains_small_first_and_validates_at_full_size(data: Path) -> None:
    seen: list[dict] = []
    _finetune(data, seen, img_size=64, epochs=2, warmup_epochs=0, progressive=0.5)
    train_sizes = [s["size"] for s in seen if s["training"]]
    assert train_sizes[0] == 32 and train_sizes[-1] == 64 and set(train_sizes) == {32, 64}
    # eval-mode forwards: validation at 64 px, and one zero image at 32 px (`accepts_size`'s check)
    assert sorted({(s["size"], s["batch"] == 1) for s in seen if not s["training"]}) == [
        (32, True),
        (64, False),
    ]
    seen.clear()
    _finetune(data, seen, img_size=64, epochs=2, warmup_epochs=0)  # the default: off
    assert {s["size"] for s in seen} == {64}


def test_progressive_resizing_is_off_for_a_model_with_a_fixed_input_size() -> None:
    import timm

    from edgetl.train.runners import accepts_size

    vit = timm.create_model("vit_tiny_patch16_224", img_size=64, num_classes=2)  # fixed at creation
    assert not accepts_size(vit, 32, CPU) and accepts_size(vit, 64, CPU)
    cnn = timm.create_model("test_efficientnet", num_classes=2)
    assert accepts_size(cnn, 32, CPU)


def test_progressive_is_validated() -> None:
    with pytest.raises(ConfigError, match="--progressive"):
        TrainConfig(progressive=0.0)


def test_freeze_lr_scale_is_validated() -> None:
    with pytest.raises(ConfigError, match="--freeze-lr-scale"):
        TrainConfig(freeze_lr_scale=1.5)


def _train_transform(size: int = 32):
    dc = {"input_size": (3, size, size), "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3}
    return dc, build_transform(dc, train=True)


def test_decoded_images_are_reused_and_give_the_same_tensors(tmp_path: Path) -> None:
    paths = write_images(tmp_path / "a", (200, 30, 30), 4, size=(48, 40))
    samples = [(str(p), 0) for p in paths]
    dc, tf = _train_transform()
    cached = ImageDataset(samples, tf, decode_once=True)
    plain = ImageDataset(samples, tf)
    cached.prefill(threads=2)
    assert len(cached.decoded) == 4 and cached.decoded.hits == 0
    for epoch in range(2):  # the second epoch reads only kept images, and augments them identically
        seed_everything(epoch)  # timm's augmentation draws from `random`
        a = [cached[i][0] for i in range(4)]
        seed_everything(epoch)
        b = [plain[i][0] for i in range(4)]
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert cached.decoded.hits == 8
    # eval: the kept Resize + CenterCrop output gives bit-identical tensors, and is what is stored
    ev = build_transform({**dc, "crop_pct": 0.875}, train=False)
    kept, fresh = ImageDataset(samples, ev, decode_once=True), ImageDataset(samples, ev)
    for i in range(4):
        assert torch.equal(kept[i][0], fresh[i][0])
    assert kept.decoded.arrays[0].shape == (32, 32, 3)


def test_large_photos_are_kept_downscaled(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(np.full((300, 400, 3), 128, np.uint8)).save(path)
    _, tf = _train_transform(32)
    ds = ImageDataset([(str(path), 0)], tf, decode_once=True)
    x, _ = ds[0]
    arr = ds.decoded.arrays[0]
    assert budget_pixels(tf) == 64 * 64
    assert arr.shape[0] * arr.shape[1] <= 64 * 64 and arr.shape[1] > arr.shape[0]  # aspect kept
    assert x.shape == (3, 32, 32)


def test_default_levers_repeat_exactly_with_a_seed(make_image_folder, tmp_path: Path) -> None:
    """Same seed, same machine: the same metrics and weights with every lever on (bf16 forced too)."""
    data = make_image_folder(n_train=8, n_val=4)
    kw = {**TINY_TRAIN, "mode": "lp-ft", "lp_epochs": 1, "quiet": True, "amp": "bf16", "freeze_lr_scale": 0.6}
    results = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = train(
            TrainConfig(data=str(data), out=str(out), cache_dir=str(tmp_path / f"cache-{name}"), **kw)
        )
        state, _ = read_checkpoint(out)
        results.append((res.best_metrics, state))
    (m1, s1), (m2, s2) = results
    assert {k: v for k, v in m1.items() if k != "seconds"} == {k: v for k, v in m2.items() if k != "seconds"}
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
