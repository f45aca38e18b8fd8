"""edgetl.bench: rows, accuracy, statistics, skipped providers, outputs, CLI; CUDA when present."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _onnx_fixtures import export_tiny, make_run_dir

from edgetl.bench import BACKENDS, TORCH_VARIANT, BenchConfig, BenchRow, bench, load_report
from edgetl.bench.cells import Cell, cell_rows, open_cell
from edgetl.bench.compare import compare, compare_rows
from edgetl.bench.env import cpu_info, process
from edgetl.bench.images import geometry, pool_batches, prepare_images
from edgetl.bench.inputs import bench_eval_set, resolve
from edgetl.bench.rounds import time_rounds
from edgetl.bench.scoring import predict_all, score_cells
from edgetl.bench.timing import LatencyStats, ratio_range, round_spread, separable, time_runs
from edgetl.config import ConfigError
from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.progress import Reporter
from edgetl.runtime import Preprocess

FAST = dict(runs=6, repeat=2, warmup=1, pool=8)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    from conftest import COLORS, write_images

    data = tmp_path_factory.mktemp("bench") / "data"
    for ci, cls in enumerate(["ant", "bee"]):
        write_images(data / "train" / cls, COLORS[ci], 10, (40, 32), seed=ci)
        write_images(data / "val" / cls, COLORS[ci], 5, (40, 32), seed=100 + ci)
    return data


@pytest.fixture(scope="module")
def run_dir(data_root) -> Path:
    return make_run_dir(data_root.parent / "run", data_root)


@pytest.fixture(scope="module")
def report(run_dir):
    return bench(BenchConfig(models=[str(run_dir)], batch=[1, 2], threads=1, **FAST))


# ------------------------------------------------------------------------------- full bench


def test_run_dir_bench_has_torch_fp32_int8_rows_with_accuracy(report, run_dir):
    variants = {(r.variant, r.batch) for r in report.rows}
    fp32 = "test_efficientnet-fp32-cpu-x86"
    int8 = "test_efficientnet-int8-dynamic-cpu-x86"
    assert variants == {(v, b) for v in (TORCH_VARIANT, fp32, int8) for b in (1, 2)}
    for r in report.rows:
        assert r.status == "ok", r.status
        assert r.runs >= FAST["runs"] and len(r.round_p50_ms) == 2 and r.spread is not None
        assert 0 < r.min_ms <= r.p50_ms <= r.p90_ms <= r.p99_ms
        assert r.images_per_s == pytest.approx(r.batch * 1e3 / r.mean_ms)
        assert r.n_eval == 10 and r.accuracy is not None and r.agreement is not None
        assert r.size_mb > 0 and r.load_s > 0 and r.providers_used
        assert "preprocessing excluded" in r.timing
    assert report.row(fp32, "cpu", 1).agreement == 1.0
    assert report.row(fp32, "cpu", 1).accuracy == 1.0  # the fitted tiny model separates the colours
    # FP32 ONNX and PyTorch eager are the same network: same predictions on every eval image.
    assert report.row(TORCH_VARIANT, "cpu", 1).agreement == 1.0
    t = report.row(TORCH_VARIANT, "cpu", 1)
    assert t.speedup_vs_torch == pytest.approx(1.0)
    r = report.row(fp32, "cpu", 2)
    assert r.speedup_vs_torch == pytest.approx(report.row(TORCH_VARIANT, "cpu", 2).p50_ms / r.p50_ms)
    assert report.data["images"] == 10 and report.preprocess["preprocess_ms_per_image"] > 0
    assert report.preprocess["pool_source"] == "eval images"


def test_environment_is_recorded(report):
    env = report.env
    assert env["cpu"]["model"] and set(env["cpu"]["flags"]) >= {"avx512f", "avx512_vnni", "avx512_bf16"}
    assert env["versions"]["onnxruntime-gpu"] or env["versions"]["onnxruntime"]
    assert env["versions"]["torch"] and env["versions"]["timm"] and env["threads"] == 1
    assert report.config["batch"] == [1, 2]


def test_outputs_written_and_reloadable(report, run_dir):
    out = run_dir / "bench"
    for name in ("bench.json", "bench.csv", "bench.md", "latency_vs_accuracy.png", "latency_by_batch.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files
    back = load_report(out)
    assert [(r.variant, r.batch, r.p50_ms) for r in back.rows] == [
        (r.variant, r.batch, r.p50_ms) for r in report.rows
    ]
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert len(rows) == 6 and {"p50_ms", "accuracy", "agreement", "round_p50_ms", "providers_used"} <= set(
        rows[0]
    )
    md = (out / "bench.md").read_text()
    assert "| variant | precision | provider |" in md and "pytorch-eager" in md and "- CPU:" in md
    assert (out / "latency_vs_accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_cuda_without_gpu_is_a_skipped_row_not_an_error(run_dir, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        from edgetl.runtime import Classifier

        probe = Classifier.load(next((run_dir / "export").glob("*fp32*.onnx")), providers="cuda", warn=False)
        if probe.fallback is None:
            pytest.skip("CUDA really works here")
    rep = bench(
        BenchConfig(
            models=[str(run_dir)],
            providers=["cpu", "cuda"],
            torch="none",
            threads=1,
            out=str(tmp_path),
            **FAST,
        )
    )
    skipped = [r for r in rep.rows if r.provider == "cuda"]
    assert len(skipped) == 2 and all(r.batch is None for r in skipped)
    assert all(r.status == "skipped: CUDA provider fell back to CPU (no usable GPU)" for r in skipped), (
        skipped[0].status
    )
    assert all(r.ok for r in rep.rows if r.provider == "cpu")
    assert not any(r.kind == "torch" for r in rep.rows)


def test_files_with_data_folder_and_fixed_batch_model(run_dir, data_root, tmp_path):
    """ONNX files given directly, --data a val folder, a static-batch export: its batch-2 row is skipped."""
    from edgetl.models import load_classifier

    model, meta = load_classifier(run_dir)
    static = export_tiny(tmp_path / "static.onnx", meta.labels, model=model, dynamic_batch=False)
    fp32 = next((run_dir / "export").glob("*fp32*.onnx"))
    rep = bench(
        BenchConfig(
            models=[str(fp32), str(static)],
            data=str(data_root / "val"),
            batch=[1, 2],
            threads=1,
            out=str(tmp_path / "o"),
            **FAST,
        )
    )
    st2 = rep.row("static", "cpu", 2)
    assert st2.status.startswith("skipped: the model has a fixed batch size of 1")
    st1 = rep.row("static", "cpu", 1)
    assert st1.ok and st1.accuracy == rep.row(fp32.stem, "cpu", 1).accuracy == 1.0
    assert rep.data["source"].startswith("folder:")


def test_no_data_times_synthetic_inputs_and_says_so(run_dir, tmp_path):
    fp32 = next((run_dir / "export").glob("*fp32*.onnx"))
    rep = bench(BenchConfig(models=[str(fp32)], threads=1, out=str(tmp_path), plots=False, **FAST))
    (row,) = rep.rows
    assert row.ok and row.accuracy is None and rep.data is None
    assert "synthetic" in rep.preprocess["pool_source"] and any(
        "accuracy not measured" in n for n in rep.notes
    )
    assert not (tmp_path / "latency_by_batch.png").exists()


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(EdgetlError, match="no such .onnx file or run directory"):
        bench(BenchConfig(models=[str(tmp_path / "nope.onnx")]))
    with pytest.raises(EdgetlError, match="no export/\\*.onnx"):
        bench(BenchConfig(models=[str(tmp_path)]))
    with pytest.raises(UnknownNameError, match="did you mean 'cuda'"):
        BenchConfig(models=["x.onnx"], providers=["cdua"])
    with pytest.raises(ConfigError, match="--batch"):
        BenchConfig(models=["x.onnx"], batch=[0])
    with pytest.raises(ConfigError, match="--threads"):
        BenchConfig(models=["x.onnx"], threads=0)
    with pytest.raises(ConfigError, match="--time-budget"):
        BenchConfig(models=["x.onnx"], time_budget=-1)
    default = BenchConfig(models=["x.onnx"])
    assert default.per_round() == (None, 1.0, 10) and default.repeat == 5  # time-based by default
    assert BenchConfig(models=["x.onnx"], runs=50, repeat=5).per_round() == (10, None, 3)
    assert BenchConfig(models=["x.onnx"], time_budget=5, repeat=5).per_round() == (None, 1.0, 3)
    cfg = BenchConfig(models=["x.onnx"], warmup=10)
    assert (cfg.warmup_calls(0), cfg.warmup_calls(1)) == (
        10,
        2,
    )  # full warm-up once, a re-warm per later round


# -------------------------------------------------------------------------------- statistics


def test_latency_stats_percentiles():
    s = LatencyStats.from_samples(list(range(1, 101)))
    assert (s.runs, s.min_ms, s.p50_ms, s.mean_ms) == (100, 1, 50.5, 50.5)
    assert s.p90_ms == pytest.approx(90.1) and s.p99_ms == pytest.approx(99.01)
    assert s.std_ms == pytest.approx(np.std(np.arange(1, 101), ddof=1))


def test_time_runs_cycles_distinct_feeds_and_honours_count_and_budget():
    seen: list[int] = []
    samples = time_runs(seen.append, [0, 1, 2], warmup=2, runs=7, budget_s=None)
    assert len(samples) == 7 and seen == [
        0,
        1,
        2,
        0,
        1,
        2,
        0,
        1,
        2,
    ]  # warm-up then timed, always the next feed
    import time

    calls: list[int] = []
    samples = time_runs(lambda f: (calls.append(f), time.sleep(0.01)), [0], warmup=0, runs=None, budget_s=0.1)
    assert 3 <= len(samples) <= 12
    assert (
        len(time_runs(lambda f: time.sleep(0.05), [0], warmup=0, runs=None, budget_s=0.001)) == 3
    )  # MIN_RUNS


def test_time_runs_warms_up_for_a_minimum_time_and_times_a_minimum_count():
    """A fresh session's first calls are slow for longer than a fixed count of warm-up calls."""
    import time

    calls: list[float] = []
    t0 = time.perf_counter()
    samples = time_runs(
        lambda f: (calls.append(time.perf_counter()), time.sleep(0.01)),
        [0],
        warmup=1,
        runs=None,
        budget_s=0.001,
        min_runs=5,
        warmup_s=0.15,
    )
    assert len(samples) == 5  # the budget ran out at once, min_runs still timed
    warm = calls[:-5]
    assert len(warm) >= 3 and calls[-5] - t0 >= 0.15  # timing began after 0.15 s of warm-up, not 1 call
    cfg = BenchConfig(models=["x.onnx"])
    assert cfg.warmup_seconds(0) > cfg.warmup_seconds(1) > 0
    assert BenchConfig(models=["x.onnx"], warmup=0).warmup_seconds(0) == 0  # --warmup 0 means none


