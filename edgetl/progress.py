"""The one channel through which the library talks to the user: progress lines, bars, results.

Library code never prints and never configures `logging`; it takes a `Reporter` (default: a quiet
one) and the CLI decides what is shown, so `--quiet`, prefixes and a distributed run (only rank 0
reports) are decided in one place. Torch-free; bars are drawn by rich, only on a terminal.

    from edgetl.progress import Reporter

    rep = Reporter(quiet=False, prefix="edgetl bench: ")  # plain lines unless stderr is a TTY
    rep.info("loading model.onnx on CPUExecutionProvider")   # stderr, hidden by --quiet
    with rep.task("timing round 1/3", total=8) as advance:   # a transient bar, TTY only
        for cell in cells:
            advance(ms=2.31)
    rep.warn("CUDA not available, fell back to CPU")          # stderr, shown even with --quiet
    rep.error("broken.jpg: not an image")                    # stderr: one item failed, the rest go on
    rep.result("best: int8 2.3x")                             # stdout, always shown

A library function takes `reporter: Reporter | None = None` and uses `reporter or Reporter(quiet=True)`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO


class Reporter:
    """Where progress (`info`, `task`), warnings (`warn`) and outcomes (`result`) go.

    `prefix` starts every info/warning line (e.g. "edgetl export: "); `style` is a rich style
    (e.g. "dim") for info lines on a terminal; `enabled=False` silences everything (ranks > 0).
    """

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        tty: bool | None = None,
        enabled: bool = True,
        result_stream: TextIO | None = None,
        prefix: str = "",
        style: str | None = None,
    ):
        self.stream = stream if stream is not None else sys.stderr  # progress, info, warnings
        self.result_stream = result_stream or (stream if stream is not None else sys.stdout)  # final outcome
        self.quiet = quiet
        self.enabled = enabled
        self.prefix = prefix
        self.style = style
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())

    def _write(self, msg: str, stream: TextIO | None = None) -> None:
        if self.enabled:
            print(msg, file=stream or self.stream, flush=True)

    def info(self, msg: str) -> None:
        """Progress information (epoch lines, cache hits, stage steps); hidden by --quiet."""
        if self.quiet or not self.enabled:
            return
        if self.style and self.tty:
            from rich.console import Console

            Console(file=self.stream, highlight=False, soft_wrap=True).print(
                self.prefix + msg, style=self.style, markup=False
            )
            return
        self._write(self.prefix + msg)

    def warn(self, msg: str) -> None:
        """Something the user should know even with --quiet (skipped files, fallbacks)."""
        self._write(f"{self.prefix}warning: {msg}")

    def error(self, msg: str) -> None:
        """One item failed and the rest go on (an unreadable image); always shown."""
        self._write(f"{self.prefix}error: {msg}")

    def result(self, msg: str) -> None:
        """The final outcome (stdout by default, so scripts can capture it); always shown."""
        self._write(msg, self.result_stream)

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[..., None]]:
        """A progress bar over `total` steps on a TTY (nothing otherwise); yields advance(n=1, **postfix)."""
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
            tid = progress.add_task(self.prefix + description, total=total, postfix="")

            def advance(n: int = 1, **fields: Any) -> None:
                post = "  ".join(
                    f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()
                )
                progress.update(tid, advance=n, postfix=post)

            yield advance


__all__ = ["Reporter"]
