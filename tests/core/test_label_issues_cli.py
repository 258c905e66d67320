"""The settings `label-issues` trains its folds with (a run's, a preset's, the flags given on top),
and `edit-dataset`'s lists of images after one flag."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from cnn_core.cli import build_parser
from cnn_core.cli.labels import _settings
from cnn_core.model.architectures import PRESETS
from cnn_core.settings.config import SETTINGS_VERSION, ArchChoice, DataConfig, TrainConfig
from tests.cli import cli

RUN_DATA = DataConfig("digits", validation_fraction=0.2, test_fraction=0.3, seed=4, image_size=16, channels=3, limit=300)
RUN_TRAIN = TrainConfig(epochs=20, batch_size=16, optimizer="sgd", seed=7, flip=True, dropout=0.3, schedule="one-cycle")


def settings_of(*argv):
    """(data config, arch, train config) that `label-issues ARGV` would train its folds with."""
    return _settings(build_parser().parse_args(["label-issues", *map(str, argv)]))


@pytest.fixture
def run_folder(tmp_path):
    """A run folder whose every setting below differs from its default (only config.json is read)."""
    folder = tmp_path / "run"
    folder.mkdir()
    record = {"data": RUN_DATA.to_dict(), "architecture": ArchChoice("tutorial-minimal").to_dict(),
              "train": RUN_TRAIN.to_dict(), "settings_version": SETTINGS_VERSION}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


# Each flag at its default value: it must still replace the run's setting.
GIVEN_AT_DEFAULT = [
    (["--epochs", "5"], "train", "epochs", 5),
    (["--batch-size", "64"], "train", "batch_size", 64),
    (["--optimizer", "adam"], "train", "optimizer", "adam"),
    (["--seed", "0"], "train", "seed", 0),
    (["--no-flip"], "train", "flip", False),
    (["--dropout", "none"], "train", "dropout", None),
    (["--schedule", "constant"], "train", "schedule", "constant"),
    (["--validation-fraction", "0.1"], "data", "validation_fraction", 0.1),
    (["--test-fraction", "0.15"], "data", "test_fraction", 0.15),
    (["--split-seed", "0"], "data", "seed", 0),
    (["--image-size", "none"], "data", "image_size", None),
    (["--channels", "none"], "data", "channels", None),
    (["--limit", "none"], "data", "limit", None),
]


@pytest.mark.parametrize("flags, config, name, value", GIVEN_AT_DEFAULT, ids=[" ".join(g[0]) for g in GIVEN_AT_DEFAULT])
def test_a_flag_given_at_its_default_value_still_overrides_the_runs_setting(run_folder, flags, config, name, value):
    data, arch, train = settings_of(run_folder, *flags)
    changed = {"data": data, "train": train}[config]
    assert getattr(changed, name) == value
    expected = {"data": asdict(RUN_DATA), "train": asdict(RUN_TRAIN)}
    expected[config][name] = value  # every other setting stays the run's
    assert asdict(data) == expected["data"] and asdict(train) == expected["train"]
    assert arch == ArchChoice("tutorial-minimal")


def test_without_flags_the_run_settings_are_used(run_folder):
    data, arch, train = settings_of(run_folder)
    assert (data, arch, train) == (RUN_DATA, ArchChoice("tutorial-minimal"), RUN_TRAIN)


def test_a_presets_recommended_settings_stand_in_for_the_defaults_under_the_flags_given():
    recommended = PRESETS["fashion-cnn"].recommended
    assert recommended["batch_size"] != TrainConfig().batch_size  # else this test proves nothing
    data, arch, train = settings_of("--dataset", "digits", "--arch", "fashion-cnn", "--epochs", "3", "--image-size", "16")
    assert arch == ArchChoice("fashion-cnn") and train.epochs == 3
    assert asdict(train) == asdict(TrainConfig(**recommended | {"epochs": 3}))
    assert data == DataConfig("digits", image_size=16)
    _, _, train = settings_of("--dataset", "digits", "--arch", "fashion-cnn", "--batch-size", "64")
    assert train.batch_size == 64 and train.learning_rate == recommended["learning_rate"]  # given at the default: it wins
    data, arch, train = settings_of("--dataset", "digits")
    assert (data, arch, train) == (DataConfig("digits"), ArchChoice("keras-mnist"), TrainConfig())


@pytest.mark.slow
def test_the_folds_train_the_epochs_given_even_at_the_default(trained_runs):
    """The shared run trained 2 epochs; `--epochs 5` (TrainConfig's default) must still give 5."""
    run = next(p for p in trained_runs.iterdir() if p.is_dir())
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 2
    done = cli("label-issues", run, "--epochs", "5", "--folds", "2", "--top", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert "2 fold trainings of 5 epoch(s)" in done.stderr
    assert "fold 2 of 2, epoch 5 of 5" in done.stderr  # the fold models really trained 5 epochs
    assert len(json.loads(done.stdout)) <= 3


def test_edit_dataset_takes_several_images_after_one_flag_and_repeated_flags():
    done = cli("edit-dataset", "digits", "--exclude", "3", "4", "--exclude", "5", "--relabel", "6=1", "7=2",
               "--relabel", "8=3", "--keep", "9", "10", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    edits = {e["key"]: (e["action"], e.get("to")) for e in found["edits"]}
    assert edits == {3: ("exclude", None), 4: ("exclude", None), 5: ("exclude", None), 6: ("relabel", "1"),
                     7: ("relabel", "2"), 8: ("relabel", "3"), 9: ("keep", None), 10: ("keep", None)}  # fmt: skip
    done = cli("edit-dataset", found["dataset_id"], "--undo", "3", "4", "--undo", "6", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(e["key"] for e in json.loads(done.stdout)["edits"]) == [5, 7, 8, 9, 10]
    done = cli("edit-dataset", "digits", "--exclude")
    assert done.returncode == 2 and "--exclude" in done.stderr and "Traceback" not in done.stderr
