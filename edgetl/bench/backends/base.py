"""The interface every bench backend meets, and the registry the bench loops over.

    @BACKENDS.register("openvino")
    class OpenVinoBackend:                # one class: which variants, which providers, open, run
        kind = "openvino"
        ...

    for name in BACKENDS:                 # registry order is row order: ONNX first, then eager
        cls = BACKENDS.get(name)
        for v in cls.variants(inputs):
            be = cls.open(v, "cpu", cfg)  # raises Skipped(status) for a provider that fell back

Only `run` is timed. `feeds` puts inputs where the backend wants them (untimed), `top1` gives
predictions for accuracy (untimed), `close` frees the model once its cell has been timed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from edgetl.registry import Registry

if TYPE_CHECKING:
    from edgetl.bench.config import BenchConfig
    from edgetl.bench.inputs import Inputs, Variant
    from edgetl.runtime.preprocess import Preprocess


class Skipped(Exception):
    """A (variant, provider) that opened but must not be timed there: it becomes one skipped row."""

    def __init__(self, status: str, precision: str = "fp32", providers_used: Sequence[str] = ()):
        super().__init__(status)
        self.status = status  # "skipped: <reason>"
        self.precision = precision
        self.providers_used = list(providers_used)


class Backend(Protocol):
    """One variant opened on one provider, fed and timed like an app would run it."""

    kind: ClassVar[str]  # the rows' `kind` and this backend's name in BACKENDS
    precision: str  # what the model really computes in: fp32 | fp16 | int8 ...
    target: str  # the deployment target it was exported for ("" when it does not say)
    labels: Sequence[str]
    preprocess: Preprocess
    providers_used: list[str]  # what really runs (e.g. session.get_providers())
    load_s: float  # seconds to open it

    @classmethod
    def variants(cls, inputs: Inputs) -> list[Variant]:
        """The variants this backend times, from what the user gave."""
        ...

    @classmethod
    def serves(cls, provider: str) -> bool:
        """False: no row at all on this provider (not even a skipped one)."""
        ...

    @classmethod
    def open(cls, variant: Variant, provider: str, cfg: BenchConfig) -> Backend:
        """Load `variant` for `provider`; raise Skipped when it would not really run there."""
        ...

    @property
    def timing(self) -> str:
        """What one timed call covers (the rows' `timing` and the notes)."""
        ...

    def fixed_batch(self) -> int | None: ...

    def feeds(self, batches: Sequence[np.ndarray]) -> list[Any]: ...

    def run(self, feed: Any) -> None: ...

    def top1(self, batch: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


BACKENDS: Registry[type[Backend]] = Registry("bench backend")

__all__ = ["BACKENDS", "Backend", "Skipped"]