def test_pool_batches_are_different_real_inputs():
    pre = Preprocess((3, 16, 16), crop_pct=1.0)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(6)]
    batches = pool_batches(crops, pre, 4)
    assert len(batches) >= 4 and all(b.shape == (4, 3, 16, 16) and b.dtype == np.float32 for b in batches)
    assert not np.array_equal(batches[0], batches[1])


def _row(name, p50s, precision="fp32", kind="onnx") -> BenchRow:
    return BenchRow(
        variant=name,
        kind=kind,
        precision=precision,
        provider="cpu",
        batch=1,
        p50_ms=float(np.median(p50s)),
        round_p50_ms=p50s,
    )


def test_spread_and_separability():
    assert round_spread([10.0, 11.0, 9.0]) == pytest.approx(0.2)
    assert round_spread([10.0]) is None
    assert separable([1.0, 1.1], [2.0, 2.2]) and not separable([1.0, 2.1], [2.0, 2.2])
    assert not separable([1.0], [2.0])  # one round: no measure of noise
    assert ratio_range([4.0, 5.0], [1.0, 2.0]) == (2.0, 5.0)
    clear = compare(_row("int8", [2.0, 2.1, 2.2], "int8"), _row("fp32", [5.0, 5.1, 4.9]))
    assert clear["separable"] and clear["faster"] == "int8" and "faster than fp32" in clear["verdict"]
    noisy = compare(_row("a", [2.0, 3.0, 2.5]), _row("b", [2.8, 3.4, 2.6]))
    assert not noisy["separable"] and "not separable within noise" in noisy["verdict"]


