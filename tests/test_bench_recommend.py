""" "Ship this": the recommendation as a pure function of bench rows, and the deploy folder bench writes."""

from __future__ import annotations

import pytest

from edgetl.bench import BenchRow
from edgetl.bench.recommend import recommend, recommendation_lines


def row(variant, kind="onnx", precision="fp32", p50=10.0, rounds=None, acc=0.9, agree=1.0, n=200, batch=1):
    rounds = rounds or [p50 * 0.98, p50, p50 * 1.02]
    return BenchRow(variant=variant, kind=kind, precision=precision, provider="cpu", batch=batch,
                    file=f"/x/{variant}.onnx", accuracy=acc, agreement=agree, n_eval=n, runs=30,
                    p50_ms=p50, round_p50_ms=rounds)  # fmt: skip


FP32 = row("m-fp32", p50=20.0)


def test_fastest_passing_row_wins_with_runner_up_and_reason():
    rows = [FP32, row("m-int8", precision="int8", p50=8.0, acc=0.895, agree=0.97),
            row("m-fp32@openvino-f32", kind="openvino", p50=18.0)]  # fmt: skip
    rec = recommend(rows, max_acc_drop=1.0, threads=2)
    assert rec.choice.variant == "m-int8" and rec.runner_up.variant == "m-fp32@openvino-f32"
    assert rec.separable and "2.25x faster than the runner-up" in rec.reason
    d = rec.deploy_config()
    assert (d["backend"], d["precision"], d["threads"], d["options"]) == ("onnxruntime", "int8", 2, {})


def test_accuracy_budget_and_precision_gates_reject_with_the_reason():
    rows = [
        FP32,
        row("m-int8", precision="int8", p50=8.0, acc=0.88),  # 2 points below: over a 1-point budget
        row("m-bf16", kind="openvino", precision="bf16", p50=9.0, agree=0.98),  # under FP16's 99%
        row(
            "m-ov-int8", kind="openvino", precision="int8", p50=9.5, acc=0.9, agree=0.95
        ),  # INT8: agreement not required
    ]
    rec = recommend(rows, max_acc_drop=1.0)
    assert rec.choice.variant == "m-ov-int8"
    why = "\n".join(rec.rejected)
    assert "m-int8 on cpu: accuracy 88.00% is 2.00 points below FP32" in why
    assert "m-bf16 on cpu: agreement with FP32 98.00% < 99.0% (bf16 gate)" in why
    assert (
        recommend(rows, max_acc_drop=1.0, min_agreement=0.96).choice.variant == "m-fp32"
    )  # INT8 needs 96% now
    assert recommend(rows, max_acc_drop=1.0).deploy_config()["options"] == {}


def test_not_separable_prefers_onnxruntime_then_fp32_and_says_so():
    noisy = [9.0, 12.0, 15.0]
    rows = [row("m-fp32", p50=12.5, rounds=noisy), row("m-fp32@openvino-f32", kind="openvino", p50=12.0, rounds=noisy),
            row("m-int8", precision="int8", p50=11.8, rounds=noisy)]  # fmt: skip
    rec = recommend(rows)
    assert rec.choice.variant == "m-fp32" and rec.separable is False
    assert "not separable within noise from the fastest, m-int8" in rec.reason and "simpler" in rec.reason
    rows[0] = row("m-fp32", p50=30.0)  # FP32 clearly slower: onnxruntime INT8 beats the tied OpenVINO f32
    assert recommend(rows).choice.variant == "m-int8"


def test_openvino_choice_carries_its_precision_option_and_eager_rows_never_win():
    rows = [FP32, row("m-fp32@openvino-bf16", kind="openvino", precision="bf16", p50=5.0, agree=0.995),
            row("pytorch-eager", kind="torch", p50=1.0)]  # fmt: skip
    rec = recommend(rows)
    assert rec.choice.kind == "openvino" and rec.deploy_config()["options"] == {"precision": "bf16"}
    lines = recommendation_lines(rec.to_dict())
    assert lines[0].startswith("ship this: m-fp32@openvino-bf16 (openvino bf16, cpu)")
    assert lines[1] == "  runner-up: m-fp32 (onnxruntime fp32, cpu)"


