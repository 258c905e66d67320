"""AppTest of the Predict page with a simulated canvas drawing (AppTest sees the canvas as an unknown component)."""

import base64
import io

import pytest
from PIL import Image, ImageDraw

from tests.app.helpers import open_page

pytestmark = pytest.mark.slow


def canvas_state(strokes: bool = True) -> dict:
    img = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    if strokes:
        ImageDraw.Draw(img).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=20)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    objects = [{"type": "path"}] if strokes else []
    return {"drawing": {"raw": {"objects": objects, "background": "#FFFFFF"}, "data": url}, "backgroundFit": None}


def test_a_drawing_gets_a_prediction_and_the_model_input_preview(digits_runs, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(digits_runs))
    at = open_page("predict", timeout=120)
    assert "Draw a digit" in at.info[0].value
    at.session_state["predict.canvas"] = canvas_state()
    at.run(timeout=120)
    assert not at.exception and not at.error
    prediction = next(m for m in at.metric if m.label == "Prediction").value
    assert prediction.split("·")[0].strip() in [str(d) for d in range(10)] and prediction.endswith("%")
    captions = [c for i in at.get("image") for c in (i.captions or [])]
    assert any("what the model sees (28×28×1)" in str(c) for c in captions)


def test_an_empty_canvas_asks_for_a_drawing(digits_runs, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(digits_runs))
    at = open_page("predict", timeout=120, session={"predict.canvas": canvas_state(strokes=False)})
    assert not at.exception and "Draw a digit" in at.info[0].value


def test_colour_models_offer_upload_and_camera_only(trained_run):
    at = open_page("predict", timeout=120)
    assert list(at.radio(key="predict.source.colour").options) == ["Upload", "Camera"]
