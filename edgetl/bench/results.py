"""Bench results: one `BenchRow` per variant x provider x batch, gathered in a `BenchReport`.

    report.rows[0].p50_ms, report.ok_rows(provider="cpu", batch=1), report.to_dict()

A row's status is "ok", "skipped: <reason>" (e.g. a provider that fell back to CPU) or
"failed: <reason>". Latencies are milliseconds per batch; images/s = batch / mean latency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TORCH_VARIANT = "pytorch-eager"


@dataclass
class BenchRow:
    variant: str  # file stem, or "pytorch-eager"
    kind: str  # "onnx" | "torch"
    precision: str  # fp32 | fp16 | int8 | int8-dynamic ... (from the file's metadata)
    provider: str  # requested: cpu | cuda | tensorrt
    batch: int | None  # None on a skipped provider row
    status: str = "ok"
    threads: int | None = None  # intra-op threads it ran with (--threads; a sweep gives one row per count)
    providers_used: list[str] = field(default_factory=list)  # what really ran (session.get_providers())
    file: str = ""
    size_mb: float | None = None
    load_s: float | None = None  # session creation / checkpoint load, seconds
    rss_mb: float | None = None  # resident memory added by loading + one largest-batch call
    accuracy: float | None = None  # top-1 on the eval set, 0..1
    agreement: float | None = None  # share of eval images with the same top-1 as the FP32 ONNX variant
    n_eval: int | None = None
    runs: int = 0
    min_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    images_per_s: float | None = None
    round_p50_ms: list[float] = field(default_factory=list)  # one median per round
    spread: float | None = None  # (max - min) / median of round_p50_ms
    speedup_vs_torch: float | None = None  # PyTorch eager p50 / this p50, same device and batch
    timing: str = ""  # what one timed call covers

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_int8(self) -> bool:
        return self.precision.startswith("int8")


@dataclass
class BenchReport:
    rows: list[BenchRow]
    env: dict[str, Any]
    config: dict[str, Any]
    data: dict[str, Any] | None = None  # eval set: source, images, skipped files
    preprocess: dict[str, Any] = field(default_factory=dict)  # per-image decode/preprocess cost (ms)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # what was written where
    created: str = ""
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    recommendation: dict[str, Any] = field(default_factory=dict)  # edgetl.bench.recommend: what to ship

    def ok_rows(self, provider: str | None = None, batch: int | None = None) -> list[BenchRow]:
        return [
            r
            for r in self.rows
            if r.ok and (provider is None or r.provider == provider) and (batch is None or r.batch == batch)
        ]

    def row(self, variant: str, provider: str, batch: int | None) -> BenchRow | None:
        return next(
            (r for r in self.rows if r.variant == variant and r.provider == provider and r.batch == batch),
            None,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchReport:
        rows = [BenchRow(**r) for r in d.get("rows", [])]
        return cls(**{**d, "rows": rows})


__all__ = ["TORCH_VARIANT", "BenchReport", "BenchRow"]
