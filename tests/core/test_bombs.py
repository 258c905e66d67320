"""Hostile files refused before their declared sizes are allocated or written: npz headers, tar
members, zips of many zero-filled members, .keras configs; data placed only in its own slot, and
recorded; uploads within their limits. Each refusal is a hostile case (tests/hostile_case.py): one
line, nothing written outside the app's folders, resident memory under a small budget plus a margin."""

from __future__ import annotations

import json
import math
import time
import tracemalloc

import pytest

from cnn_core.data import budget, downloads, filechecks, ingest, storage
from cnn_core.data.archives import IngestLimits
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.model import modelio
from cnn_core.paths import data_dir, keras_cache_dir
from cnn_core.settings.config import DataConfig
from tests.core.test_datasets import cifar_tar, mnist_npz
from tests.hostile import huge_member_tar, huge_mnist_npz, keras_zip, zero_members_zip
from tests.hostile_case import BUDGET_MB, hostile_case

SMALL_PEAK = 20 * 2**20  # what a refusal may allocate, whatever the file declares (traced by tracemalloc)


@pytest.fixture
def session_temp(tmp_path_factory):
    """The test session's temporary folder, where every test's workspace lives: watched by each case."""
    return tmp_path_factory.getbasetemp()


def refused_cheaply(call, match: str, session_temp, budget_mb: float = BUDGET_MB) -> str:
    """Run `call` as a hostile case: a one-line StudioError matching `match`, a small traced peak, and
    the checks of `hostile_case` (nothing written outside the app's folders, resident memory)."""
    with hostile_case(session_temp, budget_mb=budget_mb) as case:
        tracemalloc.start()
        try:
            with pytest.raises(StudioError, match=match) as refusal:
                call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        case.says(str(refusal.value))
    assert peak < SMALL_PEAK, f"the refusal allocated {peak:,} bytes"
    assert "\n" not in str(refusal.value)
    return str(refusal.value)


def budget_for(config: DataConfig) -> int:
    """The smallest memory budget (MB) under which `config` may load at all: its load is refused for
    its files, not for its size."""
    return math.ceil(budget.estimate(config).peak_bytes / 2**20) + 1


def nothing_placed():
    return not keras_cache_dir().exists() or not any(keras_cache_dir().rglob("*"))


def test_an_npz_declaring_300000_images_is_refused_from_its_headers(tmp_path, session_temp):
    path = huge_mnist_npz(tmp_path / "mnist.npz", 300_000)
    assert path.stat().st_size < 1_000_000  # 235 MB of pixels inside
    message = refused_cheaply(lambda: downloads.place_file(path), "declares 300,000 images; MNIST has 60,000", session_temp)
    assert "train split" in message and nothing_placed()


def test_an_npz_header_larger_than_its_member_is_refused(tmp_path, session_temp):
    path = huge_mnist_npz(tmp_path / "mnist.npz", 3_000_000, honest=False)
    refused_cheaply(lambda: downloads.place_file(path), r"x_train.npy declares \(3,000,000, 28, 28\) uint8", session_temp)
    assert nothing_placed()


def test_a_huge_npz_already_in_the_cache_is_refused_when_loaded(session_temp):
    keras_cache_dir().mkdir(parents=True)
    huge_mnist_npz(keras_cache_dir() / "mnist.npz", 300_000)
    config = DataConfig("mnist")  # MNIST's own size must fit the budget: 235 MB of declared pixels do not
    refused_cheaply(lambda: load_dataset(config), "is damaged .*declares 300,000 images", session_temp, budget_for(config))


def test_a_tar_member_declaring_a_gigabyte_is_refused_from_its_header(tmp_path, session_temp):
    path = huge_member_tar(tmp_path / "cifar-10-python.tar.gz")
    started = time.perf_counter()
    refused_cheaply(lambda: downloads.place_file(path), "data_batch_1 declares 1,073,741,824 bytes", session_temp)
    assert time.perf_counter() - started < 2 and nothing_placed()


def test_tar_members_count_towards_a_running_total(tmp_path, session_temp):
    path = cifar_tar(tmp_path / "c.tar.gz")
    refused_cheaply(
        lambda: filechecks.read_tar_members(path, set(), max_member=100_000, max_total=150_000),
        "data_batch_5 declares 30,918 bytes .154,590 so far, member 5.; .* at most 64 members of 100,000 bytes, 150,000 in all",
        session_temp,
    )


def test_a_zip_of_many_small_zero_members_is_refused_before_anything_is_written(tmp_path, session_temp):
    path = zero_members_zip(tmp_path / "zeros.zip")
    workspace = tmp_path / "extracted"
    message = refused_cheaply(
        lambda: ingest.extract_upload(path, workspace), "would unpack to 188 MB from .* times its size", session_temp
    )
    assert "limit is 250 times" in message and not any(workspace.rglob("*"))


