"""Frozen-backbone features, computed once and cached on disk, for the linear-probe stage.

    feats = get_features(model, splits, data_config, FeatureCache(cfg.feature_cache_dir()), device, rep)
    feats.train_x.shape   # (N, num_features): pooled pre-logits features

The key is a sha256 over what decides the features: the architecture, a hash of the backbone's
own weights (so any weight source, file or hub version is covered), the data fingerprint
(files, sizes, mtimes, labels, split), the eval transform and data config, and the edgetl
version. A re-run on the same data, a resumed run and `edgetl eval --cv` then cost only the
head. Entries are safetensors written atomically: an interrupted write leaves no entry.
Features use the eval transform (resize + center crop), so the probe sees no augmentation.
Under torchrun the features are computed once, not once per process: each rank extracts its
contiguous block of every split, the blocks are gathered on every rank, and only rank 0 reads
and writes the cache (on a hit it sends the entry to the other ranks), so the cache folder need
only exist on rank 0's machine.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgetl._io import atomic_write
from edgetl.errors import EdgetlError
from edgetl.progress import Reporter
from edgetl.train import distributed


@dataclass
class FeatureSet:
    train_x: torch.Tensor  # (N_train, D) float32
    train_y: torch.Tensor  # (N_train,) int64
    val_x: torch.Tensor
    val_y: torch.Tensor
    path: Path | None = None
    hit: bool = False
    seconds: float = 0.0  # time spent computing them (0 on a cache hit)


def backbone_hash(model: torch.nn.Module) -> str:
    """sha256 of every tensor outside the classifier(s): the exact weights that make the features.

    Every head counts as classifier (LeViT's and DeiT-distilled's `get_classifier()` is a tuple),
    its buffers too (LeViT's NormLinear carries BatchNorm statistics)."""
    from edgetl.models.heads import head_modules

    head = {id(t) for m in head_modules(model) for t in (*m.parameters(), *m.buffers())}
    h = hashlib.sha256()
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in head:
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def feature_key(
    model_name: str, weights_hash: str, data_fingerprint: str, transform: Any, data_config: dict
) -> str:
    from edgetl import __version__
    from edgetl.runtime.image import PIXELS_VERSION

    blob = json.dumps(
        {
            "model": model_name,
            "weights": weights_hash,
            "data": data_fingerprint,
            "transform": repr(transform),
            "data_config": {
                k: list(v) if isinstance(v, tuple) else v for k, v in sorted(data_config.items())
            },
            "edgetl": __version__,
            "pixels": PIXELS_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class FeatureCache:
    """A folder of `<key>.safetensors` feature files."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key[:40]}.safetensors"

    def load(self, key: str) -> FeatureSet | None:
        from safetensors import safe_open

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                if (f.metadata() or {}).get("key") != key:
                    return None
                t = {k: f.get_tensor(k) for k in ("train_x", "train_y", "val_x", "val_y")}
        except Exception:  # a damaged entry is recomputed, never trusted
            return None
        return FeatureSet(**t, path=path, hit=True)

    def save(self, key: str, feats: FeatureSet, meta: dict[str, str]) -> Path:
        from safetensors.torch import save_file

        path = self.path(key)
        tensors = {
            "train_x": feats.train_x.contiguous(),
            "train_y": feats.train_y.contiguous(),
            "val_x": feats.val_x.contiguous(),
            "val_y": feats.val_y.contiguous(),
        }
        atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"key": key, **meta}))
        return path


@torch.inference_mode()
def extract_features(
    model: torch.nn.Module, loader: Any, device: torch.device, advance: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled pre-logits features (`forward_head(pre_logits=True)`) of every batch, in eval mode, fp32."""
    from edgetl.models.layout import channels_last

    was_training = model.training
    model.eval()
    xs, ys = [], []
    try:
        for x, y in loader:
            x = channels_last(x.to(device, non_blocking=True))
            f = model.forward_head(model.forward_features(x), pre_logits=True)
            xs.append(f.float().flatten(1).cpu())
            ys.append(torch.as_tensor(y, dtype=torch.long))
            if advance:
                advance()
    finally:
        model.train(was_training)
    return torch.cat(xs), torch.cat(ys)


def get_features(
    model: torch.nn.Module,
    splits: Any,
    data_config: dict,
    cache: FeatureCache,
    device: torch.device,
    reporter: Reporter,
    batch_size: int = 64,
    num_workers: int = 0,
    model_name: str = "",
) -> FeatureSet:
    """Cached features of splits.train and splits.val; computes and stores them on a miss."""
    from edgetl.data import ImageDataset, build_transform

    transform = build_transform(data_config, train=False)
    key = feature_key(model_name, backbone_hash(model), splits.fingerprint, transform, data_config)
    found = cache.load(key) if distributed.is_main() else None
    if distributed.from_main(lambda: found is not None):
        if found is not None:
            reporter.info(f"feature cache hit: {found.path}")
        if distributed.active():
            tensors = distributed.broadcast_tensors(_tensors(found) if found is not None else None)
            found = found or FeatureSet(**tensors, hit=True)
        assert found is not None
        return found
    start = time.perf_counter()
    out = {}
    for split in ("train", "val"):
        ds = ImageDataset(getattr(splits, split), transform)
        if num_workers:
            ds.share_failures()
        part = torch.utils.data.Subset(ds, distributed.block(len(ds))) if distributed.active() else ds
        loader = torch.utils.data.DataLoader(
            part, batch_size=batch_size, shuffle=False, num_workers=num_workers
        )
        with reporter.task(f"features {split}", total=len(loader)) as advance:
            if len(part):
                x, y = extract_features(model, loader, device, advance)
            else:  # more processes than images: this rank has none
                x, y = torch.empty((0, 0)), torch.empty(0, dtype=torch.long)
        out[split] = distributed.gather_rows(x), distributed.gather_rows(y)
        failed = [f for fs in distributed.all_gather_objects(ds.failed) for f in fs]
        if failed:
            from edgetl.data import skipped_message

            reporter.warn(f"while computing features, {skipped_message(failed)} (replaced by neighbours)")
    feats = FeatureSet(out["train"][0], out["train"][1], out["val"][0], out["val"][1])
    feats.seconds = time.perf_counter() - start
    if not distributed.is_main():
        return feats
    meta = {"model": model_name, "data": splits.fingerprint, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    world = distributed.world_size()
    try:
        feats.path = cache.save(key, feats, meta)
        reporter.info(
            f"feature cache miss: computed {len(feats.train_x) + len(feats.val_x)} feature vectors "
            f"in {feats.seconds:.1f}s{f' on {world} processes' if world > 1 else ''}, saved {feats.path}"
        )
    except (EdgetlError, OSError) as e:  # an unwritable cache costs the next run time, not this run
        reporter.warn(
            f"could not write the feature cache in {cache.root} ({e}); set --cache-dir to a writable folder"
        )
    return feats


def _tensors(feats: FeatureSet) -> dict[str, torch.Tensor]:
    return {k: getattr(feats, k) for k in ("train_x", "train_y", "val_x", "val_y")}


__all__ = ["FeatureCache", "FeatureSet", "backbone_hash", "extract_features", "feature_key", "get_features"]
