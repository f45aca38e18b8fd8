"""`python -m edgetl ARGS` for the torchrun tests, recording what this rank did to the file system.

    torchrun --nproc_per_node=2 tests/_ddp_cli.py train --data ... --out RUN

With EDGETL_TEST_RECORD=DIR set, each rank writes DIR/rank<R>.json on exit: every file it
committed (edgetl writes all files atomically, so each one ends in an `os.replace` onto its
final name) and how many feature vectors it extracted itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    from edgetl.cli import main as edgetl_main
    from edgetl.train import feature_cache

    record = {"replaced": [], "extracted": 0}
    replace, extract = os.replace, feature_cache.extract_features

    def recording_replace(src, dst, *args, **kwargs):
        record["replaced"].append(str(Path(dst).resolve()))
        return replace(src, dst, *args, **kwargs)

    def recording_extract(*args, **kwargs):
        x, y = extract(*args, **kwargs)
        record["extracted"] += len(x)
        return x, y

    os.replace = recording_replace
    feature_cache.extract_features = recording_extract
    try:
        return edgetl_main(sys.argv[1:])
    finally:
        os.replace = replace
        out = Path(os.environ["EDGETL_TEST_RECORD"]) / f"rank{os.environ.get('RANK', '0')}.json"
        out.write_text(json.dumps(record))


if __name__ == "__main__":
    sys.exit(main())
