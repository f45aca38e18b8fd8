"""What a benchmark ran on, stored with every result: numbers without it cannot be compared.

    env = environment()
    env["cpu"]["model"], env["cpu"]["flags"]["avx512_vnni"], env["versions"]["onnxruntime"]
    load_average(), rss_mb(process()), peak_rss_mb()     # host probes taken during the run

CPU model and the ISA flags that decide INT8/BF16 speed (AVX2, AVX-512, VNNI, BF16, AMX) come
from /proc/cpuinfo; package versions from installed metadata (nothing heavy is imported here).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from edgetl.cpu import parse_flags

# /proc/cpuinfo flag -> our name. VNNI and BF16 make INT8/BF16 fast on x86 (see NOTES).
CPU_FLAGS = {
    "avx2": "avx2",
    "fma": "fma",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512_vnni": "avx512_vnni",
    "avx_vnni": "avx_vnni",
    "avx512_bf16": "avx512_bf16",
    "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16",
}
PACKAGES = (
    "edgetl",
    "onnxruntime-gpu",
    "onnxruntime",
    "onnx",
    "numpy",
    "pillow",
    "torch",
    "torchvision",
    "timm",
)


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """Model name, flags and core counts (Linux /proc/cpuinfo; platform fallbacks elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    flags = parse_flags(cpuinfo)
    model = next(
        (
            v.strip()
            for k, _, v in (ln.partition(":") for ln in cpuinfo.splitlines())
            if k.strip() == "model name"
        ),
        "",
    )
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or unsupported platform: leave unknown
        physical = None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "model": model or platform.processor() or platform.machine(),
        "arch": platform.machine(),
        "flags": {name: flag in flags for flag, name in CPU_FLAGS.items()},
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "usable_cores": usable,
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def gpu_info() -> dict[str, Any] | None:
    """Name/memory of CUDA device 0 when torch is already imported and sees one; None otherwise."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            return {"name": p.name, "memory_gb": round(p.total_memory / 2**30, 1), "cuda": torch.version.cuda}
    except Exception:  # a broken driver must not stop the report
        return None
    return None


def load_average() -> list[float] | None:
    """1/5/15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not on Windows
        return None


def process() -> Any:
    import psutil

    return psutil.Process()


def rss_mb(proc: Any) -> float:
    """Resident memory of `proc` (a psutil.Process) now, MB."""
    return proc.memory_info().rss / 2**20


def peak_rss_mb() -> float | None:
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    except (ImportError, OSError):  # pragma: no cover - not on Windows
        return None


def busy_warning(start: list[float] | None, end: list[float] | None, cores: int | None) -> str | None:
    """Say so when other processes competed for the CPU: absolute latencies then include contention."""
    if not cores:
        return None
    worst = max([x[0] for x in (start, end) if x] or [0.0])
    if worst <= 1.5 * cores:
        return None
    return (
        f"the machine was busy (1-min load average up to {worst:.1f} on {cores} usable cores): latencies include "
        "contention from other processes; ratios between interleaved rows hold up better than absolute numbers"
    )


def environment() -> dict[str, Any]:
    import onnxruntime as ort

    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        mem_gb = None
    load = load_average()
    return {
        "cpu": cpu_info(),
        "memory_gb": mem_gb,
        "gpu": gpu_info(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions(),
        "onnxruntime_available_providers": list(ort.get_available_providers()),
        "load_average": load,
    }


__all__ = [
    "CPU_FLAGS",
    "busy_warning",
    "cpu_info",
    "environment",
    "gpu_info",
    "load_average",
    "peak_rss_mb",
    "process",
    "rss_mb",
    "versions",
]
