"""Render a `Document` as ONE self-contained HTML file: inline CSS, PNGs as data URIs.

Every string from the run (class names, paths, model names) is HTML-escaped. A Content
Security Policy forbids any network fetch, so the file shows the same offline, in a mail
attachment or from an artifact store.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from edgetl.report.document import Alert, Code, Document, Image, KeyValues, NotRun, Table, Text, render_block

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#1d232a;line-height:1.45}
h1{margin-bottom:.2rem}.subtitle{color:#5b6570;margin-top:0}
h2{border-bottom:2px solid #e3e7eb;padding-bottom:.2rem;margin-top:2.2rem}
nav a{margin-right:.9rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #d5dbe1;padding:.28rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f4f7}tr:nth-child(even) td{background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
figure{margin:.8rem 0}figure img{max-width:100%;height:auto;border:1px solid #e3e7eb}
figcaption{color:#5b6570;font-size:.9rem}
pre{background:#f6f8fa;padding:.7rem;overflow-x:auto;font-size:.85rem;border-radius:4px}
.notrun{color:#8a5a00;background:#fff7e0;border-left:4px solid #e0b000;padding:.4rem .7rem}
.alert{color:#8a1c1c;background:#fdecec;border-left:4px solid #d33;padding:.4rem .7rem}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}dl.kv dt{font-weight:600}dl.kv dd{margin:0}
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def png_data_uri(path: Path) -> str | None:
    """The PNG at `path` as a data URI, or None when it is missing or not a PNG."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _is_num(cell: str) -> bool:
    c = cell.replace(",", "").rstrip("%x").replace(" ms", "").replace(" MB", "").strip()
    try:
        float(c)
    except ValueError:
        return False
    return True


def _table(t: Table) -> str:
    ident = f' id="{_e(t.id)}"' if t.id else ""
    out = [f'<table{ident} class="data">']
    if t.caption:
        out.append(f"<caption>{_e(t.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in t.headers) + "</tr></thead><tbody>")
    for row in t.rows:
        cells = "".join(f'<td class="num">{_e(c)}</td>' if _is_num(c) else f"<td>{_e(c)}</td>" for c in row)
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _key_values(b: KeyValues) -> str:
    ident = f' id="{_e(b.id)}"' if b.id else ""
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in b.items)
    return f'<dl class="kv"{ident}>{rows}</dl>'


def _not_run(b: NotRun) -> str:
    how = f" Run: <code>{_e(b.how)}</code>" if b.how else ""
    return f'<p class="notrun">Not run: {_e(b.what)}.{how}</p>'


def _image(b: Image) -> str:
    uri = png_data_uri(b.path)
    if uri is None:
        return f'<p class="notrun">Not run: {_e(b.alt)} ({_e(b.path.name)} is missing or not a PNG).</p>'
    cap = f"<figcaption>{_e(b.caption)}</figcaption>" if b.caption else ""
    return f'<figure><img src="{uri}" alt="{_e(b.alt)}">{cap}</figure>'


def _code(b: Code) -> str:
    cap = f"<p>{_e(b.caption)}</p>" if b.caption else ""
    return f"{cap}<pre><code>{_e(b.text)}</code></pre>"


RENDERERS = {
    Text: lambda b: f"<p>{_e(b.text)}</p>",
    Alert: lambda b: f'<p class="alert">{_e(b.text)}</p>',
    NotRun: _not_run, Table: _table, KeyValues: _key_values, Image: _image, Code: _code,
}  # fmt: skip


def render_html(doc: Document) -> str:
    nav = " ".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in doc.sections)
    body = []
    for s in doc.sections:
        body.append(f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>')
        body.extend(render_block(b, RENDERERS) for b in s.blocks)
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(doc.title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
        f'<h1>{_e(doc.title)}</h1>\n<p class="subtitle">{_e(doc.subtitle)}</p>\n<nav>{nav}</nav>\n'
        + "\n".join(body)
        + "\n</body></html>\n"
    )
