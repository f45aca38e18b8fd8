"""Runtime backends behind `Classifier.load(backend=...)`, and deploy folders (`Classifier.load(DIR)`)."""

from __future__ import annotations

import builtins
import json
import warnings

import numpy as np
import pytest
from _onnx_fixtures import export_tiny, tiny_model

from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.runtime import Classifier
from edgetl.runtime.deploy import DeployConfig, DeployFallbackWarning, read_deploy, write_deploy

LABELS = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("be") / "tiny-fp32.onnx", LABELS, model=tiny_model(3, seed=1))


@pytest.fixture(scope="module")
def int8_qdq(fp32, tmp_path_factory):
    """A static QDQ INT8 copy (what edgetl export writes for CPUs), calibrated on random inputs."""
    import onnx
    from _onnx_fixtures import stamp
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from edgetl.runtime.metadata import ModelMetadata

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.it = iter(
                [{"input": rng.standard_normal((1, 3, 32, 32), dtype=np.float32)} for _ in range(8)]
            )

        def get_next(self):
            return next(self.it, None)

    dst = tmp_path_factory.mktemp("be8") / "tiny-int8.onnx"
    quantize_static(str(fp32), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)  # fmt: skip
    md = ModelMetadata.from_props({p.key: p.value for p in onnx.load(str(fp32)).metadata_props})
    md.precision = "int8"
    return stamp(dst, md)


def _block_openvino(monkeypatch) -> None:
    """As on a device without openvino: importing it fails."""
    real = builtins.__import__

    def refuse(name, *a, **k):
        if name.split(".")[0] == "openvino":
            raise ImportError("No module named 'openvino'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", refuse)


@pytest.fixture
def no_openvino(monkeypatch):
    _block_openvino(monkeypatch)


def _batch(clf: Classifier, n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(n)]
    return clf.preprocess_batch(imgs)


def test_onnxruntime_is_the_default_and_says_what_runs(fp32):
    clf = Classifier.load(fp32, threads=1)
    assert (clf.backend, clf.precision) == ("onnxruntime", "fp32")
    assert clf.providers == ["CPUExecutionProvider"]
    with pytest.raises(EdgetlError, match="OpenVINO option"):
        Classifier.load(fp32, precision="bf16")


def test_unknown_backend_suggests_the_close_name(fp32):
    with pytest.raises(UnknownNameError, match="openvino"):
        Classifier.load(fp32, backend="openvno")


@pytest.mark.parametrize("which", ["fp32", "int8_qdq"])
def test_openvino_predicts_the_same_top1_as_onnxruntime(which, request):
    pytest.importorskip("openvino", reason="openvino is an optional runtime (pip install openvino)")
    path = request.getfixturevalue(which)
    ort = Classifier.load(path, threads=1)
    ov = Classifier.load(path, backend="openvino", precision="f32", threads=1)
    assert ov.backend == "openvino" and ov.providers[0].startswith("OpenVINO")
    assert ov.precision == ("fp32" if which == "fp32" else "int8") and ov.metadata == ort.metadata
    x = _batch(ort)
    a, b = ort.logits(x), ov.logits(x)
    assert a.shape == b.shape == (16, 3)
    top2 = np.sort(a, axis=1)[:, -2:]
    decisive = (top2[:, 1] - top2[:, 0]) > (1e-4 if which == "fp32" else 0.05)
    assert decisive.sum() >= 8  # the comparison is not vacuous
    assert np.array_equal(a.argmax(1)[decisive], b.argmax(1)[decisive])
    if which == "fp32":
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert ov.predict(np.zeros((40, 40, 3), np.uint8)).label in LABELS  # images in, one at a time (batch 1)


def test_openvino_bf16_runs_where_the_cpu_has_it_else_says_why(fp32):
    pytest.importorskip("openvino", reason="openvino is an optional runtime (pip install openvino)")
    try:
        clf = Classifier.load(fp32, backend="openvino", precision="bf16", threads=1)
    except EdgetlError as e:
        assert "no bf16" in str(e) and "\n" not in str(e)
        return
    assert clf.precision == "bf16" and "(bf16)" in clf.providers[0]


def test_openvino_missing_is_one_line_not_a_switch(fp32, no_openvino):
    with pytest.raises(EdgetlError, match="backend 'openvino' is not installed; pip install openvino"):
        Classifier.load(fp32, backend="openvino")


# ------------------------------------------------------------------------------- deploy folders


def _deploy(tmp_path, src, backend, precision, options=None):
    cfg = DeployConfig(file=src.name, backend=backend, precision=precision, threads=1, options=options or {})
    write_deploy(tmp_path / "deploy", src, cfg)
    return tmp_path / "deploy"


def test_deploy_folder_runs_exactly_its_configuration(tmp_path, fp32):
    pytest.importorskip("openvino", reason="openvino is an optional runtime (pip install openvino)")
    d = _deploy(tmp_path, fp32, "openvino", "fp32", {"precision": "f32"})
    assert read_deploy(d).backend == "openvino" and (d / fp32.name).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = Classifier.load(d)
    assert (clf.backend, clf.precision) == ("openvino", "fp32") and "(f32)" in clf.providers[0]
    assert Classifier.load(d, backend="onnxruntime").backend == "onnxruntime"  # asked for: no deploy options


def test_deploy_falls_back_with_one_warning_when_its_backend_is_missing(tmp_path, fp32, monkeypatch):
    d = _deploy(tmp_path, fp32, "openvino", "fp32", {"precision": "f32"})
    _block_openvino(monkeypatch)
    with pytest.warns(DeployFallbackWarning) as rec:
        clf = Classifier.load(d)
    assert len(rec) == 1 and "openvino is not installed" in str(rec[0].message)
    assert (clf.backend, clf.precision) == ("onnxruntime", "fp32")


def test_bad_deploy_json_is_one_line_naming_the_file(tmp_path, fp32):
    d = _deploy(tmp_path, fp32, "onnxruntime", "fp32")
    (d / "deploy.json").write_text(
        json.dumps({"file": "../x.onnx", "backend": "onnxruntime", "precision": "fp32"})
    )
    with pytest.raises(EdgetlError, match=r"deploy.json: file '\.\./x\.onnx'"):
        Classifier.load(d)
    (d / "deploy.json").write_text(json.dumps({"file": fp32.name, "backend": "onnxruntime", "precison": "x"}))
    with pytest.raises(EdgetlError, match="deploy.json"):
        Classifier.load(d)


def test_a_new_recommendation_replaces_the_old_model_in_the_deploy_folder(tmp_path, fp32, int8_qdq):
    d = _deploy(tmp_path, fp32, "onnxruntime", "fp32")
    _deploy(tmp_path, int8_qdq, "onnxruntime", "int8")
    assert sorted(p.name for p in d.iterdir()) == ["deploy.json", int8_qdq.name]
    assert Classifier.load(d).precision == "int8"
