"""Label issues by confident learning: out-of-fold probabilities (folds, cache, Ray), cleanlab's
ranking, planted and flipped labels found, the CLI contract."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnn_core.data.datasets import Dataset, Split, get_spec
from cnn_core.errors import StudioError
from cnn_core.inspection import folds
from cnn_core.settings.config import DataConfig
from tests.cli import cli
from tests.conftest import png_bytes

CLASSES = ("bar", "pole", "ring")
PLANTED = {"pole/planted-bar.png": 0, "ring/planted-pole.png": 1, "bar/planted-ring.png": 2}  # file -> true class
FIELDS = {"index", "file", "given", "suggested", "score"}


def drawing(k: int, seed: int, size: int = 16) -> np.ndarray:
    """A horizontal bar (0), a vertical bar (1) or a ring (2) on noise, a pixel or two off centre."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 50, (size, size), dtype=np.uint8))
    draw, o = ImageDraw.Draw(image), int(rng.integers(-2, 3))
    if k == 0:
        draw.rectangle([2, 6 + o, 13, 9 + o], fill=240)
    elif k == 1:
        draw.rectangle([6 + o, 2, 9 + o, 13], fill=240)
    else:
        draw.ellipse([3 + o, 3 + o, 12 + o, 12 + o], outline=240, width=2)
    return np.asarray(image)


def planted_folder(root: Path, per_class: int = 40) -> Path:
    """`root/<class>/<i>.png`, plus one image of each class put in the wrong class's folder."""
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            (root / name / f"{i}.png").write_bytes(png_bytes(drawing(k, i)))
    for j, (file, true) in enumerate(PLANTED.items()):
        (root / file).write_bytes(png_bytes(drawing(true, 1000 + j)))
    return root


def all_training(root: Path, dataset_id: str | None = None) -> DataConfig:
    """Every image in the training split: the planted ones cannot land in validation or test."""
    return DataConfig(dataset_id or f"folder:{root}", validation_fraction=0.0, test_fraction=0.0)


def settings():
    from cnn_core.settings.config import ArchChoice, TrainConfig

    return ArchChoice("tutorial-minimal"), TrainConfig(epochs=10, batch_size=16, learning_rate=0.01)


# Quick: no TensorFlow.


def test_folds_are_stratified_seeded_and_cover_every_image():
    labels = np.repeat([0, 1, 2], [50, 31, 9])
    fold_of = folds.assign_folds(labels, 5, seed=3)
    assert set(fold_of.tolist()) == set(range(5))
    for k in range(3):  # each class spread evenly: fold sizes differ by at most one
        sizes = np.bincount(fold_of[labels == k], minlength=5)
        assert sizes.max() - sizes.min() <= 1
    assert np.array_equal(fold_of, folds.assign_folds(labels, 5, seed=3))
    assert not np.array_equal(fold_of, folds.assign_folds(labels, 5, seed=4))


@pytest.mark.parametrize("bad", [1, 0, -3, 21, 2.5, "5", True, None])
def test_a_bad_number_of_folds_is_a_clear_error(bad):
    with pytest.raises(StudioError, match="folds must be a number of folds from 2 to 20"):
        folds.check_folds(bad, 100)
    with pytest.raises(StudioError, match="need at least 6 training images"):
        folds.check_folds(6, 5)


def test_the_cli_refuses_bad_folds_before_anything_loads():
    for value in ("1", "21", "five"):
        done = cli("label-issues", "--dataset", "mnist-5k", "--folds", value)
        assert done.returncode == 2
        assert "--folds must be a number of folds from 2 to 20" in done.stderr and "Traceback" not in done.stderr


def test_the_cache_is_size_checked_and_a_damaged_file_is_not_trusted():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(3), 40).astype(np.float32)
    folds.write_cache("abc", probabilities)
    assert np.array_equal(folds.read_cache("abc", 40, 3), probabilities)
    assert folds.read_cache("abc", 41, 3) is None  # another shape: not these probabilities
    path = folds.cache_dir() / "abc.npz"
    path.write_bytes(path.read_bytes()[:100])  # cut short
    assert folds.read_cache("abc", 40, 3) is None
    path.write_bytes(b"\0" * (40 * 3 * 4 + 5000))  # too large for its shape: not even opened
    assert folds.read_cache("abc", 40, 3) is None
    assert folds.read_cache("missing", 40, 3) is None


