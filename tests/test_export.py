"""Export stage: clean ONNX, parity gates, FP16/INT8 variants, accuracy budget, bad input.

Models are tiny timm nets (random backbone) with a head fitted by logistic regression on the
generated colour images, so accuracy and agreement mean something; real photos are covered by
test_export_hymenoptera.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import COLORS, write_images

from edgetl.errors import CheckpointError, DataError, EdgetlError, ExportError, UnknownNameError
from edgetl.export import ExportConfig, export

CLASSES = ("ant", "bee", "cat")


def fitted_run(
    run_dir: Path, data: Path, model_name: str, size: int, outlier: float | None = None, labels=CLASSES
) -> Path:
    """A run directory like `edgetl train` writes: linear-probe head on a random-init backbone.

    outlier=K (test_resnet only) scales one channel after the stem's first conv+BN by K and the
    next conv's weights for it by 1/K: the float function is unchanged (ReLU is positively
    homogeneous), but that activation's range grows K-fold, so per-tensor INT8 rounds every other
    channel to zero. The stem has no shortcut around it, so the damage reaches the logits.
    """
    import torch
    from sklearn.linear_model import LogisticRegression

    from edgetl.data import ImageDataset, build_transform, load_splits
    from edgetl.models import create_classifier

    torch.manual_seed(0)
    model, info = create_classifier(model_name, len(labels), "none", img_size=size)
    model.eval()
    splits = load_splits(data)
    ds = ImageDataset(splits.train, build_transform(info.data_config, train=False))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = np.array([ds[i][1] for i in range(len(ds))])
    with torch.inference_mode():
        feats = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
    clf = LogisticRegression(C=1.0, max_iter=3000).fit(feats, y)
    head = model.get_classifier()
    with torch.no_grad():
        head.weight.copy_(torch.tensor(clf.coef_, dtype=torch.float32))
        head.bias.copy_(torch.tensor(clf.intercept_, dtype=torch.float32))
        if outlier is not None:
            bn, nxt = model.conv1[1], model.conv1[3]
            bn.weight[0] *= outlier
            bn.bias[0] *= outlier
            nxt.weight[:, 0] /= outlier
    return save_run(run_dir, model, model_name, list(labels), info.data_config, "none", data)


def save_run(
    run_dir: Path, model, model_name: str, labels: list[str], data_config, weights: str, data
) -> Path:
    """What `edgetl train` leaves for export: checkpoints/best.safetensors and config.yaml (data, split, seed)."""
    import yaml

    from edgetl.models import CheckpointMeta, save_checkpoint

    meta = CheckpointMeta(model=model_name, labels=labels, data_config=data_config, weights=weights,
                          run_id=run_dir.name)  # fmt: skip
    save_checkpoint(run_dir / "checkpoints" / "best.safetensors", model, meta)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"data": str(data), "val_split": None, "seed": 0}))
    return run_dir


def leftover_files(folder: Path) -> list[str]:
    """.onnx files and temp files (atomic writes use .NAME.XXXX.tmp) in `folder`."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".onnx", ".tmp", ".data"))


def load_onnx(path):
    import onnx

    return onnx.load(str(path))


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    """3 colour-coded classes, 12 train + 6 val images each (learnable by a linear probe)."""
    root = tmp_path_factory.mktemp("export-data") / "data"
    for ci, c in enumerate(CLASSES):
        write_images(root / "train" / c, COLORS[ci], 12, (40, 32), seed=ci)
        write_images(root / "val" / c, COLORS[ci], 6, (40, 32), seed=100 + ci)
    return root


@pytest.fixture(scope="module")
def lite_run(tmp_path_factory, colours) -> Path:
    return fitted_run(tmp_path_factory.mktemp("lite") / "run", colours, "tf_efficientnet_lite0", 64)


# ------------------------------------------------------------------------------ families (must-show 3)


