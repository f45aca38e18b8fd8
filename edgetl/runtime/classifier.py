"""`Classifier`: an exported edgetl .onnx file as an image classifier, with no torch in sight.

    clf = Classifier.load("model.onnx", providers="auto", threads=2)
    p = clf.predict("bee.jpg")                 # one input -> one Prediction
    p.label, p.score, p.topk                   # "bees", 0.97, [("bees", 0.97), ("ants", 0.03)]
    ps = clf.predict(["a.jpg", pil_img, arr])  # a list (or an N x H x W x 3 uint8 array) -> list[Prediction]
    logits = clf.logits(batch)                 # already preprocessed (N, 3, H, W) float32 -> (N, classes)

Single in, single out; a batch (list/tuple, or a 4-D array) in, a list out; `predict_batch`
always returns a list. The preprocessing comes from the file's own metadata (see
`edgetl.runtime.metadata`), so the app needs nothing but the .onnx file. One `Classifier`
may serve many threads at once: onnxruntime's `run` is thread-safe and preprocessing is
stateless.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgetl._resources import check_threads
from edgetl.errors import EdgetlError
from edgetl.runtime.deploy import DEPLOY_JSON, load_deploy
from edgetl.runtime.engine import Engine, open_engine
from edgetl.runtime.external import check_external_data
from edgetl.runtime.image import load_rgb, to_rgb
from edgetl.runtime.metadata import ModelMetadata
from edgetl.runtime.preprocess import Preprocess

ImageInput = str | os.PathLike | Image.Image | np.ndarray
DEFAULT_CHUNK = 32  # images per onnxruntime call when the model's batch axis is dynamic

_ORT_TO_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


class InputError(EdgetlError, ValueError):
    """An input the model cannot take (wrong type, rank, dtype or size); says what it expects."""


@dataclass
class Prediction:
    label: str  # top-1 class name
    index: int  # top-1 class index into Classifier.labels
    score: float  # top-1 probability
    topk: list[tuple[str, float]] = field(default_factory=list)  # best first

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "index": self.index,
            "score": self.score,
            "topk": [{"label": lab, "prob": p} for lab, p in self.topk],
        }


class Classifier:
    """Load with `Classifier.load(path, ...)`; see the module docstring."""

    def __init__(self, path: Path, engine: Engine, metadata: ModelMetadata, topk: int, load_seconds: float):
        self.path = path
        self._engine = engine
        self.session = engine.session  # the runtime's own object (onnxruntime session, OpenVINO model)
        self.metadata = metadata
        self.labels: list[str] = list(metadata.labels)
        self.preprocess = Preprocess.from_metadata(metadata)
        self.topk = topk
        self.load_seconds = load_seconds
        inputs = engine.inputs()
        if len(inputs) != 1:
            raise EdgetlError(
                f"{path}: the model has {len(inputs)} inputs; an edgetl classifier has exactly one"
            )
        inp = inputs[0]
        self.input_name: str = inp.name
        self.input_shape: list[Any] = list(inp.shape)
        if inp.type not in _ORT_TO_NUMPY:
            raise EdgetlError(
                f"{path}: input {inp.name!r} has type {inp.type}; expected float, float16 or uint8"
            )
        self.input_dtype = np.dtype(_ORT_TO_NUMPY[inp.type])
        self._check_input_spec()
        outputs = {o.name: list(o.shape) for o in engine.outputs()}
        self.logits_name = "logits" if "logits" in outputs else next(iter(outputs))
        self.probs_name = "probs" if "probs" in outputs else None
        self._check_output_size(outputs[self.logits_name])
        b = self.input_shape[0]
        self.static_batch: int | None = b if isinstance(b, int) and b > 0 else None

    # ------------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        providers: str | Sequence[str] = "auto",
        threads: int | None = None,
        topk: int = 5,
        warn: bool = True,
        backend: str = "auto",
        precision: str | None = None,
    ) -> Classifier:
        """Open an edgetl .onnx file (or a deploy folder, see `edgetl.runtime.deploy`).

        providers: "auto" | "cpu" | "cuda" | "tensorrt" | a list of those or of onnxruntime provider
        names; threads: intra-op threads (None = the runtime's default); backend: "auto" (a deploy
        folder's own, else onnxruntime) | "onnxruntime" | "openvino"; precision: OpenVINO's
        "f32" | "bf16" (None: its default). `clf.backend` / `clf.precision` say what really runs."""
        path = Path(path)
        if path.is_dir() and (path / DEPLOY_JSON).exists():  # read_deploy refuses one that is not a file
            return load_deploy(cls, path, backend, providers, threads=threads, topk=topk, warn=warn)
        backend = "onnxruntime" if backend == "auto" else backend
        if not path.is_file():
            what = f"is a directory without {DEPLOY_JSON}" if path.is_dir() else "does not exist"
            raise EdgetlError(
                f"{path}: {what}; pass an .onnx file written by edgetl export (or a deploy folder: edgetl bench RUN_DIR)"
            )
        if topk < 1:
            raise EdgetlError(f"topk must be >= 1, got {topk}")
        check_threads(threads, "threads")  # far past the usable cores: refused
        check_external_data(path)
        t0 = time.perf_counter()
        engine = open_engine(path, backend, providers, threads=threads, warn=warn, precision=precision)
        load_seconds = time.perf_counter() - t0
        metadata = read_metadata(engine.metadata_props(), path)
        return cls(path, engine, metadata, topk, load_seconds)

    @property
    def backend(self) -> str:
        """The runtime that runs the graph: "onnxruntime" | "openvino"."""
        return self._engine.name

    @property
    def precision(self) -> str:
        """What the model really computes in: the file's precision, or bf16 when OpenVINO chose it."""
        chosen = self._engine.inference_precision
        if chosen == "bf16" and self.metadata.precision == "fp32":
            return "bf16"
        return self.metadata.precision

    @property
    def providers(self) -> list[str]:
        """What really runs: onnxruntime providers (first = where the graph runs), or the OpenVINO device."""
        return list(self._engine.used)

    @property
    def fallback(self) -> str | None:
        """Why the requested provider is not the one running (None when it is)."""
        return self._engine.fallback

    @property
    def device(self) -> str:
        return self._engine.device

    def __repr__(self) -> str:
        return (
            f"Classifier({self.path.name!r}, {len(self.labels)} classes, {self.backend} {self.precision}, "
            f"input {self.input_shape} {self.input_dtype}, providers={self.providers})"
        )

    def _check_input_spec(self) -> None:
        _, h, w = self.preprocess.input_size
        shape = self.input_shape
        if self.preprocess.layout == "nhwc-uint8":
            want, dtype_ok = [None, h, w, 3], self.input_dtype == np.uint8
        else:
            want, dtype_ok = [None, 3, h, w], self.input_dtype in (np.float32, np.float16)
        fixed_ok = len(shape) == 4 and all(
            not isinstance(s, int) or s <= 0 or x is None or s == x for s, x in zip(shape, want, strict=False)
        )
        if not (fixed_ok and dtype_ok):
            raise EdgetlError(
                f"{self.path}: input {self.input_name!r} is {shape} {self.input_dtype}, but the metadata says "
                f"{self.preprocess.layout} at {h}x{w}; the file's metadata does not match its graph (re-export it)"
            )

    def _check_output_size(self, shape: list[Any], found: str = "") -> None:
        """One label per model output: fewer crash decode, more name classes that can never win."""
        n = shape[-1] if len(shape) == 2 else None
        if len(shape) != 2 and shape:
            raise EdgetlError(
                f"{self.path}: output {self.logits_name!r} has shape {found or shape}; a classifier gives "
                "(batch, classes)"
            )
        if isinstance(n, int) and n > 0 and n != len(self.labels):
            raise EdgetlError(
                f"{self.path}: the model gives {n} class scores{found} but its metadata lists "
                f"{len(self.labels)} labels; set edgetl.labels to {n} class names (or re-export with edgetl export)"
            )

    # ---------------------------------------------------------------------------- inference

    def predict(
        self, x: ImageInput | Sequence[ImageInput], topk: int | None = None
    ) -> Prediction | list[Prediction]:
        """One image (path, PIL image, HxWx3 uint8 array) -> Prediction; a batch -> list[Prediction]."""
        if _is_batch(x):
            return self.predict_batch(x, topk)
        return self.predict_batch([x], topk)[0]

    def predict_batch(
        self, images: Sequence[ImageInput] | np.ndarray | Iterable[ImageInput], topk: int | None = None
    ) -> list[Prediction]:
        """Images -> one Prediction each, in order. Any number of them in bounded memory: they are
        decoded, preprocessed and run one chunk (`chunk_size`) at a time."""
        if isinstance(images, (str, os.PathLike, Image.Image)):
            images = [images]
        out: list[Prediction] = []
        for part in _chunks(images, self.chunk_size):
            out.extend(self.decode(self.probabilities(self.preprocess_batch(part)), topk))
        if not out:
            raise InputError("no images given")
        return out

    @property
    def chunk_size(self) -> int:
        """Images per onnxruntime call: the fixed batch of the graph, else DEFAULT_CHUNK."""
        return self.static_batch or DEFAULT_CHUNK

    def preprocess_batch(self, images: Sequence[ImageInput] | np.ndarray) -> np.ndarray:
        """Images -> the model's input batch, exactly as predict() feeds it."""
        if isinstance(images, np.ndarray):
            if images.ndim != 4:
                raise InputError(f"a batch array must be N x H x W x 3 uint8, got shape {images.shape}")
            images = list(images)
        elif isinstance(images, (str, os.PathLike, Image.Image)):
            images = [images]
        if len(images) == 0:
            raise InputError("no images given")
        # one image decoded at a time: only the (small) model inputs of the batch are held at once
        batch = np.stack([self.preprocess(to_image(im)) for im in images])
        return batch.astype(self.input_dtype, copy=False)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """A preprocessed batch (see `preprocess_batch`) -> (N, classes) float32 logits."""
        return self._run(batch, self.logits_name)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """A preprocessed batch -> (N, classes) float32 probabilities (the graph's "probs", or softmax)."""
        if self.probs_name:
            return self._run(batch, self.probs_name)
        return softmax(self._run(batch, self.logits_name))

    def decode(self, probs: np.ndarray, topk: int | None = None) -> list[Prediction]:
        """(N, classes) probabilities -> Predictions with the top-k labels."""
        k = min(int(topk or self.topk), len(self.labels))
        if k < 1:
            raise InputError(f"topk must be >= 1, got {topk}")
        self._check_output_size(list(probs.shape), f" (shape {tuple(probs.shape)} from the graph)")
        if not np.isfinite(probs).all():
            raise EdgetlError(
                f"{self.path.name}: the model gave non-finite scores (NaN or infinity); check the file's "
                "edgetl.mean/std metadata and its weights"
            )
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        out = []
        for row, idx in zip(probs, order, strict=True):
            top = [(self.labels[int(i)], float(row[i])) for i in idx]
            out.append(Prediction(label=top[0][0], index=int(idx[0]), score=top[0][1], topk=top))
        return out

    def _run(self, batch: np.ndarray, output: str) -> np.ndarray:
        batch = self._validate(batch)
        n = batch.shape[0]
        chunk = self.chunk_size
        parts = []
        for start in range(0, n, chunk):
            part = batch[start : start + chunk]
            real = part.shape[0]
            if self.static_batch and real < self.static_batch:  # fixed batch axis: pad, then drop the padding
                pad = np.zeros((self.static_batch - real, *part.shape[1:]), dtype=part.dtype)
                part = np.concatenate([part, pad])
            try:
                res = self._engine.run(output, part)
            except Exception as e:  # onnxruntime's errors carry C++ file/line noise
                raise EdgetlError(
                    f"{self.path.name}: {self.backend} inference failed on a batch of {real} ({e})"
                ) from None
            parts.append(np.asarray(res[:real], dtype=np.float32))
        return np.concatenate(parts)

    def _validate(self, batch: Any) -> np.ndarray:
        if not isinstance(batch, np.ndarray):
            raise InputError(f"expected a numpy array, got {type(batch).__name__}; use predict() for images")
        h, w = self.preprocess.size
        if self.preprocess.layout == "nhwc-uint8":
            want, ok_dtypes = (h, w, 3), (np.uint8,)
            what = f"N x {h} x {w} x 3 uint8 (NHWC, resized and cropped, not normalised)"
        else:
            want, ok_dtypes = (3, h, w), (np.float32, np.float16)
            what = f"N x 3 x {h} x {w} float32 (NCHW, normalised)"
        if batch.ndim != 4 or tuple(batch.shape[1:]) != want or batch.shape[0] == 0:
            raise InputError(f"input batch has shape {tuple(batch.shape)}; {self.path.name} expects {what}")
        if batch.dtype.type not in ok_dtypes:
            raise InputError(f"input batch has dtype {batch.dtype}; {self.path.name} expects {what}")
        return np.ascontiguousarray(batch, dtype=self.input_dtype)


# ----------------------------------------------------------------------------------- helpers


def to_image(x: ImageInput) -> Image.Image:
    """A path, PIL image or HxWx3 uint8 RGB array -> RGB PIL image (BadImageError/InputError otherwise)."""
    if isinstance(x, (str, os.PathLike)):
        return load_rgb(x)
    if isinstance(x, Image.Image):
        return to_rgb(x)
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3 or 0 in x.shape:
            raise InputError(
                f"an image array must be H x W x 3 uint8 RGB, got {x.dtype} {tuple(x.shape)}; "
                "for an already preprocessed batch use Classifier.logits()"
            )
        return Image.fromarray(np.ascontiguousarray(x), "RGB")
    raise InputError(
        f"cannot use a {type(x).__name__} as an image; pass a path, a PIL image or an H x W x 3 uint8 array"
    )


def _chunks(images: Any, n: int) -> Iterator[Any]:
    """Consecutive slices of a sequence or array, or lists from any other iterable, of at most n items."""
    if isinstance(images, (np.ndarray, Sequence)):
        for start in range(0, len(images), n):
            yield images[start : start + n]
        return
    if not isinstance(images, Iterable):
        raise InputError(
            f"cannot use a {type(images).__name__} as images; pass a list of paths, images or arrays"
        )
    it = iter(images)
    while part := list(itertools.islice(it, n)):
        yield part


def _is_batch(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return True
    return isinstance(x, np.ndarray) and x.ndim == 4


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def read_metadata(session: Any, path: Path) -> ModelMetadata:
    """The edgetl metadata of a loaded session (or its metadata_props dict), or an EdgetlError saying what is missing."""
    props = dict(session) if isinstance(session, dict) else dict(session.get_modelmeta().custom_metadata_map)
    try:
        md = ModelMetadata.from_props(props)  # checks every value's type, range and size
        Preprocess.from_metadata(md)  # validates interpolation, crop mode, layout
    except (ValueError, TypeError, EdgetlError) as e:
        hint = (
            "" if "edgetl export" in str(e) else "; fix the value or re-export the model with `edgetl export`"
        )
        raise EdgetlError(f"{path}: bad edgetl metadata: {e}{hint}") from None
    return md


__all__ = [
    "Classifier",
    "InputError",
    "Prediction",
    "check_external_data",
    "read_metadata",
    "softmax",
    "to_image",
]
