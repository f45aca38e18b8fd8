"""`edgetl train`: flags -> TrainConfig -> `edgetl.train.train`.

    edgetl train --data data/hymenoptera --mode lp-ft
    edgetl train --config train/recipes/finetune.yaml --data photos --val-split 0.2 --lr 2e-4
    edgetl train --resume runs/tf_efficientnet_lite0-lp-ft-20250101-120000
    torchrun --nproc_per_node=2 -m edgetl train --data data/hymenoptera   # DDP, one process per GPU/CPU share

Flags are generated from TrainConfig's fields (each field's help text), so the CLI and the
library cannot drift apart. Only flags the user gave override the recipe; the rest come from
the recipe and then TrainConfig's defaults. Under torchrun an error is printed once, by rank 0;
a rank > 0 prints only errors of its own, prefixed with its rank.
"""

from __future__ import annotations

import argparse
import typing

from edgetl.cli._fields import add_fields, given


def add_parser(subparsers: typing.Any) -> argparse.ArgumentParser:
    from edgetl.train.config import TrainConfig

    p = subparsers.add_parser(
        "train",
        help="train a classifier on an image folder (linear-probe, finetune, lp-ft)",
        description="Transfer learning on a timm backbone. Writes RUN_DIR with config.yaml, metrics.csv, "
        "checkpoints/{best,last}.safetensors, curves.png and eval/.",
    )
    p.add_argument(
        "--config", metavar="RECIPE.yaml", help="YAML of option overrides (e.g. train/recipes/lp-ft.yaml)"
    )
    add_fields(p, TrainConfig)
    return p


def run(args: argparse.Namespace) -> int:
    from edgetl.config import ConfigError, load_config
    from edgetl.train import TrainConfig
    from edgetl.train.trainer import RESUME_MAY_CHANGE

    options = given(args, TrainConfig)
    if args.resume:
        extra = sorted(n for n in options if n not in RESUME_MAY_CHANGE)
        if extra or args.config:
            shown = ", ".join("--" + n.replace("_", "-") for n in extra) or "--config"
            raise ConfigError(
                f"--resume takes the options from the run's config.yaml; drop {shown} (start a new run to change them)"
            )
    cfg = load_config(TrainConfig, args.config, options)
    return _train_on_this_rank(cfg)


def _train_on_this_rank(cfg: typing.Any) -> int:
    import re

    from edgetl.errors import EdgetlError
    from edgetl.train import ranks, train

    rank = ranks.env_rank() if ranks.launched() else 0
    try:
        train(cfg)
    except ranks.PeerError:
        return 2  # rank 0 prints this error
    except EdgetlError as e:
        if rank == 0:
            raise
        raise EdgetlError(f"rank {rank}: {e}") from None
    except RuntimeError as e:  # a failed collective (gloo's are plain RuntimeErrors): a peer stopped first
        if not (ranks.launched() and _is_collective_failure(e)):
            raise
        first = re.sub(r"^\[[^\]]*\]\s*", "", (str(e).strip().splitlines() or [type(e).__name__])[0])
        first = first.split(". ")[0]  # gloo: 'Connection closed by peer [host]:port. This is typically ...'
        raise EdgetlError(
            f"rank {rank}: lost contact with the other processes ({first}); another rank probably "
            "stopped first: see its error"
        ) from None
    return 0


def _is_collective_failure(e: RuntimeError) -> bool:
    import torch.distributed as dist

    text = str(e).lower()
    return isinstance(e, dist.DistError) or "gloo" in text or "nccl" in text
