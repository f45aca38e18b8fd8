"""How each stage kind feeds the one training loop: what trains, which batches, which forward.

    runner = RUNNERS.get(stage.kind)(ctx)   # ProbeRunner or FinetuneRunner
    target = runner.prepare(model)          # the module whose parameters the optimizer updates
    for x, y in runner.train_batches(generator): ...

`probe`: the backbone is frozen and stays in eval mode (BatchNorm statistics untouched); batches
are cached feature vectors and only the classifier runs, so an epoch costs milliseconds.
`finetune`: every layer trains on augmented images; with `freeze_bn` the BatchNorm layers keep
their pretrained statistics and affine weights (eval mode), which small datasets cannot re-estimate.
Data order is a pure function of the generator the loop seeds per (seed, stage, epoch), which is
what makes `--resume` exact. `make_loader` is the single place a sampler is chosen (DDP hook).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgetl.registry import Registry
from edgetl.train.progress import Reporter


@dataclass
class RunnerContext:
    """What a runner factory may use; built once per run by the trainer."""

    cfg: Any  # TrainConfig
    splits: Any  # DataSplits
    data_config: dict
    device: torch.device
    num_workers: int
    reporter: Reporter
    feature_cache: Any = None  # FeatureCache, for probe stages


def _is_bn(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.batchnorm._BatchNorm)


def make_sampler(n: int, shuffle: bool, generator: torch.Generator | None) -> torch.utils.data.Sampler:
    """The one place that decides data order (a DistributedSampler goes here for multi-GPU runs)."""
    if shuffle:
        return torch.utils.data.RandomSampler(range(n), generator=generator)
    return torch.utils.data.SequentialSampler(range(n))


def make_loader(
    dataset: Any,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None,
    num_workers: int,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=make_sampler(len(dataset), shuffle, generator),
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,  # seeds the workers' RNGs too, so augmentation repeats with workers
        pin_memory=pin_memory,
        persistent_workers=False,
    )


class Runner:
    """Interface of a stage kind; see the module docstring."""

    kind = ""
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def prepare(self, model: nn.Module) -> nn.Module:
        raise NotImplementedError

    def set_train(self, model: nn.Module) -> None:
        raise NotImplementedError

    def num_batches(self) -> int:
        raise NotImplementedError

    def train_batches(self, generator: torch.Generator) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def val_batches(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        raise NotImplementedError

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and loss targets for a training batch (mixup/cutmix where enabled)."""
        return x, y


RUNNERS: Registry[Callable[[RunnerContext], Runner]] = Registry("stage kind")


