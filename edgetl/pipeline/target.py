"""Which variants to export and which providers to bench on this machine.

    plan = plan_target("auto")          # Plan(exports=[("cpu-x86", ["fp32", "int8"])], providers=["cpu"], ...)
    plan = add_cuda_if_working(plan, "runs/x/export/m-fp32-cpu-x86.onnx")

x86 CPUs with VNNI get the cpu-x86 target (U8/S8 QDQ INT8), x86 CPUs without it cpu-x86-avx2
(U8/S8 with 7-bit weights: no 16-bit saturation), ARM CPUs cpu-arm (S8/S8). An NVIDIA GPU adds
an FP16 variant for the cuda target and the cuda provider in the bench, but only when a real
onnxruntime CUDA session runs: onnxruntime-gpu lists CUDA even where it silently falls back
to the CPU (see NOTES), so the check creates a session and asks what it actually uses.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

from edgetl.cpu import cpu_flags, has_vnni
from edgetl.errors import EdgetlError
from edgetl.export.precisions import default_precisions
from edgetl.export.targets import TARGETS


@dataclass
class Plan:
    exports: list[tuple[str, list[str]]]  # (target, precisions), in order; the first holds the FP32 reference
    providers: list[str]  # bench providers
    cpu_target: str
    cuda: bool = False
    reasons: list[str] = field(default_factory=list)  # why, in words, for the report

    def describe(self) -> str:
        parts = [f"{t}: {','.join(p)}" for t, p in self.exports]
        return f"{'; '.join(parts)} (bench on {','.join(self.providers)})"


def cpu_target(machine: str | None = None, flags: frozenset[str] | None = None) -> str:
    """The CPU target of this machine (or of `machine` with CPU `flags`; empty flags: unknown, VNNI assumed)."""
    m = (machine or platform.machine()).lower()
    if m in ("x86_64", "amd64", "x86", "i686", "i386"):
        vnni = has_vnni(cpu_flags() if machine is None and flags is None else (flags or frozenset()))
        return "cpu-x86-avx2" if vnni is False else "cpu-x86"
    if m in ("arm64", "aarch64", "armv8l", "armv8", "arm"):
        return "cpu-arm"
    raise EdgetlError(f"no CPU target for machine type {m!r}; pass --target cpu-x86 or cpu-arm explicitly")


def plan_target(target: str, precisions: list[str] | None = None) -> Plan:
    """The export/bench plan for `target` ("auto" detects the CPU; CUDA is added later, once probed)."""
    if target == "auto":
        cpu = cpu_target()
        plan = Plan([(cpu, list(precisions or default_precisions(cpu)))], ["cpu"], cpu)
        isa = {True: "with VNNI", False: "without VNNI", None: "CPU flags unknown"}[has_vnni()]
        plan.reasons.append(f"{platform.machine()} CPU {isa} -> {cpu}")
        return plan
    if target in TARGETS.names() and target.startswith("cpu-"):
        return Plan(
            [(target, list(precisions or default_precisions(target)))],
            ["cpu"],
            target,
            reasons=[f"--target {target}"],
        )
    if target in TARGETS.names():  # GPU targets: benched on the CPU and on their own provider
        cpu = cpu_target()
        plan = Plan(
            [(target, list(precisions or default_precisions(target)))], ["cpu", target], cpu, cuda=True
        )
        plan.reasons.append(f"--target {target}")
        return plan
    raise EdgetlError(f"unknown --target {target!r}; use auto, {', '.join(TARGETS.names())}")


def cuda_works(onnx_path: str | os.PathLike) -> tuple[bool, str]:
    """(True, "") when torch sees a GPU and an onnxruntime CUDA session on `onnx_path` really runs on it."""
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "no CUDA device visible to PyTorch"
    except Exception as e:  # a broken driver install: no GPU for us
        return False, f"PyTorch cannot query CUDA ({type(e).__name__})"
    from edgetl.runtime.providers import create_session

    try:
        sess = create_session(onnx_path, "cuda", warn=False)
    except EdgetlError as e:
        return False, str(e)
    if sess.fallback:
        return False, sess.fallback
    return True, f"CUDA provider runs ({torch.cuda.get_device_name(0)})"


def add_cuda_if_working(plan: Plan, fp32_onnx: str | os.PathLike) -> Plan:
    """For target auto: add an FP16 cuda export and the cuda bench provider when the GPU really works."""
    ok, why = cuda_works(fp32_onnx)
    if ok:
        plan.exports.append(("cuda", ["fp16"]))
        plan.providers.append("cuda")
        plan.cuda = True
        plan.reasons.append(f"GPU: {why} -> also fp16 for cuda")
    else:
        plan.reasons.append(f"no GPU variants: {why}")
    return plan


__all__ = ["Plan", "add_cuda_if_working", "cpu_target", "cuda_works", "plan_target"]
