"""The hand-written SVG chart of the Data page: valid SVG, bars to scale, class names escaped."""

import xml.etree.ElementTree as ET

import pytest

from cnn_core.charts import SPLIT_COLOURS, _nice_step, class_distribution_svg

NS = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def test_one_bar_per_class_and_split_with_heights_to_scale():
    counts = {"train": [300, 150, 30], "validation": [40, 20, 4], "test": [60, 30, 6]}
    svg = class_distribution_svg(["cat", "dog", "eel"], counts)
    rects = bars(svg)
    assert len(rects) == 9
    heights = {r.find(f"{NS}title").text: float(r.get("height")) for r in rects}
    assert heights["cat: 300 train"] == pytest.approx(2 * heights["dog: 150 train"], rel=0.01)
    assert heights["dog: 20 validation"] == pytest.approx(5 * heights["eel: 4 validation"], rel=0.02)
    fills = {r.get("fill") for r in rects}
    assert fills == set(SPLIT_COLOURS.values())
    # stacked: each class's test bar sits directly on its validation bar, which sits on its train bar
    by_title = {r.find(f"{NS}title").text: r for r in rects}
    train, val = by_title["cat: 300 train"], by_title["cat: 40 validation"]
    assert float(val.get("y")) + float(val.get("height")) == pytest.approx(float(train.get("y")), abs=0.11)


def test_hostile_and_long_class_names_are_escaped_and_shortened():
    names = ["<script>alert(1)</script>", "a & b", "x" * 40]
    svg = class_distribution_svg(names, {"train": [1, 2, 3]})
    root = ET.fromstring(svg)  # would raise on unescaped markup
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "<script>" not in svg and "a & b" in texts
    assert "x" * 11 + "…" in texts and "x" * 40 not in texts


def test_many_classes_get_rotated_and_thinned_labels():
    names = [f"class {i}" for i in range(100)]
    root = ET.fromstring(class_distribution_svg(names, {"train": [5] * 100}))
    labels = [t for t in root.iter(f"{NS}text") if (t.text or "").startswith("class ")]
    assert 30 <= len(labels) <= 50 and all("rotate(-45" in t.get("transform", "") for t in labels)


def test_axis_ticks_cover_the_tallest_bar():
    root = ET.fromstring(class_distribution_svg(["a", "b"], {"train": [3, 997], "test": [0, 80]}))
    ticks = [
        int(t.text.replace(",", "")) for t in root.iter(f"{NS}text") if t.get("text-anchor") == "end" and t.text[0].isdigit()
    ]
    assert ticks[0] == 0 and ticks[-1] >= 1077 and len(ticks) <= 7


def test_empty_counts_draw_flat_bars():
    rects = bars(class_distribution_svg(["a", "b"], {"train": [0, 0]}))
    assert [float(r.get("height")) for r in rects] == [0.0, 0.0]


@pytest.mark.parametrize(("raw", "step"), [(0.3, 1), (1, 1), (1.5, 2), (3, 5), (7, 10), (120, 200), (2500, 5000)])
def test_nice_steps(raw, step):
    assert _nice_step(raw) == step


def test_the_distribution_reads_on_light_and_dark_themes():
    root = ET.fromstring(class_distribution_svg(["a"], {"train": [3]}))
    assert root.get("fill") == "#808495"  # mid grey: no dark text fixed on a transparent background
    assert all("rgba" in line.get("stroke") for line in root.iter("{http://www.w3.org/2000/svg}line"))


def test_the_live_curves_leave_room_for_every_y_tick_label():
    """With a 10-pixel left margin, the loss axis' "1.5" and "0.5" lost their "1." and "0." (seen in a screenshot)."""
    from cnn_core.training.curves import training_curves

    history = [{"epoch": 1, "loss": 1.6, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.6}]
    fig = training_curves({}, history)
    axes = [fig.layout[name] for name in fig.layout if name.startswith("yaxis")]
    assert len(axes) == 2 and all(axis.automargin for axis in axes)
