"""AppTest of the Learn page: steps, padding, stride, pooling, the calculators and a dataset image."""

from tests.app.helpers import open_page


def step_text(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Step"))


def test_steps_padding_stride_and_pooling():
    at = open_page("learn")
    assert "a 4×4 feature map" in " ".join(m.value for m in at.markdown)
    assert step_text(at).startswith("**Step 1 of 16**")
    at.slider(key="learn.step").set_value(6).run()
    assert "output cell (1, 1)" in step_text(at)
    at.radio(key="learn.padding").set_value("same").run()
    assert "a 6×6 feature map" in " ".join(m.value for m in at.markdown) and "of 36" in step_text(at)
    at.radio(key="learn.stride").set_value(2).run()
    assert "a 3×3 feature map" in " ".join(m.value for m in at.markdown)
    at.radio(key="learn.pool").set_value("average").run()
    assert not at.exception


def test_calculators_and_kernel_presets():
    at = open_page("learn")
    at.number_input(key="learn.cin").set_value(3).run()
    assert "= 896" in at.code[0].value
    at.selectbox(key="learn.kernel").set_value("sharpen").run()
    assert not at.exception


def test_an_image_from_the_current_dataset():
    at = open_page("learn")
    at.radio(key="learn.source").set_value("A dataset image").run()
    assert not at.exception
    assert "a 6×6 feature map" in " ".join(m.value for m in at.markdown)  # 8×8 image, 3×3 kernel, valid
