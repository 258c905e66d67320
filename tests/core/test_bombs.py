"""Hostile files refused before their declared sizes are allocated or written: npz headers, tar
members, zips of many zero-filled members, .keras configs; data placed only in its own slot, and
recorded; uploads within their limits and swept after their retention period."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import time
import tracemalloc
import zipfile

import pytest

from bench.hostile import huge_mnist_npz
from cnn_core.data import downloads, filechecks, ingest, storage
from cnn_core.data.archives import IngestLimits
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.model import modelio
from cnn_core.paths import data_dir, keras_cache_dir, runs_dir
from cnn_core.settings.config import DataConfig
from tests.core.test_datasets import cifar_tar, mnist_npz

SMALL_PEAK = 20 * 2**20  # what a refusal may allocate, whatever the file declares


def refused_cheaply(call, match: str) -> str:
    """Run `call`, expect a one-line StudioError matching `match`, and a small traced peak."""
    tracemalloc.start()
    try:
        with pytest.raises(StudioError, match=match) as refusal:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SMALL_PEAK, f"the refusal allocated {peak:,} bytes"
    assert "\n" not in str(refusal.value)
    return str(refusal.value)


def nothing_placed():
    return not keras_cache_dir().exists() or not any(keras_cache_dir().rglob("*"))


def test_an_npz_declaring_300000_images_is_refused_from_its_headers(tmp_path):
    path = huge_mnist_npz(tmp_path / "mnist.npz", 300_000)
    assert path.stat().st_size < 1_000_000  # 235 MB of pixels inside
    message = refused_cheaply(lambda: downloads.place_file(path), "declares 300,000 images; MNIST has 60,000")
    assert "train split" in message and nothing_placed()


def test_an_npz_header_larger_than_its_member_is_refused(tmp_path):
    path = huge_mnist_npz(tmp_path / "mnist.npz", 3_000_000, honest=False)
    refused_cheaply(lambda: downloads.place_file(path), r"x_train.npy declares \(3,000,000, 28, 28\) uint8")
    assert nothing_placed()


def test_a_huge_npz_already_in_the_cache_is_refused_when_loaded():
    keras_cache_dir().mkdir(parents=True)
    huge_mnist_npz(keras_cache_dir() / "mnist.npz", 300_000)
    refused_cheaply(lambda: load_dataset(DataConfig("mnist")), "is damaged .*declares 300,000 images")


def huge_member_tar(path, size: int = 2**30):
    """A tar.gz whose first member declares `size` bytes; only its header is there."""
    info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    info.size = size
    with gzip.open(path, "wb") as f:
        f.write(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    return path


def test_a_tar_member_declaring_a_gigabyte_is_refused_from_its_header(tmp_path):
    path = huge_member_tar(tmp_path / "cifar-10-python.tar.gz")
    started = time.perf_counter()
    refused_cheaply(lambda: downloads.place_file(path), "data_batch_1 declares 1,073,741,824 bytes")
    assert time.perf_counter() - started < 2 and nothing_placed()


def test_tar_members_count_towards_a_running_total(tmp_path):
    path = cifar_tar(tmp_path / "c.tar.gz")
    with pytest.raises(
        StudioError,
        match="data_batch_5 declares 30,918 bytes .154,590 so far, member 5.; .* at most 64 members of 100,000 bytes, 150,000 in all",
    ):
        filechecks.read_tar_members(path, set(), max_member=100_000, max_total=150_000)


def zero_members_zip(path, members: int = 3000, size: int = 64 * 2**10):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(members):
            archive.writestr(f"a/{i}.bmp", bytes(size))
    return path


def test_a_zip_of_many_small_zero_members_is_refused_before_anything_is_written(tmp_path):
    path = zero_members_zip(tmp_path / "zeros.zip")
    workspace = tmp_path / "extracted"
    message = refused_cheaply(lambda: ingest.extract_upload(path, workspace), "would unpack to 188 MB from .* times its size")
    assert "limit is 250 times" in message and not any(workspace.rglob("*"))


def test_a_running_total_stops_extraction_at_the_cap(tmp_path):
    path = zero_members_zip(tmp_path / "z.zip", members=5, size=1000)
    with pytest.raises(StudioError, match="would unpack to 4.9 KB; the limit is 3.9 KB"):
        ingest.extract_zip(path, tmp_path / "out", IngestLimits(max_total_bytes=4000))


def keras_zip(path, config: bytes, weights: int = 0):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", config)
        archive.writestr("metadata.json", b"{}")
        if weights:
            archive.writestr("model.weights.h5", bytes(weights))
    return path


def test_a_keras_file_with_a_huge_config_is_refused_before_reading_it(tmp_path):
    path = keras_zip(tmp_path / "m.keras", b"{" + b" " * (40 * 2**20) + b"}")
    refused_cheaply(lambda: modelio.check_model_file(path), "config.json declares 40 MB; the limit is 16 MB")


def test_a_keras_file_unpacking_past_the_budget_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_MEMORY_BUDGET_MB", "10")
    path = keras_zip(tmp_path / "m.keras", b"{}", weights=30 * 2**20)
    refused_cheaply(lambda: modelio.check_model_file(path), "would unpack to 30 MB; the limit is 10 MB")


def test_a_file_offered_for_another_slot_is_refused_and_not_placed(tmp_path):
    with pytest.raises(StudioError, match="this file is mnist.npz, not cifar-10-python.tar.gz: nothing was placed"):
        downloads.place_file(mnist_npz(tmp_path / "u.npz").rename(tmp_path / "cifar-10-python.tar.gz"), slot="cifar10")
    assert nothing_placed() and not (data_dir() / downloads.PLACEMENT_LOG).exists()


def test_a_classroom_server_places_only_the_official_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    with pytest.raises(StudioError, match=r"not the official cifar-10-python.tar.gz \(its SHA-256 .* Keras pins, 6d958be07457"):
        downloads.place_file(cifar_tar(tmp_path / "c.tar.gz"), slot="cifar10", who="abc")
    assert nothing_placed()


def test_placing_is_recorded_with_who_when_and_the_hash(tmp_path):
    path = mnist_npz(tmp_path / "stick.npz")
    downloads.place_file(path, slot="mnist", who="0123abcd")
    (entry,) = [json.loads(line) for line in (data_dir() / downloads.PLACEMENT_LOG).read_text().splitlines()]
    assert entry["who"] == "0123abcd" and entry["slot"] == "mnist" and entry["official"] is False
    assert entry["sha256"] == filechecks.file_digest(path) and entry["when"].endswith("Z")


def test_a_learner_over_the_disk_limit_is_refused(monkeypatch):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    monkeypatch.setenv("CNN_STUDIO_LEARNER_DISK_MB", "1")
    folder = storage.classroom.upload_dir("learner-secret")
    folder.mkdir(parents=True)
    (folder / "old.zip").write_bytes(bytes(600_000))
    assert storage.upload_usage("learner-secret") == 600_000
    storage.check_upload("learner-secret", 400_000)
    with pytest.raises(
        StudioError, match=r"this upload \(586 KB\) would bring your uploads to 1.1 MB; the class limit is 1.0 MB"
    ):
        storage.check_upload("learner-secret", 600_000)


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
    from tests.conftest import folder_members, make_zip

    data = make_zip(tmp_path / "pets.zip", folder_members({"a": 6, "b": 6})).read_bytes()
    saved = ingest.save_upload(data, "pets.zip", data_dir() / "uploads")
    ds = load_dataset(DataConfig(f"zip:{saved}"))
    assert ds.report.root.startswith(str(saved.parent)) and not (data_dir() / "datasets").exists()
    aged(saved.parent, 30)
    assert storage.sweep() == [saved.parent] and not saved.parent.exists()


def test_cached_files_larger_than_their_dataset_are_refused_before_they_are_read(workspace):
    from tests.core.test_datasets import write_fashion_idx

    write_fashion_idx(workspace / "system" / "fashion-mnist", train=60_001)
    refused_cheaply(
        lambda: load_dataset(DataConfig("fashion-mnist")), "damaged .*unpacks to more than Fashion-MNIST's 60,000 bytes"
    )
    folder = keras_cache_dir() / downloads.CIFAR_DIR
    folder.mkdir(parents=True)
    for name in downloads.CIFAR_FILES:
        with open(folder / name, "wb") as f:
            f.truncate(40 * 2**20)  # sparse: 40 MB declared, nothing written
    refused_cheaply(lambda: load_dataset(DataConfig("cifar10")), "damaged .*data_batch_1 holds 41,943,040 bytes")
