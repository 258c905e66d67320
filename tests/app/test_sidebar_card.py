"""The sidebar card shows a folder's or run's name as typed: never as a link, an image or HTML."""

import pytest
from markdown_it import MarkdownIt

from tests.app.helpers import open_page
from tests.conftest import make_class_folder

pytestmark = pytest.mark.slow
HOSTILE = "pets [click](http://evil.example) ![x](http://evil.example/p.png) <b>bold</b>"


def test_a_hostile_folder_name_is_shown_as_typed(tmp_path):
    folder = make_class_folder(tmp_path / HOSTILE, {"cats": 4, "dogs": 4})
    at = open_page("learn", session={"data_config": {"dataset_id": f"folder:{folder}"}})
    card = next(m.value for m in at.sidebar.markdown if m.value.startswith("**Dataset:**"))
    html = MarkdownIt("commonmark").render(card)
    assert "<a" not in html and "<img" not in html and "<b>" not in html, html
    assert "evil.example" in html and "&lt;b&gt;" in html  # the text itself is still there to read
    assert "<a" in MarkdownIt("commonmark").render("[click](http://evil.example)")  # the check can see one
