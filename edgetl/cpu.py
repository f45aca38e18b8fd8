"""Which instructions this CPU has that change what is fast: INT8 dot products and bf16 matrices.

    cpu_flags()          # frozenset({"avx2", "fma", ...}) from /proc/cpuinfo (empty: unknown)
    has_vnni()           # True / False, or None where the flags cannot be read (not Linux)

VNNI (AVX512-VNNI, AVX-VNNI, AMX-INT8) multiplies u8 x s8 and sums into 32 bits in one
instruction. Without it onnxruntime's x86 INT8 kernels use VPMADDUBSW, whose pairwise sums
saturate at 16 bits: full-range U8 activations x S8 weights then lose accuracy (onnxruntime's
quantization docs; measured in export/targets.md), which is why the x86 targets differ. Torch-free.
"""

from __future__ import annotations

import functools
from pathlib import Path

VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # native bf16 matrix instructions (else oneDNN emulates)


def parse_flags(cpuinfo: str) -> frozenset[str]:
    """The first `flags` (x86) or `Features` (ARM) line of a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        return parse_flags(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return frozenset()


def has_vnni(flags: frozenset[str] | None = None) -> bool | None:
    """INT8 dot products without 16-bit saturation; None when the flags are unknown."""
    flags = cpu_flags() if flags is None else flags
    if not flags:
        return None
    return any(f in flags for f in VNNI_FLAGS)


def has_bf16(flags: frozenset[str] | None = None) -> bool:
    """Native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_FLAGS)


__all__ = ["BF16_FLAGS", "VNNI_FLAGS", "cpu_flags", "has_bf16", "has_vnni", "parse_flags"]