@RUNNERS.register("probe")
class ProbeRunner(Runner):
    """Head only, on cached pooled features of the frozen backbone."""

    kind = "probe"

    def __init__(self, ctx: RunnerContext, features: Any = None):
        from edgetl.train.feature_cache import FeatureSet

        self.ctx = ctx
        self.features: FeatureSet | None = features
        self.drop = ctx.cfg.drop
        self.batch_size = ctx.cfg.batch_size
        self.criterion = nn.CrossEntropyLoss(label_smoothing=ctx.cfg.label_smoothing)

    def prepare(self, model: nn.Module) -> nn.Module:
        if self.features is None:
            from edgetl.train.feature_cache import get_features

            c = self.ctx
            self.features = get_features(
                model,
                c.splits,
                c.data_config,
                c.feature_cache,
                c.device,
                c.reporter,
                batch_size=max(64, c.cfg.batch_size),
                num_workers=c.num_workers,
                model_name=c.cfg.model,
            )
        model.requires_grad_(False)
        head = model.get_classifier()
        head.requires_grad_(True)
        return head

    def set_train(self, model: nn.Module) -> None:
        model.eval()  # frozen backbone: BatchNorm keeps its statistics; head dropout is applied in forward

    def _n_train(self) -> int:
        assert self.features is not None, "prepare() computes the features first"
        return len(self.features.train_x)

    def num_batches(self) -> int:
        return -(-self._n_train() // self.batch_size)

    def train_batches(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        f = self.features
        order = list(make_sampler(self._n_train(), True, generator))
        for i in range(0, len(order), self.batch_size):
            idx = torch.as_tensor(order[i : i + self.batch_size])
            yield f.train_x[idx], f.train_y[idx]

    def val_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        f = self.features
        step = 4096
        for i in range(0, len(f.val_x), step):
            yield f.val_x[i : i + step], f.val_y[i : i + step]

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        return model.get_classifier()(F.dropout(x, self.drop, training=training))


@RUNNERS.register("finetune")
class FinetuneRunner(Runner):
    """Every layer, on augmented images (timm transforms), with optional mixup/cutmix."""

    kind = "finetune"

    def __init__(self, ctx: RunnerContext):
        from edgetl.data import ImageDataset, build_transform

        cfg = self.cfg = ctx.cfg
        self.ctx = ctx
        self.train_ds = ImageDataset(
            ctx.splits.train, build_transform(ctx.data_config, train=True, aug=cfg.augment())
        )
        self.val_ds = ImageDataset(ctx.splits.val, build_transform(ctx.data_config, train=False))
        n = len(self.train_ds)
        self.batch_size = min(cfg.batch_size, n)
        self.mixup = None
        if cfg.mixup > 0 or cfg.cutmix > 0:
            from timm.data import Mixup
            from timm.loss import SoftTargetCrossEntropy

            self.mixup = Mixup(
                mixup_alpha=cfg.mixup,
                cutmix_alpha=cfg.cutmix,
                prob=cfg.mixup_prob,
                label_smoothing=cfg.label_smoothing,
                num_classes=len(ctx.splits.classes),
            )
            self.criterion = SoftTargetCrossEntropy()
            self.batch_size -= self.batch_size % 2  # timm's Mixup needs even batches
        else:
            self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        # Mixup needs full even batches; training-mode BatchNorm cannot take a batch of one.
        self.drop_last = self.mixup is not None or (n % self.batch_size == 1 and not cfg.freeze_bn)

    def prepare(self, model: nn.Module) -> nn.Module:
        model.requires_grad_(True)
        if self.cfg.freeze_bn:
            for m in model.modules():
                if _is_bn(m):
                    m.requires_grad_(False)
        return model

    def set_train(self, model: nn.Module) -> None:
        model.train()
        if self.cfg.freeze_bn:
            for m in model.modules():
                if _is_bn(m):
                    m.eval()

    def num_batches(self) -> int:
        n = len(self.train_ds)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def train_batches(self, generator: torch.Generator) -> torch.utils.data.DataLoader:
        return make_loader(
            self.train_ds,
            self.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=self.ctx.num_workers,
            drop_last=self.drop_last,
            pin_memory=self.ctx.device.type == "cuda",
        )

    def val_batches(self) -> torch.utils.data.DataLoader:
        return make_loader(
            self.val_ds,
            max(self.cfg.batch_size, 64),
            shuffle=False,
            generator=None,
            num_workers=self.ctx.num_workers,
            pin_memory=self.ctx.device.type == "cuda",
        )

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        return model(x)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mixup(x, y) if self.mixup is not None else (x, y)

    def failed(self) -> list[tuple[str, str]]:
        return [*self.train_ds.failed, *self.val_ds.failed]


class ImageEval(Runner):
    """Validation only: a loader of (image tensor, label) through the full model (`edgetl eval`)."""

    kind = "images"

    def __init__(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]):
        self.loader = loader

    def val_batches(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        return self.loader

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        return model(x)


__all__ = [
    "ImageEval",
    "RUNNERS",
    "FinetuneRunner",
    "ProbeRunner",
    "Runner",
    "RunnerContext",
    "make_loader",
    "make_sampler",
]
