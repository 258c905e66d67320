"""Issue 28, the precision setting without TensorFlow: declared once (so the CLI flag, the share link
and config.json carry it), old runs read as float32, and `auto`'s rules (hardware, short runs,
measured ratios, the cache) with the sentence each gives."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize("ratios", [[], ["x"], [None], 5, "1.2", [float("nan")], [1e9], [True], [1.2] * 51])
def test_a_damaged_cache_entry_is_no_measurement(ratios, tmp_path):
    key = precision.cache_key(FASHION, 128)
    (tmp_path / "precision.json").write_text(json.dumps({key: {"hardware": "AMX-BF16", "ratios": ratios}}))
    assert precision.cached(FASHION, 128, "AMX-BF16") is None
    preview = precision.resolve("auto", FASHION, 128, 60_000, 12, measure_now=False, hardware="AMX-BF16")
    assert preview.chosen == "" and preview.sentence.startswith("auto decides when training starts")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"x": 1}' + " " * (precision.CACHE_BYTES + 1)])
def test_a_damaged_or_oversized_cache_file_is_ignored_and_replaced(text, tmp_path):
    (tmp_path / "precision.json").write_text(text)
    assert precision.resolve("auto", FASHION, 128, 60_000, 12, measure_now=False, hardware="AMX-BF16").chosen == ""
    precision.remember(FASHION, 128, "AMX-BF16", [1.2, 1.3, 1.25])
    assert precision.cached(FASHION, 128, "AMX-BF16") == [1.2, 1.3, 1.25]


def test_the_cache_keeps_the_newest_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "CACHE_ENTRIES", 3)
    old = {f"old{k}": {"hardware": "AMX-BF16", "ratios": [1.0], "at": k} for k in range(5)}
    (tmp_path / "precision.json").write_text(json.dumps(old | {"odd": {"at": "yesterday"}}))
    precision.remember(FASHION, 128, "AMX-BF16", [1.2])
    kept = json.loads((tmp_path / "precision.json").read_text())
    assert sorted(kept) == sorted([precision.cache_key(FASHION, 128), "old4", "old3"])


HOSTILE = [
    ({"chosen": "bfloat16", "ratios": 5, "setting": ["x"], "reason": 7}, ("auto", "bfloat16", "", [])),
    ({"chosen": "float32", "ratios": "1.5", "setting": "float16"}, ("auto", "float32", "", [])),
    ({"chosen": "bfloat16", "ratios": [1.3, "x"], "setting": "bfloat16", "reason": "r"}, ("bfloat16", "bfloat16", "r", [])),
    (
        {"chosen": "float32", "ratios": [0.9, 1.0, 1.05], "setting": "auto", "reason": "r"},
        ("auto", "float32", "r", [0.9, 1.0, 1.05]),
    ),
]


@pytest.mark.parametrize(("record", "kept"), HOSTILE)
def test_a_resumed_run_keeps_its_recorded_precision_checked(record, kept, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"precision": record}))
    choice = precision.for_run(tmp_path, "auto", FASHION, 128, 60_000, 12, resumed=True)
    assert (choice.setting, choice.chosen, choice.reason, choice.ratios) == kept


@pytest.mark.parametrize("record", [{"chosen": "float16"}, {"chosen": ["bfloat16"]}, "bfloat16", 5, None])
def test_a_record_naming_no_precision_is_decided_again_and_rewritten(record, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"precision": record}))
    choice = precision.for_run(tmp_path, "float32", FASHION, 128, 60_000, 12, resumed=True)
    assert choice.chosen == "float32"
    assert json.loads((tmp_path / "config.json").read_text())["precision"]["reason"] == "float32, as set"


def test_a_session_getting_ready_is_running_but_its_clock_and_time_limit_wait(tmp_path):
    """Defect 4: building the model and auto's measurement hold the slot, so the job says "running"
    with what it does; the training clock and the class time limit start only when training does."""
    import threading

    from cnn_core.jobs.local import TrainingJob
    from cnn_core.training.live import Control, LiveRecord

    record = LiveRecord(1, 10, 32, 320)
    record.prepare("measuring bfloat16 against float32")
    snap = record.snapshot()
    assert (snap.status, snap.message, snap.elapsed, record.session_seconds) == (
        "running",
        "measuring bfloat16 against float32",
        0,
        0,
    )

    job = object.__new__(TrainingJob)  # only what the time limit's timer reads: a job without a run
    job.request = type("Request", (), {"time_limit": 0.6})()
    job.record, job.control, job._gate, job._timer = record, Control(), threading.RLock(), None
    job._time_up()  # the limit's first deadline passes while the session still gets ready
    assert not job.control.stop.is_set() and job._timer is not None
    record.set_status("running")
    assert record.snapshot().message == "" and record.session_seconds >= 0
    assert not job.control.stop.wait(0.3)  # not before the session has trained for the limit
    assert job.control.stop.wait(2) and "class limit" in job.control.reason and record.session_seconds >= 0.55
    job._timer.cancel()
