"""How each stage kind feeds the one training loop: what trains, which batches, which forward.

    runner = RUNNERS.get(stage.kind)(ctx)   # ProbeRunner or FinetuneRunner
    target = runner.prepare(model)          # the module whose parameters the optimizer updates
    for x, y in runner.train_batches(generator): ...

`probe`: the backbone is frozen and stays in eval mode (BatchNorm statistics untouched); batches
are cached feature vectors and only the classifier runs, so an epoch costs milliseconds.
`finetune`: every layer trains on augmented images; with `freeze_bn` the BatchNorm layers keep
their pretrained statistics and affine weights (eval mode), which small datasets cannot re-estimate.
Data order is a pure function of the generator the loop seeds per (seed, stage, epoch), which is
what makes `--resume` exact. `make_batch_sampler` and `make_loader` are the single place batches
are chosen: under torchrun each rank takes its share of every global batch one process would
train on, and its contiguous block of the validation set (see `edgetl.train.distributed`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgetl.models.heads import classifier_head
from edgetl.progress import Reporter
from edgetl.registry import Registry
from edgetl.train import distributed


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
    """The order one process visits n items in: seeded shuffle for training, in order otherwise."""
    if shuffle:
        return torch.utils.data.RandomSampler(range(n), generator=generator)
    return torch.utils.data.SequentialSampler(range(n))


def make_batch_sampler(
    n: int, batch_size: int, generator: torch.Generator | None, drop_last: bool = False, min_share: int = 1
) -> torch.utils.data.Sampler[list[int]]:
    """Training batches in `make_sampler`'s shuffled order; under torchrun, this rank's share of each.

    `batch_size` is the global batch. `min_share` (under torchrun) skips a short last batch that
    would leave a rank fewer items (2 where training BatchNorm cannot take one).
    """
    batches = torch.utils.data.BatchSampler(make_sampler(n, True, generator), batch_size, drop_last)
    if distributed.active():
        return distributed.RankBatches(batches, distributed.rank(), distributed.world_size(), min_share)
    return batches


def make_loader(
    dataset: Any,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None,
    num_workers: int,
    drop_last: bool = False,
    pin_memory: bool = False,
    min_share: int = 1,
) -> torch.utils.data.DataLoader:
    """shuffle=True: training batches (`make_batch_sampler`). shuffle=False: evaluation, in order;
    under torchrun only this rank's contiguous block (`predict` gathers the blocks)."""
    n = len(dataset)
    if shuffle:
        batch_sampler = make_batch_sampler(n, batch_size, generator, drop_last, min_share)
    else:
        order = distributed.block(n) if distributed.active() else make_sampler(n, False, None)
        batch_sampler = torch.utils.data.BatchSampler(order, batch_size, drop_last)
    if num_workers > 0 and hasattr(dataset, "share_failures"):
        dataset.share_failures()  # files that break inside a worker are reported here too
    if hasattr(dataset, "prefill"):
        dataset.prefill()  # --decode-once: decode every image now, on every core (workers inherit them)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=num_workers,
        generator=generator,  # seeds the workers' RNGs too, so augmentation repeats with workers
        worker_init_fn=distributed.worker_init_fn(),  # ranks > 0: their own augmentation
        pin_memory=pin_memory,
        persistent_workers=False,
    )


class Evaluator(abc.ABC):
    """What validation needs of a stage kind: batches and a forward pass (`loop.predict`)."""

    sharded = False  # under torchrun, val_batches yield this rank's block and `predict` gathers them

    @abc.abstractmethod
    def val_batches(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]: ...

    @abc.abstractmethod
    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor: ...


