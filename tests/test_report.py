"""The run report: self-contained HTML that real Chromium renders with every image and table.

The fixture run directory is written with the stages' own writers where they are plain
functions (metrics, plots, bench results), so the report is tested against the real schema.
`render_in_chromium` is reused by the pipeline's end-to-end test.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgetl.report import build_report

CLASSES = ["<b>ant</b>", "bee & wasp", 'say "hi" | *bye*']
REPORT_TABLES = [
    "table-classes",
    "table-metrics",
    "table-per-class",
    "table-export",
    "table-variants",
    "table-steps",
]


# ------------------------------------------------------------------------------------ fixture run dir


def make_fixture_run(run: Path) -> Path:
    """A complete run directory: real PNG plots, metrics, eval, export report and bench results."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from edgetl.bench.results import BenchReport, BenchRow
    from edgetl.metrics import classification_metrics, plot_confusion, plot_curves

    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: test_efficientnet\npretrained: none\nmode: lp-ft\nepochs: 2\n")
    counts = {"train": {c: 10 + i for i, c in enumerate(CLASSES)}, "val": {c: 4 for c in CLASSES}}
    data = {
        "source": "folder:/data/<weird & dir>",
        "layout": "imagefolder",
        "classes": CLASSES,
        "num_train": 33,
        "num_val": 12,
        "counts": counts,
        "skipped": {
            "count": 1,
            "files": [{"path": "/data/train/x/<broken>.jpg", "reason": "cannot identify image"}],
        },
    }
    (run / "data.json").write_text(json.dumps(data))
    rows = [
        {"epoch": i, "stage": "probe" if i < 2 else "finetune", "train_loss": 1.0 / (i + 1), "train_acc": 0.5 + 0.1 * i,
         "val_loss": 1.1 / (i + 1), "val_acc": 0.55 + 0.1 * i, "lr": 1e-3, "seconds": 1.5}
        for i in range(4)
    ]  # fmt: skip
    with open(run / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot_curves(rows, run / "curves.png")
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 4)
    scores = rng.normal(size=(12, 3)) + 3 * np.eye(3)[labels]
    m = classification_metrics(scores, labels, CLASSES)
    (run / "eval").mkdir()
    (run / "eval" / "eval.json").write_text(json.dumps(m))
    plot_confusion(m["confusion"], CLASSES, run / "eval" / "confusion.png")
    (run / "export").mkdir()
    from edgetl.export.report import ExportReport, VariantReport

    variants = [
        VariantReport("fp32", "cpu-x86", str(run / "export" / "m-fp32-cpu-x86.onnx"), size_mb=1.2, val_accuracy=0.9,
                      torch_accuracy=0.9, agreement=1.0, max_abs_diff=2e-6, passed=True),
        VariantReport("int8", "cpu-x86", str(run / "export" / "m-int8-cpu-x86.onnx"), size_mb=0.4, val_accuracy=0.88,
                      torch_accuracy=0.9, agreement=0.97, max_abs_diff=0.05, passed=True, nodes_in_float=["/head/Gemm"]),
    ]  # fmt: skip
    export = ExportReport(
        model="m", source=str(run), run_id="run", target="cpu-x86", opset=18, exporter="dynamo", labels=CLASSES,
        input_size=(3, 32, 32), input_layout="nchw-float", softmax=False, dynamic_batch=True, out_dir=str(run / "export"), data="x",
        n_val_images=12, n_calib_images=33, calib_method="minmax", max_acc_drop=0.5, variants=variants,
    ).to_dict()  # fmt: skip
    (run / "export" / "export_report.json").write_text(json.dumps(export))
    bench_rows = [
        BenchRow("pytorch-eager", "torch", "fp32", "cpu", 1, p50_ms=10.0, p99_ms=12.0, images_per_s=95.0, accuracy=0.9),
        BenchRow("m-fp32-cpu-x86", "onnx", "fp32", "cpu", 1, p50_ms=4.0, p99_ms=5.0, images_per_s=240.0,
                 accuracy=0.9, agreement=1.0, size_mb=1.2, speedup_vs_torch=2.5),
        BenchRow("m-int8-cpu-x86", "onnx", "int8", "cpu", 1, p50_ms=2.0, p99_ms=2.6, images_per_s=480.0,
                 accuracy=0.88, agreement=0.97, size_mb=0.4, speedup_vs_torch=5.0),
        BenchRow("m-fp32-cpu-x86", "onnx", "fp32", "cuda", None, status="skipped: CUDA provider fell back to CPU"),
    ]  # fmt: skip
    report = BenchReport(
        rows=bench_rows, env={"cpu": {"model": "Test CPU <x>", "flags": {"avx2": True}}}, config={}
    )
    (run / "bench").mkdir()
    (run / "bench" / "bench.json").write_text(json.dumps(report.to_dict()))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter([10, 4, 2], [90, 90, 88])
    fig.savefig(run / "bench" / "latency_vs_accuracy.png")
    plt.close(fig)
    return run


