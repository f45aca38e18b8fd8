"""edgetl.runtime: Classifier loading, predictions, input checks, providers, thread safety."""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from _onnx_fixtures import TINY_CONFIG, export_tiny, metadata_for, quantize_tiny, stamp, tiny_model
from PIL import Image

from edgetl.errors import EdgetlError, UnknownNameError
from edgetl.runtime import BadImageError, Classifier, InputError, Prediction, ProviderFallbackWarning, softmax

CPU = "CPUExecutionProvider"


@pytest.fixture(scope="module")
def model_and_onnx(tmp_path_factory):
    d = tmp_path_factory.mktemp("rt")
    model = tiny_model(3, seed=1)
    path = export_tiny(d / "tiny-fp32.onnx", ["cat", "dog", "fox"], model=model)
    return model, path


@pytest.fixture(scope="module")
def clf(model_and_onnx):
    return Classifier.load(model_and_onnx[1], providers="cpu", threads=1)


def _img(w=50, h=40, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _cuda_really_works() -> bool:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


# ------------------------------------------------------------------------------------ imports


def assert_imports_none_of(imports: str, banned: set[str]) -> None:
    """`imports` run in a fresh interpreter must not load any of the `banned` top-level packages."""
    code = f"import sys\n{imports}\nbad = {banned!r} & {{m.split('.')[0] for m in sys.modules}}\nassert not bad, bad\n"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_runtime_pulls_in_no_torch_timm_or_torchvision():
    """The runtime, and what predict uses besides it (the file walker, locks, resource checks)."""
    imports = (
        "import edgetl.runtime, edgetl.runtime.files, edgetl._lock, edgetl._resources, edgetl.bench.predict\n"
        "from edgetl.runtime import Classifier, Preprocess"
    )
    assert_imports_none_of(imports, {"torch", "torchvision", "timm"})


def test_import_edgetl_alone_is_light():
    assert_imports_none_of(
        "import edgetl", {"torch", "torchvision", "timm", "onnx", "onnxruntime", "numpy", "PIL", "matplotlib"}
    )


# -------------------------------------------------------------------------------- predictions


def test_predictions_match_the_torch_model_and_timm_transform(model_and_onnx, clf):
    import torch
    from timm.data import create_transform

    model, _ = model_and_onnx
    tf = create_transform(**{k: TINY_CONFIG[k] for k in TINY_CONFIG if k != "crop_mode"}, is_training=False)
    imgs = [
        Image.fromarray(_img(w, h, seed=i))
        for i, (w, h) in enumerate([(50, 40), (31, 77), (64, 64), (200, 90)])
    ]
    with torch.inference_mode():
        want = torch.softmax(model(torch.stack([tf(im) for im in imgs])), dim=1).numpy()
    preds = clf.predict(imgs, topk=3)
    got = np.array([[dict(p.topk)[lab] for lab in clf.labels] for p in preds])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert [p.index for p in preds] == list(want.argmax(1))


def test_single_in_single_out_batch_in_list_out(clf, tmp_path):
    arr = _img(60, 45, seed=3)
    path = tmp_path / "x.png"
    Image.fromarray(arr).save(path)
    one = clf.predict(path)
    assert isinstance(one, Prediction)
    assert one.label == clf.labels[one.index] and one.score == one.topk[0][1]
    for same in (clf.predict(str(path)), clf.predict(Image.open(path)), clf.predict(arr)):
        assert isinstance(same, Prediction) and same.topk == one.topk
    many = clf.predict([path, arr])
    assert isinstance(many, list) and len(many) == 2 and many[0].topk == one.topk
    stacked = clf.predict(np.stack([arr, arr]))  # N x H x W x 3 -> list
    assert [p.topk for p in stacked] == [one.topk, one.topk]
    assert clf.predict_batch([arr])[0].topk == one.topk


def test_topk_is_sorted_probabilities_capped_at_class_count(clf):
    p = clf.predict(_img(), topk=10)
    probs = [s for _, s in p.topk]
    assert len(p.topk) == 3 and probs == sorted(probs, reverse=True)
    assert abs(sum(probs) - 1.0) < 1e-5
    assert len(clf.predict(_img(), topk=1).topk) == 1
    assert p.to_dict()["topk"][0] == {"label": p.label, "prob": p.score}


# ---------------------------------------------------------------------------- input checking


def test_wrong_inputs_are_clear_errors_not_onnxruntime_tracebacks(clf, tmp_path):
    good = clf.preprocess_batch([_img()])
    assert good.shape == (1, 3, 32, 32) and good.dtype == np.float32
    with pytest.raises(InputError, match=r"expects N x 3 x 32 x 32 float32"):
        clf.logits(good[0])  # rank 3
    with pytest.raises(InputError, match=r"shape \(1, 3, 40, 40\)"):
        clf.logits(np.zeros((1, 3, 40, 40), np.float32))
    with pytest.raises(InputError, match="dtype float64"):
        clf.logits(good.astype(np.float64))
    with pytest.raises(InputError, match="H x W x 3 uint8"):
        clf.predict(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(InputError, match="H x W x 3 uint8"):
        clf.predict(np.zeros((32, 32), np.uint8))
    with pytest.raises(InputError, match="cannot use a int"):
        clf.predict(42)
    with pytest.raises(InputError, match="no images"):
        clf.predict([])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(BadImageError, match="broken.jpg"):
        clf.predict(bad)
    np.testing.assert_allclose(clf.logits(good), clf.logits(good.astype(np.float16)), atol=1e-2)


# -------------------------------------------------------------------------------- bad models


def test_missing_or_non_onnx_files_are_clear_errors(tmp_path):
    with pytest.raises(EdgetlError, match="does not exist"):
        Classifier.load(tmp_path / "nope.onnx")
    with pytest.raises(EdgetlError, match="is a directory"):
        Classifier.load(tmp_path)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(EdgetlError, match="junk.onnx"):
        Classifier.load(junk, providers="cpu")


def test_missing_or_malformed_metadata_is_a_clear_error(tmp_path, model_and_onnx):
    import shutil

    path = tmp_path / "plain.onnx"
    shutil.copy(model_and_onnx[1], path)
    stamp(path, None)
    with pytest.raises(
        EdgetlError,
        match="no edgetl metadata edgetl.labels, edgetl.input_size, edgetl.mean, edgetl.std in the model: add .*edgetl export",
    ):
        Classifier.load(path, providers="cpu")
    props = metadata_for(["a", "b", "c"]).to_props()
    stamp(path, {**props, "edgetl.labels": "[not json"})
    with pytest.raises(EdgetlError, match="bad edgetl metadata"):
        Classifier.load(path, providers="cpu")
    stamp(path, {**props, "edgetl.labels": '"cat"'})
    with pytest.raises(
        EdgetlError, match="edgetl.labels must be a list of 1 to 100000 class names .found 'cat'."
    ):
        Classifier.load(path, providers="cpu")
    stamp(path, {**props, "edgetl.interpolation": '"bicubik"'})
    with pytest.raises(EdgetlError, match="bicubic"):
        Classifier.load(path, providers="cpu")
    stamp(path, metadata_for(["a", "b", "c"], {"input_size": (3, 64, 64)}))
    with pytest.raises(EdgetlError, match="does not match its graph"):
        Classifier.load(path, providers="cpu")


def _external_data_model(folder: Path, location: str) -> Path:
    """A model whose weights live in an external file, with its location rewritten to `location`."""
    import onnx

    src = export_tiny(folder / "src.onnx", ["a", "b"])
    m = onnx.load(str(src))
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(
        m, str(folder / "ext.onnx"), save_as_external_data=True, location="ext.onnx.data", size_threshold=0
    )
    m = onnx.load(str(folder / "ext.onnx"), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    onnx.save(m, str(folder / "ext.onnx"))
    return folder / "ext.onnx"


def test_external_data_next_to_the_model_loads(tmp_path):
    path = _external_data_model(tmp_path / "m", "ext.onnx.data")
    assert isinstance(Classifier.load(path, providers="cpu").predict(_img()), Prediction)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location, monkeypatch):
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 4096)
    path = _external_data_model(tmp_path / "m", location)
    with pytest.raises(EdgetlError, match="outside the model's folder"):
        Classifier.load(path, providers="cpu")
    # Without the onnx-based pre-check (an app without `onnx`), onnxruntime's own check still refuses.
    monkeypatch.setattr("edgetl.runtime.classifier.check_external_data", lambda p: None)
    with pytest.raises(EdgetlError, match="cannot load this model.*(escapes model directory|Absolute path)"):
        Classifier.load(path, providers="cpu")


# --------------------------------------------------------------------------- model variants


def test_static_batch_model_serves_any_number_of_images(tmp_path, model_and_onnx):
    model, dyn = model_and_onnx
    static = export_tiny(tmp_path / "static.onnx", ["cat", "dog", "fox"], model=model, dynamic_batch=False)
    c = Classifier.load(static, providers="cpu")
    assert c.static_batch == 1
    imgs = [_img(seed=i) for i in range(3)]
    want = Classifier.load(dyn, providers="cpu").predict(imgs)
    got = c.predict(imgs)
    assert [p.index for p in got] == [p.index for p in want]
    np.testing.assert_allclose([p.score for p in got], [p.score for p in want], atol=1e-6)


def test_probs_output_is_used_when_the_graph_has_it(tmp_path, model_and_onnx):
    model, _ = model_and_onnx
    path = export_tiny(tmp_path / "sm.onnx", ["cat", "dog", "fox"], model=model, softmax=True)
    c = Classifier.load(path, providers="cpu")
    assert c.probs_name == "probs" and c.metadata.softmax
    batch = c.preprocess_batch([_img(seed=i) for i in range(4)])
    np.testing.assert_allclose(c.probabilities(batch), softmax(c.logits(batch)), atol=1e-6)


def test_uint8_nhwc_model_gets_cropped_pixels_and_agrees_with_the_float_model(tmp_path, model_and_onnx):
    """A graph with the normalisation baked in takes N x H x W x 3 uint8; same answers as the float model."""
    import torch

    model, dyn = model_and_onnx
    mean = torch.tensor(TINY_CONFIG["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(TINY_CONFIG["std"]).view(1, 3, 1, 1)

    class Baked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):
            x = x.permute(0, 3, 1, 2).float() / 255.0
            return self.m((x - mean) / std)

    path = tmp_path / "u8.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Baked().eval(),
            torch.zeros(1, 32, 32, 3, dtype=torch.uint8),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "b"}, "logits": {0: "b"}},
            opset_version=17,
            dynamo=False,
        )
    stamp(path, metadata_for(["cat", "dog", "fox"], input_layout="nhwc-uint8"))
    c = Classifier.load(path, providers="cpu")
    imgs = [_img(70, 45, seed=i) for i in range(3)]
    batch = c.preprocess_batch(imgs)
    assert batch.dtype == np.uint8 and batch.shape == (3, 32, 32, 3)
    ref = Classifier.load(dyn, providers="cpu")
    np.testing.assert_allclose(
        [p.score for p in c.predict(imgs)], [p.score for p in ref.predict(imgs)], atol=1e-5
    )
    with pytest.raises(InputError, match="uint8"):
        c.logits(batch.astype(np.float32))


