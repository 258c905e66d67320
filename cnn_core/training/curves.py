"""Figures of training over time: the live curves, earlier runs beside them, findings marked on
them, the learning-rate schedule and the learning-rate finder. Pure: data in, Plotly figure out.

The live curves draw decimated series (see live.py): a faint band from each bucket's lowest to
highest batch value, so spikes stay visible, and the smoothed trend as a line. Arrays go to Plotly
as float32 numpy arrays, which it sends as compact binary, so a refresh stays small.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnn_core.training.decimate import Series

BATCH, TREND, TRAIN, VALIDATION = "#9ecae1", "#3182bd", "#e6550d", "#31a354"
GHOSTS = ["#7f7f7f", "#9467bd", "#8c564b", "#e377c2", "#bcbd22"]
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
PANELS = {"loss": "Loss", "accuracy": "Accuracy", "lr": "Learning rate"}


def _band(fig, series: Series, row: int, col: int, show: bool) -> None:
    keep = ~(np.isnan(series.low) | np.isnan(series.high))
    x, low, high = series.x[keep], series.low[keep], series.high[keep]
    if not len(x):
        return
    fig.add_scatter(
        x=np.concatenate([x, x[::-1]]), y=np.concatenate([high, low[::-1]]), fill="toself", mode="lines",
        line=dict(color=BATCH, width=0.8), fillcolor="rgba(158,202,225,0.5)", name="per batch (range)",
        legendgroup="batch", showlegend=show, hoverinfo="skip", row=row, col=col,
    )  # fmt: skip


def _epochs(fig, history: list[dict], key: str, col: int, show: bool) -> None:
    epochs = np.asarray([h["epoch"] for h in history], np.float32)
    for prefix, colour, name, symbol in (
        ("", TRAIN, "train (epoch)", "circle"),
        ("val_", VALIDATION, "validation (epoch)", "diamond"),
    ):
        values = [h.get(prefix + key) for h in history]
        if any(isinstance(v, float) for v in values):
            fig.add_scatter(
                x=epochs, y=np.asarray([np.nan if v is None else v for v in values], np.float32), mode="markers+lines",
                name=name, marker=dict(color=colour, size=7, symbol=symbol), line=dict(color=colour, dash="dot" if not prefix else "solid"),
                legendgroup=name, showlegend=show, row=1, col=col, hovertemplate=f"epoch %{{x}}: %{{y:.4f}}<extra>{name}</extra>",
            )  # fmt: skip


def training_curves(
    series: dict[str, Series],
    history: list[dict],
    ghosts: dict[str, list[dict]] | None = None,
    marks: list[dict] | None = None,
    palette: list[str] = GHOSTS,
    theme: str | None = None,
) -> go.Figure:
    """Loss, accuracy and (when recorded) the learning rate per batch, with per-epoch points.

    Args:
        series: decimated per-batch series by metric ("loss", "accuracy", "lr").
        history: one row per epoch (loss, accuracy, val_loss, val_accuracy).
        ghosts: earlier runs' histories by label, drawn on the same epoch axis in `palette`'s colours.
        marks: findings to mark: {"from": epoch, "to": epoch, "label": text, "metric": "loss"}.
        theme: "light" or "dark" to colour the figure itself (drawn without Streamlit's theme, which
            costs the browser a fifth of each redraw); None leaves it to Streamlit.

    The learning-rate panel appears only when the rate changes during the run.
    """
    from plotly.subplots import make_subplots

    panels = [k for k in PANELS if k != "lr" or _varies(series.get("lr"))]
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[PANELS[k] for k in panels], horizontal_spacing=0.06,
        column_widths=[0.4, 0.4, 0.2][: len(panels)],
    )  # fmt: skip
    for col, key in enumerate(panels, 1):
        s, show = series.get(key), col == 1
        if s is not None and len(s):
            _band(fig, s, 1, col, show)
            fig.add_scatter(
                x=s.x, y=s.smooth, mode="lines", name="per batch, smoothed", line=dict(color=TREND, width=2),
                legendgroup="trend", showlegend=show, row=1, col=col, hovertemplate="epoch %{x:.2f}: %{y:.4g}<extra>smoothed</extra>",
            )  # fmt: skip
        if key != "lr":
            _epochs(fig, history, key, col, show)
            _ghosts(fig, ghosts or {}, key, col, show, palette)
    _marks(fig, marks or [], panels)
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
    fig.update_yaxes(automargin=True)  # with a 10-pixel margin, "1.5" lost its "1." and read as 5
    fig.update_yaxes(rangemode="tozero", col=1)
    fig.update_yaxes(range=[0, 1.02], col=2)
    if "lr" in panels:
        fig.update_yaxes(rangemode="tozero", exponentformat="e", col=3)
    fig.update_layout(
        height=380, margin=dict(l=10, r=10, t=40, b=10), uirevision="keep",
        legend=dict(orientation="h", y=-0.22, x=0.5, xanchor="center"),
    )  # fmt: skip
    if theme:
        themed(fig, theme)
    return fig


INK = {"light": ("#31333f", "rgba(49,51,63,0.12)"), "dark": ("#fafafa", "rgba(250,250,250,0.14)")}


def themed(fig: go.Figure, theme: str) -> go.Figure:
    """Plain colours for a light or dark page: transparent background, text and grid in the theme's ink."""
    text, grid = INK.get(theme, INK["light"])
    fig.update_layout(
        template="none", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font=dict(color=text, size=12),
    )  # fmt: skip
    fig.update_annotations(font_color=text)
    fig.update_xaxes(gridcolor=grid, zerolinecolor=grid, linecolor=grid)
    fig.update_yaxes(gridcolor=grid, zerolinecolor=grid, linecolor=grid)
    return fig


