"""Plotly figure builders: data in, figure out. No streamlit here."""

from __future__ import annotations

import plotly.graph_objects as go

SPLIT_COLOURS = {"train": "#4C78A8", "validation": "#F58518", "test": "#54A24B"}


def class_distribution(class_names: list[str], counts: dict[str, list[int]]) -> go.Figure:
    """Stacked bars: images per class, one colour per split."""
    fig = go.Figure()
    for split, values in counts.items():
        fig.add_bar(
            name=split,
            x=class_names,
            y=values,
            marker_color=SPLIT_COLOURS.get(split),
            hovertemplate="%{x}: %{y} " + split + " images<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title="class",
        yaxis_title="images",
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
        xaxis_type="category",
        title="Images per class and split",
    )
    return fig
