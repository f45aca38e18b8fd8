"""Execution providers by short name, and sessions that say which provider really runs.

    sess = create_session("model.onnx", "auto", threads=2)
    sess.session.run(...); sess.used        # ["CPUExecutionProvider"]; sess.fallback: reason or None

onnxruntime-gpu lists CUDA in `get_available_providers()` even without a GPU or its libraries,
then silently runs on CPU; only `session.get_providers()` tells the truth. So a session is
created with the requested chain and then checked: an explicit "cuda"/"tensorrt" that fell back
gives ONE `ProviderFallbackWarning` and is recorded in `.fallback`; "auto" quietly picks CUDA
when it really works, else CPU. onnxruntime's own error lines about missing CUDA libraries are
muted while such a session is created (the fallback is reported by us instead).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetl.errors import EdgetlError
from edgetl.registry import Registry

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# onnxruntime logger levels: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
LOG_ERROR, LOG_FATAL = 3, 4


class ProviderFallbackWarning(RuntimeWarning):
    """An explicitly requested execution provider did not load; the session runs on another one."""


@dataclass(frozen=True)
class ProviderSpec:
    """A short provider name -> the onnxruntime provider chain that implements it."""

    name: str
    chain: tuple[str, ...]  # onnxruntime provider names, most preferred first (CPU last as the safety net)
    device: str  # "cpu" | "cuda": where inputs/outputs live for IO binding
    options: dict[str, Any] = field(default_factory=dict)  # provider options of chain[0]
    why_unavailable: str = ""  # said when chain[0] is not what the session ends up using

    @property
    def primary(self) -> str:
        return self.chain[0]


PROVIDERS: Registry[ProviderSpec] = Registry("execution provider (--providers)")
PROVIDERS.register("cpu", ProviderSpec("cpu", (CPU,), "cpu"))
PROVIDERS.register(
    "cuda",
    ProviderSpec(
        "cuda", (CUDA, CPU), "cuda", why_unavailable="CUDA provider fell back to CPU (no usable GPU)"
    ),
)
PROVIDERS.register(
    "tensorrt",
    ProviderSpec(
        "tensorrt",
        (TENSORRT, CUDA, CPU),
        "cuda",
        why_unavailable="TensorRT provider did not load (no usable GPU or TensorRT libraries)",
    ),
)


def provider_names() -> list[str]:
    """Names accepted by `--providers` / `Classifier.load(providers=...)`."""
    return ["auto", *PROVIDERS.names()]


@dataclass
class Session:
    """An onnxruntime session plus what was asked for and what it really uses."""

    session: Any  # onnxruntime.InferenceSession
    requested: list[str]  # onnxruntime provider names asked for
    used: list[str]  # session.get_providers()
    name: str  # the short name asked for ("auto", "cpu", "cuda", ...) or "custom"
    fallback: str | None = None  # why the requested provider is not the one running, or None
    device: str = "cpu"  # where the primary provider that actually runs keeps tensors

    @property
    def primary(self) -> str:
        return self.used[0] if self.used else CPU


_log_lock = threading.Lock()
_auto_choice: dict[str, str] = {}  # per process: "auto" resolved once (CUDA libraries do not appear mid-run)
_preloaded: list[bool] = []


def _preload_gpu_libraries(ort: Any) -> None:
    """Load CUDA/cuDNN from the nvidia-* wheels next to onnxruntime, once per process.

    onnxruntime-gpu finds pip-installed CUDA libraries only after `onnxruntime.preload_dlls()`
    (or `import torch` first); a torch-free app would otherwise fall back to CPU although
    everything is installed. Its messages about libraries it could not find go nowhere: the
    session's real providers are checked right after, and a fallback is reported then.
    """
    if _preloaded or not hasattr(ort, "preload_dlls"):
        return
    _preloaded.append(True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(Exception):
        ort.preload_dlls()


def session_options(threads: int | None = None) -> Any:
    """SessionOptions for predictable latency: `threads` intra-op threads, one inter-op thread, quiet logs."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads is not None:
        if int(threads) < 0:
            raise EdgetlError(f"--threads must be >= 0 (0 = onnxruntime's default), got {threads}")
        so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = LOG_FATAL  # load/run failures become edgetl's own one-line errors
    return so


