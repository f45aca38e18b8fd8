"""Render a `Document` as Markdown: the same content, images referenced by relative path.

The Markdown file lives in the run directory, so `curves.png` or `eval/confusion.png`
resolve from there (on GitHub, in an editor preview, or after copying the folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgetl.report.document import Alert, Code, Document, Image, KeyValues, NotRun, Table, Text, render_block

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!])")


def md_escape(s: object) -> str:
    """Escape Markdown/HTML syntax so a class name like `<b>|x*` shows literally."""
    return _MD_SPECIAL.sub(r"\\\1", str(s)).replace("\n", " ")


def _table(t: Table) -> str:
    lines = []
    if t.caption:
        lines += [f"**{md_escape(t.caption)}**", ""]
    lines.append("| " + " | ".join(md_escape(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---" for _ in t.headers) + "|")
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def _image(b: Image, base: Path) -> str:
    if not b.path.is_file():
        return f"> *Not run:* {md_escape(b.alt)} ({md_escape(b.path.name)} is missing)."
    rel = Path(os.path.relpath(b.path, base)).as_posix()
    img = f"![{md_escape(b.alt)}]({rel.replace(' ', '%20')})"
    return img + (f"\n\n*{md_escape(b.caption)}*" if b.caption else "")


def _renderers(base: Path) -> dict[type, Callable[[Any], str]]:
    """Markdown for each block type; images link relative to `base`."""
    return {
        Text: lambda b: md_escape(b.text),
        Alert: lambda b: f"> **Warning:** {md_escape(b.text)}",
        NotRun: lambda b: f"> *Not run:* {md_escape(b.what)}." + (f" Run: `{b.how}`" if b.how else ""),
        Table: _table,
        KeyValues: lambda b: "\n".join(f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in b.items),
        Image: lambda b: _image(b, base),
        Code: lambda b: (f"{md_escape(b.caption)}\n\n" if b.caption else "") + _fence(b.text),
    }


def render_markdown(doc: Document, base: Path) -> str:
    """`base` is the folder the .md file is written to; image links are relative to it."""
    renderers = _renderers(base)
    out = [f"# {md_escape(doc.title)}", "", md_escape(doc.subtitle), ""]
    out.append(" · ".join(f"[{md_escape(s.title)}](#{s.id})" for s in doc.sections))
    for s in doc.sections:
        out += ["", f'<a id="{s.id}"></a>', "", f"## {md_escape(s.title)}", ""]
        out.append("\n\n".join(render_block(b, renderers) for b in s.blocks))
    return "\n".join(out) + "\n"
