"""Robustness: the image changes do what they say; the occlusion map points at the decisive pattern."""

import numpy as np
import pytest

from cnn_core.inspection.robustness import Change, fill_value, occlusion_map, robustness_curve
from tests.trained import corner_data

pytestmark = pytest.mark.xdist_group("corner")  # shares a session fixture with other files (tests/conftest.py)


def test_the_identity_change_keeps_the_image_and_each_change_does_its_part():
    image = np.zeros((20, 20, 1), np.uint8)
    image[2:6, 2:6] = 255
    np.testing.assert_array_equal(Change().apply(image), image)
    shifted = Change(shift_x=0.5).apply(image)  # half the width to the right
    assert shifted[2:6, 12:16].mean() > 200 and shifted[2:6, 2:6].max() == 0
    turned = Change(rotate=90).apply(image)  # counter-clockwise: top-left goes to bottom-left
    assert turned[14:18, 2:6].mean() > 200
    assert Change(scale=0.5).apply(image)[6:8, 6:8].mean() > 200  # shrunk to half about the centre (10, 10)
    flat = Change(contrast=0.0).apply(image)
    assert flat.min() == flat.max()
    covered = Change(occlude=0.2, occlude_x=0.2, occlude_y=0.2).apply(image)
    assert (covered[2:6, 2:6] == fill_value(image)).all() and fill_value(image)[0] == round(16 * 255 / 400)
    grey = np.full((20, 20, 1), 128, np.uint8)  # mid-grey, so little of the noise is clipped
    noisy = Change(noise=0.2, seed=3).apply(grey)  # sd 51: mean absolute change about 0.8 x 51
    assert 33 < np.abs(noisy.astype(int) - grey).mean() < 48 and np.array_equal(noisy, Change(noise=0.2, seed=3).apply(grey))
    rgb = np.dstack([image[..., 0], image[..., 0] // 2, 255 - image[..., 0]])
    assert Change(rotate=30, scale=1.2).apply(rgb).shape == (20, 20, 3)


@pytest.mark.slow
def test_the_occlusion_map_peaks_on_the_square_that_decides_the_class(corner_model):
    model = corner_model
    x, y = corner_data()
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
    test_x, test_y = corner_data(12, seed=1)
    peaks = []
    for image, label in zip(test_x, test_y):
        drop = occlusion_map(model, image, int(label), patch=4, stride=1)
        assert drop.shape == (16, 16)
        peak = np.array(np.unravel_index(np.argmax(drop), drop.shape))
        centre = np.argwhere(image[..., 0] == 255).mean(axis=0)
        assert np.abs(peak - centre).max() <= 4, (label, peak, centre)  # as the Grad-CAM test: within a square's width
        peaks.append(drop.max())
    assert np.mean(peaks) > 0.1  # covering the square costs the answer a clear share of its probability
    curve = robustness_curve(model, test_x, test_y, angles=(0, 180), noises=(0.0,))
    assert curve["rotation"][0][1] == curve["noise"][0][1] > 0.9
    assert curve["rotation"][1][1] < 0.5  # turned 180 degrees, each square lands in the other class's corner


def test_png_bytes_round_trip_grey_and_colour():
    import io

    from PIL import Image

    from ui.widgets import png_bytes

    grey = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    colour = np.dstack([grey[..., 0]] * 3)
    for image in (grey, colour):
        back = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
        np.testing.assert_array_equal(back.reshape(image.shape), image)


@pytest.mark.slow
def test_activation_maximisation_draws_each_class_where_its_square_is(corner_model):
    from cnn_core.errors import StudioError
    from cnn_core.inspection.maximise import maximise

    model = corner_model
    heard = []
    classes = maximise(model, None, steps=60, progress=heard.append)
    assert classes.shape == (2, 16, 16, 1) and classes.dtype == np.uint8 and heard[-1].finished
    top_left, bottom_right = (slice(0, 8), slice(0, 8)), (slice(8, 16), slice(8, 16))
    assert classes[1][top_left].mean() > classes[1][bottom_right].mean()  # class 1: the square top-left
    assert classes[0][bottom_right].mean() > classes[0][top_left].mean()  # class 0: bottom-right
    filters = maximise(model, model.layers[2].name, steps=10)  # a convolution: one image per filter
    assert filters.shape == (8, 16, 16, 1)
    with pytest.raises(StudioError, match="no layer"):
        maximise(model, "nope")