def test_a_running_total_stops_extraction_at_the_cap(tmp_path, session_temp):
    path = zero_members_zip(tmp_path / "z.zip", members=5, size=1000)
    limits = IngestLimits(max_total_bytes=4000)
    refused_cheaply(
        lambda: ingest.extract_zip(path, tmp_path / "out", limits), "would unpack to 4.9 KB; the limit is 3.9 KB", session_temp
    )


def test_a_keras_file_with_a_huge_config_is_refused_before_reading_it(tmp_path, session_temp):
    path = keras_zip(tmp_path / "m.keras", config_spaces=40 * 2**20)
    # the budget admits the whole file (41 MB unpacked), so that the config's own cap is what refuses it
    refused_cheaply(lambda: modelio.check_model_file(path), "config.json declares 40 MB; the limit is 16 MB", session_temp, 41)


def test_a_keras_file_unpacking_past_the_budget_is_refused(tmp_path, session_temp):
    path = keras_zip(tmp_path / "m.keras", weights=30 * 2**20)
    refused_cheaply(lambda: modelio.check_model_file(path), "would unpack to 30 MB; the limit is 10 MB", session_temp, 10)


def test_a_file_offered_for_another_slot_is_refused_and_not_placed(tmp_path, session_temp):
    offered = mnist_npz(tmp_path / "u.npz").rename(tmp_path / "cifar-10-python.tar.gz")
    refused_cheaply(
        lambda: downloads.place_file(offered, slot="cifar10"),
        "this file is mnist.npz, not cifar-10-python.tar.gz: nothing was placed",
        session_temp,
    )
    assert nothing_placed() and not (data_dir() / downloads.PLACEMENT_LOG).exists()


def test_a_classroom_server_places_only_the_official_file(tmp_path, monkeypatch, session_temp):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    path = cifar_tar(tmp_path / "c.tar.gz")
    refused_cheaply(
        lambda: downloads.place_file(path, slot="cifar10", who="abc"),
        r"not the official cifar-10-python.tar.gz \(its SHA-256 .* Keras pins, 6d958be07457",
        session_temp,
    )
    assert nothing_placed()


def test_placing_is_recorded_with_who_when_and_the_hash(tmp_path):
    path = mnist_npz(tmp_path / "stick.npz")
    downloads.place_file(path, slot="mnist", who="0123abcd")
    (entry,) = [json.loads(line) for line in (data_dir() / downloads.PLACEMENT_LOG).read_text().splitlines()]
    assert entry["who"] == "0123abcd" and entry["slot"] == "mnist" and entry["official"] is False
    assert entry["sha256"] == filechecks.file_digest(path) and entry["when"].endswith("Z")


def test_a_learner_over_the_disk_limit_is_refused(monkeypatch, session_temp):
    monkeypatch.setenv("CNN_STUDIO_CLASSROOM", "1")
    monkeypatch.setenv("CNN_STUDIO_LEARNER_DISK_MB", "1")
    folder = storage.classroom.upload_dir("learner-secret")
    folder.mkdir(parents=True)
    (folder / "old.zip").write_bytes(bytes(600_000))
    assert storage.upload_usage("learner-secret") == 600_000
    storage.check_upload("learner-secret", 400_000)
    refused_cheaply(
        lambda: storage.check_upload("learner-secret", 600_000),
        r"this upload \(586 KB\) would bring your uploads to 1.1 MB; the class limit is 1.0 MB",
        session_temp,
    )


def test_cached_files_larger_than_their_dataset_are_refused_before_they_are_read(workspace, session_temp):
    from tests.core.test_datasets import write_fashion_idx

    write_fashion_idx(workspace / "system" / "fashion-mnist", train=60_001)
    fashion = DataConfig("fashion-mnist")
    refused_cheaply(
        lambda: load_dataset(fashion),
        "damaged .*unpacks to more than Fashion-MNIST's 60,000 bytes",
        session_temp,
        budget_for(fashion),
    )
    folder = keras_cache_dir() / downloads.CIFAR_DIR
    folder.mkdir(parents=True)
    for name in downloads.CIFAR_FILES:
        with open(folder / name, "wb") as f:
            f.truncate(40 * 2**20)  # sparse: 40 MB declared, nothing written
    cifar = DataConfig("cifar10")
    refused_cheaply(lambda: load_dataset(cifar), "damaged .*data_batch_1 holds 41,943,040 bytes", session_temp, budget_for(cifar))
