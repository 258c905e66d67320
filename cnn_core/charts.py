"""Figure builders: data in, figure out (Plotly figures, DOT text, SVG). No streamlit here."""

from __future__ import annotations

import plotly.graph_objects as go

SPLIT_COLOURS = {"train": "#4C78A8", "validation": "#F58518", "test": "#54A24B"}


def layer_diagram(layers) -> str:
    """A Graphviz (DOT) drawing of a layer stack, left to right, each box with its output shape."""
    colours = {
        "Conv2D": "#c6dbef",
        "MaxPooling2D": "#fdd0a2",
        "AveragePooling2D": "#fdd0a2",
        "Dense": "#c7e9c0",
        "BatchNormalization": "#e5e5e5",
        "Dropout": "#f2f2f2",
        "Flatten": "#dadaeb",
        "Rescaling": "#ffffff",
    }
    lines = [
        "digraph model {",
        'rankdir=LR; node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        'input [label="input", fillcolor="#ffffff"];',
    ]
    previous = "input"
    for i, layer in enumerate(layers):
        shape = "×".join(map(str, layer.output_shape))
        detail = _layer_detail(layer.config)
        label = f"{layer.name}\\n{layer.type}{detail}\\n{shape}"
        lines.append(f'n{i} [label="{label}", fillcolor="{colours.get(layer.type, "#f7f7f7")}"];')
        lines.append(f"{previous} -> n{i};")
        previous = f"n{i}"
    lines.append("}")
    return "\n".join(lines)


def _layer_detail(config: dict) -> str:
    if "filters" in config:
        return f" {config['filters']}@{config['kernel_size']}×{config['kernel_size']}"
    if "pool_size" in config:
        return f" {config['pool_size']}×{config['pool_size']}"
    if "units" in config:
        return f" {config['units']}"
    if "rate" in config:
        return f" {config['rate']:.2g}"
    return ""


