"""Hostile run zips and run folders after review: a history that breaks the listing, findings that
break the pages, a dataset the importer may not read, and imports past the class limits.

Each run zip is built here (no model, so no TensorFlow) from `run_record`, the config.json training writes.
"""

from __future__ import annotations

import json
import secrets
import zipfile
from pathlib import Path

import pytest

from cnn_core.access import classroom, quotas
from cnn_core.data import storage
from cnn_core.errors import StudioError
from cnn_core.runs import history
from cnn_core.runs.archive import import_run_zip
from cnn_core.runs.store import RunStore, owner_tag, write_json
from tests.core.test_run_zip_schema import everything_under, run_record

LEARNER, OTHER = "d" * 32, "e" * 32
GOOD_FINDING = {
    "kind": "lr", "title": "Learning rate too high", "evidence": "the loss rose", "explanation": "Steps overshoot.",
    "suggestion": "lower it", "setting": "learning_rate", "value": 0.0001, "page": "train", "severity": "error",
    "start": 1.0, "end": 2.0,
}  # fmt: skip
HOSTILE_FINDINGS = [
    {**GOOD_FINDING, "severity": "critical"},  # KeyError in marks() before
    {**GOOD_FINDING, "value": "abc"},  # an Apply button that put 'abc' into the train settings
    {**GOOD_FINDING, "setting": ["learning_rate"]},
    {**GOOD_FINDING, "title": "x" * 10_001},
    {**GOOD_FINDING, "page": "../../etc"},
    {"title": "no severity", "evidence": "e"},
    "a finding that is text",
]


def hostile_zip(path: Path, history: str = "epoch,loss\n1,1.5\n", config: dict | None = None, **files: object) -> Path:
    """A run zip as `export_zip` writes it, with this history.csv text and these other files."""
    members = {
        "config.json": json.dumps(config or run_record()),
        "status.json": json.dumps({"status": "completed", "message": ""}),
        "history.csv": history,
        **{name.replace("_", "."): v if isinstance(v, (str, bytes)) else json.dumps(v) for name, v in files.items()},
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"myrun/{name}", data)
    return path


def run_folder(store: RunStore, name: str, history: str, **config) -> Path:
    """A run folder on disk (copied by hand, or imported before the checks) with this history.csv."""
    path = store.root / name
    path.mkdir(parents=True)
    write_json(path / "config.json", run_record(run_id=name, **config))
    write_json(path / "status.json", {"status": "completed", "message": ""})
    (path / "history.csv").write_text(history)
    return path


