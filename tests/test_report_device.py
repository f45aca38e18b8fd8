"""`edgetl report RUN_DIR --add-bench DIR`: another machine's bench as a section of its own."""

from __future__ import annotations

import json

from edgetl.bench import BenchReport, BenchRow
from edgetl.bench.recommend import recommend


def _device_bench(folder):
    rows = [
        BenchRow(variant="m-fp32", kind="onnx", precision="fp32", provider="cpu", batch=1, threads=4,
                 accuracy=0.9, agreement=1.0, n_eval=100, p50_ms=20.0, round_p50_ms=[19.8, 20.0, 20.3]),
        BenchRow(variant="m-int8@openvino-default", kind="openvino", precision="int8", provider="cpu", batch=1,
                 threads=4, accuracy=0.9, agreement=0.98, n_eval=100, p50_ms=6.5, round_p50_ms=[6.4, 6.5, 6.6]),
    ]  # fmt: skip
    env = {
        "cpu": {"model": "Cortex-A76", "flags": {"neon": True}},
        "threads": 4,
        "versions": {"onnxruntime": "1.31"},
    }
    rep = BenchReport(
        rows=rows, env=env, config={}, recommendation=recommend(rows).to_dict(), created="2026-12-01"
    )
    folder.mkdir()
    (folder / "bench.json").write_text(json.dumps(rep.to_dict()))
    return folder


def test_add_bench_merges_rows_environment_and_recommendation(tmp_path, capfd):
    from _onnx_fixtures import make_run_dir
    from conftest import COLORS, write_images

    from edgetl.cli import main

    data = tmp_path / "data"
    for ci, cls in enumerate(["ant", "bee"]):
        write_images(data / "train" / cls, COLORS[ci], 4, (40, 32), seed=ci)
        write_images(data / "val" / cls, COLORS[ci], 2, (40, 32), seed=100 + ci)
    run = make_run_dir(tmp_path / "run", data, int8=False, fit=False)
    dev = _device_bench(tmp_path / "device-results")

    assert main(["report", str(run), "--add-bench", str(dev)]) == 0
    md = (run / "report.md").read_text()
    section = md[md.index("## Bench on Cortex-A76 (device-results)") :]
    assert (
        "| m-int8@openvino-default | openvino | int8 | cpu | 4 | 1 | ok | 90.00% | 98.00% | 6.500 |"
        in section
    )
    assert "ship this: m-int8@openvino-default (openvino int8, cpu, 4 threads)" in section
    assert "versions.onnxruntime" in section and "neon" in section
    assert "Cortex-A76" in (run / "report.html").read_text()

    before = (run / "report.md").stat().st_mtime_ns
    assert main(["report", str(run), "--add-bench", str(tmp_path / "nothing-here")]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--add-bench" in err[0] and "bench.json" in err[0]
    assert (run / "report.md").stat().st_mtime_ns == before  # nothing written on a bad folder
