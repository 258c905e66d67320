"""Export and import of runs and models, and every refusal."""

import json
import zipfile

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.runs.archive import export_zip, import_model, import_run_zip
from cnn_core.runs.store import RunStore, update_config
from cnn_core.settings.config import DataConfig
from tests.conftest import make_zip


@pytest.mark.slow
class TestRunsAndModels:
    @pytest.fixture(autouse=True)
    def _run(self, trained_runs, tmp_path):
        self.source = next(p for p in trained_runs.iterdir() if p.is_dir())
        self.store = RunStore(tmp_path / "runs")
        self.dataset = load_dataset(DataConfig("shapes", limit=150, image_size=16))

    def test_export_then_import_gives_an_equal_run_under_a_new_id(self, tmp_path):
        data = export_zip(self.source)
        path = tmp_path / "run.zip"
        path.write_bytes(data)
        names = zipfile.ZipFile(path).namelist()
        assert f"{self.source.name}/model.keras" in names and not any("/." in n for n in names)
        imported = import_run_zip(path, self.store)
        assert imported.name != self.source.name and imported.parent == self.store.root
        original, copy = RunStore(self.source.parent).info(self.source), self.store.info(imported)
        assert (copy.status, copy.test_accuracy, copy.epochs_done) == (
            original.status,
            original.test_accuracy,
            original.epochs_done,
        )
        assert [p.name for p in self.store.root.iterdir()] == [imported.name]  # no staging folder left

    def test_run_zip_refusals_leave_the_store_untouched(self, tmp_path):
        self.store.root.mkdir(parents=True)
        bad = [make_zip(tmp_path / "not-a-run.zip", {"a/b.txt": b"hello"}), tmp_path / "random.zip"]
        (tmp_path / "random.zip").write_bytes(b"\x00" * 100)
        lambda_run = tmp_path / "lambda.zip"
        with zipfile.ZipFile(lambda_run, "w") as zf:
            zf.writestr("r/config.json", "{}")
            zf.writestr("r/model.keras", lambda_model_bytes(tmp_path))
        for path in [*bad, lambda_run]:
            with pytest.raises(StudioError):
                import_run_zip(path, self.store)
        assert list(self.store.root.iterdir()) == []

    def test_run_zip_with_escaping_members_imports_only_the_run(self, tmp_path):
        data = zipfile.ZipFile(tmp_path / "r.zip", "w")
        for name in ("config.json", "status.json", "history.csv", "metrics.json", "model.keras"):
            data.write(self.source / name, f"run/{name}")
        data.writestr("../../escape.txt", "x")
        data.close()
        imported = import_run_zip(tmp_path / "r.zip", self.store)
        assert (imported / "model.keras").is_file() and not (tmp_path / "escape.txt").exists()
        assert not list(tmp_path.parent.glob("escape.txt"))

    def test_import_a_model_that_fits(self):
        run_dir = import_model(self.source / "model.keras", self.dataset, self.store, filename="mine.keras")
        info = self.store.info(run_dir)
        assert info.status == "completed" and info.has_model and 0 <= info.test_accuracy <= 1
        assert "imported from mine.keras" in info.message

    def test_model_refusals_name_the_reason(self, tmp_path):
        garbage = tmp_path / "garbage.keras"
        garbage.write_bytes(bytes(range(256)) * 4)
        text_h5 = tmp_path / "model.h5"
        text_h5.write_text("this is a text file")
        no_config = make_zip(tmp_path / "empty.keras", {"weights.h5": b"x"})
        lambda_file = tmp_path / "lambda.keras"
        lambda_file.write_bytes(lambda_model_bytes(tmp_path))
        expected = {
            garbage: "not a Keras model file",
            text_h5: "not an HDF5 model file",
            no_config: "no config.json",
            lambda_file: "Lambda layer",
        }
        for path, reason in expected.items():
            with pytest.raises(StudioError, match=reason):
                import_model(path, self.dataset, self.store)
        digits = load_dataset(DataConfig("digits"))
        with pytest.raises(StudioError, match=r"expects images of shape \(16, 16, 3\).*\(8, 8, 1\)"):
            import_model(self.source / "model.keras", digits, self.store)
        assert not self.store.root.exists() or list(self.store.root.iterdir()) == []

    def test_rename_note_and_delete(self):
        run = import_run_zip(self._zip(), self.store)
        update_config(run, name="best so far", note="dropout 0.3")
        info = self.store.info(run)
        assert (info.name, info.note) == ("best so far", "dropout 0.3")
        self.store.delete(run.name)
        assert self.store.list_runs() == []

    def test_a_training_run_cannot_be_deleted(self):
        run = self.store.new_run({}, "x")
        self.store.set_status(run, "running")
        with pytest.raises(StudioError, match="still training"):
            self.store.delete(run)

    def _zip(self):
        path = self.store.root.parent / "export.zip"
        path.write_bytes(export_zip(self.source))
        return path


def lambda_model_bytes(tmp_path) -> bytes:
    import keras

    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Lambda(lambda x: x * 2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    path = tmp_path / "with-lambda.keras"
    model.save(path)
    data = path.read_bytes()
    assert "Lambda" in json.dumps(json.loads(zipfile.ZipFile(path).read("config.json")))
    return data
