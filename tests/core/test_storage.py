"""The retention sweep (`cnn_core/data/storage.py`): old uploads no run uses, stale run temp files, the
private folders killed Ray workers leave in the temporary folder, and the sweeper started once per process."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time

import pytest

from cnn_core.data import ingest, storage
from cnn_core.data.datasets import load_dataset
from cnn_core.paths import data_dir, runs_dir
from cnn_core.settings.config import DataConfig
from tests.conftest import folder_members, make_zip


@pytest.fixture(autouse=True)
def own_temp(tmp_path, monkeypatch):
    """`tempfile.gettempdir()` is the test's own: the sweep never touches the machine's /tmp here."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def aged(path, hours: float):
    old = time.time() - hours * 3600
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (old, old))
    return path


def test_the_sweep_deletes_old_uploads_no_run_uses_and_stale_run_temp_files():
    uploads = data_dir() / "uploads"
    used, unused, recent = (uploads / name for name in ("aaaa", "bbbb", "cccc"))
    for folder in (used, unused, recent):
        (folder / "x").mkdir(parents=True)
        (folder / "data.zip").write_bytes(b"PK")
    run = runs_dir() / "run-1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": {"dataset_id": f"zip:{used / 'data.zip'}"}}))
    stale, live = run / ".status.json.1.2.tmp", run / "checkpoints" / ".e3.npz.9.tmp"
    stale.write_text("x")
    live.write_text("x")
    aged(used, 48), aged(unused, 48), aged(recent, 1), aged(stale, 2)
    deleted = storage.sweep()
    assert set(deleted) == {unused, stale}
    assert used.exists() and recent.exists() and not unused.exists() and live.exists() and (run / "config.json").exists()


def test_an_uploaded_zip_is_extracted_beside_itself_so_the_sweep_takes_both(tmp_path):
    data = make_zip(tmp_path / "pets.zip", folder_members({"a": 6, "b": 6})).read_bytes()
    saved = ingest.save_upload(data, "pets.zip", data_dir() / "uploads")
    ds = load_dataset(DataConfig(f"zip:{saved}"))
    assert ds.report.root.startswith(str(saved.parent)) and not (data_dir() / "datasets").exists()
    aged(saved.parent, 30)
    assert storage.sweep() == [saved.parent] and not saved.parent.exists()


def job_folder(temp, name: str, hours: float, runs: tuple[str, ...] = ("20260101-000000-minimal-ab12",)):
    """A folder as `jobs.worker.Trainer` leaves it when its worker is killed: `<temp>/cnn-studio-job-XXXXXXXX/<run id>/`."""
    folder = temp / name
    for run_id in runs:
        (folder / run_id / "checkpoints").mkdir(parents=True)
        (folder / run_id / "config.json").write_text("{}")
    return aged(folder, hours)


def test_the_sweep_deletes_old_job_folders_killed_ray_workers_left_and_nothing_else(own_temp, tmp_path):
    stale = job_folder(own_temp, "cnn-studio-job-a1b2c3_4", 48)
    with_parent = job_folder(own_temp, "cnn-studio-job-zz99yy88", 30, ("run-1", "parent-run-0"))
    empty = own_temp / "cnn-studio-job-00000000"  # killed before it placed the run's files
    empty.mkdir()
    aged(empty, 48)
    live = job_folder(own_temp, "cnn-studio-job-livelive", 1)  # its run wrote an hour ago: still training
    not_ours = [
        job_folder(own_temp, "cnn-studio-job-toolongname", 48),  # not mkdtemp's 8 characters
        job_folder(own_temp, "cnn-studio-jobs-abcdefgh", 48),
        job_folder(own_temp, "cnn-studio-job-mixed123", 48, ("run-1", ".hidden")),  # not a run id
    ]
    (own_temp / "cnn-studio-job-files000").mkdir()
    (own_temp / "cnn-studio-job-files000" / "notes.txt").write_text("a file, not a run folder")
    aged(own_temp / "cnn-studio-job-files000", 48)
    elsewhere = job_folder(tmp_path, "elsewhere", 48)
    os.symlink(elsewhere, own_temp / "cnn-studio-job-linklink")  # a link is never followed, nor deleted
    (own_temp / "cnn-studio-job-plainfil").write_text("a file")
    deleted = storage.sweep(now=time.time())
    assert set(deleted) == {stale, with_parent, empty}
    assert not stale.exists() and not with_parent.exists() and not empty.exists() and live.exists()
    assert all(p.exists() for p in not_ours) and (own_temp / "cnn-studio-job-files000" / "notes.txt").exists()
    assert (own_temp / "cnn-studio-job-linklink").is_symlink() and (elsewhere / "20260101-000000-minimal-ab12").is_dir()
    assert (own_temp / "cnn-studio-job-plainfil").is_file()


def test_job_folders_follow_a_long_upload_retention_and_are_kept_a_day_under_a_short_one(own_temp, monkeypatch):
    """A live Ray job whose epoch outlasts a short retention must keep its folder."""
    day_old, hour_old = job_folder(own_temp, "cnn-studio-job-abcdefgh", 25), job_folder(own_temp, "cnn-studio-job-hgfedcba", 3)
    monkeypatch.setenv(storage.RETENTION_ENV, "48")
    assert storage.sweep() == []
    monkeypatch.setenv(storage.RETENTION_ENV, "0.5")
    assert storage.sweep() == [day_old] and hour_old.is_dir()


def test_the_sweeper_starts_once_per_process_and_sweeps_the_folders_of_its_start(monkeypatch, own_temp, workspace):
    swept, done = [], threading.Event()

    def fake_sweep(**folders):
        swept.append(folders)
        done.set()

    monkeypatch.setattr(storage, "_sweeper", None)  # as in a fresh process (a thread may run already: it sleeps)
    monkeypatch.setattr(storage, "sweep", fake_sweep)
    assert storage.start_sweeper(every=3600) is True
    thread = storage._sweeper
    assert [storage.start_sweeper(every=3600) for _ in range(3)] == [False] * 3 and storage._sweeper is thread
    assert done.wait(5) and thread.is_alive() and thread.daemon
    assert swept == [{"data": workspace / "data", "runs": workspace / "runs", "temp": own_temp}]
