"""`BenchConfig`: what to measure, where, and how long. Validates itself and names the bad option.

    cfg = BenchConfig(models=["runs/ants"], providers=["cpu"], batch=[1, 8], threads=2)
    report = bench(cfg)

Each field carries its help text (`metadata["help"]`): `edgetl bench`'s flags are generated from
this class, and only the flags the user gave override these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgetl._resources import check_threads
from edgetl.bench.timing import MIN_RUNS
from edgetl.config import ConfigError, check_finite
from edgetl.runtime.providers import PROVIDERS

# Without --runs/--time-budget every cell is timed for DEFAULT_ROUND_S seconds per round (and at least
# DEFAULT_MIN_RUNS calls): a fixed call count made a 2 ms INT8 cell's round last 0.1 s, short enough
# for one burst of another process to move its p50 by 20% between two otherwise identical runs.
DEFAULT_ROUND_S = 1.0
BACKEND_ALIASES = {"onnxruntime": "onnx", "ort": "onnx", "eager": "torch", "pytorch": "torch"}
DEFAULT_MIN_RUNS = 10
WARMUP_S = 1.0  # first round: warm-up lasts at least this long (and --warmup calls)
REWARM = 2  # untimed calls per cell in rounds after the first (caches went cold while other cells ran)
REWARM_S = 0.1  # ... and at least this long


def _opt(default: Any, help: str, **meta: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    """A field with its CLI help (and e.g. metavar): `edgetl bench`'s flags are built from these."""
    if callable(default):
        return field(default_factory=default, metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class BenchConfig:
    models: list[str] = field(
        metadata={"help": ".onnx files and/or run directories", "metavar": "MODEL_OR_RUN"}
    )
    torch: str | None = _opt(
        "auto",
        "PyTorch checkpoint or run dir for the eager row; 'none' to skip (default: the run dir's best checkpoint)",
        metavar="CKPT",
    )
    providers: list[str] = _opt(lambda: ["cpu"], "comma list of cpu, cuda, tensorrt (default cpu)")
    backends: list[str] = _opt(
        lambda: ["onnx", "torch"],
        "comma list of runtimes to time: onnxruntime (or onnx), openvino, torch (default onnx,torch; "
        "torch is the eager row, also off with --torch none)",
    )
    batch: list[int] = _opt(lambda: [1], "comma list of batch sizes (default 1)")
    threads: list[int] | int = _opt(  # an int (YAML `threads: 2`, the API) is a list of one
        lambda: [2],
        "intra-op threads (default 2); a comma list sweeps them, e.g. 1,2,4: counts above the usable "
        "cores are then skipped rows",
    )
    max_acc_drop: float = _opt(
        0.5,
        "top-1 points a recommended configuration may lose vs onnxruntime FP32 (default 0.5, at least one image)",
    )
    min_agreement: float | None = _opt(
        None, "top-1 agreement with FP32 an INT8 recommendation needs (default: reported, not required)"
    )
    data: str | None = _opt(
        None,
        "val folder (<label>/ sub-folders) or dataset root for accuracy (default: the run's own val split)",
    )
    max_images: int | None = _opt(None, "score at most N eval images")
    warmup: int = _opt(
        10,
        "untimed calls per cell in round 1 (default 10, and at least 1 s; 2 calls and 0.1 s in later rounds)",
    )
    runs: int | None = _opt(
        None, "timed calls per cell over all rounds (default: 1 s per round, at least 10 calls)"
    )
    time_budget: float | None = _opt(None, "seconds per cell over all rounds", metavar="S")
    repeat: int = _opt(5, "interleaved rounds, for the run-to-run spread (default 5)")
    pool: int = _opt(32, "distinct images cycled through by timed calls (default 32)")
    out: str | None = _opt(None, "output folder (default RUN_DIR/bench or ./bench-results)")
    plots: bool = _opt(True, "write the PNG plots (--no-plots skips them)")
    cuda_host_copies: bool = _opt(
        False, "CUDA timing includes host<->GPU copies (default: device-resident inputs/outputs)"
    )
    native_only: bool = _opt(
        False,
        "skip INT8/FP16 exports on providers their --target was not made for "
        "(INT8 for a CPU on cuda, FP16 on cpu); FP32 runs everywhere",
    )

    def __post_init__(self) -> None:
        check_finite(self)  # --time-budget inf would pass every range check below
        if isinstance(self.models, str):
            self.models = [self.models]
        if not self.models:
            raise ConfigError("bench needs at least one .onnx file or run directory")
        self.providers = [p.strip().lower() for p in self.providers if p.strip()]
        if not self.providers:
            raise ConfigError("--providers is empty; use e.g. cpu or cpu,cuda")
        for p in self.providers:
            PROVIDERS.get(p)  # UnknownNameError suggests close names
        if len(set(self.providers)) != len(self.providers):
            raise ConfigError(f"--providers lists a provider twice: {','.join(self.providers)}")
        self.backends = [BACKEND_ALIASES.get(b.strip().lower(), b.strip().lower()) for b in self.backends]
        self.backends = [b for b in self.backends if b]
        if not self.backends:
            raise ConfigError("--backends is empty; use e.g. onnxruntime or onnxruntime,openvino")
        from edgetl.bench.backends import BACKENDS  # here: the backends' modules import this one

        for b in self.backends:
            BACKENDS.get(b)  # UnknownNameError suggests close names
        if not self.batch or any(not isinstance(b, int) or b < 1 for b in self.batch):
            raise ConfigError(f"--batch must be positive integers, e.g. 1,8,32; got {self.batch}")
        self.batch = sorted(set(self.batch))
        if isinstance(self.threads, int) and not isinstance(self.threads, bool):
            self.threads = [self.threads]
        if not self.threads or any(not isinstance(t, int) or t < 1 for t in self.threads):
            raise ConfigError(f"--threads must be integers >= 1, e.g. 2 or 1,2,4; got {self.threads}")
        self.threads = sorted(set(self.threads))
        for t in self.threads:
            check_threads(t, "--threads")  # far past the usable cores: refused (bench() warns or skips)
        if not self.max_acc_drop >= 0:
            raise ConfigError(f"--max-acc-drop must be >= 0 top-1 points, got {self.max_acc_drop}")
        if self.min_agreement is not None and not 0.0 <= self.min_agreement <= 1.0:
            raise ConfigError(f"--min-agreement must be a fraction in [0, 1], got {self.min_agreement}")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be >= 0, got {self.warmup}")
        if self.runs is not None and self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ConfigError(f"--time-budget must be > 0 seconds, got {self.time_budget}")
        if self.repeat < 1:
            raise ConfigError(f"--repeat must be >= 1, got {self.repeat}")
        if self.pool < 1:
            raise ConfigError(f"--pool must be >= 1, got {self.pool}")
        if self.max_images is not None and self.max_images < 1:
            raise ConfigError(f"--max-images must be >= 1, got {self.max_images}")
        if self.torch is not None and self.torch.strip().lower() in ("", "none", "off", "no"):
            self.torch = None

    @property
    def thread_count(self) -> int:
        """The one thread count a backend opens with (`open_cells` hands each a single-count config)."""
        return self.threads[0]

    def swept(self) -> bool:
        return len(self.threads) > 1

    @property
    def timed_by_default(self) -> bool:
        """Neither --runs nor --time-budget: DEFAULT_ROUND_S seconds per cell and round."""
        return self.runs is None and self.time_budget is None

    def warmup_calls(self, round_index: int) -> int:
        """Untimed calls before a cell's timed calls in round `round_index` (0-based)."""
        return self.warmup if round_index == 0 else min(self.warmup, REWARM)

    def warmup_seconds(self, round_index: int) -> float:
        """Minimum warm-up time of a cell in round `round_index` (0 with --warmup 0: no warm-up at all)."""
        if self.warmup == 0:
            return 0.0
        return WARMUP_S if round_index == 0 else REWARM_S

    def per_round(self) -> tuple[int | None, float | None, int]:
        """(timed runs, seconds, minimum runs) for one round of one cell."""
        if self.timed_by_default:
            return None, DEFAULT_ROUND_S, DEFAULT_MIN_RUNS
        runs = None if self.runs is None else max(1, -(-self.runs // self.repeat))
        budget = None if self.time_budget is None else self.time_budget / self.repeat
        return runs, budget, MIN_RUNS


__all__ = ["DEFAULT_MIN_RUNS", "DEFAULT_ROUND_S", "BenchConfig"]
