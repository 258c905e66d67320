"""Issue 28, the precision setting without TensorFlow: declared once (so the CLI flag, the share link
and config.json carry it), old runs read as float32, and `auto`'s rules (hardware, short runs,
measured ratios, the cache) with the sentence each gives."""

from __future__ import annotations

import pytest

from cnn_core.cli import build_parser
from cnn_core.model.architectures import get_preset
from cnn_core.model.summary import plan
from cnn_core.settings import fields
from cnn_core.settings.config import PRECISIONS, ArchChoice, DataConfig, TrainConfig, train_config_of
from cnn_core.settings.share import from_query, to_query
from cnn_core.training import precision

FASHION = plan(get_preset("fashion-cnn"), (28, 28, 1), 10, None)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_PRECISION_CACHE", str(tmp_path / "precision.json"))


def test_the_setting_is_declared_once_with_three_choices_and_auto_by_default():
    (declared,) = [d for d in fields.declared(TrainConfig) if d.name == "precision"]
    assert declared.default == "auto" and list(declared.setting.choices) == ["auto", "float32", "bfloat16"] == list(PRECISIONS)
    assert declared.flag == "--precision" and declared.setting.group == "Training"  # so the Train form shows it
    with pytest.raises(Exception, match="precision must be one of auto, float32, bfloat16"):
        TrainConfig(precision="float16").check()


def test_the_cli_flag_the_link_and_the_run_record_round_trip():
    args = build_parser().parse_args(["train", "--precision", "bfloat16"])
    assert fields.from_arguments(TrainConfig, args).precision == "bfloat16"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--precision", "half"])
    train = TrainConfig(precision="float32")
    query = to_query(DataConfig(), ArchChoice(), train)
    assert query["precision"] == "float32"
    assert from_query(query).train == train
    dropped = from_query({"precision": "fp8"})
    assert dropped.train.precision == "auto" and "precision='fp8' was ignored" in dropped.notices[0]
    assert train_config_of({"train": train.to_dict(), "settings_version": 2}).precision == "float32"


def test_a_run_from_before_the_setting_reads_as_float32():
    old = TrainConfig().to_dict()
    del old["precision"]
    assert train_config_of({"train": old, "settings_version": 2}).precision == "float32"


@pytest.mark.parametrize(
    ("flags", "unit"),
    [
        ("fpu sse avx512f avx512_bf16 amx_tile amx_bf16 amx_int8", "AMX-BF16"),
        ("fpu sse avx512f avx512_bf16", "AVX512-BF16"),
        ("fpu sse avx2 avx512f", None),
        ("", None),
    ],
)
def test_the_bf16_units_are_read_from_the_cpu_flags(flags, unit):
    assert precision.cpu_bf16(flags) == unit


def test_this_machines_units_are_found_when_its_cpu_has_them():
    flags = precision.cpu_flags()
    assert precision.bf16_hardware(tensorflow_loaded_only=True) == precision.cpu_bf16(flags)


def test_set_precisions_are_kept_and_bfloat16_without_units_is_warned_about():
    assert precision.resolve("float32", FASHION, 128, 60_000, 12).sentence == "float32, as set"
    chosen = precision.resolve("bfloat16", FASHION, 128, 60_000, 12, hardware=None)
    assert chosen.chosen == "bfloat16" and "expect it to be slower" in chosen.sentence
    assert precision.resolve("bfloat16", FASHION, 128, 60_000, 12, hardware="AMX-BF16").sentence == "mixed bfloat16, as set"


def test_auto_without_bf16_units_chooses_float32_and_says_so():
    choice = precision.resolve("auto", FASHION, 128, 60_000, 12, hardware=None)
    assert choice.chosen == "float32" and choice.sentence.startswith("auto chose float32: this machine has no bfloat16 units")


def test_auto_does_not_measure_a_short_run():
    choice = precision.resolve("auto", FASHION, 128, 1_000, 2, hardware="AMX-BF16")  # 0.093 TFLOP
    assert choice.chosen == "float32" and "this run is short (0.093 TFLOP" in choice.sentence and not choice.ratios


def test_the_preview_says_a_measurement_is_to_come_then_shows_the_cached_one():
    preview = precision.resolve("auto", FASHION, 128, 60_000, 12, measure_now=False, hardware="AMX-BF16")
    assert preview.chosen == "" and preview.sentence.startswith("auto decides when training starts")
    precision.remember(FASHION, 128, "AMX-BF16", [1.2, 1.3, 1.25])
    cached = precision.resolve("auto", FASHION, 128, 60_000, 12, measure_now=False, hardware="AMX-BF16")
    assert cached.chosen == "bfloat16" and cached.ratios == [1.2, 1.3, 1.25]
    assert "bf16 measured 1.25x float32's images/s on this model (1.20-1.30x over 3 alternating pairs" in cached.sentence
    other_batch = precision.resolve("auto", FASHION, 64, 60_000, 12, measure_now=False, hardware="AMX-BF16")
    assert other_batch.chosen == ""  # another batch size is another measurement
    other_unit = precision.resolve("auto", FASHION, 128, 60_000, 12, measure_now=False, hardware="AVX512-BF16")
    assert other_unit.chosen == ""


@pytest.mark.parametrize(("ratios", "chosen"), [([1.3, 1.0, 1.4], "bfloat16"), ([1.05, 1.2, 0.9], "float32")])
def test_auto_wants_bf16_clearly_faster(ratios, chosen):
    got, reason = precision.measured_reason(ratios, "AMX-BF16", False)
    assert got == chosen
    if chosen == "float32":
        assert reason.startswith("bf16 measured 1.05x on this model") and "auto wants 1.10x or more" in reason
