"""Data loading: layouts, splits, built-ins, every bad input's message, skipped files, the Dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_images
from PIL import Image
from test_images import BROKEN, CONVERTED

from edgetl.config import ConfigError, from_dict
from edgetl.data import (
    BUILTIN_DATASETS,
    AugmentConfig,
    DataSplits,
    ImageDataset,
    build_transform,
    load_splits,
    skipped_message,
)
from edgetl.errors import DataError, EdgetlError

TINY = {
    "input_size": (3, 32, 32),
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "interpolation": "bicubic",
    "crop_pct": 0.875,
    "crop_mode": "center",
}


def _rel(samples, root):
    return [(Path(p).relative_to(root).as_posix(), y) for p, y in samples]


# ----------------------------------------------------------------------------------------- layouts


def test_imagefolder_layout(make_image_folder):
    root = make_image_folder(classes=("bee", "ant", "wasp"), n_train=5, n_val=3)
    s = load_splits(root)
    assert s.classes == ["ant", "bee", "wasp"]  # sorted, like torchvision
    assert s.layout == "imagefolder" and s.source == f"folder:{root.resolve()}"
    assert s.counts("train") == {"ant": 5, "bee": 5, "wasp": 5}
    assert s.counts("val") == {"ant": 3, "bee": 3, "wasp": 3}
    for samples, split in ((s.train, "train"), (s.val, "val")):
        for path, label in samples:
            assert isinstance(path, str) and Path(path).is_file()
            assert Path(path).parent.name == s.classes[label]
            assert Path(path).parent.parent.name == split
    assert s.skipped == []
    summary = s.summary()
    json.dumps(summary)  # goes to data.json as is
    assert summary["counts"]["val"] == {"ant": 3, "bee": 3, "wasp": 3}
    assert summary["skipped"] == {"count": 0, "files": []}
    assert summary["fingerprint"] == s.fingerprint and len(s.fingerprint) == 64


def test_flat_folder_stratified_split_is_deterministic(make_image_folder):
    root = make_image_folder(classes=("a", "b", "c"), n_train=16, n_val=4, split=False)  # 20 per class
    s = load_splits(root, val_split=0.2, seed=0)
    assert s.layout == "split" and s.val_split == 0.2
    assert s.counts("val") == {"a": 4, "b": 4, "c": 4}
    assert s.counts("train") == {"a": 16, "b": 16, "c": 16}
    assert not {p for p, _ in s.train} & {p for p, _ in s.val}
    again = load_splits(root, val_split=0.2, seed=0)
    assert (again.train, again.val, again.fingerprint) == (s.train, s.val, s.fingerprint)
    other = load_splits(root, val_split=0.2, seed=1)
    assert other.val != s.val and other.fingerprint != s.fingerprint
    assert other.counts("val") == s.counts("val")


def test_fingerprint_tracks_file_changes_not_location(make_image_folder, tmp_path):
    root = make_image_folder(n_train=4, n_val=2)
    before = load_splits(root).fingerprint
    assert load_splits(root).fingerprint == before
    moved = tmp_path / "moved"
    os.rename(root, moved)
    assert load_splits(moved).fingerprint == before  # relative paths: a moved folder keeps its cache
    img = moved / "train" / "ant" / "img_000.png"
    Image.new("RGB", (40, 32), (1, 2, 3)).save(img)
    os.utime(img, ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = load_splits(moved).fingerprint
    assert changed != before
    write_images(moved / "val" / "bee", (0, 0, 255), 1, seed=7, ext=".jpg")
    assert load_splits(moved).fingerprint not in (before, changed)


def test_val_dir_may_be_named_valid(make_image_folder):
    root = make_image_folder(n_train=3, n_val=2)
    (root / "val").rename(root / "valid")
    assert load_splits(root).counts("val") == {"ant": 2, "bee": 2}


def test_builtin_digits():
    s = load_splits("digits")
    assert s.source == "builtin:digits" and s.layout == "builtin"
    assert s.classes == [str(i) for i in range(10)]
    assert len(s.train) + len(s.val) == 1797
    assert len(s.val) == 360
    counts = s.counts("val")
    assert min(counts.values()) >= 35 and max(counts.values()) <= 37  # stratified 20%
    arr, label = s.train[0]
    assert arr.shape == (8, 8, 3) and arr.dtype == np.uint8 and 0 <= label < 10
    assert max(a.max() for a, _ in s.train) == 255 and arr.min() == 0  # 0..16 scaled to 0..255
    assert np.array_equal(arr[..., 0], arr[..., 2])
    again = load_splits("digits")
    assert again.fingerprint == s.fingerprint
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(again.val, s.val, strict=True))
    assert "digits" in BUILTIN_DATASETS.names()


def test_builtin_works_through_dataset_and_transform():
    s = load_splits("digits")
    ds = ImageDataset(s.val[:4], build_transform(TINY, train=False))
    x, y = ds[0]
    assert tuple(x.shape) == (3, 32, 32) and y == s.val[0][1]
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0


# ------------------------------------------------------------------------------------ bad input


def test_error_empty_class_folder(make_image_folder):
    root = make_image_folder(n_train=3, n_val=2)
    (root / "train" / "cat").mkdir()
    (root / "val" / "cat").mkdir()
    write_images(root / "val" / "cat", (9, 9, 9), 1)
    with pytest.raises(DataError) as e:
        load_splits(root)
    cat = root.resolve() / "train" / "cat"
    assert (
        str(e.value)
        == f"class folder {cat} has no usable image (it is empty); add images or remove the folder"
    )


def test_error_class_folder_without_image_extensions(make_image_folder):
    root = make_image_folder(classes=("a", "b"), n_train=3, n_val=0, split=False)
    (root / "c").mkdir()
    (root / "c" / "photo.heic").write_bytes(b"x")
    (root / "c" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(
        DataError, match=r"class folder .*/c has no usable image \(it holds 1 entries but no jpg/"
    ):
        load_splits(root, val_split=0.3)


def test_error_class_with_only_broken_files(make_image_folder):
    root = make_image_folder(n_train=3, n_val=2)
    make_text_as_jpg = BROKEN["text-as-jpg"][0]
    (root / "val" / "bee").mkdir(exist_ok=True)
    for p in (root / "val" / "bee").iterdir():
        p.unlink()
    make_text_as_jpg(root / "val" / "bee" / "x.jpg")
    make_text_as_jpg(root / "val" / "bee" / "y.jpg")
    with pytest.raises(
        DataError, match=r"val/bee has no usable image \(all 2 files are unreadable, e.g. x.jpg: not an image"
    ):
        load_splits(root)


def test_error_single_class(make_image_folder):
    root = make_image_folder(classes=("only",), n_train=3, n_val=2)
    with pytest.raises(DataError) as e:
        load_splits(root)
    train = root.resolve() / "train"
    assert (
        str(e.value)
        == f"{train}: only one class folder (only); classification needs at least 2 class folders"
    )


def test_error_mismatched_classes(make_image_folder):
    root = make_image_folder(classes=("ant", "bee", "fly"), n_train=2, n_val=2)
    (root / "val" / "fly").rename(root / "val" / "moth")
    with pytest.raises(DataError) as e:
        load_splits(root)
    assert str(e.value) == (
        f"{root.resolve()}: train/ and val/ have different class folders "
        "(missing in val/: fly; missing in train/: moth); give both the same class folders"
    )


def test_error_flat_folder_needs_val_split(make_image_folder):
    root = make_image_folder(split=False)
    with pytest.raises(DataError) as e:
        load_splits(root)
    assert str(e.value) == (
        f"{root.resolve()}: has class folders but no train/ and val/ folders; pass --val-split 0.2 "
        "to split it (stratified, fixed seed), or arrange it as train/<class>/ and val/<class>/"
    )


def test_error_not_a_folder_nor_builtin(tmp_path):
    with pytest.raises(DataError) as e:
        load_splits(tmp_path / "nowhere")
    assert str(e.value) == (
        f"--data {tmp_path / 'nowhere'}: no such folder, and not a built-in dataset (built-ins: digits); "
        "pass an existing folder or a built-in name"
    )
    with pytest.raises(
        DataError, match=r"not a built-in dataset \(built-ins: digits\); did you mean 'digits'\?"
    ):
        load_splits("digit")
    with pytest.raises(DataError, match="--data is empty"):
        load_splits("")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_splits(f)


def test_error_other_layout_problems(make_image_folder, tmp_path):
    root = make_image_folder(n_train=3, n_val=2)
    with pytest.raises(DataError, match="already has train/ and val/ folders; drop --val-split"):
        load_splits(root, val_split=0.2)
    with pytest.raises(DataError, match="fixed train/val split; drop --val-split"):
        load_splits("digits", val_split=0.2)
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(DataError, match="--val-split must be a fraction between 0 and 1"):
            load_splits(root, val_split=bad)
    (root / "val").rename(root / "holdout")
    with pytest.raises(DataError, match="has train/ but no val/ folder"):
        load_splits(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no class folders found"):
        load_splits(empty)
    tiny = make_image_folder(classes=("a", "b"), n_train=1, n_val=0, split=False, name="tiny")
    with pytest.raises(DataError, match=r"at least 2 images per class .*class 'a' has 1, 'b' has 1"):
        load_splits(tiny, val_split=0.2)
    small = make_image_folder(classes=("a", "b", "c"), n_train=2, n_val=0, split=False, name="small")
    with pytest.raises(
        DataError, match=r"cannot split 6 images of 3 classes with --val-split 0.2 \(it holds out 2\)"
    ):
        load_splits(small, val_split=0.2)


def test_errors_are_one_line_edgetl_errors(make_image_folder):
    root = make_image_folder(classes=("only",))
    with pytest.raises(EdgetlError) as e:
        load_splits(root)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------ odd and bad files


def test_odd_images_kept_broken_skipped(make_image_folder):
    root = make_image_folder(n_train=4, n_val=2)
    odd_dir = root / "train" / "ant"
    for maker, name in CONVERTED.values():
        maker(odd_dir / f"odd_{name}")
    bad_dir = root / "train" / "bee"
    bad = {kind: maker(bad_dir / f"bad_{name}") for kind, (maker, name, _) in BROKEN.items()}
    (bad_dir / ".DS_Store").write_bytes(b"\0\1")
    (bad_dir / "._img_000.png").write_bytes(b"\0\1")  # macOS AppleDouble file: hidden, ignored
    (bad_dir / ".cache").mkdir()
    write_images(bad_dir / ".cache", (0, 0, 0), 2)
    (bad_dir / "labels.csv").write_text("a,b\n")

    s = load_splits(root)
    assert s.counts("train") == {"ant": 4 + len(CONVERTED), "bee": 4}
    kept = {Path(p).name for p, _ in s.train}
    assert {f"odd_{name}" for _, name in CONVERTED.values()} <= kept
    skipped = dict(s.skipped)
    assert set(skipped) == {str(p) for p in bad.values()}
    for kind, (_, _, words) in BROKEN.items():
        reason = skipped[str(bad[kind])]
        words = "empty file" if kind == "zero-byte" else words
        assert words in reason and str(bad[kind]) not in reason, (kind, reason)
    assert skipped[str(bad["zero-byte"])] == "empty file (0 bytes)"
    summary = s.summary()
    assert summary["skipped"]["count"] == 4
    assert {f["path"] for f in summary["skipped"]["files"]} == set(skipped)
    msg = skipped_message(s.skipped)
    assert msg.startswith("skipped 4 unreadable files: ") and msg.endswith("(and 1 more)")


def test_skipped_message_format():
    assert skipped_message([]) is None
    assert skipped_message([("a.jpg", "truncated")]) == "skipped 1 unreadable file: a.jpg (truncated)"
    five = [(f"{c}.jpg", f"why {c}") for c in "abcde"]
    assert skipped_message(five) == (
        "skipped 5 unreadable files: a.jpg (why a), b.jpg (why b), c.jpg (why c), ... (and 2 more)"
    )
    assert (
        skipped_message(five[:3]) == "skipped 3 unreadable files: a.jpg (why a), b.jpg (why b), c.jpg (why c)"
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlinks_loop_dangling_and_linked_class(make_image_folder, tmp_path):
    root = make_image_folder(n_train=3, n_val=2)
    ant = root / "train" / "ant"
    os.symlink(ant, ant / "loop")  # ant/loop -> ant: must not recurse forever
    os.symlink(root / "train", ant / "up")  # a loop through the parent
    os.symlink(tmp_path / "gone.jpg", root / "train" / "bee" / "dangling.jpg")
    outside = tmp_path / "outside_bees"
    write_images(outside, (0, 0, 200), 2, seed=5)
    os.symlink(outside, root / "val" / "bee" / "more")  # a linked sub-folder is followed
    os.symlink(root / "val", root / "val" / "val_again")  # not a class: a loop
    start = time.monotonic()
    s = load_splits(root)
    assert time.monotonic() - start < 20
    assert s.counts("train") == {"ant": 3, "bee": 3}  # neither loop pulled in more images
    assert s.counts("val") == {"ant": 2, "bee": 4}
    assert [p for p, _ in s.skipped] == [str(root.resolve() / "train" / "bee" / "dangling.jpg")]
    assert "no such file" in s.skipped[0][1].lower()


def test_unreadable_subfolder_does_not_crash(make_image_folder, monkeypatch):
    root = make_image_folder(n_train=3, n_val=2)
    locked = root / "train" / "ant" / "locked"
    write_images(locked, (0, 0, 0), 2)
    real_scandir = os.scandir

    def scandir(path="."):  # what chmod 000 does for a non-root user (root ignores permissions)
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert load_splits(root).counts("train") == {"ant": 3, "bee": 3}
    (root / "train" / "bee").rename(root / "train" / "locked")
    (root / "val" / "bee").rename(root / "val" / "locked")
    with pytest.raises(
        DataError, match=r"train/locked has no usable image \(cannot list it: Permission denied\)"
    ):
        load_splits(root)


def test_unicode_and_spaces_in_paths(tmp_path):
    root = tmp_path / "mes données" / "jeu d'images"
    write_images(root / "train" / "fourmi rouge", (200, 0, 0), 3)
    write_images(root / "train" / "abeille 🐝", (0, 0, 200), 3, ext=".jpg")
    write_images(root / "val" / "fourmi rouge", (200, 0, 0), 2)
    write_images(root / "val" / "abeille 🐝", (0, 0, 200), 2, ext=".JPG")
    s = load_splits(root)
    assert s.classes == ["abeille 🐝", "fourmi rouge"]
    assert s.counts("val") == {"abeille 🐝": 2, "fourmi rouge": 2}  # upper-case extensions count
    json.dumps(s.summary(), ensure_ascii=False)
    ds = ImageDataset(s.val, build_transform(TINY, train=False))
    assert tuple(ds[0][0].shape) == (3, 32, 32)


# ------------------------------------------------------------------------------------- dataset


def test_dataset_substitutes_a_file_that_broke_after_loading(make_image_folder):
    root = make_image_folder(n_train=3, n_val=2)
    s = load_splits(root)
    ds = ImageDataset(s.train, build_transform(TINY, train=False))
    broken = Path(s.train[1][0])
    broken.write_bytes(b"garbage")
    x1, y1 = ds[1]
    x2, y2 = ds[2]
    assert y1 == y2 and bool((x1 == x2).all())  # index 1 served by index 2, deterministically
    assert ds.failed == [(str(broken), "not an image file PIL can read")]
    ds[1]
    assert len(ds.failed) == 1  # recorded once
    Path(s.train[-1][0]).unlink()  # the last wraps round to index 0
    x_last, y_last = ds[len(ds) - 1]
    x0, y0 = ds[0]
    assert y_last == y0 and bool((x_last == x0).all())
    assert ds.failed[-1] == (s.train[-1][0], "no such file")


def test_a_file_that_breaks_inside_a_dataloader_worker_is_reported_in_the_main_process(make_image_folder):
    """Workers are other processes: without sharing, their record of a broken file was lost."""
    import torch

    from edgetl.train.runners import make_loader

    root = make_image_folder(n_train=4, n_val=1)
    s = load_splits(root)
    ds = ImageDataset(s.train, build_transform(TINY, train=False))
    broken = Path(s.train[2][0])
    broken.write_bytes(b"garbage")
    loader = make_loader(ds, 2, False, torch.Generator().manual_seed(0), num_workers=2)
    seen = sum(len(y) for _, y in loader)
    assert seen == len(s.train)  # the epoch went on, the broken file replaced by a neighbour
    assert ds.failed == [(str(broken), "not an image file PIL can read")]
    shared = ds._shared
    del ds, loader
    import gc

    gc.collect()
    assert shared is not None and not Path(shared).exists()  # the side file goes with the dataset


def test_dataset_every_file_broken_is_a_data_error(make_image_folder):
    root = make_image_folder(n_train=2, n_val=1)
    s = load_splits(root)
    for p, _ in s.val:
        Path(p).write_bytes(b"")
    ds = ImageDataset(s.val, None)
    with pytest.raises(DataError, match="none of the 2 images can be read"):
        ds[0]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataset_in_a_dataloader(make_image_folder):
    import torch

    root = make_image_folder(n_train=4, n_val=2)
    s = load_splits(root)
    loader = torch.utils.data.DataLoader(
        ImageDataset(s.train, build_transform(TINY, train=True)), batch_size=3
    )
    xs, ys = zip(*loader, strict=True)
    assert sum(len(y) for y in ys) == 8
    assert tuple(xs[0].shape) == (3, 3, 32, 32) and xs[0].dtype == torch.float32


# ---------------------------------------------------------------------------------- transforms


def test_eval_transform_is_exactly_timms():
    from timm.data import create_transform

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    ours = build_transform(TINY, train=False)(img)
    timms = create_transform(
        input_size=(3, 32, 32),
        interpolation="bicubic",
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        crop_pct=0.875,
        crop_mode="center",
        is_training=False,
    )(img)
    assert bool((ours == timms).all())


@pytest.mark.parametrize(
    "policy", ["rand-m9-mstd0.5-inc1", "trivial", "augmix-m5-w4-d2", "original", None, "none"]
)
def test_train_transform_policies(policy):
    aug = AugmentConfig(auto_augment=policy, re_prob=0.25, color_jitter=0.3)
    tf = build_transform(TINY, train=True, aug=aug)
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    x = tf(img)
    assert tuple(x.shape) == (3, 32, 32)
    text = repr(tf)
    assert "RandomResizedCrop" in text and "RandomErasing" in text
    if policy in (None, "none"):
        assert "RandAugment" not in text and "ColorJitter" in text
    if policy == "trivial":
        assert "RandAugment(n=1" in text


def test_augment_config_validation():
    with pytest.raises(ConfigError, match="is not a timm augmentation policy"):
        build_transform(TINY, train=True, aug=AugmentConfig(auto_augment="randomfoo"))
    with pytest.raises(ConfigError, match="hflip must be a probability"):
        AugmentConfig(hflip=2)
    with pytest.raises(ConfigError, match="scale must be"):
        AugmentConfig(scale=(0.9, 0.1))


def test_augment_config_from_yaml_dict():
    """A recipe's `scale: [0.5, 1.0]` must become a tuple of floats."""
    cfg = from_dict(AugmentConfig, {"scale": [0.5, 1.0], "auto_augment": "trivial"})
    assert cfg.scale == (0.5, 1.0) and cfg.policy() == "rand-n1-m10-mstd101-p1.0-inc1"


def test_import_is_light():
    code = "import sys, edgetl.data; print('torch' in sys.modules, 'timm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------------------------ real data


@pytest.mark.slow
def test_hymenoptera(hymenoptera):
    start = time.monotonic()
    s = load_splits(hymenoptera)
    seconds = time.monotonic() - start
    assert isinstance(s, DataSplits)
    assert s.classes == ["ants", "bees"]
    assert len(s.train) == 245 and len(s.val) == 153
    assert s.counts("val") == {"ants": 70, "bees": 83}
    assert s.skipped == []
    gifs = []
    for p, _ in s.train + s.val:
        with Image.open(p) as im:
            if im.format == "GIF":
                gifs.append(p)
    assert len(gifs) == 1  # the real GIF among the photos is loaded, not skipped
    assert seconds < 30, f"checking 398 images took {seconds:.1f}s"
    assert load_splits(hymenoptera).fingerprint == s.fingerprint
