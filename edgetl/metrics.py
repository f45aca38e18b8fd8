"""Classification metrics and plots shared by training eval, export gates, bench and the report.

    m = classification_metrics(logits, labels, ["ants", "bees"])
    print(format_metrics(m))
    plot_confusion(m["confusion"], ["ants", "bees"], run_dir / "eval" / "confusion.png")
    plot_curves(rows_from_metrics_csv, run_dir / "curves.png")

Numbers come from scikit-learn; the returned dict is plain JSON (floats, ints, lists, None).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgetl._io import atomic_path


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable; rows that already sum to 1 (probabilities) are kept."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size and np.all(s >= 0) and np.allclose(s.sum(axis=1), 1.0, atol=1e-4):
        return s
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _f(x: float) -> float:
    return float(round(float(x), 6))


def classification_metrics(
    scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Top-1/top-k, per-class precision/recall/F1, macro F1, macro one-vs-rest AUC and the confusion matrix.

    `scores` is (N, C) logits or probabilities; `labels` is (N,) ints in [0, C). Macro F1 averages the
    classes present in `labels`; AUC is None (with `auc_note`) when a class has no sample, since
    one-vs-rest AUC is undefined for it.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    names = list(class_names)
    c = len(names)
    if scores.ndim != 2 or scores.shape[1] != c:
        raise ValueError(f"scores must be (N, {c}) for {c} classes, got shape {scores.shape}")
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(f"{scores.shape[0]} score rows but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(f"labels must be in [0, {c}), got range [{labels.min()}, {labels.max()}]")
    n = int(labels.shape[0])
    k = min(5, c)
    out: dict[str, Any] = {"n": n, "num_classes": c, "top1": None, "top5": None, "top5_k": k}
    if n == 0:
        out.update(
            per_class={},
            macro_f1=None,
            auc_macro_ovr=None,
            auc_note="no samples",
            confusion=[[0] * c for _ in range(c)],
        )
        return out

    pred = scores.argmax(axis=1)
    # Top-k: the label is among the k highest scores (ties broken by index, like torch.topk).
    topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out["top1"] = _f((pred == labels).mean())
    out["top5"] = _f((topk == labels[:, None]).any(axis=1).mean())

    all_labels = list(range(c))
    p, r, f1, support = precision_recall_fscore_support(labels, pred, labels=all_labels, zero_division=0)
    out["per_class"] = {
        name: {"precision": _f(p[i]), "recall": _f(r[i]), "f1": _f(f1[i]), "support": int(support[i])}
        for i, name in enumerate(names)
    }
    present = support > 0
    out["macro_f1"] = _f(f1[present].mean()) if present.any() else None

    probs = softmax(scores)
    missing = [names[i] for i in range(c) if not present[i]]
    auc, note = None, None
    if missing:
        note = f"AUC undefined: no samples of {', '.join(missing)}"
    else:
        try:
            if c == 2:
                auc = roc_auc_score(labels, probs[:, 1])
            else:
                auc = roc_auc_score(labels, probs, multi_class="ovr", average="macro", labels=all_labels)
        except ValueError as e:
            note = f"AUC undefined: {e}"
    out["auc_macro_ovr"] = _f(auc) if auc is not None and not math.isnan(auc) else None
    if note:
        out["auc_note"] = note
    out["confusion"] = confusion_matrix(labels, pred, labels=all_labels).astype(int).tolist()
    return out


def as_number(v: Any) -> float | None:
    """`v` as a float for display; None for None, NaN, a bool or anything that is not a number."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def percent(x: Any, digits: int = 2, missing: str = "-", width: int = 0) -> str:
    """A fraction as percent text, the one way every report, table and line shows one.

    percent(0.94771) -> "94.77%"; percent(0.886, 1, width=5) -> " 88.6%"; None, NaN or a
    non-number -> `missing` (each caller keeps its own mark: "-", "n/a", ...).
    """
    f = as_number(x)
    return missing if f is None else f"{100 * f:{width}.{digits}f}%"


