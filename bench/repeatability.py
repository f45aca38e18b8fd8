"""The same `edgetl bench` command run twice, as two separate processes: how far do the p50s move?

    python bench/repeatability.py RUN_DIR                       # edgetl bench RUN_DIR --batch 1 --threads 2
    python bench/repeatability.py RUN_DIR --runs 3 -- --batch 1,8 --providers cpu,cuda
    -> bench/results/repeatability-<date>.json (+ a table: p50 per run, largest move, spread per run)

Issue 4 asks that two runs of the same bench agree on p50 within 10%. Each run is a fresh
`edgetl bench` process (a new session, cold caches), exactly as a user repeats a command; any
flags after `--` are passed to both. A row passes when max/min of its p50 across runs - 1 is
within --tolerance. The script also records the machine's load average before and after: on a
busy machine absolute latencies move, and the JSON says so instead of hiding it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_TOLERANCE = 0.10
RESULTS = Path(__file__).resolve().parent / "results"


def _bench_once(run_dir: str, extra: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "edgetl", "bench", run_dir, "--out", str(out), "--no-plots", "--quiet"]
    cmd += extra or ["--batch", "1", "--threads", "2"]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, text=True, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"edgetl bench failed (rc {proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
    return json.loads((out / "bench.json").read_text())


def _key(row: dict) -> tuple:
    return (row["variant"], row["provider"], row["batch"])


def compare(runs: list[dict], tolerance: float) -> list[dict]:
    """One entry per timed row: its p50 in every run, the largest relative move and the per-run spread."""
    by_key: dict[tuple, list[dict]] = {}
    for rep in runs:
        for row in rep["rows"]:
            if row.get("p50_ms"):
                by_key.setdefault(_key(row), []).append(row)
    out = []
    for (variant, provider, batch), rows in by_key.items():
        if len(rows) != len(runs):
            continue
        p50 = [r["p50_ms"] for r in rows]
        move = max(p50) / min(p50) - 1
        out.append(
            {
                "variant": variant,
                "provider": provider,
                "batch": batch,
                "p50_ms": [round(x, 4) for x in p50],
                "max_move": round(move, 4),
                "spread_per_run": [r.get("spread") for r in rows],
                "within_tolerance": move <= tolerance,
            }
        )
    return sorted(out, key=lambda e: (e["provider"], e["batch"], e["variant"]))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="a run directory with export/*.onnx (and checkpoints/ for the eager row)")
    ap.add_argument("--runs", type=int, default=2, help="how many times to run the same bench (default 2)")
    ap.add_argument(
        "--tolerance", type=float, default=DEFAULT_TOLERANCE, help="allowed p50 move (0.10 = 10%%)"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON file (default bench/results/repeatability-*.json)"
    )
    args = ap.parse_args(argv)
    if args.runs < 2:
        ap.error("--runs must be >= 2")
    if not Path(args.run_dir).is_dir():
        ap.error(f"{args.run_dir}: no such run directory")

    load_before = os.getloadavg()
    reports = []
    with tempfile.TemporaryDirectory(prefix="edgetl-repeat-") as tmp:
        for i in range(args.runs):
            reports.append(_bench_once(args.run_dir, extra, Path(tmp) / f"run{i + 1}"))
    load_after = os.getloadavg()
    rows = compare(reports, args.tolerance)
    if not rows:
        raise SystemExit("no timed rows in common between the runs")

    print(f"\n{'variant':40} {'provider':8} {'batch':>5}  p50 ms per run            move   spread per run")
    for e in rows:
        p50 = " / ".join(f"{x:.3f}" for x in e["p50_ms"])
        spread = " / ".join("-" if s is None else f"{100 * s:.1f}%" for s in e["spread_per_run"])
        flag = "ok" if e["within_tolerance"] else "MOVED"
        print(
            f"{e['variant']:40} {e['provider']:8} {e['batch']:>5}  {p50:24} {100 * e['max_move']:5.1f}% "
            f"{spread}  {flag}"
        )
    worst = max(rows, key=lambda e: e["max_move"])
    ok = all(e["within_tolerance"] for e in rows)
    print(
        f"\nlargest p50 move: {100 * worst['max_move']:.1f}% ({worst['variant']}, {worst['provider']}, "
        f"batch {worst['batch']}); tolerance {100 * args.tolerance:.0f}%: {'PASS' if ok else 'FAIL'}"
    )
    result = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": f"edgetl bench {args.run_dir} " + " ".join(extra or ["--batch", "1", "--threads", "2"]),
        "runs": args.runs,
        "tolerance": args.tolerance,
        "passed": ok,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "env": reports[0].get("env"),
        "notes": reports[0].get("notes"),
        "rows": rows,
    }
    out = args.out or RESULTS / f"repeatability-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    os.replace(tmp_out, out)
    print(f"written: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