@pytest.fixture
def fixture_run(tmp_path: Path) -> Path:
    return make_fixture_run(tmp_path / "run")


# ------------------------------------------------------------------------------------------ Chromium


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


PROBE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="report" src="REPORT" width="1280" height="900"></iframe>
<script>
document.getElementById('report').addEventListener('load', () => {
  const out = document.getElementById('result');
  try {
    const frame = document.getElementById('report');
    const doc = frame.contentDocument;
    const imgs = [...doc.images].map(img => ({alt: img.alt, complete: img.complete, width: img.naturalWidth,
                 height: img.naturalHeight, scheme: (img.getAttribute('src') || '').split(':')[0]}));
    const tables = [...doc.querySelectorAll('table')].map(t => ({id: t.id, rows: t.rows.length,
                   headers: [...t.querySelectorAll('th')].map(th => th.textContent)}));
    const resources = frame.contentWindow.performance.getEntriesByType('resource').map(e => e.name);
    out.textContent = JSON.stringify({title: doc.title, imgs, tables, resources,
                                      text: doc.body.innerText, bold: doc.querySelectorAll('table b').length});
  } catch (e) { out.textContent = 'ERROR ' + e; }
});
</script></body></html>"""


def render_in_chromium(html_path: Path, tmp_path: Path) -> dict:
    """Load the report in headless Chromium (inside an iframe of a probe page) and read its DOM.

    The iframe's load event fires after every image of the report has loaded or failed; a broken
    image then has naturalWidth 0. The probe also lists every network/file resource the page
    fetched (a self-contained report fetches none).
    """
    binary = chromium_binary()
    if binary is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium); .ci/run installs it")
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir(exist_ok=True)
    probe = probe_dir / "probe.html"
    probe.write_text(PROBE.replace("REPORT", Path(html_path).resolve().as_uri()))
    cmd = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={probe_dir / 'profile'}", "--allow-file-access-from-files",
        "--virtual-time-budget=10000", "--dump-dom", probe.as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"Chromium produced no probe result (rc {proc.returncode}): {proc.stderr[-2000:]}"
    import html

    text = html.unescape(m.group(1))
    assert not text.startswith(("ERROR", "pending")), text
    return json.loads(text)


def screenshot_in_chromium(html_path: Path, tmp_path: Path) -> Path:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium); .ci/run installs it")
    shot = tmp_path / "shot.png"
    cmd = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile-shot'}", "--window-size=1280,2400", "--hide-scrollbars",
        f"--screenshot={shot}", Path(html_path).resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), "Chromium wrote no screenshot"
    return shot


def assert_renders(html_path: Path, tmp_path: Path, tables: list[str], n_images: int) -> dict:
    dom = render_in_chromium(html_path, tmp_path)
    assert len(dom["imgs"]) == n_images, dom["imgs"]
    broken = [i for i in dom["imgs"] if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]
    assert not broken, f"broken images in Chromium: {broken}"
    assert all(i["scheme"] == "data" for i in dom["imgs"]), dom["imgs"]
    ids = {t["id"]: t for t in dom["tables"]}
    for t in tables:
        assert t in ids, f"table {t} missing; have {sorted(ids)}"
        assert ids[t]["rows"] >= 2, f"table {t} has no data rows"
    assert dom["resources"] == [], f"the report fetched external resources: {dom['resources']}"
    return dom


# --------------------------------------------------------------------------------------------- tests


def test_report_renders_in_chromium_with_every_image_and_table(fixture_run: Path, tmp_path: Path):
    html_path, md_path = build_report(fixture_run)
    assert html_path == fixture_run / "report.html" and md_path == fixture_run / "report.md"
    dom = assert_renders(html_path, tmp_path, REPORT_TABLES, n_images=3)  # curves, confusion, bench plot
    variants = next(t for t in dom["tables"] if t["id"] == "table-variants")
    for h in (
        "precision",
        "target",
        "size MB",
        "accuracy",
        "agreement",
        "p50 ms",
        "p99 ms",
        "images/s",
        "speedup vs PyTorch",
    ):
        assert h in variants["headers"]
    # Class names are shown literally, never interpreted as markup.
    assert dom["bold"] == 0
    for c in CLASSES:
        assert c in dom["text"]
    assert "5.00x" in dom["text"] and "skipped: CUDA provider fell back to CPU" in dom["text"]
    assert "Test CPU <x>" in dom["text"]  # environment from bench.json
    assert "edgetl bench" in dom["text"]  # reproduce commands

    shot = screenshot_in_chromium(html_path, tmp_path)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.std() > 10, "the rendered page is blank"


def test_report_html_is_self_contained_and_escaped(fixture_run: Path):
    from PIL import Image

    html_path, _ = build_report(fixture_run)
    text = html_path.read_text()
    # Every src/href points inside the file: data URIs or in-page anchors.
    for attr, value in re.findall(r'\b(src|href)="([^"]*)"', text):
        assert value.startswith("data:image/png;base64,") if attr == "src" else value.startswith("#"), value
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "Content-Security-Policy" in text
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(uris) == 3
    for u in uris:
        Image.open(io.BytesIO(base64.b64decode(u))).verify()
    assert "<b>ant</b>" not in text and "&lt;b&gt;ant&lt;/b&gt;" in text
    assert "bee &amp; wasp" in text


def test_markdown_twin_links_images_by_relative_path(fixture_run: Path):
    _, md_path = build_report(fixture_run)
    md = md_path.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(links) == ["bench/latency_vs_accuracy.png", "curves.png", "eval/confusion.png"]
    for link in links:
        assert (fixture_run / link).is_file()
    assert r"\<b\>ant\</b\>" in md  # escaped, shown literally by a Markdown renderer
    for heading in (
        "## Data",
        "## Training",
        "## Evaluation",
        "## Variants",
        "## Environment",
        "## Reproduce",
    ):
        assert heading in md
    # Every Markdown table keeps its column count, even with '|' inside a class name.
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            current.append(len(re.findall(r"(?<!\\)\|", line)))
        elif current:
            tables.append(current)
            current = []
    assert len(tables) >= 5
    assert all(len(set(t)) == 1 for t in tables), tables


def test_missing_steps_show_as_not_run(tmp_path: Path):
    run = tmp_path / "partial"
    make_fixture_run(run)
    shutil.rmtree(run / "bench")
    shutil.rmtree(run / "eval")
    (run / "export" / "export_report.json").write_text("{ not json")
    (run / "curves.png").write_bytes(b"not a png")
    html_path, md_path = build_report(run)
    text = html_path.read_text()
    assert "Not run: no evaluation" in text
    assert "Not run: no benchmark" in text
    assert "export_report.json is unreadable" in text
    assert "curves.png is missing or not a PNG" in text
    assert "<img" not in text  # no broken <img> is ever emitted
    assert "*Not run:* no evaluation" in md_path.read_text()


def test_empty_run_dir_builds_and_failed_write_keeps_no_partial(tmp_path: Path, monkeypatch):
    run = tmp_path / "empty"
    run.mkdir()
    html_path, md_path = build_report(run)
    assert "Not run: no data summary" in html_path.read_text()
    # A failure while writing leaves the previous report intact and no temp file behind.
    before = html_path.read_text()
    import edgetl.report.build as build

    def boom(doc):
        raise RuntimeError("render failed")

    monkeypatch.setattr(build, "render_html", boom)
    with pytest.raises(RuntimeError):
        build.build_report(run)
    assert html_path.read_text() == before
    assert sorted(p.name for p in run.iterdir()) == ["report.html", "report.md"]


def test_unknown_run_dir_is_a_clear_error(tmp_path: Path):
    from edgetl.errors import EdgetlError

    with pytest.raises(EdgetlError, match="no such run directory"):
        build_report(tmp_path / "nope")
