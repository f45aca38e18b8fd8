"""PyTorch -> clean ONNX with a dynamic batch axis, picking the exporter that gives a clean graph.

    graph = export_graph(model, input_size=(3, 224, 224), mean=..., std=..., opset=18)
    graph.model, graph.exporter          # simplified ModelProto, "torchscript" or "dynamo"

"auto" tries the TorchScript exporter first (about 10x faster) and keeps its result when,
after onnxslim, no dynamic-padding leftovers remain; otherwise (or when it cannot export the
model, e.g. ops it does not know) it uses the dynamo exporter. Both were measured to give the
same 49-Conv graph for Lite0 (NOTES). The input is called "input", the outputs "logits" and,
with softmax, "probs".
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

from edgetl.errors import ExportError
from edgetl.export import graph as G

log = logging.getLogger(__name__)

DEFAULT_OPSET = 18  # native to both exporters; QDQ per-channel and every op edgetl emits exist there
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear need 13
DYNAMO_MIN_OPSET = 18
INPUT = "input"


@functools.lru_cache(maxsize=1)
def runtime_max_opset() -> int:
    """Highest default-domain opset the installed onnxruntime loads (probed with a one-node model)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    so = ort.SessionOptions()
    so.log_severity_level = 4
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    for opset in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1):
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
        try:
            ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # onnxruntime: "opset N is under development / not supported"
            continue
    return MIN_OPSET


def exporter_max_opsets() -> dict[str, int]:
    from torch.onnx import _constants as c  # private, but the only place torch states its limits

    return {
        "torchscript": int(getattr(c, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20)),
        "dynamo": int(getattr(c, "ONNX_MAX_OPSET", 23)),
    }


def resolve_opset(requested: int | None, exporter: str) -> int:
    """The opset to export at; a request the runtime or the exporters cannot serve is an ExportError."""
    import onnxruntime as ort
    import torch

    rt_max = runtime_max_opset()
    ex_max = exporter_max_opsets()
    top = min(rt_max, max(ex_max.values()))
    if requested is None:
        return DEFAULT_OPSET if DEFAULT_OPSET <= top else top
    if requested < MIN_OPSET:
        raise ExportError(
            f"--opset {requested} is too old: edgetl exports opset {MIN_OPSET}-{top} (per-channel INT8 needs 13)"
        )
    if requested > rt_max:
        raise ExportError(
            f"--opset {requested}: the installed onnxruntime {ort.__version__} runs opsets up to {rt_max}; "
            f"choose {MIN_OPSET}-{top}"
        )
    if requested > max(ex_max.values()):
        raise ExportError(
            f"--opset {requested}: torch {torch.__version__} exports opsets up to {max(ex_max.values())}"
        )
    if exporter == "torchscript" and requested > ex_max["torchscript"]:
        raise ExportError(
            f"--opset {requested}: the TorchScript exporter stops at opset {ex_max['torchscript']}; "
            "use --exporter dynamo or auto"
        )
    if exporter == "dynamo" and requested < DYNAMO_MIN_OPSET:
        raise ExportError(
            f"--opset {requested}: the dynamo exporter writes opset {DYNAMO_MIN_OPSET}+; use --exporter torchscript"
        )
    return requested


@dataclass
class ExportedGraph:
    model: Any  # onnx.ModelProto, simplified, batch dim named "batch"
    exporter: str
    attempts: list[str] = field(default_factory=list)  # why other exporters were not used


