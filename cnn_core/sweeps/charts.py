"""A sweep's figures (pure: trial rows in, Plotly figure out): every trial's validation curve on one
chart, the trials as parallel coordinates, and each setting's importance."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from cnn_core.sweeps.study import TrialRow, shown

DASH = {"complete": "solid", "pruned": "dash", "stopped": "dashdot", "failed": "dot"}


def _name(row: TrialRow) -> str:
    return html.escape(f"trial {row.number} ({shown(row.params)})")  # Plotly reads HTML in trace names


def validation_curves(rows: list[TrialRow], best: int | None = None) -> go.Figure:
    """Validation accuracy per epoch, one line per trial: pruned ones dashed, the best one thick."""
    fig = go.Figure()
    for row in rows:
        if not row.curve:
            continue
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(row.curve) + 1)), y=row.curve, mode="lines+markers", name=_name(row),
                line={"dash": DASH.get(row.state, "solid"), "width": 4 if row.number == best else 1.5},
                hovertemplate=f"{_name(row)}<br>epoch %{{x}}: %{{y:.4f}} ({html.escape(row.state)})<extra></extra>",
            )
        )  # fmt: skip
    fig.update_layout(
        xaxis_title="epoch", yaxis_title="validation accuracy", yaxis_range=[0, 1.02], height=360,
        margin={"l": 50, "r": 10, "t": 30, "b": 40}, legend={"font": {"size": 11}},
    )  # fmt: skip
    return fig


def _dimension(name: str, values: list) -> dict:
    """One axis: numbers as they are (a rate spread over decades on log10), anything else as labelled positions."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
        if min(numbers) > 0 and max(numbers) / min(numbers) >= 20:  # ticks at the decades it spans
            decades = range(math.floor(math.log10(min(numbers))), math.ceil(math.log10(max(numbers))) + 1)
            return {"label": f"{name} (log)", "values": [math.log10(v) for v in numbers], "range": [decades[0], decades[-1]],
                    "tickvals": list(decades), "ticktext": [f"{10.0**d:g}" for d in decades]}  # fmt: skip
        return {"label": name, "values": numbers}
    labels = sorted({str(v) for v in values})
    return {"label": name, "values": [labels.index(str(v)) for v in values], "tickvals": list(range(len(labels))),
            "ticktext": [html.escape(t) for t in labels]}  # fmt: skip


def parallel_coordinates(rows: list[TrialRow], params: list[str]) -> go.Figure | None:
    """One line per trial with a validation accuracy, across its settings to that accuracy; None before any."""
    rows = [r for r in rows if r.val_accuracy is not None and all(p in r.params for p in params)]
    if not rows:
        return None
    accuracy = [r.val_accuracy for r in rows]
    dimensions = [_dimension(p, [r.params[p] for r in rows]) for p in params]
    dimensions.append({"label": "validation accuracy", "values": accuracy, "range": [0, 1]})
    fig = go.Figure(
        go.Parcoords(
            line={"color": accuracy, "colorscale": "Viridis", "cmin": 0, "cmax": 1, "showscale": True}, dimensions=dimensions
        )
    )
    fig.update_layout(height=340, margin={"l": 60, "r": 40, "t": 50, "b": 20})
    return fig


def importance_bars(importances: dict[str, float]) -> go.Figure:
    """Each setting's share of the variation in validation accuracy (they add up to 1)."""
    names = list(importances)[::-1]
    fig = go.Figure(go.Bar(x=[importances[n] for n in names], y=[html.escape(n) for n in names], orientation="h"))
    fig.update_layout(xaxis_title="importance (fANOVA)", xaxis_range=[0, 1], height=80 + 40 * len(names),
                      margin={"l": 120, "r": 10, "t": 20, "b": 40})  # fmt: skip
    return fig
