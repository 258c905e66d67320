"""AppTest of the Evaluate and Visualize pages on a real tiny run."""

import pytest

from tests.app.helpers import metric, open_page

pytestmark = pytest.mark.slow


def test_evaluate_shows_metrics_confusion_and_mistakes(trained_run):
    at = open_page("evaluate", timeout=120)
    assert at.selectbox(key="inspect.run.Model").value == trained_run
    accuracy = metric(at, "Test accuracy")
    assert accuracy.endswith("%")
    per_class = at.dataframe[0].value
    assert list(per_class["class"]) == ["circle", "square", "triangle", "cross", "star"]
    assert per_class["support"].sum() == 20  # 30 shapes per class, 15 % of 30 rounds to 4
    assert any(b.label.startswith("Download") for b in at.get("download_button"))
    at.selectbox(key="evaluate.filter").set_value(0).run()
    assert not at.exception
    captions = [c for i in at.get("image") for c in (i.captions or []) if "(loss " in c]
    losses = [float(c.rsplit("(loss ", 1)[1].rstrip(")")) for c in captions]
    assert losses and losses == sorted(losses, reverse=True)  # hardest training images first
    at.radio(key="evaluate.hard_split").set_value("test").run()
    at.selectbox(key="evaluate.hard_class").set_value(1).run()
    assert not at.exception
    captions = [c for i in at.get("image") for c in (i.captions or []) if "(loss " in c]
    assert captions and all(c.startswith("square:") for c in captions)
    next(b for b in at.button if b.label.startswith("Measure it on")).click().run(timeout=120)
    assert not at.exception
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Turned by" in spec and "With noise of spread" in spec for spec in specs)


def test_visualize_shows_feature_maps_saliency_and_stats(trained_run):
    at = open_page("visualize", timeout=120)
    assert not at.exception
    assert at.selectbox(key="inspect.layer.visualize").value == "conv2d"
    captions = " ".join(c for i in at.get("image") for c in (i.captions or []))
    assert "3 feature maps of conv2d" in captions and "Grad-CAM for" in captions
    next(b for b in at.button if b.label == "Find them").click().run(timeout=120)
    assert not at.exception
    assert (
        sum(1 for i in at.get("image") for c in (i.captions or []) if c in ("circle", "square", "triangle", "cross", "star")) == 5
    )
    pngs = [b for b in at.get("download_button") if b.label == "PNG"]
    assert len(pngs) >= 4  # feature maps, Grad-CAM, saliency, filters, weights
    at.selectbox(key="inspect.layer.visualize").set_value("max_pooling2d").run()
    at.radio(key="visualize.source").set_value("Misclassified test image").run()
    assert not at.exception
    stats = at.dataframe[-1].value
    assert list(stats["layer"]) == ["conv2d", "max_pooling2d"]


def test_pages_without_any_run_point_to_training():
    for page in ("evaluate", "visualize"):
        at = open_page(page)
        assert "No trained model yet" in at.info[0].value


def test_a_runs_dataset_comes_from_the_shared_budgeted_loads(trained_run, trained_runs):
    """The model pages keep a run's images once, in the sessions' shared cache that the memory budget
    bounds, not in a cache of their own per run."""
    import json

    from cnn_core.settings.config import DataConfig
    from ui import state

    config = DataConfig.from_dict(json.loads((trained_runs / trained_run / "config.json").read_text())["data"])
    key = json.dumps(config.to_dict(), sort_keys=True)
    state._DATASETS._items.pop(key, None)  # other tests in this process may have loaded it already
    at = open_page("visualize", timeout=120)
    assert not at.exception
    assert key in state._DATASETS._items  # the page's dataset is the shared one