def _wrap(model: Any, mean, std, bake_preprocess: bool, softmax: bool) -> Any:
    import torch

    class Deployable(torch.nn.Module):
        """The classifier plus what an app should not have to do itself."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model
            s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
            m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
            # (x / 255 - mean) / std as one multiply-add
            self.register_buffer("scale", 1.0 / (255.0 * s), persistent=False)
            self.register_buffer("shift", -m / s, persistent=False)

        def forward(self, x):
            if bake_preprocess:  # uint8 NHWC -> normalised float NCHW
                x = x.permute(0, 3, 1, 2).to(torch.float32) * self.scale + self.shift
            logits = self.model(x)
            if softmax:
                return logits, torch.softmax(logits, dim=-1)
            return logits

    return Deployable().eval()


def _example(input_size, bake_preprocess: bool, batch: int) -> Any:
    import torch

    c, h, w = input_size
    if bake_preprocess:
        return torch.randint(0, 256, (batch, h, w, c), dtype=torch.uint8)
    return torch.randn(batch, c, h, w)


def _io_names(outputs: list[str], opset: int) -> dict[str, Any]:
    """What both exporters are told alike: tensor names and opset."""
    return {"input_names": [INPUT], "output_names": outputs, "opset_version": opset}


def _torchscript(module: Any, x: Any, outputs: list[str], opset: int, dynamic: bool) -> Any:
    import onnx
    import torch

    buf = io.BytesIO()
    axes = {n: {0: G.BATCH_DIM} for n in [INPUT, *outputs]} if dynamic else None
    torch.onnx.export(
        module,
        (x,),
        buf,
        dynamo=False,
        dynamic_axes=axes,
        do_constant_folding=True,
        **_io_names(outputs, opset),
    )
    return onnx.load_from_string(buf.getvalue())


def _dynamo(module: Any, x: Any, outputs: list[str], opset: int, dynamic: bool) -> Any:
    import torch

    shapes = ({0: torch.export.Dim(G.BATCH_DIM, min=1, max=65536)},) if dynamic else None
    program = torch.onnx.export(
        module,
        (x,),
        dynamo=True,
        dynamic_shapes=shapes,
        optimize=True,
        verbose=False,
        **_io_names(outputs, opset),
    )
    return program.model_proto  # weights in memory: serialize() writes them inline


_EXPORTERS = {"torchscript": _torchscript, "dynamo": _dynamo}


def export_graph(
    model: Any,
    input_size: tuple[int, int, int],
    mean,
    std,
    opset: int,
    exporter: str = "auto",
    dynamic_batch: bool = True,
    bake_preprocess: bool = False,
    softmax: bool = False,
) -> ExportedGraph:
    """Export, simplify and verify cleanliness; raises ExportError when no exporter gives a clean graph."""
    import torch

    module = _wrap(model, mean, std, bake_preprocess, softmax)
    outputs = ["logits", "probs"] if softmax else ["logits"]
    limits = exporter_max_opsets()
    if exporter == "auto":
        order = [e for e in ("torchscript", "dynamo") if _opset_ok(e, opset, limits)]
    else:
        order = [exporter]
    attempts: list[str] = []
    x = _example(input_size, bake_preprocess, batch=2 if dynamic_batch else 1)
    for name in order:
        sink = io.StringIO()
        try:
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(sink),
                contextlib.redirect_stderr(sink),
            ):
                warnings.simplefilter("ignore")
                logging.disable(logging.WARNING)
                try:
                    with torch.inference_mode(False), torch.no_grad():
                        proto = _EXPORTERS[name](module, x, outputs, opset, dynamic_batch)
                finally:
                    logging.disable(logging.NOTSET)
        except (
            Exception
        ) as e:  # exporters raise many types (UnsupportedOperatorError, torch._dynamo errors ...)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            attempts.append(f"{name}: failed ({type(e).__name__}: {msg[:200]})")
            log.info("exporter %s failed: %s", name, msg)
            continue
        slim = G.simplify(proto)
        bad = G.leftovers(slim)
        if bad:
            attempts.append(f"{name}: left {len(bad)} shape-computation subgraph(s) ({'; '.join(bad[:2])})")
            continue
        G.name_batch_dim(slim)
        return ExportedGraph(slim, name, attempts)
    raise ExportError(f"no exporter produced a clean ONNX graph: {' | '.join(attempts)}")


def _opset_ok(exporter: str, opset: int, limits: dict[str, int]) -> bool:
    if exporter == "dynamo":
        return DYNAMO_MIN_OPSET <= opset <= limits["dynamo"]
    return opset <= limits["torchscript"]


__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "ExportedGraph",
    "export_graph",
    "resolve_opset",
    "runtime_max_opset",
]