def test_issues_are_the_doubted_labels_lowest_self_confidence_first():
    from cnn_core.inspection.label_issues import issues_from

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 30)
    probabilities = np.full((90, 3), 0.05, np.float32)
    probabilities[np.arange(90), labels] = 0.9
    probabilities += rng.uniform(0, 0.01, probabilities.shape).astype(np.float32)
    wrong = {7: (2, 0.02), 40: (0, 0.06), 75: (1, 0.04)}  # position -> (what the models believe, belief in the label)
    for i, (believed, given) in wrong.items():
        probabilities[i] = 0.01
        probabilities[i, labels[i]] = given
        probabilities[i, believed] = 1 - given - 0.01
    probabilities /= probabilities.sum(1, keepdims=True)
    keys = np.arange(90) + 1000
    empty = Split(np.zeros((0, 4, 4, 1), np.uint8), np.zeros(0, np.int64))
    dataset = Dataset(get_spec("digits"), DataConfig("digits"), ["a", "b", "c"],
                      Split(np.zeros((90, 4, 4, 1), np.uint8), labels, keys=keys), empty, empty)  # fmt: skip
    rows = issues_from(dataset, probabilities)
    assert [r["index"] for r in rows] == [1007, 1075, 1040]  # by self-confidence, lowest first
    assert [r["suggested"] for r in rows] == ["c", "b", "a"] and [r["given"] for r in rows] == ["a", "c", "b"]
    assert rows[0]["file"] is None and rows[0]["score"] == pytest.approx(probabilities[7, 0])
    assert [r["index"] for r in issues_from(dataset, probabilities, top=1)] == [1007]


def test_progress_says_epochs_in_this_process_and_only_folds_done_on_a_cluster():
    here = folds.FoldProgress(2, 5, 3, 10, 1)
    assert here.text == "fold 2 of 5, epoch 3 of 10 (1 fold(s) done)" and here.fraction == pytest.approx(0.26)
    on_ray = folds.FoldProgress(3, 5, None, 10, 2)  # a Ray task reports only its end
    assert on_ray.text == "2 of 5 folds done (they train side by side on the Ray cluster)" and on_ray.fraction == 0.4
    assert folds.FoldProgress(5, 5, None, 10, 5).text == "all 5 folds trained"


# Slow: real fold trainings.


@pytest.mark.slow
def test_planted_labels_rank_first_and_relabelling_them_removes_them(tmp_path):
    from cnn_core.data import versions
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.label_issues import find

    root = planted_folder(tmp_path / "drawings")
    dataset = load_dataset(all_training(root))
    arch, config = settings()
    heard = []
    rows = find(dataset, arch, config, folds=3, progress=heard.append)
    first = {r["file"]: r for r in rows[: len(PLANTED) + 1]}
    assert set(PLANTED) <= set(first), rows[:6]
    assert all(first[f]["suggested"] == CLASSES[k] and first[f]["given"] == f.split("/")[0] for f, k in PLANTED.items())
    assert heard[-1].done == 3 and {p.fold for p in heard} == {1, 2, 3} and max(p.epoch for p in heard) == 10

    fixes = [{"key": f, "action": "relabel", "to": CLASSES[k]} for f, k in PLANTED.items()]
    version = versions.derive(dataset.spec.id, fixes, dataset)
    corrected = load_dataset(all_training(root, version))
    moved = np.array(corrected.counts()["train"]) - np.array(dataset.counts()["train"])
    expected = np.zeros(3, int)
    for file, k in PLANTED.items():
        expected[CLASSES.index(file.split("/")[0])] -= 1
        expected[k] += 1
    assert moved.tolist() == expected.tolist() and corrected.edited["train"] == len(PLANTED)
    again = find(corrected, arch, config, folds=3)
    assert not {r["file"] for r in again} & set(PLANTED), again


@pytest.mark.slow
def test_the_cache_answers_the_second_time_and_a_damaged_one_is_recomputed(tmp_path, monkeypatch):
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.label_issues import find

    dataset = load_dataset(all_training(planted_folder(tmp_path / "drawings", per_class=12)))
    arch, config = settings()
    trained = []
    real = folds.train_fold
    monkeypatch.setattr(folds, "train_fold", lambda *a, **k: trained.append(1) or real(*a, **k))
    first = find(dataset, arch, config, folds=2, epochs=2)
    assert len(trained) == 2
    (cached,) = folds.cache_dir().glob("*.npz")
    assert find(dataset, arch, config, folds=2, epochs=2) == first and len(trained) == 2  # no training
    find(dataset, arch, config, folds=3, epochs=2)
    assert len(trained) == 5  # other folds: another cache entry
    cached.write_bytes(b"PK\x03\x04 damaged")
    assert find(dataset, arch, config, folds=2, epochs=2) == first and len(trained) == 7
    assert folds.read_cache(cached.stem, len(dataset.train), 3) is not None


@pytest.mark.slow
def test_cancelling_stops_the_fold_trainings(tmp_path):
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.label_issues import Cancelled, find

    dataset = load_dataset(all_training(planted_folder(tmp_path / "drawings", per_class=12)))
    arch, config = settings()
    heard = []
    with pytest.raises(Cancelled):
        find(dataset, arch, config, folds=4, progress=heard.append, cancelled=lambda: any(p.epoch >= 2 for p in heard))
    assert max(p.done for p in heard) == 0 and not list(folds.cache_dir().glob("*.npz"))