def test_int8_dynamic_model_loads_and_predicts(tmp_path, model_and_onnx):
    q = quantize_tiny(model_and_onnx[1], tmp_path / "q.onnx")
    c = Classifier.load(q, providers="cpu")
    assert c.metadata.precision == "int8-dynamic"
    assert len(c.predict([_img(seed=i) for i in range(3)])) == 3


# ---------------------------------------------------------------------------------- providers


def test_cpu_provider_and_threads(model_and_onnx):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = Classifier.load(model_and_onnx[1], providers="cpu", threads=3)
    assert c.providers == [CPU] and c.fallback is None
    assert c.session.get_session_options().intra_op_num_threads == 3


def test_auto_never_warns(model_and_onnx):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = Classifier.load(model_and_onnx[1], providers="auto")
    assert c.fallback is None and c.providers[-1] == CPU


def test_unknown_provider_suggests_the_close_name(model_and_onnx):
    with pytest.raises(UnknownNameError, match="did you mean 'cuda'"):
        Classifier.load(model_and_onnx[1], providers="cdua")


def test_tensorrt_fallback_reason_is_onnxruntimes_own_sentence():
    """onnxruntime prints its TensorRT failure to stdout (which broke `predict --json`); edgetl captures
    it and keeps the sentence a user can act on. Text as printed by onnxruntime-gpu 1.31.1 on an H100."""
    from edgetl.runtime.providers import _ep_error

    printed = (
        "*************** EP Error ***************\n"
        "EP Error /onnxruntime_src/onnxruntime/python/onnxruntime_pybind_state.cc:729 void "
        "onnxruntime::python::RegisterTensorRTPluginsAsCustomOps(PySessionOptions&, const "
        "onnxruntime::ProviderOptions&) Please install TensorRT libraries as mentioned in the GPU "
        "requirements page, make sure they're in the PATH or LD_LIBRARY_PATH, and that your GPU is supported.\n"
        " when using ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']\n"
        "Falling back to ['CUDAExecutionProvider', 'CPUExecutionProvider'] and retrying.\n"
    )
    assert _ep_error(printed).startswith("Please install TensorRT libraries")
    assert "onnxruntime_src" not in _ep_error(printed) and _ep_error("nothing printed") == ""