@pytest.mark.parametrize(
    "model_name,size",
    [
        ("tf_efficientnet_lite0", 64),  # TF "same" padding: the graph that used to carry Pad/Ceil subgraphs
        ("resnet10t", 48),
        ("mobilenetv3_small_050", 48),  # HardSwish/HardSigmoid stay float between Q/DQ pairs
        ("test_convnext", 48),
        ("test_vit", 64),  # created at 64 px (no pos-embed resampling at run time), attention + GELU
    ],
)
def test_family_passes_fp32_gate_and_int8_runs(tmp_path, colours, model_name, size):
    import onnxruntime as ort

    run = fitted_run(tmp_path / "run", colours, model_name, size)
    report = export(ExportConfig(source=str(run), precisions=["fp32", "int8"], max_acc_drop=None))
    fp32, int8 = report.variant("fp32"), report.variant("int8")
    assert fp32.passed and fp32.max_abs_diff <= 1e-4 and fp32.agreement == 1.0
    assert fp32.val_accuracy == fp32.torch_accuracy
    assert report.n_val_images == 18 and fp32.n_images == 18
    assert int8.passed and int8.size_mb < fp32.size_mb
    assert report.exporter in ("torchscript", "dynamo")
    if report.exporter == "dynamo":  # auto fell back: the note says why TorchScript was not used
        assert "torchscript: failed" in report.exporter_notes[0]
    # the INT8 file runs in a plain onnxruntime session at batch 1 and 5
    sess = ort.InferenceSession(int8.file, providers=["CPUExecutionProvider"])
    for n in (1, 5):
        out = sess.run(["logits"], {"input": np.zeros((n, 3, size, size), np.float32)})[0]
        assert out.shape == (n, 3) and np.isfinite(out).all()
    assert leftover_files(run / "export") == sorted(Path(v.file).name for v in report.variants)


def test_lite0_graph_is_clean_complete_and_self_describing(lite_run):
    import onnx

    from edgetl.export.graph import leftovers
    from edgetl.runtime.metadata import ModelMetadata

    report = export(ExportConfig(source=str(lite_run), precisions=["fp32"]))
    model = load_onnx(report.variant("fp32").file)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 49
    assert not {"Shape", "Gather", "Ceil", "Pad"} & set(ops) and leftovers(model) == []
    onnx.checker.check_model(model, full_check=True)
    shapes = {v.name: v for v in [*model.graph.value_info, *model.graph.output]}
    for node in model.graph.node:
        for out in node.output:
            dims = shapes[out].type.tensor_type.shape.dim
            assert dims and all(d.dim_value > 0 or d.dim_param for d in dims), out
    (inp,) = model.graph.input
    assert inp.name == "input" and [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == [
        "batch",
        3,
        64,
        64,
    ]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert not model.graph.initializer[0].external_data  # weights inline: one self-contained file
    md = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props})
    assert md.labels == list(CLASSES) and md.input_size == (3, 64, 64) and md.model == "tf_efficientnet_lite0"
    assert md.precision == "fp32" and md.target == "cpu-x86" and md.run_id == "run" and md.edgetl_version
    assert md.input_layout == "nchw-float" and md.softmax is False
    saved = json.loads((lite_run / "export" / "export_report.json").read_text())
    assert saved["variants"][0]["max_abs_diff"] <= 1e-4 and saved["exporter"] == report.exporter
    assert "| fp32 |" in (lite_run / "export" / "export_report.md").read_text()


def test_dynamo_exporter_gives_the_same_clean_graph(tmp_path, lite_run):
    report = export(
        ExportConfig(source=str(lite_run), precisions=["fp32"], exporter="dynamo", out_dir=str(tmp_path))
    )
    assert report.exporter == "dynamo" and report.variant("fp32").max_abs_diff <= 1e-4
    ops = [n.op_type for n in load_onnx(report.variant("fp32").file).graph.node]
    assert ops.count("Conv") == 49 and "Pad" not in ops
    assert leftover_files(tmp_path) == ["tf_efficientnet_lite0-fp32-cpu-x86.onnx"]  # no .onnx.data beside it


