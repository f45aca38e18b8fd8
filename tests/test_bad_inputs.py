"""Bad inputs not covered elsewhere: each is one clear line naming the file or option, and leaves
nothing behind (no output folder, no partial file).

Already covered (see docs/robustness.md): images (test_images.py, test_data.py), garbage bytes as
.onnx, missing metadata and external data outside the folder in `Classifier.load`
(test_runtime.py), runtime inputs of the wrong rank/dtype/size (test_runtime.py), `edgetl train`
options and data (test_train_errors.py), checkpoints (test_foundation.py, test_export.py) and
config keys (test_foundation.py, test_train_config.py, test_pipeline.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from _onnx_fixtures import export_tiny, metadata_for, stamp

from edgetl.cli import main
from edgetl.errors import EdgetlError
from edgetl.runtime import BadImageError, Classifier, InputError

LABELS = ["ant", "bee"]


def cli_error(capfd, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr (onnxruntime's own C++ log
    lines included: capfd sees the file descriptors) and nothing on stdout."""
    capfd.readouterr()
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"edgetl {argv[0]}: error: "), err
    assert out == "", out
    return lines[0]


# -------------------------------------------------------------------------------- broken models


@pytest.fixture(scope="module")
def good_onnx(tmp_path_factory) -> Path:
    return export_tiny(tmp_path_factory.mktemp("good") / "good.onnx", LABELS)