def test_nothing_passes_is_said_not_guessed():
    rec = recommend([row("m-int8", precision="int8", acc=0.5)], max_acc_drop=1.0)  # no FP32 row to hold it to
    assert rec.choice is None and rec.deploy_config() is None
    assert "no timed onnxruntime FP32 row" in rec.rejected[0]
    assert recommendation_lines(rec.to_dict())[0].startswith("ship this: nothing")


def test_bench_writes_a_deploy_folder_that_loads_as_measured(tmp_path):
    pytest.importorskip("openvino", reason="openvino is an optional runtime (pip install openvino)")
    from conftest import COLORS, write_images

    data_root = tmp_path / "data"
    for ci, cls in enumerate(["ant", "bee"]):
        write_images(data_root / "train" / cls, COLORS[ci], 10, (40, 32), seed=ci)
        write_images(data_root / "val" / cls, COLORS[ci], 5, (40, 32), seed=100 + ci)
    from _onnx_fixtures import make_run_dir

    from edgetl.bench import BenchConfig, bench
    from edgetl.runtime import Classifier
    from edgetl.runtime.deploy import read_deploy

    run = make_run_dir(tmp_path / "run", data_root)
    cfg = BenchConfig(models=[str(run)], torch="none", backends=["onnxruntime", "openvino"], threads=1,
                      runs=4, repeat=2, warmup=1, pool=4, plots=False, max_acc_drop=5.0)  # fmt: skip
    rep = bench(cfg)
    assert {r.kind for r in rep.rows} == {"onnx", "openvino"}
    rec = rep.recommendation
    assert rec["choice"] and rec["deploy_dir"] == str(run / "deploy")
    d = read_deploy(run / "deploy")
    clf = Classifier.load(run / "deploy")
    assert (clf.backend, clf.precision, d.threads) == (d.backend, d.precision, 1)
    assert d.measured["variant"] in {r.variant for r in rep.rows}


def test_threads_sweep_skips_counts_past_the_cores_and_recommends_per_count(tmp_path, monkeypatch):
    """--threads 1,2,4 on a 2-core machine: rows at 1 and 2 threads, the 4-thread rows skipped with the reason."""
    from conftest import COLORS, write_images

    import edgetl._resources as res
    from edgetl.bench import BenchConfig, bench

    monkeypatch.setattr(res, "usable_cores", lambda: 2)
    data_root = tmp_path / "data"
    for ci, cls in enumerate(["ant", "bee"]):
        write_images(data_root / "train" / cls, COLORS[ci], 10, (40, 32), seed=ci)
        write_images(data_root / "val" / cls, COLORS[ci], 5, (40, 32), seed=100 + ci)
    from _onnx_fixtures import make_run_dir

    run = make_run_dir(tmp_path / "run", data_root, int8=False)
    cfg = BenchConfig(models=[str(run)], torch="none", threads=[4, 1, 2], runs=2, repeat=1, warmup=0, pool=2,
                      plots=False)  # fmt: skip
    rep = bench(cfg)
    by_threads = {r.threads: r for r in rep.rows}
    assert sorted(by_threads) == [1, 2, 4] and by_threads[1].ok and by_threads[2].ok
    assert by_threads[4].status.startswith("skipped: --threads 4 is more than the 2 usable CPU cores")
    assert rep.env["threads"] == [1, 2, 4]
    assert {c["threads"] for c in rep.comparisons} <= {1, 2}
    assert rep.recommendation["deploy"]["threads"] in (1, 2)
    assert f"{rep.recommendation['deploy']['threads']} threads" in rep.recommendation["choice"]


def test_one_image_of_drop_fits_the_budget_with_rounded_accuracies():
    """153 images: one image is 0.654 points, above --max-acc-drop 0.5: the budget is one image (as at export)."""
    rows = [row("m-fp32", acc=0.947712, n=153), row("m-int8", precision="int8", p50=5.0, acc=0.941176, n=153)]
    assert recommend(rows, max_acc_drop=0.5).choice.variant == "m-int8"
    rows[1] = row("m-int8", precision="int8", p50=5.0, acc=0.934641, n=153)  # two images
    assert recommend(rows, max_acc_drop=0.5).choice.variant == "m-fp32"