def test_bake_preprocess_and_softmax_match_the_runtime(tmp_path, lite_run, colours):
    import torch

    from edgetl.models import load_classifier
    from edgetl.runtime import Classifier

    report = export(
        ExportConfig(
            source=str(lite_run),
            precisions=["fp32", "int8"],
            bake_preprocess=True,
            softmax=True,
            out_dir=str(tmp_path),
        )
    )
    fp32 = report.variant("fp32")
    assert fp32.passed and fp32.max_abs_diff <= 1e-4
    model = load_onnx(fp32.file)
    inp = model.graph.input[0]
    assert inp.type.tensor_type.elem_type == 2  # uint8
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 64, 64, 3]
    assert [o.name for o in model.graph.output] == ["logits", "probs"]
    # the runtime (torch-free) reads the metadata and feeds uint8 NHWC; same answer as PyTorch
    clf = Classifier.load(fp32.file, providers="cpu")
    assert clf.metadata.input_layout == "nhwc-uint8" and clf.metadata.softmax
    torch_model, _ = load_classifier(lite_run)
    from edgetl.data import ImageDataset, build_transform, load_splits

    splits = load_splits(colours)
    ds = ImageDataset(
        splits.val[:6], build_transform(clf.metadata.__dict__ | {"input_size": (3, 64, 64)}, train=False)
    )
    with torch.inference_mode():
        ref = torch.softmax(torch_model(torch.stack([ds[i][0] for i in range(6)])), -1).numpy()
    probs = clf.probabilities(clf.preprocess_batch([p for p, _ in splits.val[:6]]))
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert np.abs(probs - ref).max() < 1e-4
    assert report.variant("int8").passed  # calibration fed uint8 NHWC images too


def test_static_batch(tmp_path, lite_run):
    report = export(
        ExportConfig(source=str(lite_run), precisions=["fp32"], dynamic_batch=False, out_dir=str(tmp_path))
    )
    dims = load_onnx(report.variant("fp32").file).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 64, 64] and report.variant("fp32").passed


# ------------------------------------------------------------------------------ precisions and targets


def test_fp16_keeps_float32_io_and_says_where_parity_ran(tmp_path, lite_run):
    import torch

    report = export(
        ExportConfig(source=str(lite_run), precisions=["fp32", "fp16"], target="cuda", out_dir=str(tmp_path))
    )
    fp16 = report.variant("fp16")
    assert fp16.passed is True and fp16.agreement >= 0.99
    model = load_onnx(fp16.file)
    assert (
        model.graph.input[0].type.tensor_type.elem_type == 1
        and model.graph.output[0].type.tensor_type.elem_type == 1
    )
    assert sum(i.data_type == 10 for i in model.graph.initializer) > 40  # FP16 weights
    assert fp16.size_mb < 0.55 * report.variant("fp32").size_mb
    if not torch.cuda.is_available():
        assert fp16.provider == "CPUExecutionProvider"
        assert any("fp16 parity on a GPU not verified: no CUDA provider" in n for n in fp16.notes)


def _zero_points(path) -> set:
    from onnx import numpy_helper

    m = load_onnx(path)
    init = {i.name: i for i in m.graph.initializer}
    zps = set()
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear" and len(n.input) > 2:
            a = numpy_helper.to_array(init[n.input[2]])
            zps.add((str(a.dtype), int(a.reshape(-1)[0])))
    return zps


def test_target_picks_the_int8_scheme(tmp_path, lite_run):
    x86 = export(
        ExportConfig(source=str(lite_run), precisions=["int8", "int8-dynamic"], out_dir=str(tmp_path / "x86"))
    )
    trt = export(
        ExportConfig(
            source=str(lite_run), precisions=["int8"], target="tensorrt", out_dir=str(tmp_path / "trt")
        )
    )
    assert {d for d, _ in _zero_points(x86.variant("int8").file)} == {"uint8"}  # U8 activations (VNNI-fast)
    assert _zero_points(trt.variant("int8").file) == {("int8", 0)}  # symmetric S8, zero point 0
    assert "S8 activations (symmetric)" in trt.variant("int8").scheme
    ops = {n.op_type for n in load_onnx(x86.variant("int8-dynamic").file).graph.node}
    assert "DynamicQuantizeLinear" in ops and x86.variant("int8-dynamic").passed
    assert [v.precision for v in x86.variants] == ["int8", "int8-dynamic"]
    assert Path(trt.variant("int8").file).name == "tf_efficientnet_lite0-int8-tensorrt.onnx"


def test_cuda_target_refuses_int8_with_the_reason(lite_run):
    with pytest.raises(ExportError, match="CUDA provider has no INT8 convolution kernels.*tensorrt"):
        ExportConfig(source=str(lite_run), precisions=["fp32", "int8"], target="cuda")


