"""`predict(cfg)`: top-k labels for image files and folders through an exported model, and the top-1
accuracy over the images that sit in label folders (the same images `edgetl bench --data` scores).
Torch-free: onnxruntime through `edgetl.runtime.Classifier`.

    cfg = PredictConfig(model="runs/ants/export/model-int8-cpu-x86.onnx", inputs=["photo.jpg", "val/"], topk=2)
    report = predict(cfg, on_result=lambda r: print(r.text()))    # one line per image, as they come
    print(report.accuracy)                                         # {"top1": 0.95, ...} or None

An unreadable file becomes an entry of `report.errors` (and one `reporter.error` line); the rest
go on. `PredictConfig`'s fields are `edgetl predict`'s arguments.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgetl.config import ConfigError, option
from edgetl.progress import Reporter
from edgetl.runtime import Prediction


@dataclass
class PredictConfig:
    model: str = option(help="a model written by edgetl export", positional=True, metavar="MODEL.onnx")
    inputs: list[str] = option(
        help="image files and/or folders", positional=True, nargs="+", metavar="IMAGE_OR_DIR"
    )
    topk: int = option(5, "labels to show per image (default 5)")
    providers: str = option("auto", "auto (CUDA when a GPU really works, else CPU), cpu, cuda, tensorrt")
    threads: int | None = option(None, "onnxruntime intra-op threads (default: its own)")
    batch: int = option(16, "images per inference call (default 16)")

    def __post_init__(self) -> None:
        for name in ("topk", "batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be >= 1, got {getattr(self, name)}")

    def provider_choice(self) -> str | list[str]:
        """--providers as the runtime takes it: a comma list is a preference order, else one name or auto."""
        p = self.providers
        return [x.strip() for x in p.split(",")] if "," in p else p.strip()


@dataclass
class ImageResult:
    path: str  # printable (edgetl.runtime.files.shown)
    prediction: Prediction
    truth: str | None  # the label folder it sits in, when that is one of the model's labels

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, **self.prediction.to_dict(), "truth": self.truth}

    def text(self) -> str:
        """'val/ants/1.jpg: ants 0.9731 [ok] | top-2: ants 0.9731, bees 0.0269'."""
        pred, truth = self.prediction, self.truth
        tops = ", ".join(f"{lab} {p:.4f}" for lab, p in pred.topk)
        mark = "" if truth is None else (" [ok]" if pred.label == truth else f" [wrong: true {truth}]")
        return f"{self.path}: {pred.label} {pred.score:.4f}{mark} | top-{len(pred.topk)}: {tops}"


@dataclass
class PredictReport:
    model: str
    model_name: str
    precision: str
    providers: list[str]
    fallback: str | None
    predictions: list[ImageResult]
    errors: list[dict[str, str]]  # {"path", "error"}

    @property
    def accuracy(self) -> dict[str, Any] | None:
        """Top-1 over the images in label folders; None when there are none."""
        labelled = [r for r in self.predictions if r.truth is not None]
        if not labelled:
            return None
        correct = sum(r.prediction.label == r.truth for r in labelled)
        return {"top1": correct / len(labelled), "correct": correct, "images": len(labelled)}

    def to_dict(self) -> dict[str, Any]:
        """The `edgetl predict --json` document."""
        head = {k: getattr(self, k) for k in ("model", "precision", "providers", "fallback")}
        rows = [r.to_dict() for r in self.predictions]
        return {**head, "predictions": rows, "errors": self.errors, "accuracy": self.accuracy}

    def summary_lines(self) -> list[str]:
        acc = self.accuracy
        lines = []
        if acc:
            lines.append(
                f"top-1 accuracy: {100 * acc['top1']:.2f}% ({acc['correct']}/{acc['images']} images in label folders)"
            )
        lines.append(
            f"{len(self.predictions)} image(s) classified, {len(self.errors)} failed; "
            f"model {self.model_name} on {self.providers[0]}"
        )
        return lines


def predict(
    cfg: PredictConfig,
    reporter: Reporter | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
) -> PredictReport:
    """Classify every image of `cfg.inputs` in batches of `cfg.batch`; `on_result` sees each in order."""
    from edgetl._resources import check_threads
    from edgetl.bench.data import find_images, folder_label
    from edgetl.runtime import BadImageError, Classifier, ProviderFallbackWarning, load_rgb
    from edgetl.runtime.files import shown  # names need not be UTF-8; stdout and JSON must be

    rep = reporter or Reporter(quiet=True)
    note = check_threads(cfg.threads, "--threads")  # refused far past the usable cores, warned past them
    if note:
        rep.warn(note)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProviderFallbackWarning)
        clf = Classifier.load(cfg.model, providers=cfg.provider_choice(), threads=cfg.threads, topk=cfg.topk)
    for w in caught:
        rep.warn(str(w.message))
    targets, problems = find_images(cfg.inputs)
    errors = [{"path": shown(path), "error": why} for path, why in problems]
    for e in errors:
        rep.error(f"{e['path']}: {e['error']}")
    results: list[ImageResult] = []

    def flush(batch: list) -> None:
        preds = clf.predict_batch([img for _, img in batch], topk=cfg.topk) if batch else []
        for (t, _), pred in zip(batch, preds, strict=True):
            results.append(ImageResult(shown(t.path), pred, folder_label(t, clf.labels)))
            if on_result is not None:
                on_result(results[-1])
        batch.clear()

    pending: list = []
    step = min(cfg.batch, clf.chunk_size)  # a model call takes chunk_size images: never hold more decoded
    for t in targets:
        try:
            pending.append((t, load_rgb(t.path)))
        except BadImageError as e:
            errors.append({"path": shown(t.path), "error": shown(str(e))})
            rep.error(str(e))
            continue
        if len(pending) >= step:
            flush(pending)
    flush(pending)
    return PredictReport(
        shown(clf.path), clf.path.name, clf.metadata.precision, clf.providers, clf.fallback, results, errors
    )


__all__ = ["ImageResult", "PredictConfig", "PredictReport", "predict"]
