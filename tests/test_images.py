"""Every kind of image a user may have: odd modes are converted to RGB, broken files are refused clearly.

Training (`load_splits`, `ImageDataset`) and the torch-free runtime share `load_rgb`, so these
cases hold for both.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetl.runtime.image import BadImageError, load_rgb

RED = (220, 40, 40)


def _rgb_array(h=24, w=32) -> np.ndarray:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[..., 1] = 90
    arr[..., 2] = np.linspace(255, 0, h, dtype=np.uint8)[:, None]
    return arr


def make_grayscale(path: Path) -> Path:
    Image.fromarray(np.full((20, 30), 77, np.uint8), "L").save(path)
    return path


def make_rgba(path: Path) -> Path:
    arr = np.zeros((20, 30, 4), np.uint8)
    arr[..., :3] = RED
    arr[:, :15, 3] = 255  # left half opaque red, right half fully transparent
    Image.fromarray(arr, "RGBA").save(path)
    return path


def make_palette_transparent(path: Path) -> Path:
    img = Image.new("P", (30, 20), 0)  # index 0, declared transparent below
    img.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    img.paste(1, (0, 0, 15, 20))  # left half opaque red, like make_rgba
    img.save(path, transparency=0)
    return path


def make_cmyk_jpeg(path: Path) -> Path:
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # pure red in CMYK
    return path


def make_16bit_png(path: Path) -> Path:
    Image.fromarray(np.full((20, 30), 65535 // 2, np.uint16)).save(path)
    return path


def make_gif_named_jpg(path: Path) -> Path:
    Image.fromarray(_rgb_array()).convert("P").save(path, "GIF")
    return path


def make_animated_gif(path: Path) -> Path:
    frames = [
        Image.new("RGB", (30, 20), c).convert("P", palette=Image.Palette.ADAPTIVE)
        for c in (RED, (40, 200, 60), (50, 70, 230))
    ]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return path


def make_truncated_jpeg(path: Path) -> Path:
    Image.fromarray(_rgb_array(120, 160)).save(path, "JPEG", quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_zero_byte(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def make_text_as_jpg(path: Path) -> Path:
    path.write_text("this is not an image\n" * 20)
    return path


def make_huge_png(path: Path, side: int = 100_000) -> Path:
    """A valid-looking PNG header claiming side x side pixels (a decompression bomb) with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


# name -> (maker, file name); all must load as RGB of the stored size.
CONVERTED = {
    "grayscale": (make_grayscale, "gray.png"),
    "rgba": (make_rgba, "rgba.png"),
    "palette-transparent": (make_palette_transparent, "palette.png"),
    "cmyk-jpeg": (make_cmyk_jpeg, "cmyk.jpg"),
    "16-bit-png": (make_16bit_png, "deep.png"),
    "gif-named-jpg": (make_gif_named_jpg, "really_a_gif.jpg"),
    "animated-gif": (make_animated_gif, "anim.gif"),
}
# name -> (maker, file name, words the reason must contain)
BROKEN = {
    "truncated-jpeg": (make_truncated_jpeg, "cut.jpg", "truncated"),
    "zero-byte": (make_zero_byte, "empty.jpg", "not an image"),
    "text-as-jpg": (make_text_as_jpg, "notes.jpg", "not an image"),
    "huge-dims": (make_huge_png, "bomb.png", "decompression-bomb"),
}


@pytest.mark.parametrize("kind", sorted(CONVERTED))
def test_odd_images_become_rgb(tmp_path, kind):
    maker, name = CONVERTED[kind]
    path = maker(tmp_path / name)
    img = load_rgb(path)
    assert img.mode == "RGB"
    assert img.size == Image.open(path).size
    assert np.asarray(img).dtype == np.uint8


def test_alpha_is_composited_on_white(tmp_path):
    """Transparent pixels become white (not black, not the hidden colour), for RGBA and palette images."""
    for path in (make_rgba(tmp_path / "rgba.png"), make_palette_transparent(tmp_path / "pal.png")):
        arr = np.asarray(load_rgb(path))
        assert tuple(arr[10, 20]) == (255, 255, 255), path.name
        assert tuple(arr[10, 2]) == RED, path.name


def test_cmyk_and_16bit_keep_their_colours(tmp_path):
    cmyk = np.asarray(load_rgb(make_cmyk_jpeg(tmp_path / "c.jpg"))).astype(int)
    assert (
        cmyk[..., 0].mean() > 200 and cmyk[..., 1].mean() < 60 and cmyk[..., 2].mean() < 60
    )  # red stays red
    deep = np.asarray(load_rgb(make_16bit_png(tmp_path / "d.png")))
    assert np.all(np.abs(deep.astype(int) - 127) <= 1)  # half of 16-bit range -> mid grey, not clipped white


def test_animated_gif_uses_first_frame(tmp_path):
    arr = np.asarray(load_rgb(make_animated_gif(tmp_path / "a.gif"))).astype(int)
    assert np.abs(arr[5, 5] - np.array(RED)).max() <= 8


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_images_raise_naming_the_file(tmp_path, kind):
    maker, name, words = BROKEN[kind]
    path = maker(tmp_path / name)
    with pytest.raises(BadImageError) as exc:
        load_rgb(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ")
    assert words in msg
    assert "\n" not in msg


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(BadImageError, match="no such file"):
        load_rgb(tmp_path / "nope.jpg")
    with pytest.raises(BadImageError, match="is a directory"):
        load_rgb(tmp_path)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_makes_phone_photos_upright(tmp_path, orientation):
    """A phone stores pixels sideways plus an EXIF Orientation tag; viewers show it upright, and so must
    training and the runtime (the same `load_rgb`), whether given a path or an opened PIL image."""
    from edgetl.runtime.image import to_rgb

    stored = np.zeros((40, 60, 3), np.uint8)  # 60 wide, 40 high: red left third, blue right third
    stored[:, :20] = (255, 0, 0)
    stored[:, 40:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone-{orientation}.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)

    got = np.asarray(load_rgb(path)).astype(int)
    rotated = {3: 180, 6: 270, 8: 90}[orientation]  # PIL rotates counter-clockwise
    want = np.asarray(Image.fromarray(stored).rotate(rotated, expand=True)).astype(int)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 4  # JPEG noise only; a missed rotation is off by ~100
    with Image.open(path) as opened:
        assert np.array_equal(np.asarray(to_rgb(opened)), np.asarray(load_rgb(path)))
    plain = tmp_path / "plain.jpg"
    Image.fromarray(stored).save(plain, quality=95)
    assert np.asarray(load_rgb(plain)).shape == (40, 60, 3)  # no tag: untouched