def test_calibration_methods_differ(tmp_path, colours, monkeypatch):
    """Entropy really searches a threshold (onnxruntime's default bins would make it equal MinMax)."""
    from onnx import numpy_helper

    from edgetl.export import quantize

    # fewer histogram bins: the same search, 4x fewer candidate thresholds (keeps the test quick)
    monkeypatch.setitem(quantize.HISTOGRAM_OPTIONS, "entropy", {"num_bins": 256, "num_quantized_bins": 128})

    run = fitted_run(tmp_path / "run", colours, "test_resnet", 32)

    def scales(method):
        cfg = ExportConfig(source=str(run), precisions=["int8"], calib_method=method, out_dir=str(tmp_path / method),
                           calib_images=12, max_acc_drop=None, int8_min_agreement=0.0)  # fmt: skip
        r = export(cfg)
        return {
            i.name: float(numpy_helper.to_array(i))
            for i in load_onnx(r.variant("int8").file).graph.initializer
            if i.name.endswith("_scale") and not i.dims
        }

    mm, ent, pct = scales("minmax"), scales("entropy"), scales("percentile")
    assert mm.keys() == ent.keys() == pct.keys()
    assert sum(abs(mm[k] - ent[k]) > 1e-9 for k in mm) > 0 and sum(abs(mm[k] - pct[k]) > 1e-9 for k in mm) > 0


# ------------------------------------------------------------------------------ accuracy budget (must-show 4)


@pytest.fixture(scope="module")
def outlier_run(tmp_path_factory, colours) -> Path:
    return fitted_run(tmp_path_factory.mktemp("outlier") / "run", colours, "test_resnet", 32, outlier=1000.0)


def test_budget_keeps_the_outlier_nodes_in_float(outlier_run):
    report = export(ExportConfig(source=str(outlier_run), precisions=["fp32", "int8"], max_acc_drop=0.5))
    int8 = report.variant("int8")
    assert int8.passed and int8.acc_drop_points <= 0.5
    steps = int8.fallback_steps
    assert steps and steps[-1]["passed"] and not any(s["passed"] for s in steps[:-1])
    assert int8.nodes_in_float == [n for s in steps for n in s["nodes_added"]]
    assert all(len(s["nodes_added"]) == 1 for s in steps)  # one node per step: budget.py ranks nodes
    # the same model without a budget loses (nearly) everything: the fallback was needed
    plain = export(
        ExportConfig(
            source=str(outlier_run),
            precisions=["int8"],
            max_acc_drop=None,
            int8_min_agreement=0.0,
            out_dir=str(outlier_run / "plain"),
        )
    )
    assert plain.variant("int8").val_accuracy < 0.5 and plain.variant("int8").nodes_in_float == []
    md = (outlier_run / "export" / "export_report.md").read_text()
    assert "nodes kept in float" in md and "budget holds" in md