@pytest.mark.slow
def test_the_cli_lists_the_issues_of_a_dataset_or_a_run(tmp_path):
    from tests.conftest import train_tiny_run

    root = planted_folder(tmp_path / "drawings")
    done = cli("label-issues", "--dataset", f"folder:{root}", "--arch", "tutorial-minimal", "--folds", "3",
               "--epochs", "10", "--batch-size", "16", "--learning-rate", "0.01", "--validation-fraction", "0",
               "--test-fraction", "0", "--top", "4", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert 3 <= len(rows) <= 4 and all(set(r) == FIELDS for r in rows)
    assert set(PLANTED) <= {r["file"] for r in rows} and all(r["index"] is None for r in rows)
    assert "fold 3 of 3" in done.stderr
    run = train_tiny_run(tmp_path / "runs", "digits", epochs=1)
    done = cli("label-issues", run.name, "--runs-dir", tmp_path / "runs", "--folds", "2", "--top", "5", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) <= 5 and all(set(r) == FIELDS and isinstance(r["index"], int) and r["file"] is None for r in rows)
    assert "1 epoch(s)" in done.stderr  # the run's own settings
    done = cli("label-issues", run.name, "--dataset", "digits", "--runs-dir", tmp_path / "runs")
    assert done.returncode == 2 and "either a run (RUN) or --dataset" in done.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the cluster extra is not installed")
def test_the_folds_train_as_parallel_ray_tasks(tmp_path, on_cluster, monkeypatch):
    from cnn_core.data.datasets import load_dataset
    from cnn_core.inspection.label_issues import find

    def not_here(*args, **kwargs):
        raise AssertionError("the folds trained in the test process, not on the cluster")

    monkeypatch.setattr(folds, "_in_process", not_here)
    dataset = load_dataset(all_training(planted_folder(tmp_path / "drawings")))
    arch, config = settings()
    heard = []
    rows = find(dataset, arch, config, folds=3, progress=heard.append)
    assert set(PLANTED) <= {r["file"] for r in rows[: len(PLANTED) + 1]}, rows[:6]
    assert heard[-1].done == 3


def flipped_mnist(fraction: float = 0.03, seed: int = 27):
    """mnist-5k's version with `fraction` of its training labels moved to another class at random
    (seeded), and the flipped keys."""
    from cnn_core.data import versions
    from cnn_core.data.datasets import load_dataset

    base = load_dataset(DataConfig("mnist-5k"))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(base.train), round(fraction * len(base.train)), replace=False)
    edits = []
    for i in chosen:
        to = (int(base.train.labels[i]) + int(rng.integers(1, 10))) % 10
        edits.append({"key": int(base.train.keys[i]), "action": "relabel", "to": base.class_names[to]})
    version = versions.derive("mnist-5k", edits)
    return load_dataset(DataConfig(version)), {e["key"] for e in edits}


@pytest.mark.slow
def test_confident_learning_finds_more_flipped_labels_than_the_loss_ranking(tmp_path):
    """The run's own model trains until it fits its training data, flips included: it has
    memorised them, so their loss is low. Fold models never saw the image they judge."""
    from cnn_core.inspection.hardest import rank
    from cnn_core.inspection.label_issues import find
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.training.fit import run_config, run_training
    from cnn_core.training.saved import load_run_model

    noisy, flipped = flipped_mnist()
    assert len(flipped) == 112 and noisy.edited["train"] == 112
    arch = ArchChoice("keras-mnist")
    # bfloat16 (auto's choice for a full-size run): the folds and the run train in 25 s instead of 42 s here;
    # the figures below were the same in float32 (recall 84.8 % vs 33.0 %, fit 99.3 %) as in bfloat16 (83.0 % vs 36.6 %, 99.5 %)
    config = TrainConfig(epochs=20, batch_size=64, learning_rate=0.003, early_stopping=False, precision="bfloat16")
    rows = find(noisy, arch, config, folds=3, epochs=5)
    listed = len(rows)
    assert 0.5 * len(flipped) <= listed <= 3 * len(flipped)  # cleanlab's own estimate of the noise, roughly 3 %
    cl_recall = len({r["index"] for r in rows} & flipped) / len(flipped)

    store = RunStore(tmp_path / "runs")
    run_dir = store.new_run(run_config(noisy, arch, config), arch.preset)
    assert run_training(noisy, arch, config, run_dir, store).status == "completed"
    ranked = rank(load_run_model(run_dir, store)[0], noisy, ("train",))
    assert (ranked.predicted == ranked.labels).mean() >= 0.99  # it fits its training data: the flips are learnt
    hardest = {int(noisy.train.keys[int(ranked.index[i])]) for i in ranked.order()[:listed]}
    loss_recall = len(hardest & flipped) / len(flipped)
    print(f"lists of {listed}: confident learning recall {cl_recall:.1%}, loss ranking recall {loss_recall:.1%}")
    assert cl_recall >= 0.6
    assert cl_recall >= loss_recall + 0.15, (cl_recall, loss_recall)
