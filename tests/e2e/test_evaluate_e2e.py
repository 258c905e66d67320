"""Chromium: the embedding map on the Evaluate page; clicking a point opens that image in Visualize."""

import pytest

from tests.conftest import train_tiny_run
from tests.e2e.helpers import assert_no_exception, wait_ready

pytestmark = pytest.mark.e2e

FIRST_POINT = """() => {
  const g = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.data && p.data.length && p.data[0].type === 'scattergl');
  if (!g || !g._fullLayout || !g._fullLayout.xaxis) return null;
  g.scrollIntoView({block: 'center'});
  const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, t = g.data[0], r = g.getBoundingClientRect();
  return {x: r.left + xa._offset + xa.l2p(t.x[0]), y: r.top + ya._offset + ya.l2p(t.y[0]), index: t.customdata[0][0]};
}"""


def test_click_a_point_of_the_map_and_see_that_image(page, server):
    train_tiny_run(server.workdir / "runs", "digits", "tutorial-minimal", epochs=3, image_size=28)
    page.goto(f"{server.url}/evaluate")
    wait_ready(page, "A map of what it learned")
    page.wait_for_function(f"({FIRST_POINT})() !== null", timeout=60_000)
    point = page.evaluate(FIRST_POINT)
    page.wait_for_timeout(300)  # Streamlit's page settles after the scroll
    point = page.evaluate(FIRST_POINT)
    page.mouse.click(point["x"], point["y"])
    button = page.get_by_role("button", name=f"Open test image #{int(point['index'])}")
    button.wait_for(timeout=30_000)
    button.click()
    wait_ready(page, "Feature maps")
    assert page.url.endswith("/visualize") or "/visualize?" in page.url
    assert page.get_by_label("Which one", exact=False).count() >= 1
    assert_no_exception(page)


CELL = """([row, col]) => {
  const g = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.data && p.data.length && p.data[0].type === 'heatmap');
  if (!g || !g._fullLayout || !g._fullLayout.xaxis) return null;
  g.scrollIntoView({block: 'center'});
  const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, r = g.getBoundingClientRect();
  return {x: r.left + xa._offset + xa.c2p(g.data[0].x[col]), y: r.top + ya._offset + ya.c2p(g.data[0].y[row])};
}"""


def test_click_a_confusion_matrix_cell_and_see_its_images(page, server):
    train_tiny_run(server.workdir / "runs", "digits", "tutorial-minimal", epochs=3, image_size=28)
    page.goto(f"{server.url}/evaluate")
    wait_ready(page, "Confusion matrix")
    page.wait_for_function(f"({CELL})([3, 3]) !== null", timeout=60_000)
    page.wait_for_timeout(300)
    cell = page.evaluate(CELL, [3, 3])  # true 3 predicted 3: the correct ones
    page.mouse.click(cell["x"], cell["y"])
    page.get_by_text("test image(s) of 3 predicted as 3").wait_for(timeout=30_000)
    assert_no_exception(page)