def test_budget_that_cannot_be_met_leaves_no_int8_file(outlier_run, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(
        ExportError,
        match=r"int8 failed its gate even with 1 node\(s\) kept in float \(limit --max-fallback-nodes 1\): "
        r"val top-1 .* points below PyTorch's .*: raise --max-acc-drop to accept it",
    ) as e:
        export(
            ExportConfig(
                source=str(outlier_run), precisions=["fp32", "int8"], max_fallback_nodes=1, out_dir=str(out)
            )
        )
    assert "--min-agreement" not in str(e.value)  # agreement is not what failed (nor required)
    assert leftover_files(out) == ["test_resnet-fp32-cpu-x86.onnx"]  # fp32 passed; no int8, no temp file
    saved = json.loads((out / "export_report.json").read_text())
    assert [(v["precision"], v["passed"], v["file"] is None) for v in saved["variants"]] == [
        ("fp32", True, False),
        ("int8", False, True),
    ]
    int8 = saved["variants"][1]
    # the failed variant's numbers are on record: those of the last candidate the fallback measured
    assert int8["agreement"] is not None and int8["val_accuracy"] is not None and int8["flips"] is not None
    failed = [c for c in int8["checks"] if not c["passed"]]
    assert [(c["name"], c["flag"]) for c in failed] == [("accuracy_drop", "--max-acc-drop")]
    assert [c["limit"] for c in int8["checks"] if c["name"] == "agreement"] == [None]  # a diagnostic


def test_agreement_limit_names_itself_when_the_fallback_gives_up(outlier_run, tmp_path):
    with pytest.raises(
        ExportError, match=r"int8 failed its gate .*agreement .* < 99\.0%: lower --min-agreement"
    ) as e:
        export(
            ExportConfig(
                source=str(outlier_run),
                precisions=["int8"],
                max_acc_drop=None,
                int8_min_agreement=0.99,
                max_fallback_nodes=1,
                out_dir=str(tmp_path),
            )  # fmt: skip
        )
    assert "--max-acc-drop" not in str(e.value)
    int8 = json.loads((tmp_path / "export_report.json").read_text())["variants"][0]
    assert int8["agreement"] is not None and int8["agreement"] < 0.99
    assert [c["name"] for c in int8["checks"] if not c["passed"]] == ["agreement"]


# ------------------------------------------------------------------------------ without a run


def test_export_from_model_name_weights_and_labels(tmp_path, lite_run, colours):
    from safetensors.torch import save_file

    from edgetl.models import read_checkpoint

    state, _ = read_checkpoint(lite_run)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    (tmp_path / "labels.txt").write_text("ant\nbee\ncat\n")
    from edgetl.cli import main

    rc = main(["export", "--model", "tf_efficientnet_lite0", "--weights", str(tmp_path / "w.safetensors"),
               "--labels", str(tmp_path / "labels.txt"), "--data", str(colours), "--precisions", "fp32",
               "--out", str(tmp_path / "out")])  # fmt: skip
    assert rc == 0
    md = load_onnx(tmp_path / "out" / "tf_efficientnet_lite0-fp32-cpu-x86.onnx").metadata_props
    props = {p.key: json.loads(p.value) for p in md}
    assert props["edgetl.labels"] == ["ant", "bee", "cat"] and props["edgetl.weights"].endswith(
        "w.safetensors"
    )
    # timm's default data config for the model (224 px): the parity gate still passes
    assert props["edgetl.input_size"] == [3, 224, 224]


# ------------------------------------------------------------------------------ bad input (must-show 5)


def test_missing_checkpoint(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoints/best.safetensors"):
        export(ExportConfig(source=str(tmp_path / "run")))
    with pytest.raises(CheckpointError, match="does not exist"):
        export(ExportConfig(source=str(tmp_path / "nope" / "best.safetensors")))
    assert leftover_files(tmp_path / "run" / "export") == []


def test_corrupt_checkpoint(tmp_path, lite_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(lite_run, run, ignore=shutil.ignore_patterns("export"))
    ckpt = run / "checkpoints" / "best.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        export(ExportConfig(source=str(run)))
    assert leftover_files(run / "export") == []


def test_run_without_labels(tmp_path, colours):
    import yaml

    from edgetl.models import CheckpointMeta, create_classifier, save_checkpoint

    model, info = create_classifier("test_resnet", 3, "none", img_size=32)
    save_checkpoint(
        tmp_path / "run" / "checkpoints" / "best.safetensors",
        model,
        CheckpointMeta("test_resnet", [], info.data_config),
    )
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"data": str(colours)}))
    with pytest.raises(CheckpointError, match="no class labels"):
        export(ExportConfig(source=str(tmp_path / "run")))
    assert leftover_files(tmp_path / "run" / "export") == []


def test_unknown_target_and_precision_suggest_names(lite_run):
    with pytest.raises(
        UnknownNameError, match="unknown deployment target.*'cpu-x68'.*did you mean 'cpu-x86'"
    ):
        ExportConfig(source=str(lite_run), target="cpu-x68")
    with pytest.raises(UnknownNameError, match="unknown precision.*'int9'.*did you mean 'int8'"):
        ExportConfig(source=str(lite_run), precisions=["fp32", "int9"])
    with pytest.raises(UnknownNameError, match="calibration method.*did you mean 'entropy'"):
        ExportConfig(source=str(lite_run), calib_method="entropi")


def test_opset_the_runtime_cannot_run(tmp_path, lite_run):
    from edgetl.export.onnx_export import runtime_max_opset

    too_new = runtime_max_opset() + 1
    with pytest.raises(
        ExportError, match=f"--opset {too_new}: the installed onnxruntime .* runs opsets up to"
    ):
        export(ExportConfig(source=str(lite_run), opset=too_new, out_dir=str(tmp_path)))
    with pytest.raises(ExportError, match="--opset 9 is too old"):
        export(ExportConfig(source=str(lite_run), opset=9, out_dir=str(tmp_path)))
    assert leftover_files(tmp_path) == []
    ok = export(ExportConfig(source=str(lite_run), opset=17, precisions=["fp32"], out_dir=str(tmp_path)))
    assert ok.opset == 17 and load_onnx(ok.variant("fp32").file).opset_import[0].version == 17