def test_cuda_without_a_gpu_falls_back_with_one_warning_and_records_it(model_and_onnx):
    if _cuda_really_works():
        pytest.skip("a GPU works here: no fallback to observe")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = Classifier.load(model_and_onnx[1], providers="cuda")
    fallbacks = [w for w in caught if issubclass(w.category, ProviderFallbackWarning)]
    assert len(fallbacks) == 1 and "fell back to CPU" in str(fallbacks[0].message)
    assert c.providers == [CPU] and "CUDA" in c.fallback
    assert isinstance(c.predict(_img()), Prediction)  # still works, on CPU


def test_onnxruntime_cuda_library_errors_stay_quiet(model_and_onnx):
    """onnxruntime-gpu without CUDA libs logs errors (libcublasLt...) on stderr; we keep them quiet."""
    code = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from edgetl.runtime import Classifier\n"
        f"c = Classifier.load({str(model_and_onnx[1])!r}, providers='cuda')\n"
        f"c = Classifier.load({str(model_and_onnx[1])!r}, providers='auto')\n"
        "print(c.providers)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "onnxruntime" not in res.stderr and "libcu" not in res.stderr, res.stderr


# ------------------------------------------------------------------------------- concurrency


def test_load_8_threads_x_200_predicts_identical_results_bounded_memory(model_and_onnx):
    """Must-show 4: one Classifier, 8 threads x 200 predict calls, no error, same answers as
    single-threaded, resident memory growth under 64 MB (after a warm-up)."""
    import psutil

    c = Classifier.load(model_and_onnx[1], providers="cpu", threads=2)
    inputs = [_img(30 + 7 * i, 20 + 5 * i, seed=i) for i in range(16)]
    expected = [c.predict(x) for x in inputs]
    for x in inputs * 5:  # warm-up: allocator arenas reach their steady size
        c.predict(x)
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    errors: list[BaseException] = []
    mismatches: list[tuple[int, int]] = []
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(200):
                k = (t * 31 + i) % len(inputs)
                if c.predict(inputs[k]) != expected[k]:
                    mismatches.append((t, i))
        except BaseException as e:  # surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=300)
    growth_mb = (proc.memory_info().rss - rss0) / 2**20
    assert not errors, errors[:3]
    assert not mismatches, f"{len(mismatches)} predictions differ from single-threaded"
    assert all(not th.is_alive() for th in threads)
    assert growth_mb < 64, f"RSS grew {growth_mb:.1f} MB over 1600 predict calls"
