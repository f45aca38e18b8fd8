"""The suite: edgetl against what a user would otherwise do, measured side by side on this machine.

    EDGETL_DATA_DIR=../shared/data python bench/suite.py                     # all sections
    python bench/suite.py --data ../shared/data/hymenoptera --only export,runtime --run-dir RUN_DIR

Sections (`--only`): training (the kit's default recipe vs a hand-written PyTorch loop),
export (kit FP32/INT8 vs naive torch.onnx.export + quantize_static), runtime (ONNX Runtime vs
PyTorch eager and OpenVINO FP32/INT8). export and runtime need a trained run: the one the
training section just made, or `--run-dir`. Writes bench/results/suite-<time>.json and rewrites
the summary between the suite markers in bench/README.md from the newest result of each
section, with the command and environment that produced it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the suite/ helpers next to this script

SECTIONS = ("training", "export", "runtime")
RESULTS = HERE / "results"
README = HERE / "README.md"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", help="hymenoptera ImageFolder (default: $EDGETL_DATA_DIR/hymenoptera)")
    p.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)} (default: all)"
    )
    p.add_argument("--run-dir", help="a trained run for export/runtime when training is not selected")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads for every runtime (default 2)")
    p.add_argument("--runs", type=int, default=200, help="timed batch-1 calls per contender (default 200)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument(
        "--hand-epochs",
        type=int,
        help="epochs of the hand-written loop (default: the kit's fine-tune epochs)",
    )
    p.add_argument("--workdir", help="where runs and naive exports go (default: a temp folder)")
    p.add_argument("--results", default=str(RESULTS), help="folder for suite-*.json (default bench/results)")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the summary in bench/README.md")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in SECTIONS]
    if bad:
        p.error(f"--only: unknown section {bad[0]!r}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from suite.common import data_root

    from edgetl.bench.env import environment

    t0 = time.perf_counter()
    data = data_root(args.data)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="edgetl-suite-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = "python bench/suite.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    result: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command.strip(),
        "data": str(data),
        "environment": environment(),
        "sections": {},
    }
    run_dir = Path(args.run_dir) if args.run_dir else None
    if ("export" in args.only or "runtime" in args.only) and "training" not in args.only and run_dir is None:
        raise SystemExit(
            "bench/suite.py: export/runtime need a trained run: add training to --only, or pass --run-dir"
        )
    if "training" in args.only:
        from suite import training

        print("suite: training (kit default recipe vs hand-written loop) ...", flush=True)
        result["sections"]["training"] = training.run(data, workdir, args.hand_epochs)
        run_dir = Path(result["sections"]["training"]["run_dir"])
        _say(result["sections"]["training"])
    if "export" in args.only:
        from suite import export

        print("suite: export (kit vs naive) ...", flush=True)
        result["sections"]["export"] = export.run(
            run_dir, data, workdir, args.threads, args.runs, args.rounds
        )
        _say(result["sections"]["export"])
    if "runtime" in args.only:
        from suite import runtime

        print("suite: runtime (ORT vs PyTorch eager, OpenVINO) ...", flush=True)
        result["sections"]["runtime"] = runtime.run(run_dir, data, args.threads, args.runs, args.rounds)
        _say(result["sections"]["runtime"])
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    results = Path(args.results)
    out = results / f"suite-{time.strftime('%Y%m%d-%H%M%S')}.json"
    from edgetl._io import atomic_write_json

    atomic_write_json(out, result)
    print(f"suite: wrote {out} in {result['total_seconds']:.0f} s")
    if not args.no_readme:
        write_readme_section(README, results)
        print(f"suite: updated the summary in {README.relative_to(HERE.parent)}")
    return 0


def _say(section: dict[str, Any]) -> None:
    print("  ratios: " + json.dumps(section.get("ratios", {})), flush=True)


# --------------------------------------------------------------------------------------- summary


def latest_sections(results_dir: Path = RESULTS) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """section -> (result file name, whole result, section) from the newest file holding that section."""
    found: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}
    for path in sorted(results_dir.glob("suite-*.json"), reverse=True):
        try:
            res = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for name, sec in (res.get("sections") or {}).items():
            found.setdefault(name, (path.name, res, sec))
    return found


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _ms(x: Any) -> str:
    return "–" if x is None else f"{x:.2f}"


def _secs(x: Any) -> str:
    return "not reached" if x is None else f"{x:.0f} s"


def _x(x: Any) -> str:
    return "–" if x is None else f"{x:.2f}x"


def _env_line(env: dict[str, Any]) -> str:
    cpu = env.get("cpu") or {}
    flags = ", ".join(k for k, v in (cpu.get("flags") or {}).items() if v)
    v = env.get("versions") or {}
    ort = v.get("onnxruntime-gpu") or v.get("onnxruntime")
    return (
        f"{cpu.get('model', '?')} ({cpu.get('usable_cores', '?')} usable cores; {flags}), {env.get('os', '?')}, "
        f"Python {env.get('python', '?')}, torch {v.get('torch')}, timm {v.get('timm')}, onnxruntime {ort}, "
        f"load average at start {env.get('load_average')}"
    )


def _source(fname: str, res: dict[str, Any], sec: dict[str, Any]) -> list[str]:
    env = res.get("environment") or {}
    load, cores = env.get("load_average") or [0], (env.get("cpu") or {}).get("usable_cores") or 1
    busy = (
        [
            f"> **Busy machine:** load average {load[0]} on {cores} cores when this ran: absolute times include "
            "contention from other processes, PyTorch eager (OpenMP threads) suffers most, and ratios between rows "
            "measured in the same interleaved rounds hold up better than absolute numbers.",
            "",
        ]
        if load and load[0] > cores
        else []
    )
    return busy + [
        f"*From `bench/results/{fname}` ({res.get('created')}, section time {sec.get('seconds')} s of "
        f"{res.get('total_seconds')} s), produced by `{res.get('command')}` on {_env_line(res.get('environment') or {})}.*",
        "",
    ]


def render_summary(found: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]) -> str:
    lines = [
        "## Suite: edgetl against the alternatives",
        "",
        "Reproduce: `EDGETL_DATA_DIR=../shared/data .venv/bin/python bench/suite.py` (sections: `--only "
        "training,export,runtime`). All numbers are measured side by side in one run on the machine named below; "
        "ratios are what carries over to another machine.",
        "",
    ]
    if not found:
        return "\n".join(lines + ["Not run yet.", ""])
    if "training" in found:
        fname, res, s = found["training"]
        k, h, r = s["kit"], s["hand"], s["ratios"]
        lines += ["### Training (hymenoptera, tf_efficientnet_lite0, offline ImageNet weights)", ""]
        lines += _source(fname, res, s)
        lines += [
            "| | best val acc | wall time | time to 95% val | epochs | epoch throughput (img/s) |",
            "|---|---:|---:|---:|---:|---:|",
            f"| kit: {k['recipe']} | {_pct(k['val_acc'])} | {k['wall_s']:.0f} s | "
            f"{_secs(k['time_to_95_s'])} | {k['epochs_run']} | "
            f"{k.get('finetune_images_per_s') or '–'} (fine-tune) |",
            f"| hand-written: {h['recipe']} | {_pct(h['val_acc'])} | {h['wall_s']:.0f} s | "
            f"{_secs(h['time_to_95_s'])} | {h['epochs_run']} | "
            f"{h['images_per_s']} |",
            "",
            f"Ratios: val accuracy kit − hand **{r['val_acc_points_kit_minus_hand']:+.2f} points**; wall time hand / kit "
            f"**{_x(r['wall_hand_over_kit'])}**; time-to-95% hand / kit "
            + (
                f"**{_x(r['time_to_95_hand_over_kit'])}**; "
                if r["time_to_95_hand_over_kit"] is not None
                else f"**– (the hand-written loop did not reach 95% in {h['epochs_run']} epochs)**; "
                if h["time_to_95_s"] is None
                else "**– (the kit did not reach 95%)**; "
            )
            + f"fine-tune epoch throughput kit / hand **{_x(r['finetune_throughput_kit_over_hand'])}**.",
            "",
        ]
    if "export" in found:
        fname, res, s = found["export"]
        rows, r = s["rows"], s["ratios"]
        lines += [
            f"### Export (batch 1, {s['threads']} threads, {s['n_val']} val images; PyTorch {_pct(s['pytorch_accuracy'])})",
            "",
        ]
        lines += _source(fname, res, s)
        lines += [
            "| file | how | size MB | accuracy | agreement with PyTorch | p50 ms | p99 ms |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        how = {
            "kit-fp32": f"edgetl export ({s['kit']['exporter']} exporter, opset {s['kit']['opset']}, cleaned)",
            "kit-int8": f"edgetl export ({s['kit']['int8_scheme']})",
            "naive-fp32": f"torch.onnx.export defaults + dynamic batch (dynamo default {s['naive'].get('torch_onnx_export_dynamo_default')})",
            "naive-int8": "quantize_static defaults (QDQ, S8/S8, per-tensor, MinMax)",
        }
        for name in ("kit-fp32", "kit-int8", "naive-fp32", "naive-int8"):
            row = rows.get(name, {})
            if row.get("status", "ok") != "ok":
                lines.append(f"| {name} | {how[name]} | {row['status']} | | | | |")
                continue
            lines.append(
                f"| {name} | {how[name]} | {row['size_mb']:.2f} | {_pct(row['accuracy'])} | "
                f"{_pct(row['agreement_with_pytorch'])} | {_ms(row.get('p50_ms'))} | {_ms(row.get('p99_ms'))} |"
            )
        lines += [
            "",
            f"Ratios (p50): naive FP32 / kit FP32 **{_x(r['fp32_latency_naive_over_kit'])}**; naive INT8 / kit INT8 "
            f"**{_x(r['int8_latency_naive_over_kit'])}**; kit INT8 speedup over kit FP32 **{_x(r['kit_int8_speedup_over_kit_fp32'])}**; "
            f"naive INT8 speedup over naive FP32 **{_x(r['naive_int8_speedup_over_naive_fp32'])}**.",
            "",
        ]
    if "runtime" in found:
        fname, res, s = found["runtime"]
        rows, r = s["rows"], s["ratios"]
        lines += [f"### Runtime peers (batch 1, {s['threads']} threads, {s['n_val']} val images)", ""]
        lines += _source(fname, res, s)
        ov = s.get("openvino") or {}
        if ov.get("status") == "ok":
            lines += [
                f"OpenVINO {ov.get('version')} / NNCF {ov.get('nncf_version')}, compiled with "
                f"{', '.join(f'{k}={v}' for k, v in (ov.get('config') or {}).items())}; precision actually used: "
                f"FP32 model {ov.get('fp32_inference_precision')}, INT8 model {ov.get('int8_inference_precision')}.",
                "",
            ]
        lines += [
            "| runtime | accuracy | agreement with ORT FP32 | p50 ms | p99 ms | speedup vs PyTorch |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, row in rows.items():
            if row.get("status", "ok") != "ok":
                lines.append(f"| {name} | {row['status']} | | | | |")
                continue
            lines.append(
                f"| {name} | {_pct(row['accuracy'])} | {_pct(row['agreement_with_ort_fp32'])} | {_ms(row.get('p50_ms'))} | "
                f"{_ms(row.get('p99_ms'))} | {_x(row.get('speedup_vs_pytorch'))} |"
            )
        lines += [
            "",
            f"Ratios (p50): ORT FP32 vs PyTorch **{_x(r['ort_fp32_speedup_vs_pytorch'])}**; ORT INT8 vs PyTorch "
            f"**{_x(r['ort_int8_speedup_vs_pytorch'])}**; ORT INT8 vs ORT FP32 **{_x(r['ort_int8_speedup_vs_ort_fp32'])}**; "
            f"OpenVINO FP32 / ORT FP32 latency **{_x(r['openvino_fp32_over_ort_fp32_latency'])}**; OpenVINO INT8 / ORT INT8 "
            f"latency **{_x(r['openvino_int8_over_ort_int8_latency'])}**; OpenVINO FP32 at its default precision "
            f"({(s.get('openvino') or {}).get('fp32_default_precision', '?')}) / ORT FP32 latency "
            f"**{_x(r.get('openvino_default_fp32_over_ort_fp32_latency'))}**; NNCF INT8 / ORT INT8 latency "
            f"**{_x(r.get('openvino_nncf_int8_over_ort_int8_latency'))}** (below 1x: OpenVINO faster).",
            "",
        ]
    return "\n".join(lines)


def write_readme_section(readme: Path = README, results_dir: Path = RESULTS) -> None:
    """Replace the text between the suite markers (appending them if absent); the rest is untouched."""
    from edgetl._io import atomic_write_text

    block = f"{BEGIN}\n{render_summary(latest_sections(results_dir))}\n{END}"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(readme, text)


if __name__ == "__main__":
    sys.exit(main())