def test_int8_not_faster_than_fp32_warns():
    rows = [_row("fp32", [2.0, 2.1, 2.0]), _row("int8", [3.0, 3.1, 3.2], "int8")]
    comps, warns = compare_rows(rows)
    assert len(warns) == 1 and "INT8 int8 is not faster than FP32 fp32 on cpu at batch 1" in warns[0]
    _, warns = compare_rows([_row("fp32", [5.0, 5.1, 4.9]), _row("int8", [2.0, 2.1, 2.2], "int8")])
    assert warns == []
    _, warns = compare_rows([_row("fp32", [2.0, 3.0, 2.5]), _row("int8", [2.2, 2.4, 2.3], "int8")])
    assert (
        len(warns) == 1
        and "is not clearly faster than" in warns[0]
        and "not separable within noise" in warns[0]
    )


def test_cpu_flags_parsed_from_cpuinfo():
    info = cpu_info("processor : 0\nmodel name : Test CPU 9000\nflags : fpu avx2 avx512f avx512_vnni\n")
    assert info["model"] == "Test CPU 9000"
    assert info["flags"]["avx512_vnni"] and info["flags"]["avx2"] and not info["flags"]["avx512_bf16"]


# ----------------------------------------------------------------------------------------- CLI


def test_cli_bench_prints_the_table(run_dir, tmp_path, capsys):
    from edgetl.cli import main

    code = main(
        [
            "bench",
            str(run_dir),
            "--batch",
            "1",
            "--runs",
            "4",
            "--repeat",
            "2",
            "--threads",
            "1",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for word in ("pytorch-eager", "fp32", "int8-dynamic", "p50 ms", "images/s", "100.00%"):
        assert word in out, word
    assert (tmp_path / "bench.json").is_file()
    assert main(["bench", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "no such .onnx file or run directory" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- CUDA


def _cuda_skip_reason() -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "torch.cuda.is_available() is False (no NVIDIA GPU here)"
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider"
    return None


@pytest.mark.cuda
def test_cuda_bench_fp16_and_fp32_batch_1_8_32(run_dir, tmp_path):
    reason = _cuda_skip_reason()
    if reason:
        pytest.skip(reason)
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    fp32 = next((run_dir / "export").glob("*fp32*.onnx"))
    fp16 = tmp_path / "test_efficientnet-fp16-cuda.onnx"
    m = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    for p in m.metadata_props:
        if p.key == "edgetl.precision":
            p.value = '"fp16"'
    onnx.save(m, str(fp16))
    rep = bench(
        BenchConfig(
            models=[str(fp32), str(fp16)],
            torch=str(run_dir),
            providers=["cuda"],
            batch=[1, 8, 32],
            threads=2,
            data=None,
            out=str(tmp_path / "o"),
            **FAST,
        )
    )
    rows = [r for r in rep.rows if r.kind == "onnx"]
    if any(r.status.startswith("skipped") for r in rows):
        pytest.skip(f"CUDA provider did not load: {rows[0].status}")
    assert {(r.precision, r.batch) for r in rows} == {(p, b) for p in ("fp32", "fp16") for b in (1, 8, 32)}
    assert all(r.ok and r.providers_used[0] == "CUDAExecutionProvider" and "GPU" in r.timing for r in rows)


def test_same_file_names_from_two_runs_get_run_names(tmp_path):
    from edgetl.bench.inputs import resolve_inputs

    for run in ("a", "b"):
        (tmp_path / run / "export").mkdir(parents=True)
        (tmp_path / run / "export" / "m-fp32-cpu-x86.onnx").write_bytes(b"x")
    variants, run_dir = resolve_inputs(
        BenchConfig(
            models=[
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                str(tmp_path / "a" / "export" / "m-fp32-cpu-x86.onnx"),
            ]
        )
    )
    assert [v.name for v in variants] == [
        "a/m-fp32-cpu-x86",
        "b/m-fp32-cpu-x86",
    ]  # the repeated file counted once
    assert run_dir == tmp_path / "a"


def test_a_variant_failing_at_run_time_is_a_failed_row_and_exit_1(run_dir, tmp_path, monkeypatch, capsys):
    from edgetl.bench.backends import OrtBackend
    from edgetl.cli import main

    real_run = OrtBackend.run

    def flaky(self, feed):
        if "int8" in self.clf.path.name:
            raise RuntimeError("kernel exploded")
        return real_run(self, feed)

    monkeypatch.setattr(OrtBackend, "run", flaky)
    rep = bench(
        BenchConfig(models=[str(run_dir)], torch="none", threads=1, out=str(tmp_path), plots=False, **FAST)
    )
    status = {r.precision: r.status for r in rep.rows}
    assert status == {"fp32": "ok", "int8-dynamic": "failed: RuntimeError: kernel exploded"}
    assert (
        main(["bench", str(run_dir), "--torch", "none", "--runs", "3", "--out", str(tmp_path), "--quiet"])
        == 1
    )
    assert "failed: RuntimeError: kernel exploded" in capsys.readouterr().err


def test_native_only_times_each_export_on_the_providers_its_target_was_made_for(run_dir, tmp_path):
    """`edgetl run` on a GPU machine timed the CPU INT8 file on CUDA (CPU fallback kernels) and warned
    that INT8 was slower; with --native-only such pairs are skipped rows that say why."""
    from _onnx_fixtures import metadata_for, stamp

    from edgetl.bench.cells import foreign_pair

    assert foreign_pair("fp32", "cpu-x86", "cuda") is None  # FP32 graphs run anywhere
    assert foreign_pair("int8", "cpu-x86", "cpu") is None and foreign_pair("fp16", "cuda", "cuda") is None
    assert "cpu-x86" in foreign_pair("int8", "cpu-x86", "cuda") and "cuda" in foreign_pair(
        "fp16", "cuda", "cpu"
    )
    assert foreign_pair("int8", "tensorrt", "tensorrt") is None and foreign_pair("int8", "", "cuda") is None

    fp32 = next((run_dir / "export").glob("*fp32*.onnx"))
    fp16 = tmp_path / "m-fp16-cuda.onnx"
    fp16.write_bytes(fp32.read_bytes())
    stamp(fp16, metadata_for(["ant", "bee"], precision="fp16", target="cuda"))
    common = dict(torch="none", threads=1, out=str(tmp_path / "b"), plots=False, **FAST)
    rep = bench(BenchConfig(models=[str(run_dir), str(fp16)], native_only=True, **common))
    row = next(r for r in rep.rows if r.variant == "m-fp16-cuda")
    assert row.status.startswith("skipped: fp16 export for --target cuda") and row.batch is None
    assert all(r.ok for r in rep.rows if r.variant != "m-fp16-cuda")
    rep = bench(BenchConfig(models=[str(fp16)], **common))  # asked for explicitly: timed
    assert [r.status for r in rep.rows] == ["ok"]


# ------------------------------------------------------------------------------------ backends
# Adding a backend (e.g. an OpenVINO runtime) is one class registered in `edgetl.bench.backends`
# plus its entry in EXPECTED; a registered backend without an entry fails here.

# backend name -> what its first variant of a run directory is and how its rows read.
EXPECTED = {
    "onnx": {"variant": "test_efficientnet-fp32-cpu-x86", "precision": "fp32", "timing": "session.run"},
    "torch": {"variant": "pytorch-eager", "precision": "fp32", "timing": "torch.inference_mode"},
    "openvino": {
        "variant": "test_efficientnet-fp32-cpu-x86@openvino-f32",
        "precision": "fp32",
        "timing": "OpenVINO infer request",
    },
}
QUIET = Reporter(quiet=True)


def test_every_registered_backend_has_an_entry_here():
    assert set(BACKENDS.names()) == set(EXPECTED), "add the new backend's entry to EXPECTED"
    assert BACKENDS.names()[0] == "onnx"  # ONNX cells open first: they are the agreement reference


@pytest.mark.parametrize("name", BACKENDS.names())
def test_backend_opens_runs_and_gives_a_scored_timed_row(name, run_dir):
    if name == "openvino":
        pytest.importorskip("openvino", reason="openvino is an optional runtime (pip install openvino)")
    backend = BACKENDS.get(name)
    cfg = BenchConfig(models=[str(run_dir)], batch=[1, 2], threads=1, runs=4, repeat=2, warmup=1, pool=4)
    variants = backend.variants(resolve(cfg))
    assert variants and all(v.kind == backend.kind == name for v in variants)
    want = EXPECTED[name]
    v = next(v for v in variants if v.name == want["variant"])
    cell = open_cell(backend, v, "cpu", cfg, process())
    assert isinstance(cell, Cell), cell
    assert cell.failure is None and cell.batches == [1, 2] and cell.labels == ("ant", "bee")
    assert cell.precision == want["precision"] and cell.providers_used and cell.rss_mb is not None

    ev = bench_eval_set(cfg, run_dir, list(cell.labels), QUIET)
    pool = prepare_images(ev, [cell.pre], cfg.pool, QUIET)
    scores, warns = score_cells([cell], pool.eval_set, pool.crops, list(cell.labels), QUIET)
    timed = time_rounds([cell], pool.pool, cfg, QUIET)
    rows = cell_rows(cell, cfg.batch, scores[0], timed[0])

    assert warns == [] and [r.batch for r in rows] == [1, 2]
    for r in rows:
        assert r.status == "ok" and r.kind == name and r.variant == want["variant"]
        assert r.accuracy == 1.0 and r.n_eval == 10  # the fitted tiny model separates the colours
        assert r.runs >= 4 and len(r.round_p50_ms) == 2 and 0 < r.min_ms <= r.p50_ms <= r.p99_ms
        assert want["timing"] in r.timing and r.size_mb and r.size_mb > 0


def test_top1_agrees_across_backends_on_the_same_batch(run_dir):
    """The same network behind every backend: the same predictions on one real batch."""
    cfg = BenchConfig(models=[str(run_dir)], threads=1)
    inputs = resolve(cfg)
    preds = {}
    for name in BACKENDS:
        if name == "openvino" and importlib.util.find_spec("openvino") is None:
            continue  # optional runtime; its own tests skip with the reason
        backend = BACKENDS.get(name)
        v = next(v for v in backend.variants(inputs) if v.name == EXPECTED[name]["variant"])
        cell = open_cell(backend, v, "cpu", cfg, process())
        ev = bench_eval_set(cfg, run_dir, list(cell.labels), QUIET)
        pool = prepare_images(ev, [cell.pre], 8, QUIET)
        preds[name] = predict_all(cell, pool.crops[geometry(cell.pre)])
        cell.backend.close()
    first = next(iter(preds.values()))
    assert all(np.array_equal(p, first) for p in preds.values())


def test_onnx_only_bench_never_imports_torch(run_dir, data_root, tmp_path):
    """The bench's torch-free path: ONNX files with --torch none import no torch, timm or torchvision."""
    fp32 = next((run_dir / "export").glob("*fp32*.onnx"))
    code = (
        "import sys\n"
        "from edgetl.bench import BenchConfig, bench\n"
        f"rep = bench(BenchConfig(models=[{str(fp32)!r}], torch='none', data={str(data_root / 'val')!r}, "
        f"threads=1, runs=3, repeat=1, warmup=0, pool=4, plots=False, out={str(tmp_path)!r}))\n"
        "assert rep.rows[0].ok and rep.rows[0].accuracy is not None, rep.rows[0]\n"
        "print(sorted({'torch', 'timm', 'torchvision'} & {m.split('.')[0] for m in sys.modules}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "[]"
