"""Every declared setting has a widget, with its help tooltip, on each page its declaration names."""

import pytest

from cnn_core.settings import fields
from cnn_core.settings.config import DataConfig, TrainConfig
from tests.app.helpers import open_page

WIDGET_KINDS = ("number_input", "slider", "select_slider", "checkbox", "selectbox", "toggle")
PAGES = sorted({page for cls in (DataConfig, TrainConfig) for d in fields.declared(cls) for page in d.setting.pages})


def widgets(at) -> dict[str, object]:
    return {w.key: w for kind in WIDGET_KINDS for w in getattr(at, kind) if w.key}


@pytest.mark.parametrize("page", PAGES)
def test_each_setting_of_the_page_has_its_widget_and_help(page):
    at = open_page(page)
    found = widgets(at)
    for cls in (DataConfig, TrainConfig):
        for d in fields.declared(cls):
            if page not in d.setting.pages:
                continue
            key = f"{page}.{d.name}"
            assert key in found, f"{d.name} has no widget on the {page} page"
            assert found[key].help == d.setting.help or d.setting.widget == "toggle"


def test_a_linked_rotation_reaches_the_slider_in_degrees():
    at = open_page("train", session={"train_config": {"rotation": 15.0}})
    assert at.slider(key="train.rotation").value == 15.0 and at.slider(key="train.rotation").max == 180
