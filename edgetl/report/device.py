"""A section per bench taken on another machine: `edgetl report RUN_DIR --add-bench device-results/`.

    sections = [device_bench_section(load_device_bench(p)) for p in ["device-results/"]]

The device ran `edgetl bench MODEL.onnx --out device-results/` (a runtime-only install is
enough); its bench.json is merged as it is: its rows, its environment and its "ship this"
recommendation, under its own heading, so they are never mixed with this machine's numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgetl.bench.recommend import recommendation_lines
from edgetl.bench.report import load_report
from edgetl.bench.results import BenchReport
from edgetl.errors import EdgetlError
from edgetl.report.document import KeyValues, Section, Table, Text
from edgetl.report.fmt import short
from edgetl.runfolder import BENCH_JSON

HEADERS = ["variant", "backend", "precision", "provider", "threads", "batch", "status", "accuracy", "agreement",
           "p50 ms", "spread"]  # fmt: skip
BACKEND = {"onnx": "onnxruntime", "openvino": "openvino", "torch": "PyTorch eager"}


@dataclass(frozen=True)
class DeviceBench:
    source: Path  # the folder (or bench.json) given to --add-bench
    report: BenchReport


def load_device_bench(path: str | Path) -> DeviceBench:
    """A bench folder (or its bench.json) from another machine; one EdgetlError line when unreadable."""
    p = Path(path)
    file = p / BENCH_JSON if p.is_dir() else p
    if not file.is_file():
        raise EdgetlError(
            f"--add-bench {path}: no {BENCH_JSON} there; pass the --out folder of `edgetl bench`"
        )
    return DeviceBench(p, load_report(file))


def _opt(x: int | None) -> str:
    return "-" if x is None else str(x)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def device_bench_section(d: DeviceBench) -> Section:
    env, rep = d.report.env, d.report
    cpu = env.get("cpu") or {}
    host = cpu.get("model") or "another machine"
    slug = re.sub(r"[^a-z0-9]+", "-", f"device {d.source.name}".lower()).strip("-")
    sec = Section(f"Bench on {host} ({d.source.name})", slug)
    sec.blocks.append(Text(f"Measured on that machine by `edgetl bench` ({rep.created or 'date not recorded'}), "
                           f"merged from {d.source}; numbers are that device's, not this run's."))  # fmt: skip
    rows = [
        [r.variant, BACKEND.get(r.kind, r.kind), r.precision, r.provider, _opt(r.threads), _opt(r.batch),
         r.status, _pct(r.accuracy), _pct(r.agreement), "-" if r.p50_ms is None else f"{r.p50_ms:.3f}",
         "-" if r.spread is None else f"{100 * r.spread:.1f}%"]
        for r in rep.rows
    ]  # fmt: skip
    sec.blocks.append(Table(HEADERS, rows, caption="rows as that bench wrote them", id=f"table-{slug}"))
    rec = recommendation_lines(rep.recommendation)  # "ship this" on that device, runner-up, why
    sec.blocks += [Text(line.strip()) for line in rec]
    keys = ("os", "python", "memory_gb", "gpu", "threads", "load_average_start", "load_average")
    items = [(k, short(env[k])) for k in keys if env.get(k) is not None]
    items += [(f"versions.{k}", short(v)) for k, v in (env.get("versions") or {}).items() if v]
    items += [(f"cpu.{k}", short(v)) for k, v in cpu.items() if isinstance(v, (str, int, float))]
    flags = [k for k, on in (cpu.get("flags") or {}).items() if on]
    items.append(("cpu.flags", ", ".join(flags) or "none"))
    sec.blocks.append(KeyValues(items, id=f"env-{slug}"))
    return sec


__all__ = ["DeviceBench", "device_bench_section", "load_device_bench"]
