"""`edgetl predict MODEL.onnx IMAGE_OR_DIR...`: top-k labels per image from an exported model.

    edgetl predict runs/ants/export/model-int8-cpu-x86.onnx photo.jpg data/val --topk 2
    edgetl predict model.onnx data/val --json > predictions.json

Folders are walked recursively. When images sit in sub-folders named like the model's labels
(an ImageFolder val split), the top-1 accuracy over them is printed at the end; it counts the
same images `edgetl bench --data` scores. An unreadable file gets one error line and the rest
go on; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="classify images with an exported .onnx model (torch-free runtime)",
        description="Print the top-k labels of each image (folders are walked). "
        "Folders of <label>/ sub-folders also give the top-1 accuracy.",
    )
    p.add_argument("model", metavar="MODEL.onnx", help="a model written by edgetl export")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files and/or folders")
    p.add_argument("--topk", type=int, default=5, help="labels to show per image (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument(
        "--providers",
        default="auto",
        help="auto (CUDA when a GPU really works, else CPU), cpu, cuda, tensorrt",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="onnxruntime intra-op threads (default: its own)"
    )
    p.add_argument("--batch", type=int, default=16, help="images per inference call (default 16)")
    return p


def run(args: argparse.Namespace) -> int:
    import warnings

    from edgetl.bench.data import find_images, folder_label
    from edgetl.errors import EdgetlError
    from edgetl.runtime import BadImageError, Classifier, ProviderFallbackWarning, load_rgb
    from edgetl.runtime.files import shown  # names need not be UTF-8; stdout and JSON must be

    if args.topk < 1:
        raise EdgetlError(f"--topk must be >= 1, got {args.topk}")
    if args.batch < 1:
        raise EdgetlError(f"--batch must be >= 1, got {args.batch}")
    providers = (
        [p.strip() for p in args.providers.split(",")] if "," in args.providers else args.providers.strip()
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProviderFallbackWarning)
        clf = Classifier.load(args.model, providers=providers, threads=args.threads, topk=args.topk)
    for w in caught:
        print(f"edgetl predict: warning: {w.message}", file=sys.stderr)

    targets, problems = find_images(args.inputs)
    errors: list[dict] = [{"path": shown(path), "error": why} for path, why in problems]
    for e in errors:
        print(f"edgetl predict: error: {e['path']}: {e['error']}", file=sys.stderr)
    results: list[dict] = []
    correct = labelled = 0

    def flush(batch: list) -> None:
        nonlocal correct, labelled
        if not batch:
            return
        preds = clf.predict_batch([img for _, img in batch], topk=args.topk)
        for (t, _), pred in zip(batch, preds, strict=True):
            truth = folder_label(t, clf.labels)
            rec = {"path": shown(t.path), **pred.to_dict(), "truth": truth}
            results.append(rec)
            if truth is not None:
                labelled += 1
                correct += int(pred.label == truth)
            if not args.json:
                tops = ", ".join(f"{lab} {p:.4f}" for lab, p in pred.topk)
                mark = (
                    "" if truth is None else (" [ok]" if pred.label == truth else f" [wrong: true {truth}]")
                )
                print(
                    f"{shown(t.path)}: {pred.label} {pred.score:.4f}{mark} | top-{len(pred.topk)}: {tops}",
                    flush=True,
                )
        batch.clear()

    pending: list = []
    for t in targets:
        try:
            img = load_rgb(t.path)
        except BadImageError as e:
            errors.append({"path": shown(t.path), "error": shown(str(e))})
            print(f"edgetl predict: error: {e}", file=sys.stderr)
            continue
        pending.append((t, img))
        if len(pending) >= args.batch:
            flush(pending)
    flush(pending)

    accuracy = None
    if labelled:
        accuracy = {"top1": correct / labelled, "correct": correct, "images": labelled}
    if args.json:
        doc = {
            "model": shown(clf.path),
            "precision": clf.metadata.precision,
            "providers": clf.providers,
            "fallback": clf.fallback,
            "predictions": results,
            "errors": errors,
            "accuracy": accuracy,
        }
        print(json.dumps(doc, indent=2))
    else:
        if accuracy:
            print(
                f"top-1 accuracy: {100 * accuracy['top1']:.2f}% ({correct}/{labelled} images in label folders)"
            )
        print(
            f"{len(results)} image(s) classified, {len(errors)} failed; model {clf.path.name} on {clf.providers[0]}"
        )
    return 1 if errors else 0
