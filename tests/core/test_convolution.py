"""The Learn page's numpy convolution and pooling equal Keras' layers with the same weights."""

import numpy as np
import pytest

from cnn_core.learn import convolution
from cnn_core.model import formulas


def test_the_tutorials_seven_with_a_vertical_edge_kernel():
    result = convolution.convolve(convolution.SEVEN, convolution.KERNELS["vertical edge"])
    assert result.output.shape == (4, 4) and len(result.steps) == 16
    first = result.steps[0]
    assert first.window.tolist() == convolution.SEVEN[:3, :3].tolist() and first.value == pytest.approx(first.products.sum())
    same = convolution.convolve(convolution.SEVEN, convolution.KERNELS["vertical edge"], padding="same")
    assert same.output.shape == (6, 6) and same.padded.shape == (8, 8)


def test_output_size_formulas():
    assert formulas.output_size(6, 3, 1, "valid") == 4 and formulas.output_size(6, 3, 1, "same") == 6
    assert formulas.output_size(6, 3, 2, "valid") == 2 and formulas.output_size(7, 3, 2, "same") == 4
    assert formulas.output_size_formula(6, 3, 1, "valid").endswith("= 4")
    assert formulas.conv_params(3, 3, 32).value == 896 and formulas.dense_params(576, 64).value == 36_928
    assert formulas.conv_params(3, 3, 32).compact == "32×(3×3×3)+32 = 896"
    assert formulas.batchnorm_params(32).value == 128


def test_max_pooling_records_the_winning_cells():
    x = np.array([[1, 5, 0, 0], [2, 3, 0, 7], [9, 0, 1, 1], [0, 0, 1, 8]], float)
    result = convolution.pool(x, 2)
    assert result.output.tolist() == [[5, 7], [9, 8]]
    assert result.chosen == [(0, 1), (1, 3), (2, 0), (3, 3)]
    assert convolution.pool(x, 2, mode="avg").output.tolist() == [[2.75, 1.75], [2.25, 2.75]]


@pytest.mark.slow
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
def test_convolution_equals_keras_conv2d(padding, stride):
    import keras

    rng = np.random.default_rng(stride)
    x = rng.normal(size=(7, 6, 3))
    layer = keras.layers.Conv2D(4, 3, strides=stride, padding=padding)
    expected = np.asarray(layer(x[None].astype("float32")))[0]
    kernel, bias = (np.asarray(w) for w in layer.get_weights())
    np.testing.assert_allclose(convolution.conv2d(x, kernel, bias, stride, padding), expected, rtol=1e-4, atol=1e-5)
    single = convolution.convolve(x[..., 0], kernel[:, :, 0, 0], stride, padding, bias=bias[0])
    one_channel = keras.layers.Conv2D(1, 3, strides=stride, padding=padding)
    one_channel.build((None, 7, 6, 1))
    one_channel.set_weights([kernel[:, :, :1, :1], bias[:1]])
    np.testing.assert_allclose(
        single.output, np.asarray(one_channel(x[None, ..., :1].astype("float32")))[0, ..., 0], rtol=1e-4, atol=1e-5
    )


@pytest.mark.slow
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("mode, layer_name", [("max", "MaxPooling2D"), ("avg", "AveragePooling2D")])
def test_pooling_equals_keras(padding, stride, mode, layer_name):
    import keras

    x = np.random.default_rng(0).normal(size=(7, 5, 2))
    layer = getattr(keras.layers, layer_name)(2, strides=stride, padding=padding)
    expected = np.asarray(layer(x[None].astype("float32")))[0]
    np.testing.assert_allclose(convolution.pool(x, 2, stride, mode, padding).output, expected, rtol=1e-5, atol=1e-6)
