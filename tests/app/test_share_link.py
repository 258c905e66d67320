"""Opening a link: good values set the setup, bad ones are named in a notice, nothing breaks."""

from streamlit.testing.v1 import AppTest

from tests.app.helpers import configure_streamlit  # noqa: F401 - applies the runtime patches
from tests.conftest import ROOT


def open_link(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_with_malformed_values_applies_the_rest_and_names_each_bad_one():
    at = open_link({"data": "shapes", "epochs": "-3", "rotation": "5400", "lr": "fast", "batch": "32", "colour": "x"})
    text = at.warning[0].value
    assert "3 value(s)" not in text and "4 value(s)" in text
    for key in ("epochs='-3'", "rotation='5400'", "lr='fast'", "colour='x'"):
        assert key in text
    assert at.session_state["data_config"]["dataset_id"] == "shapes"
    assert at.session_state["train_config"]["batch_size"] == 32 and at.session_state["train_config"]["rotation"] == 0.0
    assert at.query_params["batch"] == "32" and "rotation" not in at.query_params  # the address bar now holds a valid setup
    next(b for b in at.button if b.label == "Dismiss").click().run()
    assert not at.warning


def test_a_clean_link_shows_no_notice():
    at = open_link({"data": "digits", "size": "28", "epochs": "3"})
    assert not at.warning and at.session_state["data_config"]["image_size"] == 28
