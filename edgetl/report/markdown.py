"""Render a `Document` as Markdown: the same content, images referenced by relative path.

The Markdown file lives in the run directory, so `curves.png` or `eval/confusion.png`
resolve from there (on GitHub, in an editor preview, or after copying the folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from edgetl.report.document import Alert, Block, Code, Document, Image, KeyValues, NotRun, Table, Text

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


def _block(b: Block, base: Path) -> str:
    if isinstance(b, Text):
        return md_escape(b.text)
    if isinstance(b, Alert):
        return f"> **Warning:** {md_escape(b.text)}"
    if isinstance(b, NotRun):
        how = f" Run: `{b.how}`" if b.how else ""
        return f"> *Not run:* {md_escape(b.what)}.{how}"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, KeyValues):
        return "\n".join(f"- **{md_escape(k)}:** {md_escape(v)}" for k, v in b.items)
    if isinstance(b, Image):
        if not b.path.is_file():
            return f"> *Not run:* {md_escape(b.alt)} ({md_escape(b.path.name)} is missing)."
        rel = Path(os.path.relpath(b.path, base)).as_posix()
        img = f"![{md_escape(b.alt)}]({rel.replace(' ', '%20')})"
        return img + (f"\n\n*{md_escape(b.caption)}*" if b.caption else "")
    if isinstance(b, Code):
        cap = f"{md_escape(b.caption)}\n\n" if b.caption else ""
        return cap + _fence(b.text)
    raise TypeError(f"unknown report block {type(b).__name__}")


def render_markdown(doc: Document, base: Path) -> str:
    """`base` is the folder the .md file is written to; image links are relative to it."""
    out = [f"# {md_escape(doc.title)}", "", md_escape(doc.subtitle), ""]
    out.append(" · ".join(f"[{md_escape(s.title)}](#{s.id})" for s in doc.sections))
    for s in doc.sections:
        out += ["", f'<a id="{s.id}"></a>', "", f"## {md_escape(s.title)}", ""]
        out.append("\n\n".join(_block(b, base) for b in s.blocks))
    return "\n".join(out) + "\n"