def format_metrics(m: dict[str, Any]) -> str:
    """A printable block: headline numbers, per-class table and confusion matrix (rows = true class)."""
    auc = "n/a" if m.get("auc_macro_ovr") is None else f"{m['auc_macro_ovr']:.4f}"
    f1 = "n/a" if m.get("macro_f1") is None else f"{m['macro_f1']:.4f}"
    k = m.get("top5_k", 5)
    top1, topk = (percent(m.get(key), missing="n/a") for key in ("top1", "top5"))
    lines = [f"n={m['n']}  top1={top1}  top{k}={topk}  macro-F1={f1}  AUC(ovr, macro)={auc}"]
    if m.get("auc_note"):
        lines.append(f"  ({m['auc_note']})")
    per = m.get("per_class") or {}
    if per:
        w = max(5, *(len(n) for n in per))
        lines.append(f"{'class':<{w}}  precision  recall      f1  support")
        for name, v in per.items():
            lines.append(
                f"{name:<{w}}  {v['precision']:>9.4f}  {v['recall']:>6.4f}  {v['f1']:>6.4f}  {v['support']:>7d}"
            )
        conf = m.get("confusion") or []
        names = list(per)
        if conf:
            cw = max(4, *(len(str(x)) for row in conf for x in row), *(len(n) for n in names))
            lines.append("confusion (rows = true, columns = predicted):")
            lines.append(" " * w + "  " + " ".join(f"{n[:cw]:>{cw}}" for n in names))
            for name, row in zip(names, conf, strict=False):
                lines.append(f"{name:<{w}}  " + " ".join(f"{x:>{cw}d}" for x in row))
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _pyplot()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def plot_confusion(
    confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: str | os.PathLike
) -> Path:
    """Confusion-matrix heat map with counts (rows = true class), written atomically as PNG."""
    plt = _pyplot()
    cm = np.asarray(confusion, dtype=np.int64)
    names = list(class_names)
    c = len(names)
    side = min(4 + 0.45 * c, 24)
    fig, ax = plt.subplots(figsize=(side, side * 0.85))
    im = ax.imshow(cm, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(c), labels=names, rotation=45 if c > 4 else 0, ha="right" if c > 4 else "center")
    ax.set_yticks(range(c), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = cm.sum()
    acc = np.trace(cm) / total if total else 0.0
    ax.set_title(f"confusion matrix (n={total}, accuracy {100 * acc:.1f}%)")
    if c <= 30:
        thresh = cm.max() / 2 if cm.size else 0
        for i in range(c):
            for j in range(c):
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    color="white" if cm[i, j] > thresh else "black",
                )
    return _save(fig, path)


def plot_curves(metrics_rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Loss and accuracy vs epoch (train and val) from metrics.csv rows; stage changes marked.

    Rows need `epoch`; `stage`, `train_loss`, `val_loss`, `train_acc`, `val_acc` are used when present
    (values may be strings, as read by csv.DictReader; empty cells are gaps).
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    rows = list(metrics_rows)
    epochs = [as_number(r.get("epoch")) for r in rows]
    x = [e if e is not None else i for i, e in enumerate(epochs)]
    if any(b < a for a, b in zip(x, x[1:], strict=False)):  # epochs restart per stage: plot in row order
        x = list(range(len(rows)))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "-o"), ("val", "-s")):
            ys = [as_number(r.get(f"{split}_{key}")) for r in rows]
            pts = [(xi, y) for xi, y in zip(x, ys, strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    stages = [str(r.get("stage") or "") for r in rows]
    for i in range(1, len(rows)):
        if stages[i] != stages[i - 1]:
            boundary = (x[i - 1] + x[i]) / 2
            for ax in (ax_loss, ax_acc):
                ax.axvline(boundary, color="grey", linestyle="--", linewidth=1)
            ax_acc.text(
                boundary, 1.0, f" {stages[i]}", transform=ax_acc.get_xaxis_transform(), va="top", fontsize=8
            )
    if rows and stages[0]:
        ax_acc.text(x[0], 1.0, f" {stages[0]}", transform=ax_acc.get_xaxis_transform(), va="top", fontsize=8)
    for ax in (ax_loss, ax_acc):
        if ax.lines:
            ax.legend(loc="best")
    fig.tight_layout()
    return _save(fig, path)


__all__ = [
    "as_number",
    "classification_metrics",
    "format_metrics",
    "percent",
    "plot_confusion",
    "plot_curves",
    "softmax",
]
