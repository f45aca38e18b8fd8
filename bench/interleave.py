"""Why interleaved timing pauses between sessions: onnxruntime's spinning threads slow the next one.

    python bench/interleave.py                       # mobilenetv3_small_100 at 224 px, 2 threads
    python bench/interleave.py --model resnet18 --others 2 --out /tmp/interleave.json

One FP32 file (random init, exported by edgetl) opened as 1 + N sessions. The first is timed
(batch 1, median of 10 calls per round) alone, right after the N others ran, and after they ran
followed by a pause of each length in --pauses: onnxruntime's worker threads spin for a while
after a call, so a session timed right after another shares the cores with those spinners.
The pause edgetl's interleaved timing uses is edgetl.bench.timing.SETTLE_S.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rounds(session, feed, rounds: int, before=None) -> list[float]:
    out = []
    for _ in range(rounds):
        if before is not None:
            before()
        for _ in range(2):
            session.run(None, feed)
        times = []
        for _ in range(10):
            t = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - t)
        out.append(round(1e3 * statistics.median(times), 3))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenetv3_small_100")
    ap.add_argument("--others", type=int, default=4, help="sessions run before each timed round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--pauses", default="0.05,0.1,0.25", help="seconds between the others and the timing")
    ap.add_argument("--out", default=None, help="JSON file for the result")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from int8_families import export_family

    from edgetl.bench.timing import SETTLE_S
    from edgetl.export.int8_profile import _session

    with tempfile.TemporaryDirectory(prefix="edgetl-interleave-") as tmp:
        path, size = export_family(args.model, Path(tmp))
        x = np.random.default_rng(0).standard_normal((1, *size)).astype(np.float32)
        timed = _session(path, args.threads)
        feed = {timed.get_inputs()[0].name: x}
        others = [_session(path, args.threads) for _ in range(args.others)]

        def run_others(pause: float = 0.0) -> None:
            for o in others:
                for _ in range(5):
                    o.run(None, feed)
            time.sleep(pause)

        time.sleep(SETTLE_S)
        result = {
            "model": args.model,
            "input_size": list(size),
            "threads": args.threads,
            "others": args.others,
            "loadavg_start": os.getloadavg()[0],
            "alone": rounds(timed, feed, args.rounds, lambda: time.sleep(SETTLE_S)),
            "right_after_others": rounds(timed, feed, args.rounds, run_others),
        }
        for p in (float(v) for v in args.pauses.split(",") if v):
            result[f"after_others_pause_{p:g}s"] = rounds(timed, feed, args.rounds, lambda p=p: run_others(p))
        result["loadavg_end"] = os.getloadavg()[0]
        result["settle_s"] = SETTLE_S
    alone = statistics.median(result["alone"])
    for k, v in result.items():
        if isinstance(v, list) and k != "input_size":
            print(
                f"{k:28s} p50 {statistics.median(v):6.2f} ms ({statistics.median(v) / alone:.2f}x alone)  rounds {v}"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