@pytest.fixture
def classroom_mode(monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    monkeypatch.delenv(classroom.DATA_ROOTS_ENV, raising=False)
    for var in classroom.Limits.ENV.values():
        monkeypatch.delenv(var, raising=False)
    classroom.join(LEARNER, classroom.LEARNER, "Ada")
    classroom.join(OTHER, classroom.LEARNER, "Bo")


# 1. history.csv: never raised by a listing, capped, parsed once per version


@pytest.mark.parametrize("epoch", ["nan", "inf", "-1", "1.5", "one"])
def test_a_history_with_a_bad_epoch_lists_the_run_as_damaged(epoch, tmp_path):
    store = RunStore(tmp_path / "runs")
    good = run_folder(store, "20260101-000000-good", "epoch,loss\n1,1.5\n2,1.2\n")
    bad = run_folder(store, "20260101-000001-bad", f"epoch,loss\n{epoch},1\n", owner=owner_tag(LEARNER))
    listed = {r.run_id: r for r in store.list_runs()}  # raised ValueError (OverflowError for inf) before
    assert listed[good.name].status == "completed" and listed[good.name].epochs_done == 2
    damaged = listed[bad.name]
    assert damaged.status == "damaged" and damaged.owner == owner_tag(LEARNER)  # its owner may still delete it
    assert "history.csv: line 2" in damaged.message and "\n" not in damaged.message
    assert store.read_history(bad) == []


def test_a_history_over_the_cap_is_damaged_without_being_parsed(tmp_path):
    store = RunStore(tmp_path / "runs")
    row = "1,1.5,0.5,0.5\n"
    path = run_folder(
        store,
        "20260101-000000-huge",
        "epoch,loss,accuracy,val_accuracy\n" + row * (history.HISTORY_MAX_BYTES // len(row) + 1),
    )
    info = store.info(path)
    assert info.status == "damaged" and f"the limit is {history.HISTORY_MAX_BYTES:,}" in info.message
    assert store.read_history(path) == []


def test_an_unchanged_history_is_parsed_once_across_listings(tmp_path):
    store = RunStore(tmp_path / "runs")
    path = run_folder(store, "20260101-000000-a", "epoch,loss,val_accuracy\n1,1.5,0.4\n2,1.2,0.6\n")
    store.list_runs()
    before = history._summary.cache_info()
    for _ in range(5):
        (info,) = store.list_runs()
    after = history._summary.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 5
    assert (info.epochs_done, info.best_val_accuracy) == (2, 0.6)
    (path / "history.csv").write_text("epoch,loss,val_accuracy\n1,1.5,0.4\n2,1.2,0.6\n3,1.0,0.7\n")
    assert store.list_runs()[0].epochs_done == 3  # a new version is read again


@pytest.mark.parametrize(
    "history, words",
    [
        ("epoch,loss\nnan,1\n", "history.csv: line 2: epoch must be a whole number"),
        ("epoch,loss\n1,<b>x</b>\n", "history.csv: line 2: 'loss' must be a number"),
        ("epoch,loss\n1,1,1\n", "history.csv: line 2 has more fields than its header"),
    ],
    ids=["nan-epoch", "text-value", "extra-field"],
)
def test_an_imported_history_is_checked_and_refused_leaving_nothing(history, words, tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(StudioError, match=words):
        import_run_zip(hostile_zip(tmp_path / "run.zip", history), store)
    assert everything_under(store.root) == []


def test_a_huge_history_in_a_zip_is_refused_before_extraction(tmp_path):
    store = RunStore(tmp_path / "runs")
    size = history.HISTORY_MAX_BYTES + 1
    with pytest.raises(StudioError, match=f"history.csv in this zip is {size:,} bytes; the limit is"):
        import_run_zip(hostile_zip(tmp_path / "run.zip", "1" * size), store)
    with pytest.raises(StudioError, match="batches.csv in this zip is"):
        import_run_zip(hostile_zip(tmp_path / "run2.zip", batches_csv="1" * size), store)
    assert everything_under(store.root) == []


def test_a_diverged_runs_history_still_imports(tmp_path):
    """NaN and inf losses are real (training stops on them): only the epoch must be whole."""
    store = RunStore(tmp_path / "runs")
    imported = import_run_zip(hostile_zip(tmp_path / "run.zip", "epoch,loss\n1,1.5\n2,nan\n3,inf\n"), store)
    assert store.info(imported).epochs_done == 3


# 4. findings: only known severities, bounded text, settings their declarations allow


def test_imported_findings_that_break_the_schema_are_dropped(tmp_path):
    store = RunStore(tmp_path / "runs")
    minimal = {"title": "Only the words", "evidence": "a finding saved by an older version", "severity": "info"}
    metrics = {"test_accuracy": 0.5, "diagnosis": [GOOD_FINDING, minimal, *HOSTILE_FINDINGS]}
    imported = import_run_zip(hostile_zip(tmp_path / "run.zip", metrics_json=metrics), store)
    assert store.read_diagnosis(imported) == [GOOD_FINDING, minimal]
    saved = json.loads((imported / "metrics.json").read_text())
    assert saved["diagnosis"] == [GOOD_FINDING, minimal] and saved["test_accuracy"] == 0.5


def test_a_folder_on_disk_with_hostile_findings_reads_only_the_good_ones(tmp_path):
    store = RunStore(tmp_path / "runs")
    path = run_folder(store, "20260101-000000-a", "epoch,loss\n1,1.5\n")
    write_json(path / "metrics.json", {"diagnosis": [*HOSTILE_FINDINGS, GOOD_FINDING]})
    assert store.read_diagnosis(path) == [GOOD_FINDING]
    write_json(path / "metrics.json", {"diagnosis": "not a list"})
    assert store.read_diagnosis(path) == []


# 2(b). a learner cannot import a run that reads a folder they may not read


@pytest.mark.parametrize("where", ["server", "other-upload"])
def test_a_learner_cannot_import_a_run_on_a_folder_they_may_not_read(where, classroom_mode, tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = tmp_path / "server" if where == "server" else classroom.upload_dir(OTHER) / "pets"
    config = run_record(data={**run_record()["data"], "dataset_id": f"folder:{folder}"})
    path = hostile_zip(tmp_path / "run.zip", config=config)
    with pytest.raises(StudioError, match="is not among your uploads"):
        import_run_zip(path, store, LEARNER)
    assert everything_under(store.root) == []
    assert import_run_zip(path, store, "cli").is_dir()  # the command line is not limited
    assert import_run_zip(path, store, OTHER if where == "other-upload" else "cli").is_dir()


def test_a_learner_may_import_a_run_on_their_own_upload(classroom_mode, tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = classroom.upload_dir(LEARNER) / "pets"
    config = run_record(data={**run_record()["data"], "dataset_id": f"zip:{folder}.zip@v-abc12345"})
    assert import_run_zip(hostile_zip(tmp_path / "run.zip", config=config), store, LEARNER).is_dir()


# 3. imports count against the class limits; uploads count runs too


def test_imports_are_refused_past_the_saved_runs_limit(classroom_mode, monkeypatch, tmp_path):
    monkeypatch.setenv(classroom.Limits.ENV["saved_runs"], "2")
    store = RunStore(tmp_path / "runs")
    for i in range(2):
        import_run_zip(hostile_zip(tmp_path / f"run{i}.zip"), store, LEARNER)
    with pytest.raises(StudioError, match=r"you already have 2 saved runs \(the class limit is 2\)"):
        import_run_zip(hostile_zip(tmp_path / "run2.zip"), store, LEARNER)
    assert len(list(store.root.iterdir())) == 2
    import_run_zip(hostile_zip(tmp_path / "run3.zip"), store, OTHER)  # another learner has their own count


def test_imports_are_refused_past_the_disk_limit_and_extract_at_most_the_room_left(classroom_mode, monkeypatch, tmp_path):
    monkeypatch.setenv(classroom.Limits.ENV["disk_mb"], "1")
    store = RunStore(tmp_path / "runs")
    upload = classroom.upload_dir(LEARNER)
    upload.mkdir(parents=True)
    (upload / "old.zip").write_bytes(bytes(700_000))
    room = quotas.check_import(LEARNER, store)
    assert room == 2**20 - 700_000
    text = secrets.token_hex(200_000)  # 400 KB unpacked, about half that packed: fits the room until unpacked
    padded = hostile_zip(tmp_path / "padded.zip", extra_txt=text)
    assert padded.stat().st_size < room
    with pytest.raises(StudioError, match=r"the zip would unpack to 39\d KB; the limit is 340 KB"):
        import_run_zip(padded, store, LEARNER)
    assert everything_under(store.root) == []
    (upload / "more.zip").write_bytes(bytes(400_000))
    with pytest.raises(StudioError, match=r"your runs and uploads take 1 MB .*the class limit is 1 MB"):
        import_run_zip(hostile_zip(tmp_path / "small.zip"), store, LEARNER)


def test_an_upload_counts_the_learners_runs_too(classroom_mode, monkeypatch, tmp_path):
    monkeypatch.setenv(classroom.Limits.ENV["disk_mb"], "1")
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    store = RunStore()
    run = run_folder(store, "20260101-000000-mine", "epoch,loss\n1,1.5\n", owner=owner_tag(LEARNER))
    (run / "model.keras").write_bytes(bytes(800_000))
    storage.check_upload(OTHER, 400_000)  # another learner's runs are not counted
    with pytest.raises(StudioError, match="for your runs and uploads together"):
        storage.check_upload(LEARNER, 400_000)  # uploads alone were 0 bytes: this passed before


def test_every_finding_training_writes_passes_the_check():
    """The check drops only what training never writes: each rule's own finding is kept."""
    from cnn_core.runs.schema import finding_problem
    from cnn_core.training.diagnosis import Context, diagnose
    from tests.core.test_diagnosis import HEALTHY, TEN, batches, epochs

    scenarios = [
        (epochs(loss=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02], val_loss=[0.9, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8]),
         batches([0.05] * 100, 1.0), TEN),
        (epochs(loss=[2.3, 2.3]), batches([2.30] * 120, 0.1), Context(10, learning_rate=1e-6)),
        ([], batches([2.0, 1.9, float("nan")]), TEN),
        (epochs(loss=[2.3, 2.25, 2.2, 2.15], accuracy=[0.2, 0.3, 0.35, 0.4]), [], Context(10, learning_rate=1e-5)),
        (epochs(loss=[1.6, 1.5, 1.45, 1.44, 1.44, 1.44], val_loss=[1.6, 1.55, 1.5, 1.5, 1.5, 1.5],
                accuracy=[0.3, 0.35, 0.38, 0.39, 0.39, 0.4], val_accuracy=[0.3, 0.33, 0.36, 0.37, 0.37, 0.37]), [], Context(5)),
        (HEALTHY, [], Context(3, class_counts=[300, 40, 100], class_names=["cat", "dog", "eel"], message="early stopping")),
    ]  # fmt: skip
    found = [f.to_dict() for history, points, context in scenarios for f in diagnose(history, points, context)]
    assert len({f["kind"] for f in found}) >= 7
    assert [finding_problem(f) for f in found] == [None] * len(found)
