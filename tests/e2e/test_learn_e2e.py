"""Chromium: move the step slider on the Learn page and see the highlighted cell move."""

import pytest

from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py)."""
    return shared_server


def test_step_slider_moves_the_window(page, server):
    page.goto(f"{server.url}/learn")
    wait_ready(page, "Step 1 of 16")
    assert page.get_by_text("output cell (0, 0)").count() == 1
    slider = page.get_by_role("slider", name="Step")
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    wait_ready(page, "Step 6 of 16")
    assert page.get_by_text("output cell (1, 1)").count() == 1
    shapes = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(g => (g.layout.shapes || []).map(s => [s.x0, s.y0]))"
    )
    assert [0.5, 0.5] in shapes[0] and [0.55, 0.55] in shapes[2]  # window at (1, 1); the filled cell ringed at (1, 1)
    assert_no_exception(page)
