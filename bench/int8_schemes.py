"""Which INT8 encoding suits this x86 CPU: accuracy and latency of each scheme, side by side.

    python bench/int8_schemes.py RUN_DIR                  # e.g. the built-in default: edgetl run --out RUN_DIR
    python bench/int8_schemes.py RUN_DIR --schemes u8s8,u8s8-rr
    -> bench/results/int8_schemes-<stamp>.json, and a markdown table on stdout

Each scheme is exported from RUN_DIR's checkpoint by the kit's own `export` (static QDQ, minmax
calibration, no node fallback, no accuracy gate, so every file is written and its accuracy is the
scheme's own), then all of them and the FP32 file are timed by `edgetl.bench.bench` in the same
interleaved rounds (batch 1, 2 threads) and scored on the run's val split. This is the measurement
behind the cpu-x86 / cpu-x86-avx2 split in `edgetl/export/targets.py` (export/targets.md): without
VNNI, onnxruntime's U8xS8 kernels sum pairs in 16 bits and saturate with full-range weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SCHEMES = {  # name -> QuantScheme fields (onnxruntime QuantType names: u8 = QUInt8, s8 = QInt8)
    "u8s8": {"activations": "u8", "weights": "s8"},
    "u8s8-rr": {"activations": "u8", "weights": "s8", "reduce_range": True},
    "u8u8": {"activations": "u8", "weights": "u8", "weight_symmetric": False},
    "s8s8": {"activations": "s8", "weights": "s8", "activation_symmetric": True},
}


def export_scheme(run: Path, name: str, out: Path) -> Path:
    """RUN's INT8 file for one scheme, through a throwaway target that differs only in that scheme."""
    from edgetl.export import TARGETS, ExportConfig, QuantScheme, export

    target = f"bench-{name}"
    if target not in TARGETS.names():
        base = TARGETS.get("cpu-x86")
        TARGETS.register(target, dataclasses.replace(base, name=target, int8=QuantScheme(**SCHEMES[name])))
    cfg = ExportConfig(source=str(run), precisions=["fp32", "int8"], target=target, out_dir=str(out),
                       max_acc_drop=None, max_fallback_nodes=0)  # fmt: skip
    report = export(cfg)
    return Path(next(v.file for v in report.variants if v.precision == "int8"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run directory written by edgetl train / edgetl run")
    ap.add_argument("--schemes", default=",".join(SCHEMES), help="comma list of " + ", ".join(SCHEMES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7, help="interleaved timing rounds")
    args = ap.parse_args(argv)
    from edgetl.bench import BenchConfig, bench
    from edgetl.cpu import cpu_flags, has_vnni

    names = [s for s in args.schemes.split(",") if s]
    if unknown := [s for s in names if s not in SCHEMES]:
        raise SystemExit(f"--schemes: unknown {', '.join(unknown)}; choose from {', '.join(SCHEMES)}")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="edgetl-int8-schemes-") as tmp:
        files = {n: export_scheme(args.run, n, Path(tmp) / n) for n in names}
        # the run dir first: its own FP32 export is the reference row and its val split the eval set
        cfg = BenchConfig(models=[str(args.run), *map(str, files.values())], torch="none",
                          threads=[args.threads], repeat=args.repeat, out=str(Path(tmp) / "bench"), plots=False)  # fmt: skip
        report = bench(cfg)
    by_file = {Path(r.file).stem: r for r in report.rows if r.status == "ok"}
    fp32_row = next(r for r in report.rows if r.status == "ok" and r.precision == "fp32")
    rows = [{"scheme": "fp32", "accuracy": fp32_row.accuracy, "p50_ms": fp32_row.p50_ms, "speedup": 1.0}]
    for n, f in files.items():
        r = by_file[f.stem]
        rows.append({"scheme": n, "accuracy": r.accuracy, "agreement": r.agreement, "p50_ms": r.p50_ms,
                     "speedup": fp32_row.p50_ms / r.p50_ms, "spread": r.spread})  # fmt: skip
    result = {
        "cmd": "python bench/int8_schemes.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "run": str(args.run),
        "cpu": report.env.get("cpu", {}),
        "vnni": has_vnni(),
        "cpu_flags": sorted(f for f in cpu_flags() if f.startswith(("avx", "amx"))),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "n_eval": fp32_row.n_eval,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"int8_schemes-{dt.datetime.now():%Y%m%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"| scheme | val top-1 ({fp32_row.n_eval} images) | agreement with FP32 | p50 ms | FP32 p50 / this |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        agr = "–" if r.get("agreement") is None else f"{100 * r['agreement']:.2f}%"
        print(
            f"| {r['scheme']} | {100 * r['accuracy']:.2f}% | {agr} | {r['p50_ms']:.2f} | {r['speedup']:.2f}x |"
        )
    print(f"written: {out} (load average {load_start[0]:.1f} -> {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
