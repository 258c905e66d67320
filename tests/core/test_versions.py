"""Issue 27: dataset versions. Ids named by content, edits applied within the base's own splits,
hostile version files refused by name, and every place a dataset id goes takes a version id."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_core import paths
from cnn_core.data import versions
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.settings import share
from cnn_core.settings.config import DataConfig
from tests.cli import cli
from tests.conftest import make_class_folder

SYSTEM = Path("/usr/share/datasets")
PLANTED = {"cats": ["5.png", "6.png", "7.png"]}  # images of cats/ whose true class is dogs


@pytest.fixture
def pets(tmp_path):
    """A folder dataset of real PNGs: 20 cats and 20 dogs."""
    return make_class_folder(tmp_path / "pets", {"cats": 20, "dogs": 20})


def _config(dataset_id: str) -> DataConfig:
    return DataConfig(dataset_id, validation_fraction=0.2, test_fraction=0.2, seed=3)


def _by_key(split) -> dict:
    return dict(zip(split.keys.tolist(), split.labels.tolist()))


def test_ids_are_named_by_content_and_stable():
    edits = [{"key": 7, "action": "exclude"}, {"key": 3, "action": "relabel", "to": "8"}]
    first = versions.derive("mnist-5k", edits)
    again = versions.derive("mnist-5k", list(reversed(edits)))  # order does not matter
    assert first == again and first.startswith("mnist-5k@v-") and len(first.rpartition("@v-")[2]) == 8
    assert versions.split_id(first) == ("mnist-5k", first[-8:])
    assert versions.split_id("folder:/data/pets") == ("folder:/data/pets", None)
    assert versions.digest("mnist-5k", edits) == first[-8:]  # sha256 of the canonical JSON, not a random name
    assert versions.derive("digits", edits) != first  # the base is part of the name
    assert (paths.data_dir() / "versions" / f"{first[-8:]}.json").is_file()


def test_derive_replaces_a_key_and_undo_returns_to_the_base():
    one = versions.derive("mnist-5k", [{"key": 3, "action": "relabel", "to": "8"}])
    two = versions.derive(one, [{"key": 3, "action": "exclude"}, {"key": 4, "action": "keep"}])
    assert versions.edits_of(two) == [{"key": 3, "action": "exclude"}, {"key": 4, "action": "keep"}]
    back = versions.undo(two, 4)
    assert versions.edits_of(back) == [{"key": 3, "action": "exclude"}]
    assert versions.undo(back, 3) == "mnist-5k"
    with pytest.raises(StudioError, match="no edit of 99"):
        versions.undo(two, 99)
    listed = [v["id"] for v in versions.versions_of("mnist-5k")]
    assert set(listed) == {one, two, back}
    assert versions.versions_of("digits") == []


@pytest.mark.parametrize(
    "dataset_id",
    ["mnist-5k@v-../../x", "mnist-5k@v-0a1b2c3", "mnist-5k@v-0A1B2C3D", "mnist-5k@v-0a1b2c3d@v-0a1b2c3d", "@v-0a1b2c3d"],
)
def test_malformed_version_ids_are_refused_everywhere(dataset_id):
    with pytest.raises(StudioError, match="not a dataset version"):
        versions.edits_of(dataset_id)
    with pytest.raises(StudioError, match="dataset"):
        DataConfig(dataset_id).check()
    assert share.from_query({"data": dataset_id}).data.dataset_id == "mnist-5k"  # ignored, with a notice
    assert not (paths.data_dir().parent / "x").exists()


def _defaults():
    from cnn_core.settings.config import ArchChoice, TrainConfig

    return ArchChoice(), TrainConfig()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "damaged"),
        (b"\xff\xfe\x00", "damaged"),
        (json.dumps({"base": "mnist-5k", "edits": "all"}).encode(), "damaged"),
        (json.dumps({"base": "mnist-5k", "edits": [{"key": -1, "action": "exclude"}]}).encode(), "names no image"),
        (json.dumps({"base": "mnist-5k", "edits": [{"key": "../../etc/passwd", "action": "exclude"}]}).encode(), "damaged"),
        (json.dumps({"base": "mnist-5k", "edits": [{"key": 1, "action": "rm -rf"}]}).encode(), "damaged"),
        (json.dumps({"base": "mnist-5k", "edits": [{"key": 1, "action": "exclude"}]}).encode(), "do not match its name"),
        (b"[" + b" " * (3 * 2**20) + b"]", "limit"),
    ],
)
def test_a_hostile_version_file_is_refused_with_its_name(content, words):
    hexdigest = "0a1b2c3d"
    path = paths.data_dir() / "versions" / f"{hexdigest}.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(StudioError, match=words) as caught:
        load_dataset(DataConfig(f"mnist-5k@v-{hexdigest}"))
    assert str(path) in str(caught.value) or "0a1b2c3d" in str(caught.value)
    assert versions.versions_of("mnist-5k") == []  # listing leaves damaged files out


def test_a_missing_version_and_another_datasets_version_are_refused():
    with pytest.raises(StudioError, match="no dataset version 0a1b2c3d"):
        load_dataset(DataConfig("mnist-5k@v-0a1b2c3d"))
    other = versions.derive("digits", [{"key": 1, "action": "exclude"}])
    with pytest.raises(StudioError, match="a version of digits, not of mnist-5k"):
        versions.edits_of("mnist-5k@v-" + other[-8:])


def test_too_many_edits_are_refused_before_writing():
    edits = [{"key": i, "action": "keep"} for i in range(versions.MAX_EDITS + 1)]
    with pytest.raises(StudioError, match="at most 50,000 edits"):
        versions.derive("mnist-5k", edits)
    assert not (paths.data_dir() / "versions").exists() or not any((paths.data_dir() / "versions").iterdir())


def test_planted_relabel_moves_class_counts_by_exactly_those_images(pets):
    base_id = f"folder:{pets}"
    base = load_dataset(_config(base_id))
    assert set(base.train.keys.tolist()) | set(base.validation.keys.tolist()) | set(base.test.keys.tolist()) == {
        f"{c}/{i}.png" for c in ("cats", "dogs") for i in range(20)
    }
    marks = [{"key": f"cats/{name}", "action": "relabel", "to": "dogs"} for name in PLANTED["cats"]]
    version_id = versions.derive(base_id, marks, base)
    version = load_dataset(_config(version_id))
    assert version.spec.id == version_id and version.config.dataset_id == version_id
    moved = {split: 0 for split in base.splits}
    for split in base.splits:
        before, after = _by_key(base.splits[split]), _by_key(version.splits[split])
        assert before.keys() == after.keys()  # the same images in every split: only labels changed
        changed = {k for k in before if before[k] != after[k]}
        assert changed <= {m["key"] for m in marks}
        assert all(after[k] == 1 for k in changed)
        moved[split] = len(changed)
        b, a = base.counts()[split], version.counts()[split]
        assert a == [b[0] - len(changed), b[1] + len(changed)]
    assert sum(moved.values()) == len(marks)
    assert version.edited == moved
    assert version.record()["version"] == {"id": version_id, "edits": 3, "edited": moved}
    assert versions.counts_with(version, []) == base.counts()


def test_undoing_every_edit_gives_back_the_original_counts(pets):
    base_id = f"folder:{pets}"
    base = load_dataset(_config(base_id))
    version_id = versions.derive(
        base_id,
        [
            {"key": "cats/1.png", "action": "relabel", "to": "dogs"},
            {"key": "dogs/2.png", "action": "exclude"},
            {"key": "dogs/3.png", "action": "keep"},
        ],
        base,
    )
    assert load_dataset(_config(version_id)).counts() != base.counts()
    for edit in versions.edits_of(version_id):
        version_id = versions.undo(version_id, edit["key"])
    assert version_id == base_id
    assert load_dataset(_config(version_id)).counts() == base.counts()


def test_a_zip_of_class_folders_has_versions_by_file_too(pets, tmp_path):
    import zipfile

    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for png in sorted(pets.rglob("*.png")):
            zf.write(png, f"pets/{png.relative_to(pets).as_posix()}")
    base_id = f"zip:{archive}"
    base = load_dataset(_config(base_id))
    key = next(k for k in base.train.keys.tolist() if k.startswith("cats/"))
    version_id = versions.derive(base_id, [{"key": key, "action": "relabel", "to": "dogs"}], base)
    assert version_id.startswith(f"{base_id}@v-")
    version = load_dataset(_config(version_id))
    assert _by_key(version.train)[key] == 1 and _by_key(base.train)[key] == 0
    assert version.counts()["train"] == [base.counts()["train"][0] - 1, base.counts()["train"][1] + 1]
    assert version.counts()["test"] == base.counts()["test"]
    assert archive.is_file() and zipfile.ZipFile(archive).namelist()  # the original is never changed


def test_exclude_drops_and_the_test_split_stays_the_same_images(pets):
    base_id = f"folder:{pets}"
    base = load_dataset(_config(base_id))
    test_keys = base.test.keys.tolist()
    dropped, relabelled = test_keys[0], test_keys[1]
    version_id = versions.derive(
        base_id,
        [{"key": dropped, "action": "exclude"}, {"key": relabelled, "action": "relabel", "to": "cats"}],
        base,
    )
    version = load_dataset(_config(version_id))
    assert version.test.keys.tolist() == test_keys[1:]
    assert len(version.test) == len(base.test) - 1
    same = np.isin(base.test.keys, version.test.keys)
    assert np.array_equal(np.asarray(base.test.images[same]), np.asarray(version.test.images))
    assert version.edited["test"] == (2 if base.test.labels[1] != 0 else 1)


def test_relabel_to_an_unknown_class_or_an_unknown_key_is_refused(pets):
    base_id = f"folder:{pets}"
    base = load_dataset(_config(base_id))
    with pytest.raises(StudioError, match="the classes are cats, dogs"):
        versions.derive(base_id, [{"key": "cats/1.png", "action": "relabel", "to": "birds"}], base)
    with pytest.raises(StudioError, match="not an image of"):
        versions.derive(base_id, [{"key": "cats/99.png", "action": "exclude"}], base)
    with pytest.raises(StudioError, match="names no image"):
        versions.derive(base_id, [{"key": "/etc/passwd", "action": "exclude"}])


def test_a_version_of_mnist_5k_by_index_through_the_cli():
    base = load_dataset(DataConfig("mnist-5k", limit=1000))
    index, label = int(base.train.keys[0]), int(base.train.labels[0])
    to = str((label + 1) % 10)
    done = cli("edit-dataset", "mnist-5k", "--relabel", f"{index}={to}", "--exclude", int(base.test.keys[0]),
               "--limit", 1000, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["dataset_id"].startswith("mnist-5k@v-") and len(payload["edits"]) == 2
    version = load_dataset(DataConfig(payload["dataset_id"], limit=1000))
    assert _by_key(version.train)[index] == int(to)
    assert version.edited == {"train": 1, "validation": 0, "test": 1}
    assert len(version.test) == len(base.test) - 1
    assert np.array_equal(version.validation.keys, base.validation.keys)
    info = cli("dataset-info", payload["dataset_id"], "--limit", 1000)
    assert info.returncode == 0 and "2 edit(s)" in info.stdout and "→" in info.stdout, info.stdout
    refused = cli("edit-dataset", "mnist-5k", "--relabel", "cats/1.png=3")
    assert refused.returncode == 2 and "by index" in refused.stderr


@pytest.mark.parametrize("dataset_id", ["digits", "shapes", "fashion-mnist"])
def test_registry_datasets_name_images_by_source_index(dataset_id, monkeypatch):
    """Indexes count the loader's images, then its official test split: the same whatever the limit."""
    if dataset_id == "fashion-mnist":
        if not (SYSTEM / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file():
            pytest.skip("Debian's dataset-fashion-mnist is not installed")
        monkeypatch.setenv("CNN_STUDIO_SYSTEM_DATASETS", str(SYSTEM))  # the real files, only read
    config = DataConfig(dataset_id, limit=400, seed=5)
    base = load_dataset(config)
    keys = np.concatenate([s.keys for s in base.splits.values()])
    assert len(set(keys.tolist())) == len(keys) and keys.dtype.kind == "i"
    if dataset_id == "fashion-mnist":
        assert base.test.keys.tolist() == list(range(60_000, 60_000 + len(base.test)))
    picked = [int(base.train.keys[0]), int(base.test.keys[0])]
    version_id = versions.derive(dataset_id, [{"key": k, "action": "exclude"} for k in picked], base)
    version = load_dataset(DataConfig(version_id, limit=400, seed=5))
    assert picked[0] not in version.train.keys and picked[1] not in version.test.keys
    assert version.edited == {"train": 1, "validation": 0, "test": 1}
    assert np.array_equal(version.validation.images, base.validation.images)


def test_a_version_id_is_valid_wherever_a_dataset_id_is(pets, monkeypatch):
    from cnn_core.access import classroom
    from cnn_core.data import budget

    version_id = versions.derive("mnist-5k", [{"key": 1, "action": "exclude"}])
    DataConfig(version_id).check()
    assert budget.estimate(DataConfig(version_id)) == budget.estimate(DataConfig("mnist-5k"))
    setup = share.from_query(share.to_query(DataConfig(version_id), *_defaults()))
    assert setup.data.dataset_id == version_id and not setup.notices
    (paths.data_dir() / "versions" / f"{version_id[-8:]}.json").unlink()
    gone = share.from_query({"data": version_id})
    assert gone.data.dataset_id == "mnist-5k" and "no dataset version" in gone.notices[0]
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.DATA_ROOTS_ENV, str(pets.parent))
    folder_version = versions.derive(f"folder:{pets}", [{"key": "cats/1.png", "action": "exclude"}])
    classroom.check_dataset_id(folder_version, "someone")  # allowed: its base is under the roots
    with pytest.raises(StudioError, match="not among your uploads"):
        classroom.check_dataset_id("folder:/etc@v-0a1b2c3d", "someone")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "mnist-5k"])
