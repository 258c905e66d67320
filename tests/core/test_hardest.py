"""Hardest examples: the ranking is Keras' own per-image loss, sorted; mislabelled images surface."""

import json
import shutil

import numpy as np
import pytest

from cnn_core.errors import StudioError
from cnn_core.inspection.evaluation import load_run
from cnn_core.inspection.hardest import rank
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import DataConfig
from tests.cli import cli
from tests.conftest import make_class_folder, train_tiny_run

pytestmark = pytest.mark.slow


def test_the_ranking_is_sorting_by_keras_loss(trained_runs):
    import keras

    run = next(p for p in trained_runs.iterdir() if p.is_dir())
    model, dataset, _ = load_run(run, RunStore(trained_runs))
    ranked = rank(model, dataset, ("train", "test"))
    assert len(ranked.labels) == len(dataset.train) + len(dataset.test)
    keras_loss = np.asarray(keras.losses.sparse_categorical_crossentropy(ranked.labels, ranked.probabilities))
    np.testing.assert_allclose(ranked.loss, keras_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ranked.order(), np.argsort(-keras_loss, kind="stable"))
    first = ranked.entry(int(ranked.order()[0]))
    assert first["loss"] == pytest.approx(float(keras_loss.max()), rel=1e-5) and "file" not in first
    for name, positions in ranked.most_confident_correct(3).items():
        k = dataset.class_names.index(name)
        assert all(ranked.labels[i] == k == ranked.predicted[i] for i in positions)
    with pytest.raises(StudioError, match="unknown split"):
        rank(model, dataset, ("nope",))


def test_mislabelled_folder_images_rank_at_the_top_with_their_paths(tmp_path):
    root = make_class_folder(tmp_path / "bars", {"left": 40, "middle": 40, "right": 40}, size=16)
    moved = []
    for i in range(3):  # three 'left' images filed under 'right': wrong labels
        shutil.move(root / "left" / f"{i}.png", root / "right" / f"moved-{i}.png")
        moved.append(f"right/moved-{i}.png")
    run = train_tiny_run(
        tmp_path / "runs", f"folder:{root}", "tutorial-minimal", epochs=12, validation_fraction=0.0, test_fraction=0.1
    )
    out = cli("hardest", run, "--split", "train", "--top", "8", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    top = json.loads(out.stdout)
    assert len(top) == 8 and [r["loss"] for r in top] == sorted((r["loss"] for r in top), reverse=True)
    in_train = set(moved) & set(load_run(run)[1].train.files)  # a moved file may have landed in the test split
    assert len(in_train) >= 2 and in_train <= {r["file"] for r in top}, top


def test_folder_splits_keep_their_file_paths(tmp_path):
    from cnn_core.data.datasets import load_dataset

    root = make_class_folder(tmp_path / "f", {"a": 10, "b": 10})
    ds = load_dataset(DataConfig(f"folder:{root}", limit=16))
    files = [*ds.train.files, *ds.validation.files, *ds.test.files]
    assert len(files) == len(set(files)) == 16 and all(f.split("/")[0] in ("a", "b") for f in files)
    for split in ds.splits.values():
        for f, label in zip(split.files, split.labels):
            assert f.startswith(ds.class_names[label] + "/")