def _resolve(providers: str | Sequence[str]) -> tuple[str, list[str], list[dict], str, str]:
    """-> (name, ort chain, options per provider, device, why_unavailable)."""
    if isinstance(providers, str):
        name = providers.strip().lower()
        if name == "auto":
            return "auto", [CUDA, CPU], [{}, {}], "cuda", ""
        spec = PROVIDERS.get(name)
        return (
            spec.name,
            list(spec.chain),
            [dict(spec.options)] + [{} for _ in spec.chain[1:]],
            spec.device,
            spec.why_unavailable,
        )
    chain: list[str] = []
    opts: list[dict] = []
    for p in providers:
        if isinstance(p, str) and p.endswith("ExecutionProvider"):
            ort_names, o = [p], [{}]
        else:
            spec = PROVIDERS.get(str(p).strip().lower())
            ort_names, o = list(spec.chain), [dict(spec.options)] + [{} for _ in spec.chain[1:]]
        for n, oo in zip(ort_names, o, strict=True):
            if n not in chain:
                chain.append(n)
                opts.append(oo)
    if not chain:
        raise EdgetlError("providers list is empty; use 'auto', 'cpu', 'cuda' or 'tensorrt'")
    device = "cuda" if chain[0] in (CUDA, TENSORRT) else "cpu"
    return "custom", chain, opts, device, f"{chain[0]} did not load"


def create_session(
    model_path: str | os.PathLike,
    providers: str | Sequence[str] = "auto",
    threads: int | None = None,
    options: Any | None = None,
    warn: bool = True,
) -> Session:
    """Create an onnxruntime session on `providers` and record what actually runs.

    `warn=False` records a fallback without warning (the bench reports it as a skipped row).
    """
    import onnxruntime as ort

    name, chain, opts, device, why = _resolve(providers)
    if name == "auto" and _auto_choice.get("auto") == CPU:
        chain, opts, device = [CPU], [{}], "cpu"
    available = set(ort.get_available_providers())
    missing = [p for p in chain if p not in available]
    wants_gpu = any(p != CPU for p in chain)
    so = options or session_options(threads)
    chain_ok = [p for p in chain if p in available] or [CPU]
    opts_ok = [o for p, o in zip(chain, opts, strict=True) if p in available] or [{}]
    with _log_lock:
        if any(p != CPU for p in chain_ok):
            _preload_gpu_libraries(ort)
        # Missing CUDA libraries are logged at ERROR by the provider bridge on the default logger;
        # only FATAL mutes them. We report the fallback ourselves right after.
        ort.set_default_logger_severity(LOG_FATAL if wants_gpu else LOG_ERROR)
        said = io.StringIO()  # onnxruntime *prints* "EP Error ... Falling back" to stdout (breaks --json)
        try:
            with contextlib.redirect_stdout(said) if wants_gpu else contextlib.nullcontext():
                sess = ort.InferenceSession(
                    os.fspath(model_path), sess_options=so, providers=chain_ok, provider_options=opts_ok
                )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise EdgetlError(
                f"{model_path}: onnxruntime cannot load this model ({_first_line(e)})"
            ) from None
        finally:
            ort.set_default_logger_severity(LOG_ERROR)
    used = list(sess.get_providers())
    fallback = None
    if name == "auto":
        if used and used[0] in (CUDA, TENSORRT):
            _auto_choice["auto"] = CUDA
        else:
            _auto_choice["auto"] = CPU
            device = "cpu"
    elif used[:1] != chain[:1]:
        fallback = why or f"{chain[0]} did not load"
        ep_error = _ep_error(said.getvalue())
        if ep_error:
            fallback += f": {ep_error}"
        if chain[0] in missing:
            fallback += f" ({chain[0]} is not in this onnxruntime build: {', '.join(sorted(available))})"
        device = "cuda" if used and used[0] in (CUDA, TENSORRT) else "cpu"
        if warn:
            warnings.warn(
                f"{Path(model_path).name}: {fallback}; running on {used[0] if used else CPU}",
                ProviderFallbackWarning,
                stacklevel=3,
            )
    return Session(session=sess, requested=chain, used=used, name=name, fallback=fallback, device=device)


def _ep_error(printed: str) -> str:
    """onnxruntime's own reason from its printed "EP Error <C++ location> <reason> when using [...]"."""
    m = re.search(r"EP Error (.*?) when using", printed, re.S)
    if not m:
        return ""
    reason = m.group(1).strip()
    if "onnxruntime_src" in reason and ") " in reason:  # drop the C++ file:line and signature
        reason = reason.rsplit(") ", 1)[1]
    return " ".join(reason.split())[:240]


def _first_line(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    text = text.replace("[ONNXRuntimeError] : ", "").splitlines()[0]
    return text[:400]


__all__ = [
    "CPU",
    "CUDA",
    "PROVIDERS",
    "TENSORRT",
    "ProviderFallbackWarning",
    "ProviderSpec",
    "Session",
    "create_session",
    "provider_names",
    "session_options",
]
