"""A selection as text (table and a character plot for the terminal) and as a PNG (matplotlib).

print(table_text(sel)); print(terminal_plot(sel)); plot_png(sel, Path("select/select.png"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgetl._io import atomic_path


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f}%"


def table_text(sel: Any) -> str:
    """One line per candidate: CV/val accuracy (probe), INT8 val accuracy, FP32/INT8 p50 ms, front (*), choice (<=)."""
    head = (
        f"{'candidate':<32} {'CV acc':>8} {'val acc':>8} {'int8 val':>8} {'fp32 ms':>8} {'int8 ms':>8}  front"
    )
    lines = [head, "-" * len(head)]
    for i, m in enumerate(sel.candidates):
        mark = ("*" if i in sel.front else " ") + ("  <= chosen" if i == sel.chosen_index else "")
        lines.append(f"{m.name:<32} {_pct(m.cv_acc):>8} {_pct(m.val_acc):>8} {_pct(m.int8_val_acc):>8} "
                     f"{_ms(m.fp32_ms):>8} {_ms(m.int8_ms):>8}  {mark}")  # fmt: skip
    return "\n".join(lines)


def _points(sel: Any) -> list[tuple[int, float, float]]:
    from edgetl.select.api import deciding_latency

    out = []
    for i, m in enumerate(sel.candidates):
        lat = deciding_latency(m)[0]
        if lat is not None and m.cv_acc is not None:
            out.append((i, lat, m.cv_acc))
    return out


def terminal_plot(sel: Any, width: int = 56, height: int = 12) -> str:
    """CV accuracy (rows) vs latency (columns) in characters: o candidate, * front, @ chosen."""
    pts = _points(sel)
    if not pts:
        return ""
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    grid = [[" "] * width for _ in range(height)]
    for i, x, y in pts:
        c = int((x - x0) / ((x1 - x0) or 1) * (width - 1))
        r = height - 1 - int((y - y0) / ((y1 - y0) or 1) * (height - 1))
        grid[r][c] = "@" if i == sel.chosen_index else ("*" if i in sel.front else "o")
    rows = [f"{100 * y1:6.2f}% |" + "".join(grid[0])]
    rows += ["        |" + "".join(g) for g in grid[1:-1]]
    rows.append(f"{100 * y0:6.2f}% |" + "".join(grid[-1]))
    rows.append("        +" + "-" * width)
    rows.append(f"         {x0:.2f} ms{'':>{max(1, width - 18)}}{x1:.2f} ms")
    return "CV accuracy vs latency (@ chosen, * Pareto front, o dominated)\n" + "\n".join(rows)


def plot_png(sel: Any, path: Path) -> Path:
    """The same plot as a PNG, candidates labelled, the front joined by a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = _points(sel)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, x, y in pts:
        style = "o" if i not in sel.front else "s"
        ax.plot(x, 100 * y, style, color="tab:red" if i == sel.chosen_index else "tab:blue")
        ax.annotate(
            sel.candidates[i].name, (x, 100 * y), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    front = sorted((x, y) for i, x, y in pts if i in sel.front)
    if front:
        ax.plot(
            [f[0] for f in front], [100 * f[1] for f in front], "--", color="tab:blue", label="Pareto front"
        )
    ax.set_xlabel(f"latency, ms (batch 1, {sel.latency})")
    ax.set_ylabel("probe CV accuracy on train, %")
    ax.set_title("chosen (red): " + sel.chosen.name, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_png", "table_text", "terminal_plot"]
