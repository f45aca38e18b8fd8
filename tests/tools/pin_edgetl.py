"""pytest plugin for against_old.sh: the run stops unless `edgetl` is imported from $EDGETL_UNDER_TEST.

Without it a stray entry on sys.path (the repo as cwd, the editable install) would test HEAD's code
while the report says it tested the old one. The header line names the edgetl that ran.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


def _imported() -> Path:
    import edgetl

    return Path(edgetl.__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    want = os.environ.get("EDGETL_UNDER_TEST")
    if want and _imported() != (Path(want) / "edgetl").resolve():
        raise pytest.UsageError(f"edgetl comes from {_imported()}, not from {want}/edgetl")
    if want:  # the editable install's finder would serve modules the old code lacks from this tree
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]


def pytest_report_header(config: pytest.Config) -> str:
    return f"edgetl under test: {_imported()}"