def confusion_matrix(cm, class_names: list[str], normalise: bool = False) -> go.Figure:
    """Heatmap, rows = true class, columns = predicted; counts or row percentages, both in the hover."""
    import numpy as np

    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    z = share * 100 if normalise else cm
    text = [[f"{v:.0f}%" if normalise else f"{v}" for v in row] for row in z]
    custom = np.dstack([cm, share * 100])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=class_names,
            y=class_names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            customdata=custom,
            hovertemplate="true %{y} → predicted %{x}<br>%{customdata[0]} images (%{customdata[1]:.1f}% of %{y})<extra></extra>",
            colorbar=dict(title="% of row" if normalise else "images"),
        )
    )
    # Heatmap cells send no selection events to Streamlit (streamlit#8760): an invisible square
    # marker on each cell's centre takes the click, with the same hover text
    n = len(class_names)
    fig.add_trace(
        go.Scatter(
            x=[name for _ in class_names for name in class_names], y=[name for name in class_names for _ in range(n)],
            mode="markers", marker=dict(symbol="square", size=max(12, min(34, 340 // max(n, 1))), opacity=0),
            customdata=custom.reshape(n * n, 2).tolist(), showlegend=False,
            hovertemplate="true %{y} → predicted %{x}<br>%{customdata[0]} images (%{customdata[1]:.1f}% of %{y})<extra></extra>",
        )
    )  # fmt: skip
    side = max(360, 36 * len(class_names) + 120)
    fig.update_layout(
        height=side,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title="predicted class",
        yaxis_title="true class",
        xaxis=dict(type="category", side="top"),
        yaxis=dict(type="category", autorange="reversed"),
    )
    return fig


def probability_bars(class_names: list[str], probabilities, top: int = 10) -> go.Figure:
    """Horizontal bars of the top classes' probabilities, the winner highlighted."""
    import numpy as np

    p = np.asarray(probabilities)
    order = np.argsort(-p)[:top][::-1]
    colours = ["#3182bd" if i == order[-1] else "#9ecae1" for i in order]
    fig = go.Figure(
        go.Bar(
            x=p[order],
            y=[class_names[i] for i in order],
            orientation="h",
            marker_color=colours,
            text=[f"{p[i]:.1%}" for i in order],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=40 + 28 * len(order),
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(range=[0, 1], tickformat=".0%"),
        yaxis=dict(type="category"),
    )
    return fig


def grid(
    values,
    title: str = "",
    window: tuple[int, int, int] | None = None,
    cells: list[tuple[int, int]] = (),
    colorscale: str = "Greys",
    decimals: int = 2,
    height: int = 300,
    zmid: float | None = None,
) -> go.Figure:
    """A small matrix as a heatmap with its numbers written in, optionally a k×k window outlined
    (`window` = (row, col, k)) and some cells ringed (`cells`). NaN cells show empty."""
    import numpy as np

    v = np.asarray(values, float) + 0.0  # no "-0" labels
    v[v == 0] = 0.0
    text = [
        ["" if np.isnan(x) else f"{x:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{x:.0f}" for x in row] for row in v
    ]
    fig = go.Figure(
        go.Heatmap(
            z=v,
            text=text,
            texttemplate="%{text}",
            colorscale=colorscale,
            showscale=False,
            zmid=zmid,
            hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    if window is not None:
        r, c, k = window
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + k - 0.5, y0=r - 0.5, y1=r + k - 0.5, line=dict(color="#e6550d", width=4))
    for r, c in cells:
        fig.add_shape(type="rect", x0=c - 0.45, x1=c + 0.45, y0=r - 0.45, y1=r + 0.45, line=dict(color="#31a354", width=3))
    rows, cols = v.shape
    fig.update_layout(
        title=title,
        height=height,
        margin=dict(l=5, r=5, t=35 if title else 5, b=5),
        plot_bgcolor="#f7f7f7",
        xaxis=dict(showticklabels=False, constrain="domain", range=[-0.5, cols - 0.5], showgrid=False, zeroline=False),
        yaxis=dict(range=[rows - 0.5, -0.5], showticklabels=False, scaleanchor="x", showgrid=False, zeroline=False),
    )
    return fig


# An <img> does not inherit the page's colours: mid grey text and translucent grid lines read on a
# light and on a dark theme alike.
INK, GRID = "#808495", "rgba(128,132,149,0.35)"


def class_distribution_svg(class_names: list[str], counts: dict[str, list[int]], width: int = 640, height: int = 300) -> str:
    """Stacked bars of images per class and split, as SVG text written directly: the Data page is the
    first page a visitor sees, and this costs neither the server (matplotlib's first figure takes
    about 0.3 s) nor the browser (Plotly's script about 1.5 s on a small machine)."""
    from html import escape

    text, grid = INK, GRID
    left, right, top, bottom = 48, 8, 34, 46 if len(class_names) <= 12 else 78
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(column) for column in zip(*counts.values())] or [0]
    step = _nice_step(max(totals) / 4 if max(totals) else 1)
    y_max = step * max(1, -(-max(totals) // step))

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    slot = plot_w / max(1, len(class_names))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="Source Sans Pro, Helvetica, Arial, sans-serif" font-size="12" fill="{text}">',
        '<text x="0" y="14" font-size="14" font-weight="600">Images per class and split</text>',
        f'<text transform="translate(12 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">images</text>',
    ]
    for k in range(int(y_max // step) + 1):
        v = k * step
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{grid}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,}</text>')
    label_every = max(1, -(-len(class_names) // 40))
    for i, name in enumerate(class_names):
        x0, base = left + i * slot + slot * 0.15, 0
        for split, values in counts.items():
            v = values[i]
            parts.append(
                f'<rect x="{x0:.1f}" y="{y(base + v):.1f}" width="{slot * 0.7:.1f}" height="{y(base) - y(base + v):.1f}" '
                f'fill="{SPLIT_COLOURS.get(split, "#999")}"><title>{escape(str(name))}: {v:,} {split}</title></rect>'
            )
            base += v
        if i % label_every == 0:
            label = escape(str(name) if len(str(name)) <= 12 else str(name)[:11] + "…")
            cx, ly = left + (i + 0.5) * slot, top + plot_h + 16
            rotate = (
                f' transform="rotate(-45 {cx:.1f} {ly})" text-anchor="end"' if len(class_names) > 12 else ' text-anchor="middle"'
            )
            parts.append(f'<text x="{cx:.1f}" y="{ly}"{rotate}>{label}</text>')
    x = width - right
    for split in reversed(list(counts)):
        x -= 8 + 7 * len(split) + 18
        parts.append(f'<rect x="{x}" y="5" width="11" height="11" fill="{SPLIT_COLOURS.get(split, "#999")}"/>')
        parts.append(f'<text x="{x + 15}" y="15">{split}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `raw` (and at least 1)."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if m * magnitude >= raw:
                return m * magnitude
        magnitude *= 10


def embedding_map(points, labels, predicted, class_names: list[str], indices=None) -> go.Figure:
    """A 2-D map of images: one colour per true class, mistakes drawn as crosses; each point's
    customdata is its test index, its predicted class and its position in `points` (for hover, its
    thumbnail, and opening it). Plain lists, not numpy arrays, so the browser's copy of the data is
    readable as it is."""
    import numpy as np
    from plotly.colors import qualitative

    points, labels, predicted = np.asarray(points), np.asarray(labels), np.asarray(predicted)
    indices = np.arange(len(labels)) if indices is None else np.asarray(indices)
    palette = qualitative.Plotly if len(class_names) <= 10 else qualitative.Alphabet  # explicit: the map draws in its own frame
    fig = go.Figure()
    for k, name in enumerate(class_names):
        mine = np.flatnonzero(labels == k)
        if not len(mine):
            continue
        wrong = predicted[mine] != k
        fig.add_trace(
            go.Scattergl(
                x=points[mine, 0].tolist(), y=points[mine, 1].tolist(), mode="markers", name=name,
                marker={"size": np.where(wrong, 9, 6).tolist(), "symbol": np.where(wrong, "x", "circle").tolist(), "opacity": 0.8,
                        "color": palette[k % len(palette)]},
                customdata=np.stack([indices[mine], predicted[mine], mine], axis=1).tolist(),
                text=[class_names[p] for p in predicted[mine]],
                hovertemplate="test image #%{customdata[0]}<br>label: " + name + "<br>predicted: %{text}<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"title": "true class"},
                      xaxis={"showticklabels": False, "zeroline": False}, yaxis={"showticklabels": False, "zeroline": False},
                      dragmode="pan", plot_bgcolor="white")  # fmt: skip
    return fig


def robustness_curves(curve: dict[str, list[tuple[float, float]]]) -> go.Figure:
    """Accuracy against rotation angle and against noise level, side by side."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Turned by", "With noise of spread"))
    for col, (name, unit) in enumerate((("rotation", "degrees"), ("noise", "of the brightness range")), start=1):
        xs, ys = zip(*curve[name])
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name=name, showlegend=False,
                                 hovertemplate="%{x} " + unit + ": accuracy %{y:.1%}<extra></extra>"), row=1, col=col)  # fmt: skip
        fig.update_xaxes(title_text=unit, row=1, col=col)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="test accuracy", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
