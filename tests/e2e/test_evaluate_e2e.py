"""Chromium: the Evaluate page's charts: hovering a point of the embedding map shows its image and
clicking it opens that image in Visualize; a cell of the confusion matrix shows its images."""

import time

import pytest

from tests.e2e.helpers import assert_no_exception, wait_ready
from tests.trained import copy_runs

pytestmark = pytest.mark.e2e

# Where a trace's data point is on the screen: the first plot whose first trace is of `kind`,
# scrolled into view; `point` picks the data coordinates from that trace (null until it is drawn).
PLOT_POINT = """([kind, point]) => {
  const g = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.data && p.data.length && p.data[0].type === kind);
  if (!g || !g._fullLayout || !g._fullLayout.xaxis) return null;
  g.scrollIntoView({block: 'center'});
  const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, t = g.data[0], r = g.getBoundingClientRect();
  const [x, y, extra] = new Function('t', 'return ' + point)(t);
  return {x: r.left + xa._offset + xa.d2p(x), y: r.top + ya._offset + ya.d2p(y), extra};
}"""


# The first trace's point farthest from any other point of any trace (axes scaled to their spans):
# hovering it can only show it (two points drawn over each other could answer either).
LONELY_POINT = """(() => {
  const g = [...document.querySelectorAll('.js-plotly-plot')].find(p => p.data && p.data[0] === t);
  const xs = g.data.flatMap(d => [...d.x]), ys = g.data.flatMap(d => [...d.y]);
  const span = v => (Math.max(...v) - Math.min(...v)) || 1, sx = span(xs), sy = span(ys);
  let best = 0, farthest = -1;
  for (let i = 0; i < t.x.length; i++) {
    let nearest = Infinity;
    for (let j = 0; j < xs.length; j++) {
      const d = ((t.x[i] - xs[j]) / sx) ** 2 + ((t.y[i] - ys[j]) / sy) ** 2;
      if (j !== i) nearest = Math.min(nearest, d);  // the first trace comes first in xs: j === i is the point itself
    }
    if (nearest > farthest) { farthest = nearest; best = i; }
  }
  return [t.x[best], t.y[best], t.customdata[best][0]];
})()"""


def click_plot(page, kind: str, point: str) -> dict:
    """Click the data point `point` (a JS expression of the trace `t`) of the first `kind` plot."""
    args = [kind, point]
    page.wait_for_function(f"args => ({PLOT_POINT})(args) !== null", arg=args, timeout=60_000)
    page.wait_for_timeout(300)  # Streamlit's page settles after the scroll
    found = page.evaluate(PLOT_POINT, args)
    page.mouse.click(found["x"], found["y"])
    return found


@pytest.fixture(scope="module")
def server(shared_server):
    """The session's shared server (tests/e2e/conftest.py): these tests read only the run they copy
    into it, named in each address (`?run=`)."""
    return shared_server


@pytest.fixture(scope="module")
def digits_run(server, digits_runs):
    return copy_runs(digits_runs, server.workdir / "runs")[0]


def map_frame(page):
    """The embedding map's frame (a custom component), scrolled into view, once its plot is drawn."""
    element = page.locator("iframe[src*='embedding_map']").first
    element.wait_for(timeout=60_000)
    element.scroll_into_view_if_needed()
    frame = element.element_handle().content_frame()
    frame.wait_for_function(f"({PLOT_POINT})(['scattergl', '[t.x[0], t.y[0]]']) !== null", timeout=60_000)
    return element, frame


def test_hover_a_point_of_the_map_to_see_its_image_and_click_to_open_it(page, server, digits_run):
    page.goto(f"{server.url}/evaluate?run={digits_run.name}")
    wait_ready(page, "A map of what it learned")
    element, frame = map_frame(page)
    tip = frame.locator("#tip")
    deadline = time.monotonic() + 60
    while True:  # the page may still move the map (content above it loads): measure and hover again
        page.wait_for_timeout(300)
        found = frame.evaluate(PLOT_POINT, ["scattergl", LONELY_POINT])  # two points drawn over each other: either answers
        box = element.bounding_box()
        x, y = box["x"] + found["x"], box["y"] + found["y"]
        page.mouse.move(x - 30, y - 30)
        page.mouse.move(x, y, steps=5)
        tip.wait_for(state="visible", timeout=10_000)
        wanted = f"#{int(found['extra'])}: "
        for _ in range(10):  # the tip follows the last hovered point a moment later on a loaded machine
            if tip.inner_text().startswith(wanted):
                break
            page.wait_for_timeout(200)
        if (tip.inner_text().startswith(wanted) and element.bounding_box() == box) or time.monotonic() > deadline:
            break
    assert tip.inner_text().startswith(f"#{int(found['extra'])}: ")
    assert "sprites/" in frame.locator("#tip .thumb").evaluate("e => e.style.backgroundImage")
    loaded = "e => { const i = new Image(); i.src = getComputedStyle(e).backgroundImage.slice(5, -2); return i.decode().then(() => i.width) }"
    assert frame.locator("#tip .thumb").evaluate(loaded) > 0  # the thumbnail sheet is served and decodes
    page.mouse.click(x, y)
    button = page.get_by_role("button", name=f"Open test image #{int(found['extra'])}")
    button.wait_for(timeout=30_000)
    button.click()
    wait_ready(page, "Feature maps")
    assert page.url.endswith("/visualize") or "/visualize?" in page.url
    assert page.get_by_label("Which one", exact=False).count() >= 1
    assert_no_exception(page)


def test_click_a_confusion_matrix_cell_and_see_its_images(page, server, digits_run):
    page.goto(f"{server.url}/evaluate?run={digits_run.name}")
    wait_ready(page, "Confusion matrix")
    click_plot(page, "heatmap", "[t.x[3], t.y[3]]")  # true 3 predicted 3: the correct ones
    page.get_by_text("test image(s) of 3 predicted as 3").wait_for(timeout=30_000)
    assert_no_exception(page)
