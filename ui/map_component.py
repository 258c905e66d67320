"""The embedding map as a small custom component (ui/components/embedding_map.html): the same
Plotly figure, drawn in its own frame so that hovering a point shows that test image, and a
click returns it. Streamlit's `st.plotly_chart` reports clicks but not hovers, and Plotly's own
hover labels hold only text.

The component's folder is written under the app's data folder: our page, a copy of the installed
plotly package's `plotly.min.js`, and the thumbnail sheets, which the browser then caches like any
file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import streamlit.components.v1 as components

from cnn_core.paths import data_dir

PAGE = Path(__file__).resolve().parent / "components" / "embedding_map.html"
_declared: dict = {}


def _folder() -> Path:
    """The component's files, refreshed when the page or the plotly package changes."""
    import plotly

    folder = data_dir() / "components" / "embedding-map"
    folder.mkdir(parents=True, exist_ok=True)
    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    for source, name in ((PAGE, "index.html"), (script, "plotly.min.js")):
        target = folder / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size or target.read_bytes() != source.read_bytes():
            tmp = folder / f".{name}.tmp"
            shutil.copyfile(source, tmp)
            tmp.replace(target)
    return folder


def _component():
    if "map" not in _declared or not (_declared["folder"] / "index.html").is_file():  # once, or when the folder went
        _declared["folder"] = _folder()
        _declared["map"] = components.declare_component("embedding_map", path=str(_declared["folder"]))
    return _declared["map"]


def _sprite_url(folder: Path, png: bytes, keep: int = 16) -> str:
    """The thumbnails as a file beside the component's page: the browser fetches it once and caches
    it, instead of receiving megabytes with every rerun of the page. Named by content; the newest
    `keep` are kept."""
    sprites = folder / "sprites"
    sprites.mkdir(exist_ok=True)
    name = hashlib.sha1(png).hexdigest()[:20] + ".png"
    if not (sprites / name).is_file():
        tmp = sprites / f".{name}.tmp"
        tmp.write_bytes(png)
        tmp.replace(sprites / name)
        for old in sorted(sprites.glob("*.png"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
            old.unlink(missing_ok=True)
    return f"sprites/{name}"


def embedding_map(
    figure, thumbnails: tuple[bytes, int, int, int], class_names: list[str], key: str, theme: str = "light", height: int = 520
):
    """Draw the map; returns the last clicked point as {"index", "predicted"}, or None."""
    png, cols, rows, _ = thumbnails
    spec = json.loads(figure.to_json())
    _component()
    sprite = _sprite_url(_declared["folder"], png)
    version = hashlib.sha1(json.dumps(spec["data"], sort_keys=True).encode() + sprite.encode()).hexdigest()[:16]
    return _component()(figure=spec, sprite=sprite, cols=cols, rows=rows, thumb=72, names=class_names, height=height,
                        theme=theme, version=version + theme, key=key, default=None)  # fmt: skip
