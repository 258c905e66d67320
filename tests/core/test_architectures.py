import json
import math

import pytest

from cnn_core.errors import StudioError
from cnn_core.model.architectures import PRESETS, ArchitectureSpec, adapt, validate
from cnn_core.model.layer_table import rows_to_layers, spec_to_rows
from cnn_core.model.summary import plan
from cnn_core.settings.config import ArchChoice

TUTORIAL_COUNTS = {  # (input shape, classes) -> parameters, from the reference tutorials
    "tutorial-minimal": ((28, 28, 1), 10, 5_110),
    "keras-mnist": ((28, 28, 1), 10, 93_322),
    "lenet-dropout": ((28, 28, 1), 10, 242_062),
    "malaria-bn": ((64, 64, 3), 2, 4_340_130),
    "cats-dogs": ((150, 150, 3), 2, 3_453_634),
}


@pytest.mark.parametrize("preset", TUTORIAL_COUNTS)
def test_preset_parameter_counts_match_the_tutorials(preset):
    shape, classes, params = TUTORIAL_COUNTS[preset]
    assert plan(PRESETS[preset], shape, classes).total_params == params


def test_malaria_non_trainable_and_formulas_as_in_its_table():
    p = plan(PRESETS["malaria-bn"], (64, 64, 3), 2)
    assert p.non_trainable_params == 1_664 and p.trainable_params == 4_338_466
    first_conv = next(layer for layer in p.layers if layer.type == "Conv2D")
    assert first_conv.formula == "32×(3×3×3)+32 = 896" and first_conv.output_shape == (64, 64, 32)


def test_fashion_fast_is_fashion_cnn_normalising_after_pooling():
    """Same convolutions, dense layer, multiply-adds and settings; a tenth of the values normalised."""
    cnn, fast = (plan(PRESETS[p], (28, 28, 1), 10) for p in ("fashion-cnn", "fashion-fast"))

    def weighted(p):
        return [(layer.type, layer.output_shape, layer.params) for layer in p.layers if layer.type in ("Conv2D", "Dense")]

    def normalised(p):
        return sum(math.prod(layer.output_shape) for layer in p.layers if layer.type == "BatchNormalization")

    assert weighted(fast) == weighted(cnn) and fast.macs == cnn.macs == 7_748_608
    assert (normalised(cnn), normalised(fast)) == (43_904, 4_288)
    assert fast.total_params == cnn.total_params - 4 * 32 == 391_178  # no normalisation of the first 32 channels
    assert PRESETS["fashion-fast"].recommended == PRESETS["fashion-cnn"].recommended


def test_minimal_preset_shapes_follow_the_notebook():
    p = plan(PRESETS["tutorial-minimal"], (28, 28, 1), 10)
    assert [layer.output_shape for layer in p.layers] == [(28, 28, 1), (26, 26, 3), (26, 26, 3), (13, 13, 3), (507,), (10,)]


def test_stride_one_pooling_keeps_the_image_large():
    p = plan(PRESETS["actions-stride1"], (64, 64, 3), 11)
    flatten = next(layer for layer in p.layers if layer.type == "Flatten")
    assert flatten.output_shape == (58 * 58 * 128,)
    biggest = max(p.layers, key=lambda layer: layer.params)
    assert biggest.params / p.total_params > 0.99


def test_a_spec_that_shrinks_below_one_pixel_names_the_layer_and_the_fix():
    with pytest.raises(StudioError) as info:
        plan(PRESETS["keras-mnist"], (8, 8, 1), 10)
    message = str(info.value)
    assert "row 4 (max_pooling2d_1)" in message and "1x1 input" in message and "larger image size" in message


def test_layer_order_errors_are_explained():
    dense_on_image = ArchitectureSpec("x", "x", [{"type": "Conv2D", "filters": 4}, {"type": "Dense", "units": 8}])
    with pytest.raises(StudioError, match="row 2 .*add Flatten"):
        plan(dense_on_image, (28, 28, 1), 10)
    conv_after_flatten = ArchitectureSpec("x", "x", [{"type": "Flatten"}, {"type": "Conv2D", "filters": 4}])
    with pytest.raises(StudioError, match="move it before Flatten"):
        plan(conv_after_flatten, (28, 28, 1), 10)


def test_flatten_is_added_when_the_stack_ends_on_an_image():
    spec = ArchitectureSpec("x", "x", [{"type": "Conv2D", "filters": 4}])
    types = [(layer.type, layer.added) for layer in plan(spec, (10, 10, 1), 3).layers]
    assert types == [("Rescaling", True), ("Conv2D", False), ("Flatten", True), ("Dense", True)]


def test_dropout_setting_replaces_every_rate_or_inserts_one():
    rates = [layer["rate"] for layer in adapt(PRESETS["lenet-dropout"], 10, 0.3) if layer["type"] == "Dropout"]
    assert rates == [0.3, 0.3]
    keep = [layer["rate"] for layer in adapt(PRESETS["lenet-dropout"], 10, None) if layer["type"] == "Dropout"]
    assert keep == [0.25, 0.5]
    inserted = adapt(PRESETS["keras-mnist"], 10, 0.4)
    assert inserted[-2] == {"type": "Dropout", "rate": 0.4, "added": True}
    assert not any(layer["type"] == "Dropout" for layer in adapt(PRESETS["keras-mnist"], 10, 0.0))


@pytest.mark.parametrize(
    "row, expected",
    [
        ({"type": "Conv2D", "filters": 0, "kernel_size": 3, "strides": 1, "padding": "valid", "activation": "relu"}, "filters"),
        ({"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 1, "padding": "full", "activation": "relu"}, "padding"),
        ({"type": "Dense", "units": 8, "activation": "magic"}, "activation"),
        ({"type": "Dropout", "rate": 1.5}, "rate"),
        ({"type": "Conv3D"}, "unknown layer type"),
    ],
)
def test_invalid_rows_are_flagged(row, expected):
    errors = validate([row])
    assert len(errors) == 1 and errors[0].startswith("row 1:") and expected in errors[0]


def test_table_rows_round_trip_and_blank_cells_take_defaults():
    layers = PRESETS["malaria-bn"].layers
    back, errors = rows_to_layers(spec_to_rows(layers))
    assert not errors and back == [{"type": x["type"], **{k: v for k, v in x.items() if k != "type"}} for x in layers]
    rows = [{"type": "Conv2D", "filters": float("nan"), "kernel_size": 5.0}, {"type": None}]
    back, errors = rows_to_layers(rows)
    assert back == [{"type": "Conv2D", "filters": 32, "kernel_size": 5, "strides": 1, "padding": "valid", "activation": "relu"}]


def test_spec_json_round_trip_and_refusals():
    spec = PRESETS["lenet-dropout"]
    back = ArchitectureSpec.from_json(spec.to_json())
    assert back.layers == spec.layers
    for text in ["not json", json.dumps({"layers": "x"}), json.dumps({"layers": [{"type": "Dense", "units": -1}]})]:
        with pytest.raises(StudioError):
            ArchitectureSpec.from_json(text)


def test_arch_choice_round_trips_and_is_hashable():
    choice = ArchChoice.custom(PRESETS["keras-mnist"].layers, "mine")
    assert ArchChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice
    assert hash(choice) and choice.spec().layers == PRESETS["keras-mnist"].layers


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_on_every_bundled_shape_plans_or_explains(preset, shape):
    try:
        p = plan(PRESETS[preset], shape, 10)
    except StudioError as exc:
        assert "row" in str(exc)
    else:
        assert p.total_params > 0 and math.prod(p.layers[-1].output_shape) == 10
