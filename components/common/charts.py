"""Charts for the HTML reports: matplotlib figures as inline SVG (or PNG), in a page with no network.

The KFP dashboard and a browser on an air-gapped cluster show the reports as they are: no
script, stylesheet or font is fetched from anywhere. Figures are built without pyplot
(`matplotlib.figure.Figure`), so rendering is thread-safe and leaves no global state.
"""

from __future__ import annotations

import functools
import html
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

MODEL_COLOR, BASELINE_COLOR, GOOD_COLOR, BAD_COLOR = "#1f77b4", "#7f7f7f", "#2e7d32", "#c62828"

STYLE = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:12px 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
.promote{color:#1b5e20}.keep{color:#b00020}
"""


def chart(build: Callable[..., Any]) -> Callable[..., Any]:
    """Build a figure under matplotlib's default style, whatever a notebook made global before
    (optuna.visualization switches pyplot to ggplot)."""

    @functools.wraps(build)
    def styled(*args: Any, **kwargs: Any) -> Any:
        import matplotlib.style

        with matplotlib.style.context("default"):
            return build(*args, **kwargs)

    return styled


def new_figure(width: float = 7.0, height: float = 3.6):
    """A figure outside pyplot (nothing registered globally; safe in threads and servers)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def svg_of(fig, salt: str = "rankops") -> str:
    """The figure as an inline `<svg>` element: text stays text, ids are stable per `salt`.

    `salt` must differ between the figures of one page: element ids derive from it.
    """
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):].strip()


def png_of(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (notebook outputs, README screenshots)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_block(fig, caption: str, salt: str) -> str:
    return f"<figure>{svg_of(fig, salt)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def fmt(value: Any) -> str:
    if value is None or isinstance(value, bool | int | str):
        return html.escape(str(value))
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(title: str, parts: Sequence[str]) -> str:
    """A standalone page: inline CSS and SVG only, nothing that needs the network."""
    body = "\n".join(parts)
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")

