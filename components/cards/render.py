"""Markdown and HTML of a card from the same blocks, with the evaluation reports' tables and page.

A block is a heading, paragraphs, bullets and an optional table; the HTML adds figures under
the heading they belong to. Markdown goes to reviews and git, HTML to the KFP dashboard.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Block:
    heading: str
    text: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    header: list[str] | None = None
    rows: list[list[Any]] = field(default_factory=list)


def inline_html(text: str) -> str:
    """Markdown `code` spans and **bold** as HTML, everything else escaped."""
    pieces = html.escape(text).split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
    bold = out.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(bold))


def render_markdown(title: str, blocks: list[Block]) -> str:
    from components.evaluation.report import table

    parts = [f"# {title}"]
    for block in blocks:
        parts.append(f"## {block.heading}")
        parts += block.text
        if block.bullets:
            parts.append("\n".join(f"- {b}" for b in block.bullets))
        if block.header is not None:
            parts.append(table(block.header, block.rows) if block.rows else "_none_")
    return "\n\n".join(parts) + "\n"


def render_html(title: str, blocks: list[Block], figures: dict[str, str] | None = None) -> str:
    """A standalone offline page; `figures` maps a block heading to the figure HTML shown under it."""
    from components.common.charts import html_page, html_table

    parts = [f"<h1>{inline_html(title)}</h1>"]
    for block in blocks:
        parts.append(f"<h2>{html.escape(block.heading)}</h2>")
        if figures and block.heading in figures:
            parts.append(figures[block.heading])
        parts += [f"<p>{inline_html(t)}</p>" for t in block.text]
        if block.bullets:
            parts.append("<ul>" + "".join(f"<li>{inline_html(b)}</li>" for b in block.bullets) + "</ul>")
        if block.header is not None:
            parts.append(html_table(block.header, block.rows) if block.rows else "<p><em>none</em></p>")
    return html_page(title.replace("`", ""), parts)