def _varies(series: Series | None) -> bool:
    return series is not None and len(series) > 0 and float(np.nanmax(series.high)) > float(np.nanmin(series.low)) * (1 + 1e-6)


def _ghosts(fig, ghosts: dict[str, list[dict]], key: str, col: int, show: bool, palette: list[str]) -> None:
    for i, (label, history) in enumerate(ghosts.items()):
        colour = palette[i % len(palette)]
        epochs = np.asarray([h.get("epoch") for h in history], np.float32)
        for prefix, dash in (("", "dot"), ("val_", "dash")):
            values = [h.get(prefix + key) for h in history]
            if any(isinstance(v, float) for v in values):
                fig.add_scatter(
                    x=epochs, y=np.asarray([np.nan if v is None else v for v in values], np.float32), mode="lines",
                    line=dict(color=colour, dash=dash, width=1.5), opacity=0.8, name=f"{label} ({'validation' if prefix else 'train'})",
                    legendgroup=f"ghost-{label}", showlegend=show, row=1, col=col,
                )  # fmt: skip


def _marks(fig, marks: list[dict], panels: list[str]) -> None:
    for mark in marks:
        col = panels.index(mark.get("metric", "loss")) + 1 if mark.get("metric", "loss") in panels else 1
        fig.add_vrect(
            x0=mark["from"], x1=mark["to"], row=1, col=col, fillcolor=mark.get("colour", "#fdae6b"), opacity=0.22,
            line_width=0, annotation_text=mark["label"], annotation_position="top left", annotation_font_size=11,
        )  # fmt: skip


def compare_runs(histories: dict[str, list[dict]]) -> go.Figure:
    """Loss and accuracy per epoch of several runs: one colour per run, train dotted, validation solid."""
    return training_curves({}, [], histories, palette=PALETTE)


def schedule_preview(epochs: np.ndarray, rates: np.ndarray) -> go.Figure:
    """The learning rate over the run, drawn before training starts."""
    fig = go.Figure(
        go.Scatter(
            x=epochs,
            y=rates,
            mode="lines",
            line=dict(color=TREND, width=2),
            hovertemplate="epoch %{x:.2f}: %{y:.3g}<extra></extra>",
        )
    )
    fig.update_layout(height=160, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="epoch", yaxis_title="learning rate")
    fig.update_yaxes(rangemode="tozero", exponentformat="e")
    return fig


def lr_finder(rates, losses, smoothed, suggested: float) -> go.Figure:
    """Loss against learning rate (log axis) from the finder's sweep, the suggested rate marked."""
    fig = go.Figure()
    fig.add_scatter(x=rates, y=losses, mode="lines", line=dict(color=BATCH, width=1), name="per batch")
    fig.add_scatter(x=rates, y=smoothed, mode="lines", line=dict(color=TREND, width=2), name="smoothed")
    fig.add_vline(x=suggested, line=dict(color=TRAIN, dash="dash"), annotation_text=f"suggested {suggested:.2g}")
    top = min(max(smoothed[: max(1, len(smoothed) // 2)]) * 1.5, max(losses))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="learning rate", yaxis_title="loss",
                      legend=dict(orientation="h", y=-0.3))  # fmt: skip
    fig.update_xaxes(type="log", exponentformat="e")
    fig.update_yaxes(range=[0, top])
    return fig
