"""A deploy folder: the one .onnx file to ship and `deploy.json`, the configuration to run it with.

    write_deploy("runs/ants/deploy", "runs/ants/export/m-int8.onnx", DeployConfig(...))
    clf = Classifier.load("runs/ants/deploy")      # exactly that backend, precision and threads
    clf.backend, clf.precision                     # "openvino", "int8"

Written by `edgetl bench` / `edgetl run` from the recommendation (`edgetl.bench.recommend`).
On a device without the recommended backend, loading falls back to onnxruntime with ONE
`DeployFallbackWarning` that says so; every other problem is an EdgetlError line.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgetl.errors import EdgetlError

if TYPE_CHECKING:
    from edgetl.runtime.classifier import Classifier

DEPLOY_JSON = "deploy.json"
FORMAT = 1
MAX_BYTES = 1 << 20  # a deploy.json is a few hundred bytes; never read a device or a huge file whole
_TYPES = {"file": str, "backend": str, "precision": str, "options": dict, "measured": dict}


class DeployFallbackWarning(RuntimeWarning):
    """The deploy folder's backend is not installed here; the model runs on onnxruntime instead."""


@dataclass(frozen=True)
class DeployConfig:
    file: str  # the .onnx file's name inside the deploy folder
    backend: str  # "onnxruntime" | "openvino"
    precision: str  # what it computes in when measured: fp32 | bf16 | int8 ...
    threads: int | None = None
    options: dict[str, Any] = field(
        default_factory=dict
    )  # Classifier.load keywords, e.g. {"precision": "bf16"}
    measured: dict[str, Any] = field(default_factory=dict)  # p50_ms, accuracy, agreement, host: why this one
    format: int = FORMAT

    @classmethod
    def from_dict(cls, d: Any, path: Path) -> DeployConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, dict) or not {"file", "backend", "precision"} <= d.keys():
            raise EdgetlError(f"{path}: not an edgetl deploy.json (needs file, backend, precision)")
        unknown = sorted(set(d) - names)
        if unknown:
            raise EdgetlError(f"{path}: unknown key(s) {', '.join(unknown)}; written by a newer edgetl?")
        _check_types(d, path)
        cfg = cls(**d)
        if Path(cfg.file).name != cfg.file or not cfg.file.endswith(".onnx"):
            raise EdgetlError(
                f"{path}: file {_show(cfg.file)} must be an .onnx name inside the deploy folder"
            )
        if cfg.threads is not None and (type(cfg.threads) is not int or cfg.threads < 1):
            raise EdgetlError(f"{path}: threads must be a positive integer or null, got {_show(cfg.threads)}")
        if set(cfg.options) - {"precision", "providers"}:
            raise EdgetlError(
                f"{path}: options may only hold 'precision' and 'providers', got {_show(cfg.options)}"
            )
        return cfg


def _show(v: Any, n: int = 60) -> str:
    """A value as JSON spells it (a string quoted as Python does), cut short: never a huge echo."""
    text = repr(v) if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def _check_types(d: dict[str, Any], path: Path) -> None:
    """Each value of a hand-edited or damaged deploy.json has the type its reader uses (else one line)."""
    for key, tp in _TYPES.items():
        if key in d and not isinstance(d[key], tp):
            kind = "a mapping" if tp is dict else "a string"
            raise EdgetlError(
                f"{path}: {key} must be {kind}, got {_show(d[key])}; re-run edgetl bench RUN_DIR"
            )
    if "format" in d and (type(d["format"]) is not int or d["format"] != FORMAT):
        raise EdgetlError(
            f"{path}: format {_show(d['format'])} is not deploy.json format {FORMAT}; "
            "written by another edgetl version? (re-run edgetl bench RUN_DIR with this one)"
        )
    opts = d.get("options") or {}
    prov = opts.get("providers")
    if "precision" in opts and not isinstance(opts["precision"], str | None):
        raise EdgetlError(f"{path}: options.precision must be a string, got {_show(opts['precision'])}")
    if prov is not None and not (
        isinstance(prov, str) or (isinstance(prov, list) and all(isinstance(x, str) for x in prov))
    ):
        raise EdgetlError(f"{path}: options.providers must be a name or a list of names, got {_show(prov)}")


def read_deploy(folder: str | Path) -> DeployConfig:
    """The typed deploy.json of `folder` (EdgetlError naming the file when it is missing or bad)."""
    path = Path(folder) / DEPLOY_JSON
    try:
        if not path.is_file():  # a device or a folder named deploy.json is never read
            raise FileNotFoundError if not path.exists() else OSError("not a regular file")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise OSError(f"larger than {MAX_BYTES >> 10} KiB")
        d = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise EdgetlError(f"{path}: missing; write a deploy folder with `edgetl bench RUN_DIR`") from None
    except (OSError, ValueError) as e:
        raise EdgetlError(f"{path}: unreadable ({str(e)[:120]}); re-run edgetl bench RUN_DIR") from None
    return DeployConfig.from_dict(d, path)


def write_deploy(folder: str | Path, onnx_file: str | Path, cfg: DeployConfig) -> Path:
    """Copy the .onnx (and its external .data) into `folder` and write deploy.json, each atomically."""
    from edgetl._io import atomic_write, atomic_write_json

    folder, src = Path(folder), Path(onnx_file)
    folder.mkdir(parents=True, exist_ok=True)
    old = read_deploy(folder).file if (folder / DEPLOY_JSON).is_file() else None
    for f in [src, *src.parent.glob(src.name + ".data")]:
        atomic_write(folder / f.name, lambda tmp, f=f: shutil.copyfile(f, tmp))
    out = atomic_write_json(folder / DEPLOY_JSON, dataclasses.asdict(dataclasses.replace(cfg, file=src.name)))
    if old and old != src.name:  # the previous recommendation's model: only what deploy.json named
        for f in [folder / old, *folder.glob(old + ".data")]:
            f.unlink(missing_ok=True)
    return out


def load_deploy(
    cls: type[Classifier],
    folder: Path,
    backend: str,
    providers: Any = "auto",
    *,
    threads: int | None,
    topk: int,
    warn: bool,
) -> Classifier:
    """`Classifier.load` on a deploy folder: its backend, precision and threads (arguments given win)."""
    cfg = read_deploy(folder)
    want = cfg.backend if backend == "auto" else backend
    kw = dict(cfg.options) if want == cfg.backend else {}
    threads = cfg.threads if threads is None else threads
    if providers != "auto":  # asked for explicitly: it wins over the folder's
        kw["providers"] = providers
    if want == "openvino" and backend == "auto":
        try:
            import openvino  # noqa: F401
        except ImportError:
            if warn:
                warnings.warn(
                    f"{folder}: recommended backend openvino is not installed here; running "
                    f"{cfg.file} on onnxruntime instead (pip install openvino for the measured configuration)",
                    DeployFallbackWarning,
                    stacklevel=3,
                )
            want, kw = "onnxruntime", {}
    return cls.load(folder / cfg.file, backend=want, threads=threads, topk=topk, warn=warn, **kw)


__all__ = [
    "DEPLOY_JSON",
    "DeployConfig",
    "DeployFallbackWarning",
    "load_deploy",
    "read_deploy",
    "write_deploy",
]
