"""Small reusable widgets: image grids that keep pixels sharp, compact tables, progress bars."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import streamlit as st

from cnn_core.progress import Progress, Report


def theme() -> str:
    """ "dark" or "light": the browser's Streamlit theme (light until the browser has said)."""
    kind = st.context.theme.type
    return kind if kind in ("dark", "light") else "light"


def sharp(image: np.ndarray, size: int = 72) -> np.ndarray:
    """Enlarge a small `uint8` image by whole steps (nearest neighbour) so pixels stay crisp; (h, w) for grayscale."""
    image = np.asarray(image)
    scale = max(1, size // max(image.shape[:2]))
    big = image.repeat(scale, axis=0).repeat(scale, axis=1)
    return big[..., 0] if big.ndim == 3 and big.shape[-1] == 1 else big


def image_grid(images, captions: list[str] | None = None, size: int = 72) -> None:
    images = list(images)
    if images:
        alt = [f"Image: {c}" for c in captions] if captions else "An image from the dataset"
        st.image([sharp(im, size) for im in images], caption=captions, width=size, clamp=True, alt=alt)


def compact_table(
    header: list[str], rows: list[list], max_height: int = 320, right=None, bold_last: bool = True, markup: bool = False
) -> None:
    """A small read-only table as plain HTML (numbers right-aligned, last row bold, scrolls past
    `max_height`). It draws with the page's own text: `st.dataframe` makes a first visit load 1.2 MB
    of grid script, and markdown tables are twice as tall per row.

    Args:
        right: the columns to right-align (default: those whose first row holds an int).
        markup: the cells are HTML already escaped by the caller (which may add markup of its own).
    """
    from html import escape

    if right is None:
        right = [i for i in range(len(header)) if rows and isinstance(rows[0][i], int)]
    right = set(right)

    def cell(value, tag: str, i: int) -> str:
        text = value if markup and tag == "td" else f"{value:,}" if isinstance(value, int) else escape(str(value))
        return f'<{tag} style="text-align:{"right" if i in right else "left"};padding:2px 10px">{text}</{tag}>'

    head = "".join(cell(h, "th", i) for i, h in enumerate(header))
    body = "".join(
        f'<tr style="{"font-weight:600;border-top:2px solid #ccc" if bold_last and k == len(rows) - 1 else ""}">'
        + "".join(cell(v, "td", i) for i, v in enumerate(row))
        + "</tr>"
        for k, row in enumerate(rows)
    )
    st.markdown(
        f'<div style="max-height:{max_height}px;overflow-y:auto;font-size:0.85rem">'
        f'<table style="width:100%;margin:0"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>',
        unsafe_allow_html=True,
    )


@contextmanager
def progress_bar() -> Iterator[Report]:
    """A `cnn_core.progress` report drawn as a progress bar with its count and ETA; removed afterwards."""
    bar = st.empty()

    def report(progress: Progress) -> None:
        bar.progress(progress.fraction, text=progress.text)

    try:
        yield report
    finally:
        bar.empty()


def png_bytes(image: np.ndarray) -> bytes:
    """A `uint8` image (h, w[, c]) as PNG."""
    import io

    from PIL import Image

    image = np.asarray(image)
    buf = io.BytesIO()
    Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue()


def picture(place, image: np.ndarray, caption: str | None, alt: str, download: str | None = None, **kwargs) -> None:
    """An image with its alt text (what it shows, for screen readers) and, given a file name, a PNG download."""
    place.image(image, caption=caption, alt=alt, clamp=True, **kwargs)
    if download:
        place.download_button("PNG", png_bytes(np.clip(image, 0, 255).astype(np.uint8)), f"{download}.png", "image/png",
                              icon=":material/download:", key=f"png.{download}", on_click="ignore")  # fmt: skip


def code_span(text: str) -> str:
    """`text` as one markdown code span: shown as typed, never as a link, an image, emphasis or HTML,
    whatever backticks it holds (the fence is longer than its longest run of them)."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain_text(text: str) -> str:
    """`text` for a markdown string, shown as typed: markdown's punctuation backslash-escaped and HTML's
    angle brackets as entities, so a folder or run name never becomes a link, an image or a tag."""
    text = " ".join(str(text).splitlines())
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~:])", r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")
