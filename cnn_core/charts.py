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
