"""The run directory: every file `edgetl train` writes, each written atomically.

    run = RunDir(Path("runs/lite0"))
    run.create()                              # refuses a non-empty folder
    run.write_metrics(rows); run.save_state(state)

Layout (the contract read by export, bench and report; names and readers in `edgetl.runfolder`):
config.yaml, data.json, metrics.csv, curves.png, checkpoints/{best,last}.safetensors (+ .json),
eval/{eval.json,confusion.png}. `checkpoints/train_state.pt` holds what `--resume` needs (model, optimizer, EMA, early
stopping, counters, metrics rows) as plain tensors and dicts, read back with
`torch.load(weights_only=True)`; it is removed when the run finishes. `is_writer` is the one
switch a multi-process run flips off on every rank but 0.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from edgetl._io import atomic_write, atomic_write_json, atomic_write_text
from edgetl._lock import FolderBusyError, busy_message, live_holder, lock_folder
from edgetl.errors import EdgetlError
from edgetl.runfolder import RunFolder
from edgetl.runtime.files import LOCK_NAME, MANIFEST_NAME

STATE_VERSION = 1


class RunDir:
    def __init__(self, path: str | Path, is_writer: bool = True):
        self.path = Path(path)
        self.is_writer = is_writer
        self.layout = layout = RunFolder(self.path)
        self.config = layout.config
        self.data = layout.data
        self.metrics = layout.metrics
        self.curves = layout.curves
        self.checkpoints = layout.checkpoints
        self.best = layout.best
        self.last = layout.last
        self.state = layout.train_state
        self.eval_dir = layout.eval_dir

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def check_new(self) -> None:
        """Refuse a folder that already holds files (never mix two runs); nothing is written."""
        if self.path.exists():
            if not self.path.is_dir():
                raise EdgetlError(f"--out {self.path}: exists and is not a folder; choose another --out")
            if any(p.name not in (LOCK_NAME, MANIFEST_NAME) for p in self.path.iterdir()):
                holder = live_holder(self.path)
                if holder:  # not empty because another process is writing it right now: say who
                    raise FolderBusyError(busy_message(self.path, "--out", holder))
                hint = (
                    f"continue it with --resume {self.path}"
                    if self.state.exists()
                    else "choose another --out"
                )
                raise EdgetlError(f"--out {self.path}: folder is not empty; {hint}")

    def lock(self, what: str) -> None:
        """Take the folder's writer lock (edgetl._lock): a second writer gets one line naming this one."""
        if self.is_writer:
            lock_folder(self.path, what)

    def create(self) -> None:
        if self.is_writer:  # other ranks checked before rank 0 wrote anything; now the folder is rank 0's
            self.lock("--out")  # first: no other process can fill the folder between the check and the writes
            self.check_new()
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise EdgetlError(
                    f"--out {self.path}: cannot create the run folder ({e.strerror or e})"
                ) from None

    def write_text(self, path: Path, text: str) -> None:
        if self.is_writer:
            atomic_write_text(path, text)

    def write_json(self, path: Path, obj: Any) -> None:
        if self.is_writer:
            atomic_write_json(path, obj)

    def write_metrics(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in columns})
        self.write_text(self.metrics, buf.getvalue())

    def write_curves(self, rows: list[dict[str, Any]]) -> None:
        if self.is_writer and rows:
            from edgetl.metrics import plot_curves

            plot_curves(rows, self.curves)

    def save_state(self, state: dict[str, Any]) -> None:
        if self.is_writer:
            import torch

            atomic_write(self.state, lambda tmp: torch.save({"version": STATE_VERSION, **state}, tmp))

    def load_state(self) -> dict[str, Any]:
        import torch

        if not self.state.is_file():
            if self.layout.eval_json.is_file():
                raise EdgetlError(f"--resume {self.path}: this run already finished; nothing to resume")
            raise EdgetlError(
                f"--resume {self.path}: no {self.state.relative_to(self.path)} (no epoch was completed); "
                f"to start over, delete {self.path} or choose another --out"
            )
        try:
            state = torch.load(self.state, map_location="cpu", weights_only=True)
        except Exception as e:
            if "weights_only" in str(e) or "Unsupported global" in str(e):
                raise EdgetlError(
                    f"--resume {self.path}: refused to load {self.state}: it holds objects other than tensors "
                    "(possible code), so edgetl train did not write it"
                ) from None
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EdgetlError(
                f"--resume {self.path}: unreadable training state {self.state} ({first})"
            ) from None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise EdgetlError(f"--resume {self.path}: training state written by another edgetl version")
        return state

    def clean_temp(self) -> None:
        """Remove temp files a killed process left behind (its final files were never replaced)."""
        if self.is_writer:
            for folder in (self.path, self.checkpoints, self.eval_dir):
                for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
                    tmp.unlink(missing_ok=True)

    def remove_state(self) -> None:
        if self.is_writer:
            self.state.unlink(missing_ok=True)


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


__all__ = ["RunDir"]
