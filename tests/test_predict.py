"""`edgetl predict`: per-image top-k, JSON, unreadable files, and the same accuracy as `edgetl bench`."""

from __future__ import annotations

import json

import pytest
from _onnx_fixtures import export_tiny, tiny_model

from edgetl.cli import main


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    # Random init: predictions are a mix of right and wrong, so the accuracy check is not trivially 0 or 1.
    return export_tiny(
        tmp_path_factory.mktemp("pred") / "m.onnx", ["ant", "bee", "wasp"], model=tiny_model(3, seed=7)
    )


@pytest.fixture
def val_dir(make_image_folder):
    return make_image_folder(classes=("ant", "bee", "wasp"), n_train=1, n_val=7, size=(45, 31)) / "val"


def test_text_output_per_image_and_accuracy(model_path, val_dir, capsys):
    assert main(["predict", str(model_path), str(val_dir), "--topk", "2", "--providers", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [ln for ln in out if ln.startswith(str(val_dir))]
    assert len(lines) == 21
    assert all("| top-2: " in ln for ln in lines)
    assert any(ln.startswith("top-1 accuracy: ") and "/21 images in label folders" in ln for ln in out)


def test_json_output(model_path, val_dir, capsys):
    assert (
        main(
            ["predict", str(model_path), str(val_dir / "bee"), str(val_dir / "ant" / "img_000.png"), "--json"]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["predictions"]) == 8 and doc["errors"] == []
    p = doc["predictions"][0]
    assert {"path", "label", "index", "score", "topk", "truth"} <= set(p) and len(p["topk"]) == 3
    assert doc["providers"][-1] == "CPUExecutionProvider" and doc["precision"] == "fp32"
    # val/bee/ is a folder argument with no label sub-folders: no ground truth; a lone file: none either.
    assert doc["accuracy"] is None and all(p["truth"] is None for p in doc["predictions"])


def test_unreadable_files_get_one_line_each_and_a_nonzero_exit(model_path, val_dir, capsys):
    (val_dir / "ant" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (val_dir / "bee" / "empty.png").write_bytes(b"")
    code = main(["predict", str(model_path), str(val_dir), str(val_dir / "missing.jpg")])
    captured = capsys.readouterr()
    assert code == 1
    errs = [ln for ln in captured.err.splitlines() if "error:" in ln]
    assert len(errs) == 3 and any("broken.jpg" in e for e in errs) and any("missing.jpg" in e for e in errs)
    assert "Traceback" not in captured.err
    assert "21 image(s) classified, 3 failed" in captured.out


def test_bad_model_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nope")
    assert main(["predict", str(bad), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.onnx" in err[0]


def test_predict_accuracy_equals_bench_accuracy(model_path, val_dir, tmp_path, capsys):
    """Must-show 5: the same model on the same val folder gives the same top-1 in predict and bench."""
    from edgetl.bench import BenchConfig, bench

    (val_dir / "wasp" / "broken.jpg").write_bytes(b"junk")  # both must leave it out the same way
    main(["predict", str(model_path), str(val_dir), "--json", "--providers", "cpu"])
    doc = json.loads(capsys.readouterr().out)
    acc = doc["accuracy"]
    assert acc["images"] == 21 and 0 < acc["correct"] < 21
    rep = bench(
        BenchConfig(
            models=[str(model_path)],
            data=str(val_dir),
            runs=3,
            repeat=1,
            warmup=0,
            threads=1,
            out=str(tmp_path),
        )
    )
    (row,) = rep.rows
    assert row.n_eval == 21
    assert row.accuracy == pytest.approx(acc["top1"], abs=1e-6)


def test_library_predict_streams_results_and_reports_errors(model_path, val_dir):
    """`edgetl.bench.predict.predict` is what the CLI prints: results in order, errors as data."""
    import io

    from edgetl.bench.predict import PredictConfig, predict
    from edgetl.config import ConfigError
    from edgetl.progress import Reporter

    (val_dir / "ant" / "broken.jpg").write_bytes(b"junk")
    seen, err = [], io.StringIO()
    cfg = PredictConfig(model=str(model_path), inputs=[str(val_dir)], topk=2, providers="cpu", batch=4)
    report = predict(cfg, Reporter(stream=err, prefix="edgetl predict: "), on_result=seen.append)
    assert seen == report.predictions and len(seen) == 21
    assert all(len(r.prediction.topk) == 2 and r.truth in ("ant", "bee", "wasp") for r in seen)
    assert [e["path"] for e in report.errors] == [str(val_dir / "ant" / "broken.jpg")]
    assert err.getvalue().startswith("edgetl predict: error: ") and "broken.jpg" in err.getvalue()
    acc = report.accuracy
    assert acc["images"] == 21 and acc["correct"] == sum(r.prediction.label == r.truth for r in seen)
    assert report.summary_lines()[-1].startswith("21 image(s) classified, 1 failed; model m.onnx on CPU")
    with pytest.raises(ConfigError, match="--batch must be >= 1, got 0"):
        PredictConfig(model=str(model_path), inputs=[str(val_dir)], batch=0)