def test_data_that_does_not_fit_the_labels(tmp_path, lite_run):
    other = tmp_path / "other"
    for ci, c in enumerate(("dog", "emu")):
        write_images(other / "train" / c, COLORS[ci], 2, seed=ci)
        write_images(other / "val" / c, COLORS[ci], 2, seed=ci)
    with pytest.raises(DataError, match="dog, emu are not among the model's labels"):
        export(ExportConfig(source=str(lite_run), data=str(other), out_dir=str(tmp_path / "out")))
    assert leftover_files(tmp_path / "out") == []


def test_failed_gate_leaves_no_file_and_removes_a_stale_one(tmp_path, lite_run, monkeypatch):
    from edgetl.export import precisions
    from edgetl.export.gate import Gate

    out = tmp_path / "out"
    out.mkdir()
    stale = out / "tf_efficientnet_lite0-fp32-cpu-x86.onnx"
    stale.write_bytes(b"an older export")  # one edgetl wrote: it is in the folder's list of kit files
    from edgetl.runtime.files import MANIFEST_NAME

    (out / MANIFEST_NAME).write_text(json.dumps({"files": [stale.name]}))
    monkeypatch.setattr(precisions, "FP32_GATE", Gate(min_agreement=0.999, max_abs_diff=-1.0))
    with pytest.raises(
        ExportError,
        match=r"fp32 variant failed its gate \(top-1 agreement >= 99.9%, max \|logit diff\| <= -1\)",
    ):
        export(ExportConfig(source=str(lite_run), precisions=["fp32", "int8"], out_dir=str(out)))
    assert leftover_files(out) == []
    saved = json.loads((out / "export_report.json").read_text())
    assert [v["precision"] for v in saved["variants"]] == ["fp32"] and saved["variants"][0]["passed"] is False


def test_cli_prints_one_line_errors(capsys, lite_run, tmp_path):
    from edgetl.cli import main

    assert main(["export", str(lite_run), "--target", "tensorrt", "--precisions", "int8-dynamic"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not take precision int8-dynamic" in err
    assert (
        main(
            ["export", str(lite_run), "--precisions", "fp32", "--out", str(tmp_path), "--parity-images", "6"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "fp32: tf_efficientnet_lite0-fp32-cpu-x86.onnx" in out and "gate passed" in out


def test_stratified_calibration_takes_classes_in_turn():
    from edgetl.export.quantize import stratified

    samples = (
        [(f"a{i}", 0) for i in range(10)]
        + [(f"b{i}", 1) for i in range(3)]
        + [(f"c{i}", 2) for i in range(5)]
    )
    picked = stratified(samples, 9, seed=1)
    assert sorted(s[1] for s in picked) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len(stratified(samples, 100)) == 18 and stratified(samples, 9, seed=1) == picked


def test_config_rejects_bad_numbers(lite_run):
    for kw, msg in [
        ({"calib_images": 0}, "--calib-images"),
        ({"max_acc_drop": -1.0}, "--max-acc-drop"),
        ({"precisions": []}, "--precisions is empty"),
        ({"exporter": "onnx"}, "exporter"),
    ]:
        with pytest.raises(EdgetlError, match=msg):
            ExportConfig(source=str(lite_run), **kw)


def test_budget_finer_than_one_val_image_is_applied_as_one_image():
    """153 val images: one image is 0.65 points, so a 0.5 budget tolerates one flip but not two."""
    from edgetl.export.gate import Gate, ParityResult

    def result(correct: int) -> ParityResult:
        return ParityResult(n=153, max_abs_diff=0.0, mean_abs_diff=0.0, rel_diff=0.0, agreement=1.0, flips=0,
                            accuracy=correct / 153, reference_accuracy=146 / 153, provider="cpu")  # fmt: skip

    one, two = result(145), result(144)
    assert Gate(min_agreement=0.0, max_acc_drop=0.5).failures(one) == []
    (msg,) = Gate(min_agreement=0.0, max_acc_drop=0.5).failures(two)
    assert "budget 0.5, applied as one of 153 val images = 0.65" in msg
    assert Gate(min_agreement=0.0, max_acc_drop=2.0).failures(two) == []
    assert Gate(min_agreement=0.0, max_acc_drop=None).failures(two) == []  # fp32/fp16: no accuracy budget