def _external(folder: Path, good: Path) -> tuple[Path, Path]:
    """A copy of `good` whose weights live in folder/model.onnx.data -> (model, data file)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(
        onnx.load(str(good)),
        str(folder / "model.onnx"),
        save_as_external_data=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    return folder / "model.onnx", folder / "model.onnx.data"


def _graph(path: Path, inputs: list[tuple[str, int]]) -> Path:
    """A valid ONNX graph with edgetl metadata but the wrong inputs for a classifier."""
    import onnx
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info(n, t, ["N", 3, 32, 32]) for n, t in inputs]
    node = helper.make_node("ReduceMean", [inputs[0][0]], ["logits"], axes=[2, 3], keepdims=0)
    if inputs[0][1] != TensorProto.FLOAT:
        cast = helper.make_node("Cast", [inputs[0][0]], ["f"], to=TensorProto.FLOAT)
        node = helper.make_node("ReduceMean", ["f"], ["logits"], axes=[2, 3], keepdims=0)
        nodes = [cast, node]
    else:
        nodes = [node]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])
    model = helper.make_model(
        helper.make_graph(nodes, "g", ins, [out]), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return stamp(path, metadata_for(["a", "b", "c"]))


def make_bad_model(kind: str, folder: Path, good: Path) -> tuple[Path, str]:
    """-> (model path, text the error must contain)."""
    from onnx import TensorProto

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    if kind == "empty":
        path.write_bytes(b"")
        return path, "model.onnx"
    if kind == "truncated":  # a copy or a download cut short
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, "not a readable ONNX model"
    if kind == "text":
        path.write_text("<html>404 Not Found</html>\n")
        return path, "not a readable ONNX model"
    if kind == "no-metadata":
        path.write_bytes(good.read_bytes())
        stamp(path, None)
        return path, "no edgetl metadata"
    if kind == "two-inputs":
        return _graph(path, [("a", TensorProto.FLOAT), ("b", TensorProto.FLOAT)]), "2 inputs"
    if kind == "int64-input":
        return _graph(path, [("input", TensorProto.INT64)]), "type tensor(int64)"
    if kind == "external-data-missing":
        path, data = _external(folder, good)
        data.unlink()
        return path, "external data file 'model.onnx.data' is missing"
    if kind == "external-data-truncated":
        path, data = _external(folder, good)
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        return path, "onnxruntime cannot load this model"
    if kind == "traversal-dotdot":  # ../secret next to the model's folder
        path, data = _external(folder, good)
        (folder.parent / "secret.bin").write_bytes(data.read_bytes())
        _relocate(path, "../secret.bin")
        return path, "outside the model's folder"
    if kind == "traversal-symlink":  # the .data name is inside the folder, the file it links to is not
        path, data = _external(folder, good)
        secret = folder.parent / "secret.bin"
        secret.write_bytes(data.read_bytes())
        data.unlink()
        os.symlink(secret, data)
        return path, "outside the model's folder"
    raise ValueError(kind)


def _relocate(path: Path, location: str) -> None:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    onnx.save(m, str(path))


BAD_MODELS = [
    "empty",
    "truncated",
    "text",
    "no-metadata",
    "two-inputs",
    "int64-input",
    "external-data-missing",
    "external-data-truncated",
    "traversal-dotdot",
    "traversal-symlink",
]


@pytest.mark.parametrize("kind", BAD_MODELS)
def test_bad_model_file_is_refused_by_classifier_load(kind, good_onnx, tmp_path) -> None:
    path, message = make_bad_model(kind, tmp_path / "m", good_onnx)
    with pytest.raises(EdgetlError) as e:
        Classifier.load(path, providers="cpu")
    assert message in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("kind", BAD_MODELS)
def test_bad_model_file_is_one_line_from_predict_and_bench(kind, good_onnx, tmp_path, capfd) -> None:
    from PIL import Image

    path, message = make_bad_model(kind, tmp_path / "m", good_onnx)
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(img)
    err = cli_error(capfd, ["predict", str(path), str(img), "--providers", "cpu"])
    assert message in err and str(path) in err, err
    out = tmp_path / "bench-out"
    err = cli_error(capfd, ["bench", str(path), "--out", str(out), "--runs", "2", "--warmup", "0", "--quiet"])
    assert message in err and str(path) in err, err
    assert not out.exists()


def test_truncated_export_in_a_run_directory_stops_bench_naming_it(good_onnx, tmp_path, capfd) -> None:
    """A run dir whose export/ holds a cut .onnx (copied while being written by something else)."""
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    good = run / "export" / "m-fp32-cpu-x86.onnx"
    good.write_bytes(good_onnx.read_bytes())
    bad = run / "export" / "m-int8-cpu-x86.onnx"
    bad.write_bytes(good_onnx.read_bytes()[:1000])
    err = cli_error(capfd, ["bench", str(run), "--torch", "none", "--runs", "2", "--warmup", "0", "--quiet"])
    assert str(bad) in err and "not a readable ONNX model" in err
    assert not (run / "bench").exists()


# ------------------------------------------------------------------------------ runtime inputs


@pytest.fixture(scope="module")
def clf(good_onnx) -> Classifier:
    return Classifier.load(good_onnx, providers="cpu", threads=1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.logits(np.zeros((0, 3, 32, 32), np.float32)), r"shape \(0, 3, 32, 32\)"),
        (lambda c: c.logits(np.zeros((1, 32, 32, 3), np.float32)), r"expects N x 3 x 32 x 32 float32 \(NCHW"),
        (lambda c: c.logits(np.zeros((1, 1, 3, 32, 32), np.float32)), r"shape \(1, 1, 3, 32, 32\)"),
        (lambda c: c.logits(np.zeros((1, 3, 32, 32), np.int32)), "dtype int32"),
        (lambda c: c.logits([[0.0] * 32]), "expected a numpy array, got list"),
        (lambda c: c.predict(np.zeros((20, 20, 4), np.uint8)), r"H x W x 3 uint8 RGB, got uint8 \(20, 20, 4\)"),
        (lambda c: c.predict(np.zeros((20, 20, 3), bool)), "got bool"),
        (lambda c: c.predict(np.zeros((20, 20, 3), np.uint16)), "got uint16"),
        (lambda c: c.predict(np.zeros((0, 20, 3), np.uint8)), r"got uint8 \(0, 20, 3\)"),
        (lambda c: c.predict(np.zeros((0, 20, 20, 3), np.uint8)), "no images given"),
        (lambda c: c.predict(np.zeros((2, 20, 20, 4), np.uint8)), r"\(20, 20, 4\)"),
        (lambda c: c.predict([np.zeros((20, 20, 3), np.uint8), None]), "cannot use a NoneType as an image"),
        (lambda c: c.predict([[1, 2, 3]]), "cannot use a list as an image"),
        (lambda c: c.predict(b"\x89PNG..."), "cannot use a bytes as an image"),
    ],
    ids=["empty-batch", "nhwc-float", "rank-5", "int32", "list-batch", "rgba", "bool", "uint16",
         "zero-height", "empty-array-batch", "rgba-batch", "none-in-list", "nested-list", "bytes"],
)  # fmt: skip
def test_runtime_input_that_does_not_fit_is_an_input_error(clf, call, message) -> None:
    with pytest.raises(InputError, match=message) as e:
        call(clf)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)


def test_one_unreadable_file_in_a_batch_names_that_file(clf, tmp_path) -> None:
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(good)
    with pytest.raises(BadImageError, match="missing.jpg"):
        clf.predict([good, tmp_path / "missing.jpg"])


def test_odd_memory_layouts_give_the_same_answer(clf) -> None:
    """Views (negative strides, slices, Fortran order, read-only) are accepted, not refused or misread."""
    img = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    want = clf.predict(img).topk
    flipped = np.ascontiguousarray(img[:, ::-1])
    ro = img.copy()
    ro.flags.writeable = False
    assert clf.predict(img[:, ::-1]).topk == clf.predict(flipped).topk
    assert clf.predict(np.asfortranarray(img)).topk == want
    assert clf.predict(ro).topk == want
    assert clf.predict(np.pad(img, ((0, 0), (0, 0), (0, 1)))[..., :3]).topk == want
    batch = clf.preprocess_batch([img, img])
    np.testing.assert_allclose(
        clf.logits(batch[:, :, ::-1, :]), clf.logits(np.ascontiguousarray(batch[:, :, ::-1, :]))
    )


# ------------------------------------------------------------------ checkpoints given to export


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    from conftest import COLORS, write_images

    root = tmp_path_factory.mktemp("colours") / "data"
    for i, cls in enumerate(LABELS):
        write_images(root / "train" / cls, COLORS[i], 4, seed=i)
        write_images(root / "val" / cls, COLORS[i], 2, seed=100 + i)
    return root


def _state(model_name: str, classes: int) -> dict:
    from edgetl.models import create_classifier

    model, _ = create_classifier(model_name, classes, "none", img_size=32)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def _run_dir(folder: Path, data: Path, meta_model: str, labels: list[str], state: dict) -> Path:
    """A run directory whose checkpoint says `meta_model` with `labels` but holds `state`."""
    import yaml
    from safetensors.torch import save_file

    from edgetl.models import CheckpointMeta, create_classifier

    _, info = create_classifier(meta_model, len(labels), "none", img_size=32)
    meta = CheckpointMeta(model=meta_model, labels=labels, data_config=info.data_config)
    (folder / "checkpoints").mkdir(parents=True)
    save_file(state, str(folder / "checkpoints" / "best.safetensors"), metadata={"edgetl": meta.to_json()})
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": str(data)}))
    return folder


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("weights-of-another-architecture", r"does not fit test_efficientnet with 2 classes \(\d+ missing tensors"),
        # the first mismatching head tensor is named (weight or bias: the file's order decides)
        ("weights-with-3-classes", r"tensor classifier\.(weight|bias) has shape \(3\b.*\), test_efficientnet "
                                   r"with 2 classes expects \(2\b"),
        ("run-of-another-architecture", r"does not fit test_efficientnet with \d+ classes \(\d+ missing"),
        ("run-labels-vs-head", r"tensor classifier\.(weight|bias) has shape \(2\b.*\), test_efficientnet "
                               r"with 3 classes expects \(3\b"),
    ],
)  # fmt: skip
def test_checkpoint_that_does_not_fit_is_refused_by_export(case, message, colours, tmp_path, capfd) -> None:
    from safetensors.torch import save_file

    out = tmp_path / "out"
    common = ["--precisions", "fp32", "--out", str(out), "--quiet"]
    if case.startswith("weights"):
        weights = tmp_path / "w.safetensors"
        save_file(
            _state("test_resnet", 2) if "architecture" in case else _state("test_efficientnet", 3),
            str(weights),
        )
        argv = ["export", "--model", "test_efficientnet", "--weights", str(weights), "--labels", ",".join(LABELS),
                "--data", str(colours), *common]  # fmt: skip
        culprit = weights
    else:
        state = _state("test_resnet", 2) if "architecture" in case else _state("test_efficientnet", 2)
        labels = LABELS if "architecture" in case else ["ant", "bee", "wasp"]
        run = _run_dir(tmp_path / "run", colours, "test_efficientnet", labels, state)
        argv, culprit = ["export", str(run), *common], run
    err = cli_error(capfd, argv)
    assert re.search(message, err) and str(culprit) in err, err
    assert not out.exists() or not any(out.iterdir())


# -------------------------------------------------------------------------------- config files

TRAIN_TINY = ["--model", "test_efficientnet", "--pretrained", "none", "--img-size", "32", "--quiet"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: three\n", "epochs: expected an integer, got 'three'"),
        ("lr: fast\n", "lr: expected a number, got 'fast'"),
        ("freeze_bn: maybe\n", "freeze_bn: expected true or false, got 'maybe'"),
        ("scale: 0.5\n", "scale: expected a list, got 0.5"),
        ("scale: [0.5, 1, 2]\n", "scale: expected 2 values, got 3"),
        ("optimizer: adam\n", "optimizer: 'adam' is not one of 'adamw', 'sgd'"),
        ("- epochs: 3\n", "expected a mapping of options at the top level"),
        ("epochs: [1,\n", "not valid YAML"),
        ("lp_epochs: 0\n", "--lp-epochs must be >= 1"),
    ],
)
def test_train_config_file_with_a_wrong_type_is_one_line(
    text, message, make_image_folder, tmp_path, capfd
) -> None:
    data = make_image_folder(n_train=2, n_val=1)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    out = tmp_path / "run"
    err = cli_error(
        capfd, ["train", "--config", str(recipe), "--data", str(data), "--out", str(out), *TRAIN_TINY]
    )
    assert message in err, err
    if "must be" not in message:  # value checks name the flag; file problems name the file
        assert str(recipe) in err, err
    assert not out.exists()


def test_train_config_file_that_does_not_exist(tmp_path, capfd) -> None:
    err = cli_error(capfd, ["train", "--config", str(tmp_path / "nope.yaml"), "--data", "digits"])
    assert f"cannot read config {tmp_path / 'nope.yaml'}: No such file or directory" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trian: {epochs: 3}\n", "unknown key 'trian'; did you mean 'train'?"),
        ("train: {lerning_rate: 0.1}\n", "unknown key 'lerning_rate'"),
        ("train: {lr: fast}\n", "lr: expected a number, got 'fast'"),
        ("train: [1, 2]\n", "train: expected a mapping"),
        ("export: {calib_images: many}\n", "calib_images: expected an integer, got 'many'"),
        ("export: {max_acc_drop: [1]}\n", "max_acc_drop"),
        ("bench: {threads: two}\n", "threads: 'two' does not fit list[int] | int"),  # 2 or [1, 2, 4]
        ("bench: {batch: 8}\n", "batch: expected a list, got 8"),
        ("steps: train\n", "steps: expected a list"),
    ],
)
def test_run_config_file_with_an_unknown_key_or_wrong_type_is_one_line(
    text, message, tmp_path, capfd
) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    out = tmp_path / "run"
    # --data names a missing folder: a config problem that slipped through fails in a second, not a full run
    argv = ["run", "--config", str(cfg), "--out", str(out), "--data", str(tmp_path / "missing"), "--quiet"]
    err = cli_error(capfd, argv)
    assert message in err, err
    assert not out.exists()


def test_run_config_file_that_does_not_exist(tmp_path, capfd) -> None:
    err = cli_error(capfd, ["run", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "run")])
    assert f"cannot read config {tmp_path / 'nope.yaml'}" in err
    assert not (tmp_path / "run").exists()


# ------------------------------------------- deploy folders (Classifier.load(RUN/deploy), predict)

GOOD_DEPLOY = {"file": "good.onnx", "backend": "onnxruntime", "precision": "fp32", "threads": 1,
               "options": {}, "measured": {}, "format": 1}  # fmt: skip
BAD_DEPLOY = {  # before the fix: the first three were TypeError tracebacks, the rest loaded silently
    "file-not-text": ({"file": 5}, "file must be a string, got 5"),
    "backend-a-list": ({"backend": ["onnxruntime"]}, 'backend must be a string, got ["onnxruntime"]'),
    "providers-a-number": (
        {"options": {"providers": 5}},
        "options.providers must be a name or a list of names",
    ),
    "precision-a-number": ({"precision": 7}, "precision must be a string, got 7"),
    "threads-true": ({"threads": True}, "threads must be a positive integer or null, got true"),
    "measured-text": ({"measured": "fast"}, "measured must be a mapping, got 'fast'"),
    "newer-format": ({"format": 2}, "format 2 is not deploy.json format 1"),
}


def deploy_folder(tmp_path: Path, good_onnx: Path, content: bytes | None) -> Path:
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "good.onnx").write_bytes(good_onnx.read_bytes())
    if content is not None:
        (folder / "deploy.json").write_bytes(content)
    return folder


@pytest.mark.parametrize("case", list(BAD_DEPLOY))
def test_a_tampered_deploy_json_is_one_line_from_load_and_predict(case, good_onnx, tmp_path, capfd) -> None:
    import json

    change, message = BAD_DEPLOY[case]
    folder = deploy_folder(tmp_path, good_onnx, json.dumps({**GOOD_DEPLOY, **change}).encode())
    with pytest.raises(EdgetlError, match=re.escape(f"{folder / 'deploy.json'}: {message}")):
        Classifier.load(folder)
    img = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(img)
    assert message in cli_error(capfd, ["predict", str(folder), str(img), "--providers", "cpu"])


def test_a_deploy_json_that_is_huge_or_a_device_is_never_read_whole(good_onnx, tmp_path) -> None:
    folder = deploy_folder(tmp_path, good_onnx, b"{" + b" " * (2 << 20) + b"}")
    with pytest.raises(EdgetlError, match="deploy.json: unreadable .larger than 1024 KiB."):
        Classifier.load(folder)
    (folder / "deploy.json").unlink()
    (folder / "deploy.json").symlink_to("/dev/zero")  # was read until memory ran out
    with pytest.raises(EdgetlError, match="deploy.json: unreadable .not a regular file."):
        Classifier.load(folder)
    (folder / "deploy.json").unlink()
    with pytest.raises(EdgetlError, match="is a directory without deploy.json; pass an .onnx file"):
        Classifier.load(folder)


# --------------------------------------------------- bench.json from another machine (report --add-bench)

ROW = {"variant": "m-fp32", "kind": "onnx", "precision": "fp32", "provider": "cpu", "threads": 1, "batch": 1}
BAD_BENCH = {  # each was a traceback (AttributeError / ValueError) from `edgetl report --add-bench`
    "env-a-list": ({"env": [1, 2]}, "does not fit its schema (expected a mapping, got list)"),
    "cpu-text": ({"env": {"cpu": "amd"}}, "env.cpu must be a mapping, got str"),
    "flags-a-list": ({"env": {"cpu": {"flags": ["avx2"]}}}, "env.cpu.flags must be a mapping, got list"),
    "versions-a-list": ({"env": {"versions": ["x"]}}, "env.versions must be a mapping, got list"),
    "p50-text": ({"rows": [{**ROW, "p50_ms": "fast"}]}, "could not convert string to float: 'fast'"),
    "accuracy-text": ({"rows": [{**ROW, "accuracy": "high"}]}, "could not convert string to float: 'high'"),
    "recommendation-text": ({"recommendation": "ship it"}, "expected a mapping, got str"),
    "reason-a-number": (
        {"recommendation": {"choice": "m", "reason": 5}},
        "recommendation.reason must be text",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BENCH))
def test_a_damaged_bench_json_given_to_add_bench_is_one_line(case, tmp_path, capfd) -> None:
    import json

    change, message = BAD_BENCH[case]
    run, device = tmp_path / "run", tmp_path / "device"
    run.mkdir()
    device.mkdir()
    (device / "bench.json").write_text(json.dumps({"rows": [ROW], "env": {}, "config": {}, **change}))
    err = cli_error(capfd, ["report", str(run), "--add-bench", str(device)])
    assert f"{device / 'bench.json'} does not fit its schema (" in err and message in err, err
    assert sorted(p.name for p in run.iterdir()) == []  # nothing written


def test_a_good_bench_json_from_another_machine_still_merges(tmp_path, capfd) -> None:
    import json

    run, device = tmp_path / "run", tmp_path / "device"
    run.mkdir()
    device.mkdir()
    rec = {"choice": "m-fp32 on cpu", "reason": "fastest", "rejected": ["x: slow"]}
    doc = {"rows": [{**ROW, "p50_ms": 1.25, "accuracy": 0.9}], "env": {"cpu": {"model": "Tiny SoC", "flags": {"neon": True}}},
           "config": {}, "recommendation": rec, "future_key": 1}  # fmt: skip
    (device / "bench.json").write_text(json.dumps(doc))
    capfd.readouterr()
    assert main(["report", str(run), "--add-bench", str(device)]) == 0, capfd.readouterr().err
    md = (run / "report.md").read_text()
    assert "Bench on Tiny SoC (device)" in md and "1.250" in md and "ship this: m-fp32 on cpu: fastest" in md


# ------------------------------------------------------------ predict --batch: bounded memory


def test_predict_with_a_huge_batch_flag_holds_one_model_call_of_images(
    good_onnx, tmp_path, monkeypatch, capfd
):
    """`edgetl predict --batch 100000` decoded every image before the first model call (issue 12's
    defect 5 through the CLI); now at most one model call's worth (the runtime's chunk) is held."""
    import json
    import weakref

    from conftest import COLORS, write_images

    import edgetl.runtime as rt

    folder = tmp_path / "imgs"
    write_images(folder / "ant", COLORS[0], 50, size=(24, 20), seed=1)
    write_images(folder / "bee", COLORS[1], 50, size=(24, 20), seed=2)
    live: set[int] = set()
    peak = [0]
    real = rt.load_rgb

    def counted(path):  # every decoded image, alive until nothing references it
        img = real(path)
        live.add(id(img))
        peak[0] = max(peak[0], len(live))
        weakref.finalize(img, live.discard, id(img))
        return img

    monkeypatch.setattr(rt, "load_rgb", counted)
    runs = {}
    for batch in ("100000", "1"):
        capfd.readouterr()
        peak[0] = 0
        assert (
            main(["predict", str(good_onnx), str(folder), "--batch", batch, "--json", "--providers", "cpu"])
            == 0
        )
        runs[batch] = (json.loads(capfd.readouterr().out)["predictions"], peak[0])
    assert len(runs["100000"][0]) == 100 and runs["100000"][0] == runs["1"][0]  # same answers
    assert runs["100000"][1] <= Classifier.load(good_onnx, providers="cpu").chunk_size, runs["100000"][1]


# ------------------------------------------------------------------ edgetl select: checked at the door

TINY_CANDIDATE = "test_efficientnet:none@32"
BAD_SELECT = {  # before the fix: each was found after the first candidate was probed and exported, or never
    "threads": (["--threads", "1000"], "--threads 1000: this process may use"),
    "seed": (["--seed", "-1"], "--seed must be >= 0, got -1"),  # was a numpy ValueError traceback
    "time-budget": (["--time-budget", "inf"], "--time-budget must be a finite number (got inf)"),
    "model-typo": (
        ["--candidates", f"{TINY_CANDIDATE},test_efficientnett:none@32"],
        "--candidates test_efficientnett:none@32: unknown timm model",
    ),
    "weights-of-another-model": (
        ["--candidates", f"{TINY_CANDIDATE},test_efficientnet:efficientnet_lite0@32"],
        "efficientnet_lite0 holds weights for tf_efficientnet_lite0, not test_efficientnet",
    ),
}


@pytest.mark.parametrize("case", [*BAD_SELECT, "user-file"])
def test_select_refuses_bad_options_before_measuring_anything(
    case, make_image_folder, tmp_path, capfd
) -> None:
    data = make_image_folder(n_train=6, n_val=3, size=(32, 32))
    out = tmp_path / "sel"
    flags, message = BAD_SELECT.get(case, ([], "select.json is there and edgetl did not write it"))
    if case == "user-file":
        out.mkdir()
        (out / "select.json").write_text("my notes")
    argv = ["select", "--data", str(data), "--candidates", TINY_CANDIDATE, "--out", str(out), "--runs", "3",
            "--calib-images", "4", "--cache-dir", str(tmp_path / "cache"), "--quiet", *flags]  # fmt: skip
    err = cli_error(capfd, argv)
    assert message in err, err
    assert (
        sorted(p.name for p in out.iterdir()) == ["select.json"] if case == "user-file" else not out.exists()
    )
    if case == "user-file":
        assert (out / "select.json").read_text() == "my notes"


# ------------------------------------------------------- values argparse cannot parse: one line too


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
        (["bench", "m.onnx", "--threads", "a,b"], "argument --threads: expected comma-separated integers"),
        (["bench", "m.onnx", "--runs", "x"], "argument --runs: invalid int value: 'x'"),
        (["select", "--seed", "1.5"], "argument --seed: invalid int value: '1.5'"),
        (["predict", "m.onnx"], "the following arguments are required: IMAGE_OR_DIR"),
        (["report"], "the following arguments are required: RUN_DIR"),
        (["export", "run", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_a_value_the_parser_cannot_read_is_one_line_not_the_usage_block(argv, message, capfd) -> None:
    """argparse printed its whole usage block (10-30 lines) before the error."""
    capfd.readouterr()
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capfd.readouterr()
    lines = err.splitlines()
    assert e.value.code == 2 and out == "" and len(lines) == 1, err
    assert (
        lines[0].startswith(f"edgetl {argv[0]}: error: {message}") and f"see edgetl {argv[0]} --help" in err
    )


@pytest.mark.parametrize("torch", ["none", "auto"])
def test_bench_with_nothing_to_time_is_one_line_not_an_empty_report(
    torch, good_onnx, tmp_path, capfd
) -> None:
    """`--backends torch` on a plain .onnx (no checkpoint to time) wrote a bench of 0 rows and exited 0."""
    out = tmp_path / "b"
    argv = ["bench", str(good_onnx), "--backends", "torch", "--torch", torch, "--out", str(out), "--quiet"]
    err = cli_error(capfd, argv)
    assert (
        "nothing to time: --backends torch on --providers cpu has no model" in err and "--torch CKPT" in err
    )
    assert not out.exists()
