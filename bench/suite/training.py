"""Training: the kit's default recipe vs a minimal hand-written PyTorch fine-tuning loop.

Both start from the same tf_efficientnet_lite0 offline ImageNet weights with a fresh head, on
the same ImageFolder. The kit runs `edgetl.train.train` with its defaults (lp-ft); the hand loop
is what a user writes from the PyTorch transfer-learning tutorial: torchvision ImageFolder,
RandomResizedCrop + flip for training, Resize + CenterCrop for validation, AdamW on all
layers at a fixed learning rate, cross-entropy, for as many full-network epochs as the kit
fine-tunes. Time-to-95% is the sum of epoch times (train + validation) up to the first epoch
whose val accuracy reaches 95%; it excludes process start-up in both.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from suite.common import Clock

MODEL = "tf_efficientnet_lite0"
WEIGHTS = "efficientnet_lite0"
TARGET_ACC = 0.95


def _time_to(rows: list[dict[str, Any]], target: float) -> tuple[float | None, int | None]:
    total = 0.0
    for r in rows:
        total += float(r["seconds"])
        if float(r["val_acc"]) >= target:
            return round(total, 1), int(r["epoch"])
    return None, None


def run_kit(data: Path, workdir: Path) -> dict[str, Any]:
    from edgetl.train import TrainConfig, train

    cfg = TrainConfig(
        data=str(data), model=MODEL, pretrained=WEIGHTS, out=str(workdir / "kit-run"),
        cache_dir=str(workdir / "kit-cache"), quiet=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    res = train(cfg)
    wall = time.perf_counter() - t0
    with open(res.run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ft = [r for r in rows if r["stage"] not in ("probe", "linear-probe")]
    n_train = json.loads((res.run_dir / "data.json").read_text())["num_train"]
    ttt, epoch = _time_to(rows, TARGET_ACC)
    return {
        "recipe": f"edgetl train --data DIR --model {MODEL} --pretrained {WEIGHTS} (defaults: mode {cfg.mode}, "
        f"{cfg.lp_epochs} probe + {cfg.epochs} fine-tune epochs, lr {cfg.lr}, layer decay {cfg.layer_decay})",
        "run_dir": str(res.run_dir),
        "val_acc": round(float(res.best_metrics["val_acc"]), 4),
        "best_epoch": res.best_epoch,
        "best_stage": res.best_stage,
        "epochs_run": res.epochs_run,
        "finetune_epochs": cfg.epochs,
        "wall_s": round(wall, 1),
        "time_to_95_s": ttt,
        "epoch_reached_95": epoch,
        "finetune_epoch_s": [round(float(r["seconds"]), 1) for r in ft],
        "finetune_images_per_s": round(n_train / (sum(float(r["seconds"]) for r in ft) / len(ft)), 2) if ft else None,
        "curve": [{"epoch": int(r["epoch"]), "stage": r["stage"], "val_acc": float(r["val_acc"]), "seconds": float(r["seconds"])} for r in rows],
    }  # fmt: skip


def run_hand_loop(
    data: Path, epochs: int, lr: float = 1e-4, batch: int = 32, seed: int = 0
) -> dict[str, Any]:
    """The minimal loop a user would write (kept deliberately plain)."""
    import torch
    import torchvision
    from torchvision import transforms as T

    from edgetl.models import create_classifier

    torch.manual_seed(seed)
    t_start = time.perf_counter()
    train_ds = torchvision.datasets.ImageFolder(str(data / "train"))
    val_ds = torchvision.datasets.ImageFolder(str(data / "val"))
    model, info = create_classifier(MODEL, len(train_ds.classes), WEIGHTS)
    size = info.data_config["input_size"][-1]
    norm = T.Normalize(info.data_config["mean"], info.data_config["std"])
    train_ds.transform = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    val_ds.transform = T.Compose([T.Resize(int(size / 0.875)), T.CenterCrop(size), T.ToTensor(), norm])
    train_dl = torch.utils.data.DataLoader(train_ds, batch_size=batch, shuffle=True, num_workers=0)
    val_dl = torch.utils.data.DataLoader(val_ds, batch_size=batch, shuffle=False, num_workers=0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    rows = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for x, y in train_dl:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        t_train = time.perf_counter() - t0
        model.eval()
        correct = 0
        with torch.inference_mode():
            for x, y in val_dl:
                correct += int((model(x).argmax(1) == y).sum())
        rows.append(
            {
                "epoch": epoch,
                "val_acc": correct / len(val_ds),
                "seconds": time.perf_counter() - t0,
                "train_s": t_train,
            }
        )
    wall = time.perf_counter() - t_start
    ttt, ep = _time_to(rows, TARGET_ACC)
    return {
        "recipe": f"torchvision ImageFolder, RandomResizedCrop({size}) + flip, AdamW(lr={lr}) on all layers, "
        f"batch {batch}, {epochs} epochs, no schedule",
        "val_acc": round(max(r["val_acc"] for r in rows), 4),
        "final_val_acc": round(rows[-1]["val_acc"], 4),
        "epochs_run": epochs,
        "wall_s": round(wall, 1),
        "time_to_95_s": ttt,
        "epoch_reached_95": ep,
        "epoch_s": [round(r["seconds"], 1) for r in rows],
        "images_per_s": round(len(train_ds) / (sum(r["seconds"] for r in rows) / len(rows)), 2),
        "curve": [{"epoch": r["epoch"], "val_acc": round(r["val_acc"], 4), "seconds": round(r["seconds"], 1)} for r in rows],
    }  # fmt: skip


def run(data: Path, workdir: Path | None = None, hand_epochs: int | None = None) -> dict[str, Any]:
    clock = Clock()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="edgetl-suite-"))
    kit = run_kit(data, workdir)
    hand = run_hand_loop(data, hand_epochs or kit["finetune_epochs"])
    ratios = {
        "val_acc_points_kit_minus_hand": round(100 * (kit["val_acc"] - hand["val_acc"]), 2),
        "wall_hand_over_kit": round(hand["wall_s"] / kit["wall_s"], 2),
        "time_to_95_hand_over_kit": (
            round(hand["time_to_95_s"] / kit["time_to_95_s"], 2)
            if kit["time_to_95_s"] and hand["time_to_95_s"]
            else None
        ),
        "finetune_throughput_kit_over_hand": (
            round(kit["finetune_images_per_s"] / hand["images_per_s"], 2)
            if kit["finetune_images_per_s"]
            else None
        ),
    }
    return {"kit": kit, "hand": hand, "ratios": ratios, "seconds": clock.seconds(), "run_dir": kit["run_dir"]}