class Runner(Evaluator):
    """A trainable stage kind; see the module docstring."""

    kind = ""
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    @abc.abstractmethod
    def prepare(self, model: nn.Module) -> nn.Module: ...

    @abc.abstractmethod
    def set_train(self, model: nn.Module) -> None: ...

    @abc.abstractmethod
    def num_batches(self) -> int: ...

    @abc.abstractmethod
    def global_batch_sizes(self) -> list[int]:
        """Under torchrun: the full size of each global batch of an epoch (each rank's loss weight)."""

    @abc.abstractmethod
    def train_batches(self, generator: torch.Generator) -> Iterable[tuple[torch.Tensor, torch.Tensor]]: ...

    @abc.abstractmethod
    def train_forward(self, trainable: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Logits of a training batch through `prepare`'s module (DistributedDataParallel under torchrun)."""

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and loss targets for a training batch (mixup/cutmix where enabled)."""
        return x, y

    def begin_epoch(self, model: nn.Module, epoch: int, epochs: int) -> str | None:
        """Set up the stage's `epoch` of `epochs` (0-based) before its batches; a note for the log, or None."""
        return None


@torch.inference_mode()
def accepts_size(model: nn.Module, size: int, device: torch.device) -> bool:
    """Whether `model` runs on a `size` x `size` image (ViT-style models fix theirs at creation)."""
    was = model.training
    model.eval()
    try:
        model(torch.zeros(1, 3, size, size, device=device))
        return True
    except (AssertionError, RuntimeError, ValueError):
        return False
    finally:
        model.train(was)


RUNNERS: Registry[Callable[[RunnerContext], Runner]] = Registry("stage kind")


@RUNNERS.register("probe")
class ProbeRunner(Runner):
    """Head only, on cached pooled features of the frozen backbone."""

    kind = "probe"
    sharded = True

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
        head = classifier_head(model)  # one module even for LeViT's/DeiT-distilled's two heads
        head.requires_grad_(True)
        return head

    def set_train(self, model: nn.Module) -> None:
        model.eval()  # frozen backbone: BatchNorm keeps its statistics; head dropout is applied in forward

    def _n_train(self) -> int:
        assert self.features is not None, "prepare() computes the features first"
        return len(self.features.train_x)

    def _batches(self, generator: torch.Generator | None) -> torch.utils.data.Sampler[list[int]]:
        return make_batch_sampler(self._n_train(), self.batch_size, generator)

    def num_batches(self) -> int:
        return len(self._batches(None))

    def global_batch_sizes(self) -> list[int]:
        return self._batches(None).global_sizes()  # type: ignore[attr-defined]

    def train_batches(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        f = self.features
        for batch in self._batches(generator):
            idx = torch.as_tensor(batch)
            yield f.train_x[idx], f.train_y[idx]

    def val_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        f = self.features
        mine = distributed.block(len(f.val_x))
        step = 4096
        for i in range(mine.start, mine.stop, step):
            j = min(i + step, mine.stop)
            yield f.val_x[i:j], f.val_y[i:j]

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        return classifier_head(model)(F.dropout(x, self.drop, training=training))

    def train_forward(self, trainable: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return trainable(F.dropout(x, self.drop, training=True))


@RUNNERS.register("finetune")
class FinetuneRunner(Runner):
    """Every layer, on augmented images (timm transforms), with optional mixup/cutmix."""

    kind = "finetune"
    sharded = True

    def __init__(self, ctx: RunnerContext):
        from edgetl.data import ImageDataset, build_transform

        cfg = self.cfg = ctx.cfg
        self.ctx = ctx
        self.train_ds = ImageDataset(
            ctx.splits.train,
            build_transform(ctx.data_config, train=True, aug=cfg.augment()),
            decode_once=cfg.decode_once,
        )
        self.val_ds = ImageDataset(
            ctx.splits.val, build_transform(ctx.data_config, train=False), decode_once=cfg.decode_once
        )
        n = len(self.train_ds)
        world = distributed.world_size()
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
            self.batch_size -= self.batch_size % (2 * world)  # timm's Mixup needs even batches on every rank
        else:
            self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        # Mixup needs full even batches; training-mode BatchNorm cannot take a batch of one
        # (under torchrun: a share of one on any rank, which `min_share` rules out).
        bn_trains = not cfg.freeze_bn
        self.sizes: list[int] | None = None  # train crop size per epoch (--progressive), set by begin_epoch
        self.min_share = 2 if bn_trains else 1
        self.drop_last = self.mixup is not None or (world == 1 and n % self.batch_size == 1 and bn_trains)

    def prepare(self, model: nn.Module) -> nn.Module:
        model.requires_grad_(True)
        if self.cfg.freeze_bn:
            for m in model.modules():
                if _is_bn(m):
                    m.requires_grad_(False)
        else:
            distributed.sync_batchnorm(model, self.ctx.device)  # CUDA under torchrun: global-batch statistics
        return model

    def set_train(self, model: nn.Module) -> None:
        model.train()
        if self.cfg.freeze_bn:
            for m in model.modules():
                if _is_bn(m):
                    m.eval()

    def _batches(self) -> torch.utils.data.Sampler[list[int]]:
        return make_batch_sampler(len(self.train_ds), self.batch_size, None, self.drop_last, self.min_share)

    def num_batches(self) -> int:
        return len(self._batches())

    def global_batch_sizes(self) -> list[int]:
        return self._batches().global_sizes()  # type: ignore[attr-defined]

    def train_batches(self, generator: torch.Generator) -> torch.utils.data.DataLoader:
        return make_loader(
            self.train_ds,
            self.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=self.ctx.num_workers,
            drop_last=self.drop_last,
            pin_memory=self.ctx.device.type == "cuda",
            min_share=self.min_share,
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

    def train_forward(self, trainable: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return trainable(x)

    def mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mixup(x, y) if self.mixup is not None else (x, y)

    def begin_epoch(self, model: nn.Module, epoch: int, epochs: int) -> str | None:
        """Progressive resizing (--progressive): this epoch's train crop size; a note when planned.

        Off (the default, or a model/transform that cannot take it) leaves timm's transform untouched.
        """
        from edgetl.data.transforms import set_crop_size

        note = None
        if self.sizes is None:  # planned once per process (a resumed stage plans the same sizes)
            self.sizes, note = self._plan_sizes(model, epochs)
        if self.sizes:
            set_crop_size(self.train_ds.transform, self.sizes[min(epoch, len(self.sizes) - 1)])
        return note

    def _plan_sizes(self, model: nn.Module, epochs: int) -> tuple[list[int], str | None]:
        """(crop size per epoch, or [] when off; the note saying why it is off, or the sizes)."""
        from edgetl.train.speed import progressive_sizes

        _, h, w = self.ctx.data_config["input_size"]
        if self.cfg.progressive >= 1 or epochs <= 1:
            return [], None
        steps = getattr(self.train_ds.transform, "transforms", [])
        if h != w or not any("RandomResizedCrop" in type(t).__name__ for t in steps):
            return [], f"progressive resizing off: needs a square random-resized crop (input {h}x{w})"
        sizes = progressive_sizes(h, epochs, self.cfg.progressive)
        if not accepts_size(model, min(sizes), self.ctx.device):
            return (
                [],
                f"progressive resizing off: {type(model).__name__} takes only {h}x{w} inputs (fixed at creation)",
            )
        px = ", ".join(str(s) for s in sizes)
        return (
            sizes,
            f"progressive resizing: fine-tuning epochs train at {px} px (validation at {h}; --progressive 1 = off)",
        )

    def failed(self) -> list[tuple[str, str]]:
        return [*self.train_ds.failed, *self.val_ds.failed]


class ImageEval(Evaluator):
    """Validation only: a loader of (image tensor, label) through the full model (`edgetl eval`)."""

    kind = "images"

    def __init__(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]):
        self.loader = loader

    def val_batches(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        return self.loader

    def forward(self, model: nn.Module, x: torch.Tensor, training: bool) -> torch.Tensor:
        return model(x)


__all__ = [
    "Evaluator",
    "ImageEval",
    "RUNNERS",
    "FinetuneRunner",
    "ProbeRunner",
    "Runner",
    "RunnerContext",
    "make_batch_sampler",
    "make_loader",
    "make_sampler",
]
