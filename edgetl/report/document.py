"""A tiny document model: sections of blocks, rendered once to HTML and once to Markdown.

Collecting what a run directory holds (`sections.py`) is kept apart from how it is shown
(`html.py`, `markdown.py`), so both files always say the same thing.

    doc = Document(title="edgetl report", sections=[Section("Data", "data", [Text("2 classes")])])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Text:
    text: str


@dataclass
class NotRun:
    """A step whose output is missing from the run directory: shown, never an error."""

    what: str
    how: str = ""  # the command that would produce it


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    id: str = ""


@dataclass
class KeyValues:
    items: list[tuple[str, str]]
    id: str = ""


@dataclass
class Image:
    path: Path  # absolute path of the PNG inside the run directory
    alt: str
    caption: str = ""


@dataclass
class Code:
    text: str
    caption: str = ""


@dataclass
class Alert:
    """Something the reader should not miss (a gate that failed, a provider that fell back)."""

    text: str


Block = Text | NotRun | Table | KeyValues | Image | Code | Alert


def render_block(b: Block, renderers: Mapping[type, Callable[[Any], str]]) -> str:
    """`renderers[type(b)](b)`: each output format maps every block type to one function."""
    try:
        render = renderers[type(b)]
    except KeyError:
        raise TypeError(f"unknown report block {type(b).__name__}") from None
    return render(b)


@dataclass
class Section:
    title: str
    id: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
