"""Feature maps, filters and saliency on real (tiny) Keras models."""

import numpy as np
import pytest

from cnn_core.inspection.maps import Inspector, filter_images, kernel_slices, normalise_maps, overlay
from cnn_core.model.architectures import PRESETS
from cnn_core.model.builder import build_model
from cnn_core.model.summary import plan
from tests.trained import corner_data

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("corner")]  # a shared session fixture (tests/conftest.py)


def test_feature_map_shapes_match_the_layer_output_shapes():
    spec = PRESETS["lenet-dropout"]
    inspector = Inspector(build_model(spec, (28, 28, 1), 10))
    maps = inspector.feature_maps(np.zeros((28, 28, 1), np.uint8))
    expected = {
        info.name: info.output_shape
        for info in plan(spec, (28, 28, 1), 10).layers
        if info.type in ("Conv2D", "MaxPooling2D", "AveragePooling2D")
    }
    assert {name: m.shape for name, m in maps.items()} == expected
    stats = inspector.activation_stats(maps)
    assert [s["layer"] for s in stats] == list(expected) and all(0 <= s["inactive"] <= 1 for s in stats)


def test_filter_and_map_pictures():
    inspector = Inspector(build_model(PRESETS["keras-mnist"], (28, 28, 3), 10))
    kernel = inspector.kernel("conv2d")
    assert filter_images(kernel).shape == (32, 3, 3, 3)
    tiles, columns = kernel_slices(inspector.kernel("conv2d_1"))
    assert tiles.shape == (16 * 16, 3, 3, 3) and columns == 16
    maps = normalise_maps(np.random.default_rng(0).random((5, 5, 4)))
    assert maps.shape == (4, 5, 5, 1) and maps.max() == 255 and maps.min() == 0
    assert overlay(np.zeros((5, 5, 1), np.uint8), np.ones((5, 5))).shape == (5, 5, 3)


def test_grad_cam_peaks_on_the_object_that_decides_the_class(corner_model):
    model = corner_model
    x, y = corner_data()
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
    inspector = Inspector(model)
    test_x, test_y = corner_data(20, seed=1)
    for image, label in zip(test_x, test_y):
        cam = inspector.grad_cam(image, int(label))
        peak = np.unravel_index(np.argmax(cam), cam.shape)
        square = np.argwhere(image[..., 0] == 255)
        centre = square.mean(axis=0)
        assert np.abs(np.array(peak) - centre).max() <= 4, (label, peak, centre)
        # Input gradients are noisy (every background pixel moves the pooled score a little), so
        # only their form is checked here; Grad-CAM is the map that must point at the square.
        sal = inspector.saliency(image, int(label))
        assert sal.shape == (16, 16) and sal.max() == pytest.approx(1.0) and sal.min() >= 0
