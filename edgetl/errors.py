"""One error type for everything a user can fix: the CLI prints its message as one line.

Library code raises these instead of letting torch/onnxruntime tracebacks escape, so the
message can name the file or option at fault and say what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgetlError(Exception):
    """A user-facing error: one line that names the culprit and the fix."""


class UnknownNameError(EdgetlError, KeyError):
    """An unknown name in a registry; suggests close matches and never substitutes."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]):
        choices = sorted(set(choices))
        close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        shown = "" if close or len(choices) > 20 else f"; choose from {', '.join(choices)}"
        self.kind, self.name, self.suggestions = kind, name, close
        super().__init__(f"unknown {kind} {name!r}{hint}{shown}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DataError(EdgetlError):
    """Bad training/evaluation data (layout, classes, unreadable images)."""


class CheckpointError(EdgetlError):
    """A checkpoint that is missing, corrupt, untrusted or for another model."""


class ExportError(EdgetlError):
    """An export that failed a gate or could not be produced."""
