"""The runtime's Pillow+numpy preprocessing equals timm's eval transform (what training evaluated)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from edgetl.errors import EdgetlError
from edgetl.runtime import Preprocess, load_rgb

TOL = 1e-5
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def timm_eval(input_size, interpolation, crop_pct, crop_mode, mean=MEAN, std=STD, normalize=True):
    from timm.data import create_transform

    return create_transform(
        input_size=input_size,
        interpolation=interpolation,
        mean=mean,
        std=std,
        crop_pct=crop_pct,
        crop_mode=crop_mode,
        is_training=False,
        normalize=normalize,
    )


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def assert_same(tf, pre: Preprocess, img: Image.Image) -> None:
    want = tf(img).numpy()
    got = pre(img)
    assert got.shape == want.shape, (img.size, got.shape, want.shape)
    assert got.dtype == np.float32
    assert float(np.abs(got - want).max()) <= TOL, img.size


# Sizes chosen to hit the rounding corners: odd sides, extreme aspect ratios, smaller than the
# crop (padding), exactly the resize size (torchvision skips the resize), 1x1.
SIZES = [(1, 1), (5, 300), (300, 5), (37, 29), (101, 77), (640, 480), (33, 33), (24, 24), (36, 36), (49, 50)]
CONFIGS = [
    ((3, 32, 32), 0.875),
    ((3, 37, 29), 0.9),  # non-square target: timm's ResizeKeepRatio path
    ((3, 40, 40), 1.0),
    ((3, 48, 48), 1.15),  # crop_pct > 1: the resized image is smaller than the crop -> zero padding
]


@pytest.mark.parametrize("crop_mode", ["center", "squash", "border"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest", "lanczos", "box", "hamming"])
def test_matches_timm_eval_transform_on_generated_sizes(crop_mode, interpolation):
    for input_size, pct in CONFIGS:
        tf = timm_eval(input_size, interpolation, pct, crop_mode)
        pre = Preprocess(input_size, MEAN, STD, interpolation, pct, crop_mode)
        for i, (w, h) in enumerate(SIZES):
            assert_same(tf, pre, noise(w, h, seed=i))


def test_uint8_layout_stops_at_the_cropped_image():
    """nhwc-uint8 models get the resized+cropped pixels, equal to timm's transform without normalisation."""
    tf = timm_eval((3, 37, 29), "bicubic", 0.9, "center", normalize=False)
    pre = Preprocess((3, 37, 29), MEAN, STD, "bicubic", 0.9, "center", layout="nhwc-uint8")
    for w, h in [(101, 77), (20, 300), (37, 29)]:
        img = noise(w, h)
        got = pre(img)
        assert got.dtype == np.uint8 and got.shape == (37, 29, 3)
        np.testing.assert_array_equal(got, tf(img).numpy().transpose(1, 2, 0))
    assert pre.batch([noise(50, 40), noise(40, 50)]).shape == (2, 37, 29, 3)


def test_non_rgb_modes_are_converted_like_training():
    """Grayscale / RGBA images go through the same to_rgb the data loader uses."""
    tf = timm_eval((3, 32, 32), "bilinear", 0.875, "center")
    pre = Preprocess((3, 32, 32), MEAN, STD, "bilinear", 0.875, "center")
    gray = noise(50, 40).convert("L")
    assert_same(tf, pre, gray.convert("RGB"))
    np.testing.assert_array_equal(pre(gray), pre(gray.convert("RGB")))


def test_resized_size_follows_torchvision_rounding():
    pre = Preprocess((3, 224, 224), crop_pct=0.875)  # short side -> floor(224 / 0.875) = 256
    assert pre.resized_size(500, 375) == (341, 256)  # int(256 * 500 / 375) = 341 (truncated, not rounded)
    assert pre.resized_size(375, 500) == (256, 341)
    assert pre.resized_size(256, 256) == (256, 256)


def test_bad_preprocessing_settings_are_clear_errors():
    with pytest.raises(EdgetlError, match="interpolation"):
        Preprocess((3, 32, 32), interpolation="bicubik")
    with pytest.raises(EdgetlError, match="crop_mode"):
        Preprocess((3, 32, 32), crop_mode="middle")
    with pytest.raises(EdgetlError, match="input_size"):
        Preprocess((1, 32, 32))
    with pytest.raises(EdgetlError, match="std"):
        Preprocess((3, 32, 32), std=(0.0, 1.0, 1.0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    w=st.integers(1, 400),
    h=st.integers(1, 400),
    out_h=st.integers(8, 64),
    out_w=st.integers(8, 64),
    square=st.booleans(),
    crop_pct=st.floats(0.5, 1.2),
    crop_mode=st.sampled_from(["center", "squash", "border"]),
    interpolation=st.sampled_from(["bilinear", "bicubic", "nearest"]),
)
def test_property_matches_timm_for_any_size_and_aspect(
    w, h, out_h, out_w, square, crop_pct, crop_mode, interpolation
):
    size = (3, out_h, out_h if square else out_w)
    tf = timm_eval(size, interpolation, crop_pct, crop_mode)
    pre = Preprocess(size, MEAN, STD, interpolation, crop_pct, crop_mode)
    img = noise(w, h, seed=w * 401 + h)
    assert pre(img).shape == size  # always a valid input, even where timm gives up
    try:
        tf(img)
    except ValueError:  # timm/PIL refuse a 0-pixel side (e.g. 1x300 in border mode); we keep >= 1 px
        assume(False)
    assert_same(tf, pre, img)


@pytest.mark.slow
def test_matches_timm_on_real_photos(hymenoptera):
    """Every real val photo (odd sizes, both orientations, one GIF), Lite0's config and the other crop modes."""
    files = sorted((hymenoptera / "val").rglob("*.*"))
    sizes = set()
    lite0 = dict(
        input_size=(3, 224, 224), interpolation="bicubic", crop_pct=0.875, mean=(0.5,) * 3, std=(0.5,) * 3
    )
    tf = timm_eval(lite0["input_size"], "bicubic", 0.875, "center", lite0["mean"], lite0["std"])
    pre = Preprocess(lite0["input_size"], lite0["mean"], lite0["std"], "bicubic", 0.875, "center")
    others = [
        (
            timm_eval((3, 160, 128), "bilinear", 0.95, "center"),
            Preprocess((3, 160, 128), MEAN, STD, "bilinear", 0.95),
        ),
        (
            timm_eval((3, 96, 96), "bicubic", 1.0, "squash"),
            Preprocess((3, 96, 96), MEAN, STD, "bicubic", 1.0, "squash"),
        ),
        (
            timm_eval((3, 96, 96), "bilinear", 0.9, "border"),
            Preprocess((3, 96, 96), MEAN, STD, "bilinear", 0.9, "border"),
        ),
    ]
    for i, f in enumerate(files):
        img = load_rgb(f)
        sizes.add(img.size)
        assert_same(tf, pre, img)
        if i % 5 == 0:
            for t, p in others:
                assert_same(t, p, img)
    assert len(files) > 100 and len(sizes) > 20  # really many odd sizes and aspect ratios
