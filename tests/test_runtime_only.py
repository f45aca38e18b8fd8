"""The runtime-only install: `edgetl predict` and `edgetl bench` on .onnx files import no torch stack.

Checked on the import graph, not by building a venv (no network in tests): a fresh interpreter
whose meta-path finder refuses torch, torchvision, timm and the export tooling runs both commands
on a tiny .onnx, and every third-party module they import must come from requirements-runtime.txt
(the documented `pip install --no-deps` path; see README "Runtime-only install").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from _onnx_fixtures import make_run_dir

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ["torch", "torchvision", "timm", "onnx", "onnxslim", "onnxscript", "sklearn", "matplotlib",
           "safetensors", "nncf"]  # fmt: skip
IMPORT_NAME = {"pillow": "PIL", "pyyaml": "yaml"}
ALSO_ALLOWED = {
    "packaging",
    "openvino",
    "openvino_telemetry",
}  # onnxruntime's own dependency; the optional runtime

SCRIPT = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (runtime-only install)")
sys.meta_path.insert(0, Refuse())
from edgetl.cli import main
codes = [main(json.loads(a)) for a in sys.argv[2:]]
ours = {"edgetl", "__main__", "_distutils_hack"}
tops = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names) - ours
tops = {t for t in tops if not t.startswith(("_cython", "cython_runtime", "__editable__", "__mp_main__"))}
print("RESULT " + json.dumps({"codes": codes, "modules": sorted(tops)}))
"""


def _runtime_requirements() -> set[str]:
    lines = (ROOT / "requirements-runtime.txt").read_text().splitlines()
    names = {
        re.split(r"[<>=!~; \\[]", ln.strip())[0].lower()
        for ln in lines
        if ln.strip() and not ln.startswith("#")
    }
    return {IMPORT_NAME.get(n, n) for n in names}


def test_predict_and_bench_run_without_torch_and_import_only_the_runtime_requirements(tmp_path):
    from conftest import COLORS, write_images

    data = tmp_path / "data"
    for ci, cls in enumerate(["ant", "bee"]):
        write_images(data / "train" / cls, COLORS[ci], 10, (40, 32), seed=ci)
        write_images(data / "val" / cls, COLORS[ci], 5, (40, 32), seed=100 + ci)
    run = make_run_dir(tmp_path / "run", data, int8=False)  # export/*.onnx and a PyTorch checkpoint
    model = next((run / "export").glob("*.onnx"))
    predict = ["predict", str(model), str(data / "val"), "--json"]
    bench = ["bench", str(run), "--runs", "2", "--repeat", "1",
             "--warmup", "0", "--threads", "1", "--quiet", "--out", str(tmp_path / "b")]  # fmt: skip
    args = [sys.executable, "-c", SCRIPT, ",".join(BLOCKED), json.dumps(predict), json.dumps(bench)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(
        next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")).removeprefix("RESULT ")
    )
    assert result["codes"] == [0, 0]
    extra = set(result["modules"]) - _runtime_requirements() - ALSO_ALLOWED
    assert not extra, (
        f"the runtime-only CLI imports {sorted(extra)}: add to requirements-runtime.txt or import lazily"
    )
    rep = json.loads((tmp_path / "b" / "bench.json").read_text())
    ok = [row for row in rep["rows"] if row["status"] == "ok"]
    assert [row["kind"] for row in ok] == ["onnx"] and ok[0]["accuracy"] == 1.0
    (eager,) = [row for row in rep["rows"] if row["kind"] == "torch"]  # no eager row, and the reason
    assert (
        eager["status"]
        == "skipped: torch is not installed (runtime-only install), so there is no PyTorch eager row"
    )
    assert rep["recommendation"]["deploy"]["backend"] == "onnxruntime"
    # no matplotlib on the device: the plots are skipped with the reason, the tables are all there
    assert not list((tmp_path / "b").glob("*.png"))
    assert any("matplotlib is not installed" in n for n in rep["notes"])
