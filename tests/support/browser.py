"""Open a report in headless Chromium (the Debian package) with the network cut off, and say what it shows.

Every request that is not to the file itself or an inline data:/blob: URL is aborted and
recorded: a report that needs a CDN shows up here, not on an air-gapped cluster.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MISSING = "Chromium not installed: run `make browsers` (Debian package chromium)"
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@dataclass
class Rendered:
    title: str
    tables: int
    svgs: int
    text: str
    screenshot: bytes
    figures: list[bytes] = field(default_factory=list)  # a screenshot of each <figure> (our charts)
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    def pixels(self) -> np.ndarray:
        return pixels_of(self.screenshot)


def pixels_of(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def chromium_path() -> str | None:
    return shutil.which("chromium")


def render(browser, path: Path, width: int = 1200, height: int = 900) -> Rendered:
    """Load `path` as a file: URL, wait for it to settle, screenshot the full page."""
    context = browser.new_context(viewport={"width": width, "height": height})
    blocked: list[str] = []

    def guard(route):
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    page.on("console", lambda msg: console.append((msg.type, msg.text)))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.resolve().as_uri(), wait_until="networkidle")
    shot = page.screenshot(full_page=True)
    figures = page.locator("figure")
    result = Rendered(title=page.title(), tables=page.locator("table").count(), svgs=page.locator("figure svg").count(),
                      text=page.inner_text("body"), screenshot=shot,
                      figures=[figures.nth(i).screenshot() for i in range(figures.count())],
                      console=console, page_errors=errors, blocked=blocked)
    context.close()
    return result


def color_share(pixels: np.ndarray, hex_color: str, tolerance: int = 24) -> float:
    """Share of pixels within `tolerance` (per channel) of `hex_color`."""
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return float(np.all(np.abs(pixels - rgb) <= tolerance, axis=-1).mean())
