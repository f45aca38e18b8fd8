"""The one channel through which training talks to the user: progress bars and summary lines.

    rep = Reporter(quiet=False)            # rich bars on a TTY, plain lines otherwise
    with rep.task("epoch 3 finetune", total=8) as advance:
        for batch in batches:
            advance(loss=0.31)
    rep.info("epoch 3 ...")                # one line per epoch

Library code never prints; it calls a Reporter, so `--quiet`, log files and a future
distributed run (only rank 0 reports) are decided in one place.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO


class Reporter:
    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        tty: bool | None = None,
        enabled: bool = True,
        result_stream: TextIO | None = None,
    ):
        self.stream = stream if stream is not None else sys.stderr  # progress, info, warnings
        self.result_stream = result_stream or (stream if stream is not None else sys.stdout)  # final outcome
        self.quiet = quiet
        self.enabled = enabled  # False on non-zero ranks: nothing at all is shown
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())

    def _write(self, msg: str, stream: TextIO | None = None) -> None:
        if self.enabled:
            print(msg, file=stream or self.stream, flush=True)

    def info(self, msg: str) -> None:
        """Progress information (epoch lines, cache hits); hidden by --quiet."""
        if not self.quiet:
            self._write(msg)

    def warn(self, msg: str) -> None:
        """Something the user should know even with --quiet (skipped files, fallbacks)."""
        self._write(f"warning: {msg}")

    def result(self, msg: str) -> None:
        """The final outcome (stdout by default, so scripts can capture it); always shown."""
        self._write(msg, self.result_stream)

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[..., None]]:
        """A progress bar over `total` steps on a TTY (nothing otherwise); yields advance(**postfix)."""
        if self.quiet or not self.tty or not self.enabled or total <= 1:
            yield lambda n=1, **fields: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[postfix]}"),
            console=Console(file=self.stream),
            transient=True,
        )
        with progress:
            tid = progress.add_task(description, total=total, postfix="")

            def advance(n: int = 1, **fields: Any) -> None:
                post = "  ".join(
                    f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()
                )
                progress.update(tid, advance=n, postfix=post)

            yield advance


def format_epoch(row: dict[str, Any], total_epochs: int, improved: bool) -> str:
    """One summary line per epoch, e.g. 'epoch 3/24 finetune  train loss 0.41 acc 88.6% | val ...'."""
    acc = lambda v: f"{100 * v:5.1f}%"  # noqa: E731
    return (
        f"epoch {row['epoch']}/{total_epochs} {row['stage']:<8}  train loss {row['train_loss']:.4f} acc {acc(row['train_acc'])}"
        f"  | val loss {row['val_loss']:.4f} acc {acc(row['val_acc'])}  | lr {row['lr']:.2e}  {row['seconds']:.1f}s"
        + ("  *best" if improved else "")
    )


__all__ = ["Reporter", "format_epoch"]
