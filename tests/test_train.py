"""Training end to end on generated images with tiny timm models (seconds per run)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLORS, TINY_TRAIN, write_images

from edgetl.config import load_config
from edgetl.models import load_classifier, read_checkpoint
from edgetl.train import TrainConfig, train
from edgetl.train.loop import METRIC_COLUMNS
from edgetl.train.progress import Reporter

TINY = {**TINY_TRAIN, "quiet": True}


def tiny(data: Path, out: Path, **kw) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), cache_dir=str(out.parent / "cache"), **{**TINY, **kw})


def rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def capture() -> tuple[Reporter, io.StringIO]:
    buf = io.StringIO()
    return Reporter(stream=buf, tty=False), buf


def test_lp_ft_writes_the_run_directory(make_image_folder, tmp_path: Path) -> None:
    data = make_image_folder(classes=("ant", "bee", "cat"))
    out = tmp_path / "run"
    result = train(tiny(data, out, mode="lp-ft"))

    for name in (
        "config.yaml",
        "data.json",
        "metrics.csv",
        "curves.png",
        "eval/eval.json",
        "eval/confusion.png",
    ):
        assert (out / name).is_file(), name
    for which in ("best", "last"):
        assert (out / "checkpoints" / f"{which}.safetensors").is_file()
        assert json.loads((out / "checkpoints" / f"{which}.json").read_text())["labels"] == [
            "ant",
            "bee",
            "cat",
        ]
    assert not (out / "checkpoints" / "train_state.pt").exists()  # removed once the run is complete
    assert not list(out.rglob("*.tmp"))

    table = rows(out)
    assert list(table[0]) == METRIC_COLUMNS
    assert [r["stage"] for r in table] == ["probe"] * 3 + ["finetune"] * 2
    assert [int(r["epoch"]) for r in table] == [1, 2, 3, 4, 5]
    assert sum(int(r["best"]) for r in table) == 1
    best = next(r for r in table if r["best"] == "1")
    assert result.best_epoch == int(best["epoch"]) and result.epochs_run == 5
    assert float(best["val_acc"]) == pytest.approx(1.0)  # colour-coded classes are easy

    cfg = load_config(TrainConfig, out / "config.yaml")  # every default written out, loads back
    assert cfg.mode == "lp-ft" and cfg.data == str(data.resolve()) and cfg.out == str(out)
    summary = json.loads((out / "data.json").read_text())
    assert summary["classes"] == ["ant", "bee", "cat"] and summary["num_train"] == 36

    # The saved best checkpoint is a complete classifier: its val accuracy is the reported one.
    model, meta = load_classifier(out)
    assert meta.epoch == result.best_epoch and meta.data_config["input_size"] == (3, 32, 32)
    report = json.loads((out / "eval" / "eval.json").read_text())
    assert report["top1"] == pytest.approx(float(best["val_acc"]), abs=1e-6)
    assert report["epoch"] == result.best_epoch and len(report["confusion"]) == 3


def test_same_seed_same_result_and_feature_cache_hit(make_image_folder, tmp_path: Path) -> None:
    data = make_image_folder()
    rep1, log1 = capture()
    train(tiny(data, tmp_path / "a", mode="linear-probe", lp_epochs=4), reporter=rep1)
    rep2, log2 = capture()
    train(tiny(data, tmp_path / "b", mode="linear-probe", lp_epochs=4), reporter=rep2)
    assert "feature cache miss" in log1.getvalue()
    hit = [line for line in log2.getvalue().splitlines() if line.startswith("feature cache hit: ")]
    assert hit and Path(hit[0].split(": ", 1)[1]).is_file()
    drop = lambda table: [{k: v for k, v in r.items() if k != "seconds"} for r in table]  # noqa: E731
    assert drop(rows(tmp_path / "a")) == drop(rows(tmp_path / "b"))

    # Other data (one file more) is another cache entry, never a stale hit.
    write_images(data / "train" / "ant", COLORS[0], 1, seed=7, ext=".bmp")
    rep3, log3 = capture()
    train(tiny(data, tmp_path / "c", mode="linear-probe", lp_epochs=1), reporter=rep3)
    assert "feature cache miss" in log3.getvalue()


def test_finetune_with_every_regulariser(make_image_folder, tmp_path: Path) -> None:
    data = make_image_folder(n_train=10, n_val=4)
    cfg = tiny(
        data,
        tmp_path / "run",
        mode="finetune",
        epochs=3,
        warmup_epochs=1,
        optimizer="sgd",
        lr=0.05,
        mixup=0.4,
        cutmix=1.0,
        ema=True,
        ema_decay=0.9,
        clip_grad=1.0,
        freeze_bn=False,
        drop_path=0.1,
        layer_decay=0.7,
        auto_augment="trivial",
        re_prob=0.25,
        patience=0,
    )
    result = train(cfg)
    table = rows(cfg.run_dir())
    assert [r["stage"] for r in table] == ["finetune"] * 3
    assert all(math.isfinite(float(r[k])) for r in table for k in ("train_loss", "val_loss"))
    lrs = [float(r["lr"]) for r in table]
    assert lrs[0] >= lrs[1] > lrs[2]  # warmup then cosine decay, per step
    assert result.stopped_early is False


def test_probe_keeps_the_backbone_frozen(make_image_folder, tmp_path: Path) -> None:
    import timm

    data = make_image_folder()
    out = tmp_path / "run"
    train(tiny(data, out, mode="linear-probe", drop=0.0))
    state, _ = read_checkpoint(out)
    torch.manual_seed(0)
    ref = timm.create_model("test_efficientnet", pretrained=False)
    ref.reset_classifier(2)  # the same initialisation sequence as create_classifier
    own = ref.state_dict()
    changed = [
        k for k, v in state.items() if k in own and v.shape == own[k].shape and not torch.equal(v, own[k])
    ]
    assert changed and all(k.startswith("classifier.") for k in changed)  # BatchNorm statistics untouched too


def _swapped_val_folder(root: Path) -> Path:
    """Validation colours swapped against training: learning the training set makes val worse."""
    for i, cls in enumerate(("ant", "bee")):
        write_images(root / "train" / cls, COLORS[i], 12, seed=i)
        write_images(root / "val" / cls, COLORS[1 - i], 6, seed=50 + i)
    return root


def test_early_stopping_stops_and_restores_the_best_epoch(tmp_path: Path) -> None:
    data = _swapped_val_folder(tmp_path / "data")
    out = tmp_path / "run"
    result = train(
        tiny(data, out, mode="linear-probe", lp_epochs=12, lp_lr=0.2, monitor="val_loss", patience=2)
    )
    table = rows(out)
    assert result.stopped_early and len(table) < 12
    losses = [float(r["val_loss"]) for r in table]
    best_i = int(np.argmin(losses))
    assert table[best_i]["best"] == "1" and result.best_epoch == best_i + 1
    assert len(table) == best_i + 1 + 2  # stopped exactly `patience` epochs after the best
    assert float(result.best_metrics["val_loss"]) == pytest.approx(losses[best_i], rel=1e-5)  # csv: 6 digits

    best_state, best_meta = read_checkpoint(out, "best")
    last_state, last_meta = read_checkpoint(out, "last")
    assert best_meta.epoch == best_i + 1 and last_meta.epoch == len(table)
    assert not torch.equal(best_state["classifier.weight"], last_state["classifier.weight"])

    # Re-evaluating the saved best weights reproduces the best epoch's validation loss, not the last one's.
    report = json.loads((out / "eval" / "eval.json").read_text())
    assert report["epoch"] == best_i + 1
    assert report["top1"] == pytest.approx(float(table[best_i]["val_acc"]))
    from edgetl.train import evaluate

    again = evaluate(out, reporter=Reporter(quiet=True, stream=io.StringIO()))
    assert again["top1"] == pytest.approx(float(table[best_i]["val_acc"]))


def test_randaugment_posterize_at_top_magnitude_does_not_crash() -> None:
    """timm maps magnitude 10 to "keep 0 bits"; Pillow 13 raises for that, which killed fine-tunes mid-epoch."""
    from PIL import Image
    from timm.data.auto_augment import AugmentOp

    from edgetl.data import AugmentConfig, build_transform

    build_transform(
        {"input_size": (3, 32, 32), "mean": (0.5,) * 3, "std": (0.5,) * 3, "interpolation": "bilinear"},
        train=True,
        aug=AugmentConfig(),
    )  # building a train transform installs the fix
    op = AugmentOp("PosterizeIncreasing", prob=1.0, magnitude=10)
    assert op(Image.new("RGB", (8, 8), (200, 100, 50))).getpixel((0, 0)) == (0, 0, 0)


def test_builtin_dataset_by_name(tmp_path: Path) -> None:
    """Zero-setup data: scikit-learn's digits (in-memory arrays, not files) train by name."""
    result = train(
        tiny(Path("digits"), tmp_path / "run", mode="linear-probe", img_size=16, lp_epochs=2, batch_size=64)
    )
    assert result.classes == [str(i) for i in range(10)] and result.eval["n"] == 360
    assert result.best_metrics["val_acc"] > 0.3  # ten classes: well above chance after two epochs


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("amp", ["auto", "bf16", "fp16"])
def test_cuda_amp_channels_last(make_image_folder, tmp_path: Path, amp: str) -> None:
    data = make_image_folder()
    result = train(tiny(data, tmp_path / "run", mode="lp-ft", device="cuda", amp=amp, channels_last=True))
    assert result.best_metrics["val_acc"] == pytest.approx(1.0)
    model, _ = load_classifier(tmp_path / "run")  # checkpoints are device-free
    assert next(model.parameters()).device.type == "cpu"


def test_amp_auto_is_bf16_or_fp16_on_cuda_and_none_on_cpu() -> None:
    """The default `--amp auto` picks what the GPU supports, and bf16 only on CPUs with native bf16."""
    from edgetl.train.device import resolve_amp

    assert TrainConfig().amp == "auto"
    from edgetl.train.speed import cpu_has_bf16

    assert resolve_amp("auto", torch.device("cpu")) == (
        "bf16" if cpu_has_bf16() else "none"
    )  # AVX-512 BF16/AMX
    assert resolve_amp("fp16", torch.device("cpu")) == "none"
    if torch.cuda.is_available():
        want = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        assert resolve_amp("auto", torch.device("cuda")) == want
        assert resolve_amp("fp16", torch.device("cuda")) == "fp16"


def test_in_memory_data_gets_no_loader_workers_unless_asked() -> None:
    """Built-in datasets hold decoded arrays: worker processes only add start-up time."""
    from edgetl.train.device import resolve_workers

    cpu = torch.device("cpu")
    assert resolve_workers(None, cpu, decodes=False) == 0
    assert resolve_workers(3, cpu, decodes=False) == 3  # an explicit --num-workers wins
