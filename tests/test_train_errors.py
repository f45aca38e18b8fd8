"""Every bad input to `edgetl train` is one clear line, exit code 2, and leaves no checkpoint behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from edgetl.cli import main

BASE = [
    "--model",
    "test_efficientnet",
    "--pretrained",
    "none",
    "--img-size",
    "32",
    "--lp-epochs",
    "1",
    "--epochs",
    "1",
]
BASE += ["--warmup-epochs", "0", "--quiet"]


def run_train(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    return code, err


def assert_clean_failure(code: int, err: str, message: str, out: Path) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    assert err.startswith("edgetl train: error: ")
    assert message in err, err
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())
    assert not out.exists()  # nothing at all is created before the inputs are checked


@pytest.fixture
def good(make_image_folder) -> Path:
    return make_image_folder(n_train=4, n_val=2)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--model", "tf_efficientnet_lite00"],
            "unknown timm model (--model) 'tf_efficientnet_lite00'; did you mean",
        ),
        (
            ["--pretrained", "efficientnet_lite9"],
            "unknown weight source (--pretrained) 'efficientnet_lite9'; did you mean",
        ),
        (
            ["--pretrained", "efficientnet_lite0"],
            "--pretrained efficientnet_lite0 holds weights for tf_efficientnet_lite0",
        ),
        (["--pretrained", "missing.pth"], "weights file missing.pth does not exist"),
        (["--lr", "-1"], "--lr must be > 0 (got -1.0)"),
        (["--val-split", "0.2"], "already has train/ and val/ folders; drop --val-split"),
        (["--mode", "probe"], "unknown training mode (--mode) 'probe'"),
        (["--auto-augment", "bogus"], "auto_augment 'bogus' is not a timm augmentation policy"),
    ],
)
def test_bad_option(flags: list[str], message: str, good: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, err = run_train(["--data", str(good), "--out", str(out), *BASE, *flags], capsys)
    assert_clean_failure(code, err, message, out)


def test_weights_file_for_another_model(good: Path, tmp_path: Path, capsys) -> None:
    from safetensors.torch import save_file

    weights = tmp_path / "resnet.safetensors"
    save_file({"conv1.weight": torch.zeros(8, 3, 3, 3)}, str(weights))
    out = tmp_path / "run"
    code, err = run_train(
        ["--data", str(good), "--out", str(out), *BASE, "--pretrained", str(weights)], capsys
    )
    assert_clean_failure(code, err, "weights do not fit", out)


def _empty_class(root: Path) -> None:
    for f in (root / "val" / "bee").iterdir():
        f.unlink()


def _one_class(root: Path) -> None:
    shutil.rmtree(root / "train" / "bee")
    shutil.rmtree(root / "val" / "bee")


def _mismatched(root: Path) -> None:
    (root / "val" / "bee").rename(root / "val" / "wasp")


def _only_junk(root: Path) -> None:
    for f in (root / "train" / "ant").iterdir():
        f.write_bytes(b"not an image")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_empty_class, "has no usable image (it is empty)"),
        (_one_class, "only one class folder (ant)"),
        (_mismatched, "train/ and val/ have different class folders"),
        (_only_junk, "has no usable image (all 4 files are unreadable"),
    ],
    ids=["empty-class", "single-class", "mismatched-classes", "unreadable-class"],
)
def test_bad_data(damage, message: str, good: Path, tmp_path: Path, capsys) -> None:
    damage(good)
    out = tmp_path / "run"
    code, err = run_train(["--data", str(good), "--out", str(out), *BASE], capsys)
    assert_clean_failure(code, err, message, out)


def test_missing_and_unknown_data(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, err = run_train(["--out", str(out), *BASE], capsys)
    assert_clean_failure(code, err, "--data is required", out)
    code, err = run_train(["--data", str(tmp_path / "nope"), "--out", str(out), *BASE], capsys)
    assert_clean_failure(code, err, "no such folder, and not a built-in dataset", out)


def test_unknown_recipe_key(good: Path, tmp_path: Path, capsys) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("mode: lp-ft\nlabel_smothing: 0.1\n")
    out = tmp_path / "run"
    code, err = run_train(["--config", str(recipe), "--data", str(good), "--out", str(out), *BASE], capsys)
    assert_clean_failure(code, err, "unknown key 'label_smothing'; did you mean 'label_smoothing'?", out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_requested_without_gpu(good: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    code, err = run_train(["--data", str(good), "--out", str(out), *BASE, "--device", "cuda"], capsys)
    assert_clean_failure(code, err, "--device cuda: no CUDA GPU is usable here", out)


def test_non_empty_out_is_refused_and_untouched(good: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, err = run_train(["--data", str(good), "--out", str(out), *BASE], capsys)
    assert code == 2 and "--out" in err and "folder is not empty; choose another --out" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_resume_of_something_else(tmp_path: Path, capsys) -> None:
    code, err = run_train(["--resume", str(tmp_path)], capsys)
    assert code == 2 and "no config.yaml there; is it an edgetl run directory?" in err


def test_hub_weights_without_a_network_fail_at_once_in_offline_mode(monkeypatch, tmp_path) -> None:
    """No route to the Hub: one short probe, then huggingface_hub's offline mode (cache only) instead
    of ~50 s of retries; the error says why and what to use instead."""
    import socket

    from huggingface_hub import constants

    from edgetl.errors import EdgetlError
    from edgetl.models import create_classifier, hub

    probes: list[tuple] = []

    def refuse(address, timeout=None, *args, **kwargs):
        probes.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in hub.PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache, whatever this machine has
    seen: list[bool] = []
    with hub.offline_unless_reachable() as offline:
        seen.append(constants.HF_HUB_OFFLINE)
    assert offline and seen == [True] and constants.HF_HUB_OFFLINE is False  # restored afterwards
    assert probes and probes[0][1] == hub.PROBE_TIMEOUT_S
    with pytest.raises(EdgetlError, match="cannot be reached and they are not in the local cache"):
        create_classifier("resnet10t", 2, "timm")
