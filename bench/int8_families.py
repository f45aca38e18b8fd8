"""INT8 vs FP32 per backbone family at native size: edgetl's per-pattern policy against onnxruntime's default.

    python bench/int8_families.py mobilenetv3_large_100 convnext_atto --out /tmp/int8-families.json

For latency only: random-init timm models (`pretrained=False`), exported by edgetl's exporter at
their native input size, calibrated on 8 random inputs. Each model is timed as three files side by
side (FP32, INT8 with onnxruntime's default recipe, INT8 with edgetl's policy), batch 1, interleaved
rounds; the ratio is FP32 ms / INT8 ms per round, median. The op profile of each file is saved.
Accuracy and agreement need trained models: bench/backbones.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np


def export_family(name: str, work: Path) -> tuple[Path, tuple[int, int, int]]:
    import onnx
    import timm

    from edgetl.export import graph as G
    from edgetl.export.onnx_export import export_graph

    model = timm.create_model(name, pretrained=False, num_classes=10).eval()
    size = tuple(int(x) for x in model.pretrained_cfg.get("input_size", (3, 224, 224)))
    if hasattr(timm.utils, "reparameterize_model"):
        model = timm.utils.reparameterize_model(model)
    g = export_graph(model, size, (0.5,) * 3, (0.5,) * 3, 18, dynamic_batch=True)
    path = work / f"{name}-fp32.onnx"
    onnx.save(G.check_and_infer(g.model, "fp32"), str(path))
    return path, size


def quantize_both(
    fp32: Path, calib: np.ndarray, work: Path, without: tuple[str, ...] = ()
) -> dict[str, Path]:
    """FP32, INT8 with onnxruntime's default, with the policy, and with the policy less each rule in `without`."""
    from edgetl.export.int8_policy import RULES
    from edgetl.export.quantize import ArrayCalibrationReader, StaticQuantizer, preprocess
    from edgetl.export.targets import QuantScheme

    pre = preprocess(fp32, work / "pre.onnx")
    out = {"fp32": fp32}
    variants: list[tuple[str, list[str] | None]] = [("int8_ort", []), ("int8_policy", None)]
    variants += [(f"int8_policy-{r}", [x for x in RULES.names() if x != r]) for r in without]
    for key, rules in variants:
        d = work / key
        d.mkdir()
        q = StaticQuantizer(pre, QuantScheme(), ArrayCalibrationReader(calib), "minmax", d, rules=rules)
        out[key] = q.quantize(d / "int8.onnx")
        if rules is None:
            out["applied"] = q.plan.applied  # type: ignore[assignment]
    return out


def measure(name: str, rounds: int, without: tuple[str, ...] = ()) -> dict:
    import onnx

    from edgetl.export.int8_profile import op_profile, ratio, side_by_side

    with tempfile.TemporaryDirectory(prefix="edgetl-int8fam-") as tmp:
        work = Path(tmp)
        fp32, size = export_family(name, work)
        calib = np.random.default_rng(0).standard_normal((8, *size)).astype(np.float32)
        files = quantize_both(fp32, calib, work, without)
        applied = files.pop("applied")
        res = side_by_side(files, calib, rounds=rounds)
        row = {
            "model": name,
            "input_size": list(size),
            "policy": applied,
            "ms": res["ms"],
            "loadavg": res["loadavg"],
        }
        for key in [k for k in files if k.startswith("int8")]:
            ops = Counter(n.op_type for n in onnx.load(str(files[key])).graph.node)
            row[key] = {
                "ratio": ratio(res, "fp32", key),
                "q": ops["QuantizeLinear"],
                "dq": ops["DequantizeLinear"],
                "ops": op_profile(files[key], calib),
            }
        row["fp32_ops"] = op_profile(fp32, calib)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="timm model names")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", default=None, help="JSON file to append rows to")
    ap.add_argument(
        "--without", default="", help="comma list of policy rules: also time the policy less each one"
    )
    args = ap.parse_args(argv)
    without = tuple(r for r in args.without.split(",") if r)
    for name in args.models:
        row = measure(name, args.rounds, without)
        print(
            f"{name}: FP32/INT8 ort-default {row['int8_ort']['ratio']:.2f}x (Q {row['int8_ort']['q']}, "
            f"DQ {row['int8_ort']['dq']}), policy {row['int8_policy']['ratio']:.2f}x (Q {row['int8_policy']['q']}, "
            f"DQ {row['int8_policy']['dq']}), load {row['loadavg'][0]:.1f}-{row['loadavg'][1]:.1f}",
            flush=True,
        )
        for r in without:
            v = row[f"int8_policy-{r}"]
            print(f"  policy less {r}: {v['ratio']:.2f}x (Q {v['q']}, DQ {v['dq']})", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
