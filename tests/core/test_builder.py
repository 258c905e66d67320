"""The Keras models agree with the plain-Python plan, layer by layer (imports TensorFlow)."""

import pytest

from cnn_core.errors import StudioError
from cnn_core.model.architectures import PRESETS, ArchitectureSpec
from cnn_core.model.builder import build_model
from cnn_core.model.summary import plan

pytestmark = pytest.mark.slow

SHAPES = [((28, 28, 1), 10), ((64, 64, 3), 2), ((32, 32, 3), 5), ((150, 150, 3), 2)]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_keras_counts_and_shapes_equal_the_plan(preset):
    spec = PRESETS[preset]
    shape, classes, params = spec.facts[0]
    model = build_model(spec, shape, classes)
    assert model.count_params() == params
    expected = plan(spec, shape, classes)
    layers = [layer for layer in model.layers if layer.name != "image"]
    assert [layer.name for layer in layers] == [info.name for info in expected.layers]
    for layer, info in zip(layers, expected.layers):
        assert tuple(layer.output.shape[1:]) == info.output_shape, layer.name
        assert layer.count_params() == info.params, layer.name
    non_trainable = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    assert non_trainable == expected.non_trainable_params


@pytest.mark.parametrize("shape, classes", [((8, 8, 1), 10), ((28, 28, 1), 10), ((32, 32, 3), 5)])
def test_every_preset_builds_for_every_bundled_dataset_or_refuses(shape, classes):
    for spec in PRESETS.values():
        try:
            model = build_model(spec, shape, classes)
        except StudioError as exc:
            assert "does not fit" in str(exc) or "row" in str(exc)
        else:
            assert model.output_shape == (None, classes)


def test_huge_models_are_refused_before_allocation():
    with pytest.raises(StudioError, match="parameters .* the limit is"):
        build_model(PRESETS["actions-stride1"], (512, 512, 3), 11)


def test_custom_stack_with_every_layer_type_builds():
    layers = [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
        {"type": "BatchNormalization"},
        {"type": "Activation", "activation": "elu"},
        {"type": "AveragePooling2D", "pool_size": 2},
        {"type": "MaxPooling2D", "pool_size": 2, "strides": 1, "padding": "same"},
        {"type": "Dropout", "rate": 0.1},
        {"type": "GlobalAveragePooling2D"},
        {"type": "Dense", "units": 8, "activation": "tanh"},
    ]
    spec = ArchitectureSpec("custom", "all", layers)
    model = build_model(spec, (16, 16, 3), 4)
    assert model.count_params() == plan(spec, (16, 16, 3), 4).total_params
