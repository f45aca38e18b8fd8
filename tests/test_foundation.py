"""Config validation, registries, atomic writes, weight sources and checkpoints."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from edgetl._io import atomic_write, atomic_write_text, remove_stale_temps
from edgetl.config import ConfigError, config_to_dict, from_dict, load_config
from edgetl.errors import CheckpointError, EdgetlError, UnknownNameError
from edgetl.registry import Registry


@dataclass
class _Cfg:
    lr: float = 1e-3
    epochs: int = 3
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    name: str | None = None
    tags: list[str] = field(default_factory=list)


def test_config_unknown_key_suggests_closest(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: unknown key 'lrr'; did you mean 'lr'\?"):
        load_config(_Cfg, p)


@pytest.mark.parametrize(
    ("data", "msg"),
    [
        ({"epochs": "3"}, "epochs: expected an integer"),
        ({"epochs": True}, "epochs: expected an integer"),
        ({"lr": "fast"}, "lr: expected a number"),
        ({"mode": "c"}, "mode: 'c' is not one of 'a', 'b'"),
        ({"sizes": 3}, "sizes: expected a list"),
    ],
)
def test_config_wrong_types_are_named(data: dict, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        from_dict(_Cfg, data)


def test_config_overrides_and_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("lr: 1\nsizes: [3, 4]\n")
    cfg = load_config(_Cfg, p, overrides={"epochs": 7, "name": None})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.epochs == 7 and cfg.sizes == (3, 4) and cfg.name is None
    assert from_dict(_Cfg, config_to_dict(cfg)) == cfg


def test_config_bad_yaml_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("lr: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(_Cfg, p)


def test_registry_unknown_name_suggests_and_never_substitutes() -> None:
    reg: Registry[int] = Registry("target")
    reg.register("cpu-x86", 1)
    reg.register("cpu-arm", 2)
    with pytest.raises(UnknownNameError, match="unknown target 'cpu-x68'; did you mean 'cpu-x86'") as e:
        reg.get("cpu-x68")
    assert isinstance(e.value, EdgetlError)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("cpu-x86", 3)


def test_stale_temps_go_young_ones_and_real_files_stay(tmp_path: Path) -> None:
    """A killed writer's leftovers are removed later; a live writer's young temp file is not."""
    import os
    import time

    old, young = tmp_path / ".m.onnx.abc.tmp", tmp_path / ".m.onnx.def.tmp"
    work, real = tmp_path / "edgetl-export-x", tmp_path / "m.onnx"
    for f in (old, young, real):
        f.write_bytes(b"x")
    work.mkdir()
    (work / "graph.onnx").write_bytes(b"x")
    hour_ago = time.time() - 7200
    for f in (old, work, real):
        os.utime(f, (hour_ago, hour_ago))
    assert remove_stale_temps(tmp_path) == 1 and not old.exists() and young.exists() and real.exists()
    assert remove_stale_temps(tmp_path, "edgetl-export-*") == 1 and not work.exists()
    assert remove_stale_temps(tmp_path / "missing") == 0


def test_atomic_write_failure_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.bin"
    atomic_write_text(target, "good")

    def broken(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.bin"]  # no temp file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_atomic_write_readonly_dir_names_path(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(EdgetlError, match=f"cannot write {ro / 'x.txt'}"):
            atomic_write_text(ro / "x.txt", "x")
    finally:
        ro.chmod(0o700)


def test_atomic_write_into_a_file_path_names_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EdgetlError, match="cannot write .*file/x.txt"):
        atomic_write_text(blocker / "x.txt", "x")


def test_unknown_model_and_weights_names() -> None:
    from edgetl.models import create_classifier

    with pytest.raises(UnknownNameError, match="did you mean 'resnet18'"):
        create_classifier("resnet18x", 2)
    with pytest.raises(UnknownNameError, match="unknown weight source .*efficientnet_lite0"):
        create_classifier("test_resnet", 2, pretrained="efficientnet_lite9")
    with pytest.raises(EdgetlError, match="holds weights for tf_efficientnet_lite0, not test_resnet"):
        create_classifier("test_resnet", 2, pretrained="efficientnet_lite0")


def test_checkpoint_roundtrip_and_mismatch(tmp_path: Path) -> None:
    import torch

    from edgetl.models import CheckpointMeta, create_classifier, load_classifier, save_checkpoint

    model, info = create_classifier("test_resnet", 3, img_size=32)
    meta = CheckpointMeta(model=info.model, labels=["a", "b", "c"], data_config=info.data_config)
    path = save_checkpoint(tmp_path / "checkpoints" / "best.safetensors", model, meta)
    assert path.with_suffix(".json").is_file()
    loaded, meta2 = load_classifier(tmp_path)  # a run dir resolves to checkpoints/best
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model.eval()(x), loaded(x))
    assert meta2.labels == ["a", "b", "c"] and meta2.data_config["input_size"] == (3, 32, 32)

    # Same architecture, other class count: say which and what was expected.
    other, _ = create_classifier("test_resnet", 5)
    save_checkpoint(tmp_path / "five.safetensors", other, meta)
    with pytest.raises(
        CheckpointError,
        match=r"fc\.(weight|bias) has shape \(5\b.*\), test_resnet with 3 classes expects \(3\b",
    ):
        load_classifier(tmp_path / "five.safetensors")

    # Truncated file: a clear error, never a crash deep in safetensors.
    bad = tmp_path / "trunc.safetensors"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="trunc.safetensors: corrupt or truncated"):
        load_classifier(bad)
    with pytest.raises(CheckpointError, match="no checkpoints/best.safetensors"):
        load_classifier(tmp_path / "checkpoints")


def test_pickle_with_code_is_refused_and_never_run(tmp_path: Path) -> None:
    import pickle

    from edgetl.models import read_weights_file

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(CheckpointError, match="evil.pth: refused to load"):
        read_weights_file(evil)
    assert not marker.exists()


def test_local_weights_file_loads_backbone(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from edgetl.models import create_classifier

    src, _ = create_classifier("test_resnet", 7)
    state = {k: v.contiguous() for k, v in src.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pth")
    for f in ("w.safetensors", "w.pth"):
        model, info = create_classifier("test_resnet", 2, pretrained=str(tmp_path / f))
        body = [k for k in state if not k.startswith("fc.")]
        assert all(torch.equal(model.state_dict()[k], state[k]) for k in body)
        assert model.get_classifier().out_features == 2 and info.weights.endswith(f)


def test_offline_lite0_weights_classify_imagenet_photos() -> None:
    """The packaged weights really are ImageNet Lite0 (NOTES: 18/20 on foolbox's samples)."""
    foolbox = pytest.importorskip(
        "foolbox", reason="foolbox (dev extra) ships the 20 labelled ImageNet JPEGs"
    )
    import timm
    import torch
    from timm.data import create_transform

    from edgetl.models import WEIGHT_SOURCES
    from edgetl.runtime.image import load_rgb

    src = WEIGHT_SOURCES.get("efficientnet_lite0")
    model = timm.create_model(src.arch, pretrained=False)
    model.load_state_dict(src.load(), strict=True)
    model.eval()
    tf = create_transform(**src.data_config, is_training=False)
    files = sorted((Path(foolbox.__file__).parent / "data").glob("imagenet_*.jpg"))
    assert len(files) == 20
    x = torch.stack([tf(load_rgb(f)) for f in files])
    labels = torch.tensor([int(f.stem.split("_")[-1]) for f in files])
    with torch.inference_mode():
        correct = (model(x).argmax(1) == labels).sum().item()
    assert correct >= 17, f"{correct}/20 top-1"


def test_config_fixed_length_tuple_keeps_values() -> None:
    @dataclass
    class _Scale:
        scale: tuple[float, float] = (0.08, 1.0)

    assert from_dict(_Scale, {"scale": [0.5, 1]}).scale == (0.5, 1.0)
    with pytest.raises(ConfigError, match="expected 2 values, got 3"):
        from_dict(_Scale, {"scale": [0.5, 1, 2]})


def test_atomic_write_gives_normal_permissions(tmp_path: Path) -> None:
    out = atomic_write_text(tmp_path / "report.json", "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
