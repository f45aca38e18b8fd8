"""`edgetl bench MODEL_OR_RUN...`: latency/accuracy table of exported variants vs PyTorch eager.

    edgetl bench runs/ants                                  # all exports + the run's checkpoint, its val split
    edgetl bench a.onnx b.onnx --data data/val --batch 1,8,32 --providers cpu,cuda --threads 2
    edgetl bench runs/ants --time-budget 20 --repeat 5 --out bench/results/ants

Only flags given on the command line override `BenchConfig`'s defaults.
"""

from __future__ import annotations

import argparse
import sys

from edgetl.cli._args import comma_list, int_list


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="measure latency, throughput, memory and accuracy of exported models",
        description="Benchmark ONNX variants (files, or all of RUN_DIR/export/) on onnxruntime providers, "
        "with a PyTorch eager baseline row. Writes bench.json/.csv/.md and plots.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL_OR_RUN", help=".onnx files and/or run directories")
    p.add_argument(
        "--torch",
        default=None,
        metavar="CKPT",
        help="PyTorch checkpoint or run dir for the eager row; "
        "'none' to skip (default: the run dir's best checkpoint)",
    )
    p.add_argument(
        "--providers", type=comma_list, default=None, help="comma list of cpu, cuda, tensorrt (default cpu)"
    )
    p.add_argument("--batch", type=int_list, default=None, help="comma list of batch sizes (default 1)")
    p.add_argument(
        "--threads", type=int, default=None, help="intra-op threads for onnxruntime and torch (default 2)"
    )
    p.add_argument(
        "--data",
        default=None,
        help="val folder (<label>/ sub-folders) or dataset root for accuracy "
        "(default: the run's own val split)",
    )
    p.add_argument("--max-images", type=int, default=None, help="score at most N eval images")
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed calls per cell in round 1 (default 10, and at least 1 s; 2 calls and 0.1 s in later rounds)",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="timed calls per cell over all rounds (default: 1 s per round, at least 10 calls)",
    )
    p.add_argument(
        "--time-budget", type=float, default=None, metavar="S", help="seconds per cell over all rounds"
    )
    p.add_argument(
        "--repeat", type=int, default=None, help="interleaved rounds, for the run-to-run spread (default 5)"
    )
    p.add_argument(
        "--pool", type=int, default=None, help="distinct images cycled through by timed calls (default 32)"
    )
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/bench or ./bench-results)")
    p.add_argument("--no-plots", dest="plots", action="store_false", default=None, help="skip the PNG plots")
    p.add_argument(
        "--cuda-host-copies",
        action="store_true",
        default=None,
        help="CUDA timing includes host<->GPU copies (default: device-resident inputs/outputs)",
    )
    p.add_argument(
        "--native-only",
        action="store_true",
        default=None,
        help="skip INT8/FP16 exports on providers their --target was not made for "
        "(INT8 for a CPU on cuda, FP16 on cpu); FP32 runs everywhere",
    )
    p.add_argument("--json", action="store_true", help="print bench.json to stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


FIELDS = ("torch", "providers", "batch", "threads", "data", "max_images", "warmup", "runs", "time_budget",
          "repeat", "pool", "out", "plots", "cuda_host_copies", "native_only")  # fmt: skip


def build_config(args: argparse.Namespace):
    from edgetl.bench import BenchConfig

    given = {k: getattr(args, k) for k in FIELDS if getattr(args, k) is not None}
    return BenchConfig(models=list(args.models), **given)


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from edgetl.bench import bench, render_table
    from edgetl.bench.report import summary_lines

    cfg = build_config(args)
    err = Console(stderr=True, highlight=False)
    log = (lambda msg: None) if args.quiet else (lambda msg: err.print(f"[dim]edgetl bench: {msg}[/dim]"))
    report = bench(cfg, log=log)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        out = Console(highlight=False)
        if not out.is_terminal:  # piped or redirected: never squeeze the table
            out = Console(highlight=False, width=400)
        out.print(render_table(report))
        for line in summary_lines(report):
            out.print(line, style="yellow" if line.startswith("warning") else None)
        pc = report.preprocess or {}
        if pc.get("preprocess_ms_per_image") is not None:
            out.print(
                f"preprocessing (not in the latencies): {pc['preprocess_ms_per_image']:.3f} ms/image"
                + (
                    f", JPEG/PNG decode {pc['decode_ms_per_image']:.3f} ms/image"
                    if pc.get("decode_ms_per_image")
                    else ""
                )
            )
        out.print("written: " + ", ".join(report.files.values()))
    failed = [r for r in report.rows if r.status.startswith("failed")]
    for r in failed:
        print(f"edgetl bench: {r.variant} on {r.provider} (batch {r.batch}) {r.status}", file=sys.stderr)
    return 1 if failed else 0