def test_the_exported_script_of_a_run_on_a_version_applies_the_same_edits(kind, pets, tmp_path):
    """The script loads the base, splits it as the app does, then applies the embedded EDITS: every
    split has the app's class counts (its prepare_data is run, no training)."""
    import subprocess

    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, TrainConfig
    from cnn_core.takehome import export
    from cnn_core.training import fit

    base_id = f"folder:{pets}" if kind == "folder" else "mnist-5k"
    config = _config(base_id) if kind == "folder" else DataConfig("mnist-5k", limit=600, seed=2)
    base = load_dataset(config)
    train, test = base.train.keys.tolist(), base.test.keys.tolist()
    marks = [{"key": k, "action": "relabel", "to": base.class_names[0]} for k in train[:4]]
    marks += [{"key": test[0], "action": "exclude"}, {"key": test[1], "action": "keep"}]
    version_id = versions.derive(base_id, marks, base)
    version = load_dataset(DataConfig(**{**config.to_dict(), "dataset_id": version_id}))
    arch = ArchChoice("tutorial-minimal")
    run_dir = RunStore().new_run(fit.run_config(version, arch, TrainConfig(epochs=1)), "versioned")
    script = tmp_path / "train.py"
    script.write_text(export.script(run_dir), encoding="utf-8")
    probe = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('train', sys.argv[1]); m = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(m)\n"
        "*splits, names = m.prepare_data()\n"
        "print(json.dumps([m.np.bincount(y, minlength=len(names)).tolist() for _, y in splits]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == list(version.counts().values())
    assert list(version.counts().values()) != list(base.counts().values())
