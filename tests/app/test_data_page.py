"""AppTest of the Data page: the default dataset, switching, own folders and refusals."""

import pytest

from tests.app.helpers import metric, open_page
from tests.conftest import make_class_folder

open_app = open_page


def test_opens_on_the_bundled_default():
    at = open_app()
    assert at.title[0].value == "Data"
    assert metric(at, "Image shape") == "28 × 28 × 1" and metric(at, "Train images") == "3,750"
    assert any("mnist-5k" in md.value for md in at.sidebar.markdown)
    assert len(at.get("image")) == 11  # the class distribution, then a sample strip per class
    table = next(md.value for md in at.markdown if "<table" in md.value)
    assert (
        table.count("<tr") == 12 and ">375<" in table and ">3,750<" in table and ">5,000<" in table
    )  # header, 10 classes, total


def test_switching_dataset_and_fractions_updates_everything():
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("shapes").run()
    assert metric(at, "Image shape") == "32 × 32 × 3" and metric(at, "Classes") == "5"
    at.slider(key="data.test_fraction").set_value(0.2).run()
    assert metric(at, "Test images") == "400"
    assert at.session_state["data_config"]["test_fraction"] == 0.2


def test_own_folder_shows_the_ingestion_report(tmp_path):
    root = make_class_folder(tmp_path / "pets", {"猫": 5, "<i>狗": 5})
    (root / "猫" / "bad.png").write_text("not an image")
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("own").run()
    at.radio(key="data.own_source").set_value("A folder path on the server").run()
    at.text_input(key="data.folder").input(str(root)).run()
    assert not at.exception
    assert any("Ingestion report" in md.value for md in at.markdown)
    assert "bad.png" in at.dataframe[0].value.to_string()
    assert metric(at, "Classes") == "2"
    table = next(md.value for md in at.markdown if "<table" in md.value)
    assert "&lt;i&gt;狗" in table and "<i>" not in table  # a folder name is text, never markup


def test_refused_folder_shows_a_message_not_a_traceback(tmp_path):
    root = make_class_folder(tmp_path / "one", {"only": 5})
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("own").run()
    at.radio(key="data.own_source").set_value("A folder path on the server").run()
    at.text_input(key="data.folder").input(str(root)).run()
    assert not at.exception
    assert "at least 2 class" in at.error[0].value


@pytest.mark.slow
def test_offline_keras_dataset_shows_what_to_do(monkeypatch):
    # Keras' real download, sent to a closed port on this machine: it fails at once, as offline. (Left to
    # the resolver, a failing lookup sometimes took 40 s in full runs.)
    for proxy in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("fashion-mnist").run(timeout=120)
    assert not at.exception
    assert at.error and "fashion-mnist" in at.error[0].value and "mnist-5k" in at.error[0].value


def test_fashion_mnist_from_the_debian_folder_says_where_it_came_from(workspace):
    from tests.core.test_datasets import write_fashion_idx

    options = open_app().selectbox(key="data.dataset_id").options
    assert any("Fashion-MNIST (Keras download)" in o for o in options)  # not on this machine yet
    write_fashion_idx(workspace / "system" / "fashion-mnist", train=60)
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("fashion-mnist").run()
    assert not at.exception and metric(at, "Test images") == "10"
    assert any("Loaded from:** Debian package dataset-fashion-mnist" in md.value for md in at.markdown)
    assert any("Fashion-MNIST (on this machine, offline)" in o for o in at.selectbox(key="data.dataset_id").options)


def test_mnist_offline_offers_to_place_a_file():
    at = open_app()
    at.selectbox(key="data.dataset_id").set_value("mnist").run()
    assert any("not on this machine yet" in w.value for w in at.warning)
    assert not at.exception
