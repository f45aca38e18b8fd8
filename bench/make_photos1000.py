"""A dataset of about 1,000 training photos for timing `edgetl run --data DIR` (issue 15, item 4).

    python bench/make_photos1000.py /tmp/photos1000                 # from $EDGETL_DATA_DIR/hymenoptera
    python bench/make_photos1000.py /tmp/photos1000 --n-train 1000 --seed 0

No package registry ships a folder of ~1,000 labelled photos (Debian's `dataset-fashion-mnist` is
28 px greyscale; foolbox ships 20 ImageNet JPEGs), so this builds one from hymenoptera: every
training photo is copied as-is once, and then as seeded variants (random crop of 60-100% of the
area, horizontal flip, brightness/contrast/colour change of up to +-20%, rotation up to +-10
degrees) until there are `--n-train` training photos, each a JPEG (quality 90) at the source photo's
size. val/ is hymenoptera's own val split, unchanged. For speed only: the variants are near
copies, so the val accuracy of a run on it says nothing new about generalisation.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

DEFAULT_SOURCE = Path(os.environ.get("EDGETL_DATA_DIR", "/work/shared/data")) / "hymenoptera"


def variant(img: Image.Image, rng: random.Random) -> Image.Image:
    """A seeded, photo-like variant of `img` at the same size."""
    w, h = img.size
    area = rng.uniform(0.6, 1.0)
    cw, ch = max(1, int(w * area**0.5)), max(1, int(h * area**0.5))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = img.crop((x, y, x + cw, y + ch)).resize((w, h), Image.BICUBIC)
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = out.rotate(rng.uniform(-10, 10), resample=Image.BICUBIC, fillcolor=(128, 128, 128))
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        out = enhance(out).enhance(rng.uniform(0.8, 1.2))
    return out


def build(source: Path, dest: Path, n_train: int, seed: int) -> dict[str, int]:
    from edgetl.data import load_splits
    from edgetl.runtime.image import load_rgb

    splits = load_splits(str(source))
    rng = random.Random(seed)
    counts = {"train": 0, "val": 0}
    for split, samples in (("train", splits.train), ("val", splits.val)):
        total = n_train if split == "train" else len(samples)
        for k in range(total):
            path, label = samples[k % len(samples)]
            copy = k // len(samples)
            img = load_rgb(path)
            if copy:
                img = variant(img, rng)
            out = dest / split / splits.classes[label] / f"{Path(path).stem}-{copy}.jpg"
            out.parent.mkdir(parents=True, exist_ok=True)
            img.save(out, quality=90)
            counts[split] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest", type=Path, help="output folder (DEST/train/<class>, DEST/val/<class>)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="ImageFolder with train/ and val/")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        raise SystemExit(f"{args.dest}: not empty; choose a new folder")
    counts = build(args.source, args.dest, args.n_train, args.seed)
    print(f"wrote {counts['train']} train and {counts['val']} val photos to {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
