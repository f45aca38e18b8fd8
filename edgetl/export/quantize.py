"""INT8 variants with onnxruntime.quantization: dynamic (weights only) and static QDQ.

    reader = ArrayCalibrationReader(calib_inputs)                 # N preprocessed TRAIN images
    q = StaticQuantizer(fp32_path, scheme, reader, "minmax", workdir)
    q.quantize(workdir / "int8.onnx", exclude=["/blocks/blocks.0/Conv"])   # re-uses the calibration
    quantize_int8_dynamic(fp32_path, out_path, scheme)

Static INT8 follows onnxruntime's recipe: `quant_pre_process` (shape inference + basic graph
optimisation), QDQ format, per-channel weights, calibration ranges computed once and cached
(`calibration_cache_path`) so the accuracy budget can re-quantize with nodes kept in float
without calibrating again. The scheme (U8/S8, symmetric or not) comes from the target. Before
calibrating, the per-pattern policy (int8_policy: GELU float islands, ReduceMean -> pooling, ...)
rewrites the graph and names the nodes kept in float; `q.plan.applied` says what it did.
A node kept in float reads the float tensors: onnxruntime would otherwise hand it the same
DequantizeLinear output its quantized siblings read (`int8_graph.float_inputs`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod

from edgetl.errors import ExportError
from edgetl.export.targets import QuantScheme

CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
MAX_IMAGES_PER_PASS = 16  # calibration runs this many images, folds them into the ranges, frees them


def _qtype(name: str) -> Any:
    from onnxruntime.quantization import QuantType

    return {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}[name]


def stratified(samples: list, n: int, seed: int = 0) -> list:
    """Up to `n` samples taking classes in turn (shuffled within each class with `seed`)."""
    by_class: dict[int, list] = defaultdict(list)
    for s in samples:
        by_class[int(s[1])].append(s)
    rng = random.Random(seed)
    pools = []
    for label in sorted(by_class):
        items = list(by_class[label])
        rng.shuffle(items)
        pools.append(items)
    out: list = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop())
    return out


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds preprocessed images one at a time (works for static batch 1 too)."""

    def __init__(self, inputs: np.ndarray, input_name: str = "input"):
        self.inputs = inputs
        self.input_name = input_name
        self.start, self.end = 0, len(inputs)
        self._i = 0

    def __len__(self) -> int:
        return len(self.inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        """Used by onnxruntime's strided calibration (`CalibStridedMinMax`)."""
        self.start, self.end = start_index, min(end_index, len(self.inputs))
        self._i = self.start

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._i >= self.end:
            return None
        x = self.inputs[self._i : self._i + 1]
        self._i += 1
        return {self.input_name: x}

    def rewind(self) -> None:
        self.start, self.end, self._i = 0, len(self.inputs), 0


def _stride(n: int) -> int:
    """Largest divisor of n up to MAX_IMAGES_PER_PASS (onnxruntime requires an even split)."""
    return max(d for d in range(1, min(n, MAX_IMAGES_PER_PASS) + 1) if n % d == 0)


@contextlib.contextmanager
def quiet(level: int = logging.ERROR) -> Iterator[None]:
    """onnxruntime.quantization logs advice through the root logger; mute it while it runs."""
    root = logging.getLogger()
    old = root.level
    root.setLevel(max(old, level))
    try:
        yield
    finally:
        root.setLevel(old)


def preprocess(fp32_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """onnxruntime's `quant_pre_process`: symbolic shape inference + basic optimisation."""
    from onnxruntime.quantization import quant_pre_process

    try:
        with quiet():
            quant_pre_process(str(fp32_path), str(out_path), skip_symbolic_shape=False)
    except Exception as e:
        raise ExportError(f"int8: onnxruntime's quant_pre_process failed ({type(e).__name__}: {e})") from None
    return Path(out_path)


def quantize_int8_dynamic(
    fp32_path: str | os.PathLike, out_path: str | os.PathLike, scheme: QuantScheme
) -> Path:
    """Weights to INT8 ahead of time, activations quantized on the fly per batch."""
    from onnxruntime.quantization import quantize_dynamic

    try:
        with quiet():
            quantize_dynamic(
                str(fp32_path),
                str(out_path),
                weight_type=_qtype(scheme.weights),
                per_channel=scheme.per_channel,
                reduce_range=scheme.reduce_range,
            )
    except Exception as e:
        raise ExportError(
            f"int8-dynamic: onnxruntime's quantize_dynamic failed ({type(e).__name__}: {e})"
        ) from None
    return Path(out_path)


# Histogram settings. onnxruntime's Entropy default (128 bins, 128 quantized bins) leaves a single
# candidate threshold, i.e. it silently equals MinMax (measured: all 94 Lite0 scales identical), and
# quantize_static cannot change it; so edgetl calibrates itself and hands the ranges over via the cache.
HISTOGRAM_OPTIONS = {
    "entropy": {"num_bins": 512, "num_quantized_bins": 128},
    "percentile": {"num_bins": 2048, "percentile": 99.999},
    "minmax": {},
}


class StaticQuantizer:
    """Static QDQ quantization of one pre-processed model; calibrates once, quantizes many times."""

    def __init__(
        self,
        pre_path: str | os.PathLike,
        scheme: QuantScheme,
        reader: ArrayCalibrationReader,
        method: str,
        workdir: str | os.PathLike,
        always_exclude: list[str] | None = None,
        rules: list[str] | None = None,
    ):
        self.pre_path = Path(pre_path)
        self.scheme = scheme
        self.reader = reader
        self.method = method
        self.workdir = Path(workdir)
        self.cache = self.workdir / f"calibration-{method}.json"
        self.always_exclude = list(always_exclude or [])
        self.rules = rules
        self._plan: Any = None
        self._source: Path | None = None

    @property
    def plan(self) -> Any:
        """The per-pattern policy for this model (computed once; see int8_policy)."""
        if self._plan is None:
            import onnx

            from edgetl.export.int8_policy import plan_policy

            self._plan = plan_policy(onnx.load(str(self.pre_path)), self.rules)
        return self._plan

    @property
    def source(self) -> Path:
        """The pre-processed model with the policy's rewrites: what is calibrated and quantized."""
        if self._source is None:
            import onnx

            self._source = self.workdir / "int8-source.onnx"
            onnx.save(self.plan.model, str(self._source))
        return self._source

    def calibrate(self) -> Path:
        """Collect activation ranges over the calibration images (a few at a time) into the cache file."""
        from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
        from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

        if self.cache.exists():
            return self.cache
        options = {"symmetric": self.scheme.activation_symmetric, **HISTOGRAM_OPTIONS[self.method]}
        if self.method == "minmax":
            options["symmetric"] = False  # MinMax ranges stay raw; the quantizer symmetrizes them
        n = len(self.reader)
        step = _stride(n)
        try:
            with quiet(), contextlib.redirect_stdout(io.StringIO()):  # histogram calibrators print progress
                calibrator = create_calibrator(
                    self.source,
                    sorted(set(QLinearOpsRegistry) | set(QDQRegistry)),
                    augmented_model_path=str(self.workdir / f"augmented-{self.method}.onnx"),
                    calibrate_method=CALIBRATION_METHODS[self.method],
                    extra_options=options,
                )
                for start in range(0, n, step):
                    self.reader.set_range(start, start + step)
                    calibrator.collect_data(self.reader)
                save_tensors_data(calibrator.compute_data(), self.cache)
        except Exception as e:
            self.cache.unlink(missing_ok=True)
            raise ExportError(f"int8: {self.method} calibration failed ({type(e).__name__}: {e})") from None
        finally:
            self.reader.rewind()
        return self.cache

    def quantize(self, out_path: str | os.PathLike, exclude: list[str] | None = None) -> Path:
        """Write a QDQ model with `exclude` (and `always_exclude`) nodes left in float."""
        from onnxruntime.quantization import QuantFormat, quantize_static

        self.calibrate()
        s = self.scheme
        excluded = [*self.plan.exclude, *self.always_exclude, *(exclude or [])]
        cache = self.cache
        if self.plan.shared_ranges:
            from edgetl.export.int8_policy import shared_range_cache

            cache = shared_range_cache(
                self.cache, self.workdir / f"calibration-{self.method}-shared.json", self.plan.shared_ranges
            )
        try:
            with quiet():
                quantize_static(
                    str(self.source),
                    str(out_path),
                    None,
                    quant_format=QuantFormat.QDQ,
                    per_channel=s.per_channel,
                    reduce_range=s.reduce_range,
                    activation_type=_qtype(s.activations),
                    weight_type=_qtype(s.weights),
                    nodes_to_exclude=excluded,
                    calibrate_method=CALIBRATION_METHODS[self.method],
                    extra_options={
                        "ActivationSymmetric": s.activation_symmetric,
                        "WeightSymmetric": s.weight_symmetric,
                    },
                    calibration_cache_path=str(cache),
                )
        except Exception as e:
            raise ExportError(
                f"int8: onnxruntime's quantize_static failed ({type(e).__name__}: {e})"
            ) from None
        import onnx

        from edgetl.export.int8_graph import float_inputs, pin_float
        from edgetl.export.int8_policy import apply_post

        model = onnx.load(str(out_path))
        if excluded:
            float_inputs(model, set(excluded), self.plan.model, activations=False)
            if exclude:  # the fallback's nodes read float activations too
                float_inputs(model, set(exclude), self.plan.model)
            pin_float(model, set(excluded))
        apply_post(self.plan, model)
        onnx.save(model, str(out_path))
        return Path(out_path)


__all__ = [
    "CALIBRATION_METHODS",
    "ArrayCalibrationReader",
    "StaticQuantizer",
    "preprocess",
    "quantize_int8_dynamic",
    "quiet",
    "stratified",
]
