"""Run zips, run folders and run ids from elsewhere: one schema (the settings' own declarations),
one-line refusals that name the field, nothing left behind, nothing outside runs/.

The zips are made here from a run record written the way training writes it (no model file, so
no TensorFlow is needed): a config.json, a status.json, a history.csv and a metrics.json.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cnn_core.errors import StudioError
from cnn_core.model.architectures import get_preset
from cnn_core.runs.archive import import_run_zip
from cnn_core.runs.schema import CONFIG_MAX_BYTES, check_run_config, valid_run_id
from cnn_core.runs.store import RunStore, write_json
from cnn_core.settings.config import SETTINGS_VERSION, ArchChoice, DataConfig, TrainConfig


def run_record(**changes) -> dict:
    """A config.json as training writes it (see `training.run_config`), with `changes` on top."""
    spec = get_preset("tutorial-minimal")
    record = {
        "run_id": "20261127-120000-tutorial-minimal-ab12",
        "created": "2026-11-27T12:00:00",
        "data": DataConfig("shapes", limit=150, image_size=16).to_dict(),
        "dataset": {"id": "shapes", "name": "Shapes", "input_shape": [16, 16, 3], "class_names": list("abcde"),
                    "train_size": 100, "train_counts": [20] * 5, "digits_style": False},
        "architecture": {**ArchChoice("tutorial-minimal").to_dict(), "name": spec.name, "layers": spec.layers, "params": 1000},
        "train": TrainConfig(epochs=2).to_dict(),
        "settings_version": SETTINGS_VERSION, "owner": "cli", "parent": None, "versions": {}, "name": "", "note": "",
    }  # fmt: skip
    return {**record, **changes}


def make_run_zip(path: Path, config: object = None, raw: bytes | None = None, **files: object) -> Path:
    """A run zip as `export_zip` writes it (one folder), with this config.json (or these raw bytes)."""
    members = {
        "config.json": raw if raw is not None else json.dumps(run_record() if config is None else config),
        "status.json": json.dumps({"status": "completed", "message": "", "pid": 1}),
        "history.csv": "epoch,loss,accuracy\n1,1.5,0.4\n2,1.2,0.5\n",
        "metrics.json": json.dumps({"test_accuracy": 0.5, "test_loss": 1.2, "test_size": 30}),
        **{name.replace("_", "."): json.dumps(v) for name, v in files.items()},
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"myrun/{name}", data)
    return path


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


REFUSED = {
    "dataset-is-a-number": (run_record(dataset=1), "config.json: dataset must be an object (got 1)"),
    "dataset-id-is-a-number": (run_record(data={**run_record()["data"], "dataset_id": 1}), "data.dataset_id must be text"),
    "epochs-as-text": (run_record(train={**run_record()["train"], "epochs": "5"}), "train.epochs must be a whole number"),
    "code-in-a-number": (
        run_record(train={**run_record()["train"], "learning_rate": "0.1\nimport os"}),
        "train.learning_rate must be a number",
    ),
    "rate-out-of-range": (run_record(train={**run_record()["train"], "learning_rate": 50.0}), "train.learning_rate must be"),
    "unknown-optimizer": (run_record(train={**run_record()["train"], "optimizer": ["adam"]}), "train.optimizer must be one of"),
    "unknown-architecture": (
        run_record(architecture={"preset": "evil", "name": "x", "layers": []}),
        "architecture.preset must be one of",
    ),
    "bad-layer": (
        run_record(architecture={"preset": "custom", "name": "x", "layers": [{"type": "Conv2D", "filters": "3); import os; ("}]}),
        "architecture.layers row 1: Conv2D: filters must be a whole number",
    ),
    "bad-input-shape": (run_record(dataset={**run_record()["dataset"], "input_shape": ["16", 16, 3]}), "dataset.input_shape"),
    "config-is-a-list": ([1, 2, 3], "config.json is damaged (not a JSON object)"),
    "no-data": ({"run_id": "x"}, "data is missing"),
    "parent-escapes": (run_record(parent={"run_id": "../../etc"}), "parent must name a run"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_malformed_run_zip_is_refused_by_field_and_leaves_nothing(name, tmp_path):
    config, words = REFUSED[name]
    store = RunStore(tmp_path / "runs")
    with pytest.raises(StudioError) as refused:
        import_run_zip(make_run_zip(tmp_path / "run.zip", config), store)
    message = str(refused.value)
    assert words in message and "\n" not in message and len(message) < 300, message
    assert everything_under(store.root) == []  # no run, no staging folder


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"\x00\xff garbage", "config.json is missing or damaged"),
        (b" " * (CONFIG_MAX_BYTES + 1), f"the limit is {CONFIG_MAX_BYTES:,}"),
    ],
    ids=["garbage", "huge"],
)
def test_garbage_and_huge_config_files_are_refused_before_anything_is_kept(raw, words, tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(StudioError, match=words):
        import_run_zip(make_run_zip(tmp_path / "run.zip", raw=raw), store)
    assert everything_under(store.root) == []


def test_metrics_with_text_for_numbers_are_refused(tmp_path):
    store = RunStore(tmp_path / "runs")
    path = make_run_zip(tmp_path / "run.zip", metrics_json={"test_accuracy": "<script>alert(1)</script>"})
    with pytest.raises(StudioError, match="metrics.json: test_accuracy must be a number"):
        import_run_zip(path, store)
    assert everything_under(store.root) == []


@pytest.mark.parametrize("run_id", ["../../x", "/etc/passwd", "..", "a/../../b", "x" * 500, 7, None])
def test_the_zip_run_id_is_never_used(run_id, tmp_path):
    store = RunStore(tmp_path / "deep" / "runs")
    imported = import_run_zip(make_run_zip(tmp_path / "run.zip", run_record(run_id=run_id)), store)
    assert imported.parent == store.root and valid_run_id(imported.name) and "imported" in imported.name
    assert json.loads((imported / "config.json").read_text())["run_id"] == imported.name
    assert [p.name for p in store.root.iterdir()] == [imported.name]
    files = ("config.json", "status.json", "history.csv", "metrics.json")
    expected = {"deep", "deep/runs", "run.zip", f"deep/runs/{imported.name}", *(f"deep/runs/{imported.name}/{f}" for f in files)}
    assert [p for p in everything_under(tmp_path) if not p.startswith("workspace")] == sorted(
        expected
    )  # nothing else written, no staging folder left


def test_an_imported_run_that_was_training_is_interrupted_and_keeps_only_known_status_fields(tmp_path):
    store = RunStore(tmp_path / "runs")
    status = {"status": "running", "pid": 1, "message": 5, "duration": "long", "evil": "<b>x</b>"}
    imported = import_run_zip(make_run_zip(tmp_path / "run.zip", status_json=status), store)
    saved = json.loads((imported / "status.json").read_text())
    assert saved == {"status": "interrupted", "message": "5", "pid": None}
    info = store.info(imported)
    assert (info.status, info.test_accuracy, info.epochs_done, info.published) == ("interrupted", 0.5, 2, False)


def test_the_schema_accepts_what_training_writes_and_older_rotation_in_turns():
    assert check_run_config(run_record()) == run_record()
    old = run_record(settings_version=1, train={**run_record()["train"], "rotation": 0.1})  # 36 degrees
    assert check_run_config(old) is old
    imported_model = run_record(architecture={"preset": "imported", "name": "imported: m.keras", "layers": []}, train={})
    assert check_run_config(imported_model) is imported_model


@pytest.mark.parametrize(
    "content, reason",
    [
        (json.dumps(run_record(dataset=1)), "dataset must be an object (got 1)"),
        (json.dumps([1, 2]), "not a JSON object"),
        ("{not json", "config.json is missing or damaged"),
        (json.dumps(run_record(name=["x"])), "name must be text"),
        (json.dumps(run_record(train={"epochs": "many"})), "train.epochs must be a whole number"),
    ],
    ids=["dataset-number", "list", "garbage", "name-list", "epochs-text"],
)
def test_one_malformed_run_folder_is_listed_as_damaged_and_the_others_still_list(content, reason, tmp_path):
    store = RunStore(tmp_path / "runs")
    good = store.new_run(run_record(), "tutorial-minimal")
    bad = store.root / "20260101-000000-bad-0000"
    bad.mkdir()
    (bad / "config.json").write_text(content)
    listed = {info.run_id: info for info in store.list_runs()}
    assert listed[good.name].status == "queued"
    assert listed[bad.name].status == "damaged" and reason in listed[bad.name].message
    if "dataset-number" in content or '"dataset": 1' in content:
        assert listed[bad.name].owner == "cli"  # still known: its owner may delete it


def test_metrics_and_status_of_the_wrong_type_do_not_break_the_listing(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run(run_record(), "tutorial-minimal")
    write_json(run / "metrics.json", {"test_accuracy": "high", "test_loss": [1]})
    write_json(run / "status.json", {"status": "completed", "message": ["x"], "duration": "long"})
    info = store.list_runs()[0]
    assert (info.test_accuracy, info.test_loss, info.duration, info.message) == (None, None, None, "['x']")


class TestResolve:
    @pytest.fixture(autouse=True)
    def _store(self, tmp_path):
        self.store = RunStore(tmp_path / "runs")
        self.run = self.store.new_run(run_record(), "tutorial-minimal")
        self.outside = tmp_path / "elsewhere" / "run"  # a real run folder outside the store
        self.outside.mkdir(parents=True)
        write_json(self.outside / "config.json", run_record())

    def test_a_run_id_and_a_path_inside_the_store_resolve(self):
        assert self.store.resolve(self.run.name) == self.run
        assert self.store.resolve(str(self.run)).resolve() == self.run.resolve()

    @pytest.mark.parametrize("text", ["../elsewhere/run", "..", ".", "", "/etc", "runs/../elsewhere/run", "a\nb"])
    def test_text_from_a_page_never_leaves_the_store(self, text):
        with pytest.raises(StudioError, match="no run"):
            self.store.resolve(text)

    def test_a_path_outside_is_refused_as_text_but_allowed_when_typed_on_the_command_line(self):
        with pytest.raises(StudioError, match="no run"):
            self.store.resolve(str(self.outside))
        assert self.store.resolve(str(self.outside), allow_path=True) == self.outside
        assert self.store.resolve(self.outside) == self.outside  # a Path built by code

    def test_a_link_inside_the_store_to_a_folder_outside_is_refused(self):
        (self.store.root / "sneaky").symlink_to(self.outside, target_is_directory=True)
        with pytest.raises(StudioError, match="no run"):
            self.store.resolve("sneaky")
        with pytest.raises(StudioError, match="no run"):
            self.store.resolve(str(self.store.root / "sneaky"))

    def test_new_run_ids_are_valid_whatever_the_label(self):
        run = self.store.new_run(run_record(), "../../evil name\n")
        assert run.parent == self.store.root and valid_run_id(run.name)


def test_the_script_and_the_report_refuse_a_damaged_run_by_its_field(tmp_path):
    from cnn_core.takehome import export
    from cnn_core.takehome.report import report

    store = RunStore(tmp_path / "runs")
    layers = [{"type": "Conv2D", "filters": "3); import os; ("}]
    run = store.new_run(run_record(architecture={"preset": "custom", "name": "x", "layers": layers}), "custom")
    for make in (export.script, lambda r: report([r], store)):
        with pytest.raises(StudioError, match=r"architecture.layers row 1: Conv2D: filters must be a whole number"):
            make(run)
