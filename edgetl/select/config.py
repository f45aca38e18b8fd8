"""`SelectConfig`: the options of `edgetl select`; each field's help text is its CLI flag's.

    cfg = SelectConfig(data="data/hymenoptera", latency_budget=3.0)

Candidates are written `MODEL:WEIGHTS@SIZE` (WEIGHTS as --pretrained takes it). No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl._resources import check_threads
from edgetl.config import ConfigError, check_finite, option
from edgetl.select.measure import Candidate

# The offline weights at their native size and 32 px either side (9 candidates).
NATIVE = {"tf_efficientnet_lite0": ("efficientnet_lite0", 224), "tf_efficientnet_lite1": ("efficientnet_lite1", 240),
          "tf_efficientnet_lite2": ("efficientnet_lite2", 260)}  # fmt: skip
DEFAULT_CANDIDATES = [f"{m}:{w}@{s + d}" for m, (w, s) in NATIVE.items() for d in (-32, 0, 32)]


def parse_candidate(text: str, flag: str = "--candidates") -> Candidate:
    """`MODEL:WEIGHTS@SIZE` -> Candidate; a bad spelling is one line naming `flag`."""
    try:
        head, size = text.rsplit("@", 1)
        model, weights = head.split(":", 1)
        cand = Candidate(model.strip(), weights.strip(), int(size))
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: write MODEL:WEIGHTS@SIZE, e.g. tf_efficientnet_lite0:efficientnet_lite0@224"
        ) from None
    if not cand.model or not cand.weights or not 16 <= cand.img_size <= 4096:
        raise ConfigError(f"{flag} {text!r}: needs a model, a weight source and a size in 16..4096")
    return cand


@dataclass
class SelectConfig:
    data: str | None = option(None, "image folder (DIR/train, DIR/val) or a built-in dataset name (digits)")
    val_split: float | None = option(None, "fraction of a flat DIR/<class> folder held out for validation")
    candidates: list[str] = option(
        DEFAULT_CANDIDATES, "comma list of MODEL:WEIGHTS@SIZE (default: Lite0/1/2 at native size and +-32 px)"
    )
    latency_budget: float | None = option(
        None, "pick the most accurate candidate whose latency (ms, batch 1) is within this", metavar="MS"
    )
    target: str = option("auto", "deployment target whose INT8 scheme is the latency that decides (auto: this CPU's: "
                         "cpu-x86, cpu-x86-avx2 without VNNI, cpu-arm)")  # fmt: skip
    out: str = option(
        "select", "output folder: select.json, select.png, each candidate's model and ONNX files"
    )
    seed: int = option(0, "seed of the val split (--val-split); the CV folds are fixed (scikit-learn's cv=5)")
    threads: int | None = option(None, "onnxruntime threads while timing (default: onnxruntime's)")
    runs: int = option(50, "timed batch-1 calls per model (fewer when --time-budget runs out)")
    time_budget: float = option(10.0, "seconds of timing per model at most")
    calib_images: int = option(64, "INT8 calibration images from the train split")
    cache_dir: str | None = option(
        None, "feature cache folder (default: $EDGETL_CACHE_DIR or ~/.cache/edgetl/features)"
    )

    def __post_init__(self) -> None:
        if isinstance(self.candidates, str):
            self.candidates = [c for c in self.candidates.split(",") if c.strip()]
        if not self.candidates:
            raise ConfigError("--candidates: give at least one MODEL:WEIGHTS@SIZE")
        self.parsed()
        if self.latency_budget is not None and not self.latency_budget > 0:
            raise ConfigError(f"--latency-budget must be > 0 ms (got {self.latency_budget})")
        for name in ("runs", "calib_images"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1")
        if not self.time_budget > 0:
            raise ConfigError("--time-budget must be > 0 seconds")
        check_finite(self)  # --time-budget inf passes the range check
        if self.seed < 0:  # numpy and scikit-learn raise on a negative seed, after the first candidate
            raise ConfigError(f"--seed must be >= 0, got {self.seed}")
        check_threads(self.threads, "--threads")  # refused now, not when the first candidate is timed

    def parsed(self) -> list[Candidate]:
        return [parse_candidate(c) for c in self.candidates]


__all__ = ["DEFAULT_CANDIDATES", "SelectConfig", "parse_candidate"]
