"""Metrics on small hand-computed examples, the printed block, and atomic plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgetl.metrics import classification_metrics, format_metrics, plot_confusion, plot_curves, softmax

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_binary_hand_computed():
    p1 = np.array([0.1, 0.6, 0.3, 0.8, 0.4])
    probs = np.stack([1 - p1, p1], axis=1)
    labels = np.array([0, 0, 0, 1, 1])
    m = classification_metrics(probs, labels, ["neg", "pos"])
    assert m["n"] == 5 and m["top1"] == pytest.approx(0.6)
    assert m["top5"] == 1.0 and m["top5_k"] == 2
    assert m["confusion"] == [[2, 1], [1, 1]]
    assert m["per_class"]["neg"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}, abs=1e-6
    )
    assert m["per_class"]["pos"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}, abs=1e-6
    )
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2, abs=1e-6)
    # positive-class AUC: pairs (pos > neg): 0.8 beats 3, 0.4 beats 2 -> 5/6
    assert m["auc_macro_ovr"] == pytest.approx(5 / 6, abs=1e-6)
    json.dumps(m)


def test_binary_logits_give_same_auc_as_probabilities():
    logits = np.array([[2.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    m = classification_metrics(logits, np.array([0, 0, 1, 1]), ["a", "b"])
    assert m["top1"] == 0.5 and m["confusion"] == [[1, 1], [1, 1]]
    # softmax p(b): 0.269, 0.731 (neg) vs 0.269, 0.953 (pos): one tie, one loss, two wins -> 2.5/4
    assert m["auc_macro_ovr"] == pytest.approx(0.625)
    m2 = classification_metrics(softmax(logits), np.array([0, 0, 1, 1]), ["a", "b"])
    assert m2["auc_macro_ovr"] == m["auc_macro_ovr"]


def test_multiclass_hand_computed():
    probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.5, 0.45], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    labels = np.array([0, 1, 2, 2])
    m = classification_metrics(probs, labels, ["x", "y", "z"])
    assert m["top1"] == 0.75 and m["top5"] == 1.0 and m["top5_k"] == 3
    assert m["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert m["per_class"]["x"]["precision"] == 0.5 and m["per_class"]["x"]["recall"] == 1.0
    assert m["per_class"]["z"]["precision"] == 1.0 and m["per_class"]["z"]["recall"] == 0.5
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3, abs=1e-6)
    # one-vs-rest: x 1.0, y 1.0, z: pos {0.4, 0.6} vs neg {0.1, 0.45} -> 3/4; macro = 2.75/3
    assert m["auc_macro_ovr"] == pytest.approx(2.75 / 3, abs=1e-6)


def test_top5_with_more_classes():
    c = 7
    scores = np.tile(np.arange(c, 0, -1, dtype=float), (3, 1))  # class 0 ranks 1st ... class 6 ranks 7th
    labels = np.array([4, 5, 0])  # ranks 5, 6, 1
    m = classification_metrics(scores, labels, [f"c{i}" for i in range(c)])
    assert m["top5_k"] == 5
    assert m["top1"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["top5"] == pytest.approx(2 / 3, abs=1e-6)


def test_auc_undefined_when_a_class_is_absent():
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]])
    m = classification_metrics(probs, np.array([0, 1]), ["a", "b", "c"])
    assert m["auc_macro_ovr"] is None
    assert m["auc_note"] == "AUC undefined: no samples of c"
    assert m["per_class"]["c"]["support"] == 0
    assert m["macro_f1"] == 1.0  # over the classes present in the labels
    assert "AUC(ovr, macro)=n/a" in format_metrics(m)


def test_empty_and_bad_shapes():
    m = classification_metrics(np.zeros((0, 2)), np.zeros(0, int), ["a", "b"])
    assert m["n"] == 0 and m["top1"] is None and m["confusion"] == [[0, 0], [0, 0]]
    json.dumps(m)
    format_metrics(m)
    with pytest.raises(ValueError, match=r"scores must be \(N, 3\)"):
        classification_metrics(np.zeros((2, 2)), np.zeros(2, int), ["a", "b", "c"])
    with pytest.raises(ValueError, match="labels must be in"):
        classification_metrics(np.zeros((2, 2)), np.array([0, 2]), ["a", "b"])


def test_format_metrics_block():
    probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.5, 0.45], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    text = format_metrics(classification_metrics(probs, np.array([0, 1, 2, 2]), ["ant", "bee", "wasp"]))
    lines = text.splitlines()
    assert lines[0] == "n=4  top1=75.00%  top3=100.00%  macro-F1=0.7778  AUC(ovr, macro)=0.9167"
    assert lines[1].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[2].split() == ["ant", "0.5000", "1.0000", "0.6667", "1"]
    assert "confusion (rows = true, columns = predicted):" in lines
    assert lines[-1].split() == ["wasp", "1", "0", "1"]
    assert lines[-4].split() == ["ant", "bee", "wasp"]


def _assert_png(path):
    assert path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 2000
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_plot_confusion_and_curves(tmp_path):
    out = plot_confusion([[5, 1], [2, 7]], ["ants", "bees"], tmp_path / "eval" / "confusion.png")
    _assert_png(out)
    many = np.random.default_rng(0).integers(0, 9, (12, 12)).tolist()
    _assert_png(plot_confusion(many, [f"class_{i}" for i in range(12)], tmp_path / "many.png"))
    rows = [  # as csv.DictReader gives them: strings, empty cells
        {
            "epoch": "0",
            "stage": "linear-probe",
            "train_loss": "0.9",
            "train_acc": "0.6",
            "val_loss": "0.7",
            "val_acc": "0.7",
        },
        {
            "epoch": "1",
            "stage": "linear-probe",
            "train_loss": "0.5",
            "train_acc": "0.8",
            "val_loss": "",
            "val_acc": "",
        },
        {
            "epoch": "2",
            "stage": "finetune",
            "train_loss": "0.3",
            "train_acc": "0.9",
            "val_loss": "0.2",
            "val_acc": "0.95",
        },
    ]
    _assert_png(plot_curves(rows, tmp_path / "curves.png"))
    _assert_png(plot_curves(rows[:1], tmp_path / "one.png"))


def test_failed_plot_keeps_previous_file(tmp_path, monkeypatch):
    import matplotlib.figure

    path = plot_confusion([[1, 0], [0, 1]], ["a", "b"], tmp_path / "confusion.png")
    before = path.read_bytes()

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_confusion([[3, 0], [0, 3]], ["a", "b"], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png"]
