"""bench/suite.py's summary: rewrites only its own marked section of bench/README.md."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def suite():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("edgetl_bench_suite", ROOT / "bench" / "suite.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ENV = {
    "cpu": {"model": "Test CPU", "usable_cores": 2, "flags": {"avx2": True}},
    "versions": {"torch": "2.x"},
    "os": "Linux",
}


def _result(created: str, sections: dict) -> dict:
    return {
        "created": created,
        "command": "python bench/suite.py",
        "environment": ENV,
        "sections": sections,
        "total_seconds": 10,
    }


RUNTIME = {
    "threads": 2, "n_val": 10, "seconds": 5, "openvino": {"status": "skipped: pip install openvino nncf"},
    "rows": {
        "pytorch-eager-fp32": {"status": "ok", "accuracy": 0.9, "agreement_with_ort_fp32": 1.0, "p50_ms": 10.0, "p99_ms": 12.0, "speedup_vs_pytorch": 1.0},
        "ort-fp32": {"status": "ok", "accuracy": 0.9, "agreement_with_ort_fp32": 1.0, "p50_ms": 4.0, "p99_ms": 5.0, "speedup_vs_pytorch": 2.5},
        "openvino-fp32": {"status": "skipped: pip install openvino nncf"},
    },
    "ratios": {"ort_fp32_speedup_vs_pytorch": 2.5, "ort_int8_speedup_vs_pytorch": None, "ort_int8_speedup_vs_ort_fp32": None,
               "openvino_fp32_over_ort_fp32_latency": None, "openvino_int8_over_ort_int8_latency": None},
}  # fmt: skip


def test_summary_replaces_only_the_marked_section_with_the_newest_results(suite, tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    old = {**RUNTIME, "ratios": {**RUNTIME["ratios"], "ort_fp32_speedup_vs_pytorch": 1.1}}
    (results / "suite-20250101-000000.json").write_text(json.dumps(_result("old", {"runtime": old})))
    (results / "suite-20250102-000000.json").write_text(json.dumps(_result("new", {"runtime": RUNTIME})))
    (results / "suite-20250103-000000.json").write_text("{ broken")
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nOwned by the bench stage.\n")

    suite.write_readme_section(readme, results)
    first = readme.read_text()
    assert first.startswith("# Benchmarks\n\nOwned by the bench stage.\n")
    assert first.count(suite.BEGIN) == 1 and first.count(suite.END) == 1
    assert "**2.50x**" in first and "1.10x" not in first  # the newest file wins
    assert "skipped: pip install openvino nncf" in first
    assert "Test CPU" in first and "python bench/suite.py" in first  # environment and command

    readme.write_text(first + "\nA later section by the bench stage.\n")
    suite.write_readme_section(readme, results)
    second = readme.read_text()
    assert second.count(suite.BEGIN) == 1 and second.endswith("A later section by the bench stage.\n")


def test_unknown_section_is_refused(suite):
    with pytest.raises(SystemExit):
        suite.parse(["--only", "trainig"])
