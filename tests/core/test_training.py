"""Real Keras training on tiny data: stop, divergence, queueing, reproducibility, failures, CLI."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JobRegistry
from cnn_core.model.architectures import get_preset
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.training.fit import choose_strategy, new_record, run_config, run_training
from tests.cli import cli
from tests.conftest import ROOT, make_class_folder, wait_until

pytestmark = pytest.mark.slow
TINY = DataConfig("shapes", limit=200, image_size=16)
ARCH = ArchChoice("tutorial-minimal")


@pytest.fixture(scope="module")
def tiny():
    return load_dataset(TINY)


def train_sync(dataset, config, store, arch=ARCH):
    run_dir = store.new_run(run_config(dataset, arch, config), arch.preset)
    return run_training(dataset, arch, config, run_dir, store)


def test_completed_run_has_every_file_and_test_metrics(tiny, tmp_path):
    store = RunStore(tmp_path / "runs")
    result = train_sync(tiny, TrainConfig(epochs=2, batch_size=32), store)
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.json", "status.json", "history.csv", "metrics.json", "model.keras"} <= files
    info = store.info(result.run_dir)
    assert info.status == "completed" and info.epochs_done == 2 and 0 <= info.test_accuracy <= 1
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["architecture"]["params"] == (3 * (3 * 3 * 3) + 3) + (7 * 7 * 3) * 5 + 5  # conv, then dense on 7x7x3
    assert config["versions"]["keras"].startswith("3.")
    assert epoch_summaries(result.run_dir / "tensorboard" / "train") == {"epoch_loss": [0, 1], "epoch_accuracy": [0, 1]}


SCHEDULED = ["cosine", "one-cycle"]


@pytest.fixture(scope="module")
def scheduled(tiny, tmp_path_factory) -> dict[str, tuple]:
    """schedule -> (its run, what a fresh Python with plain Keras printed loading its model.keras): one
    process loads both models, so TensorFlow is imported once for the two."""
    store = RunStore(tmp_path_factory.mktemp("scheduled"))
    runs = {s: train_sync(tiny, TrainConfig(epochs=1, batch_size=32, schedule=s, warmup_epochs=0.5), store) for s in SCHEDULED}
    code = (
        "import sys, keras\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        m = keras.saving.load_model(path); print(m.count_params(), getattr(m, 'optimizer', None), flush=True)\n"
        "    except Exception as exc:\n"
        "        print('error:', repr(exc).replace(chr(10), ' '), flush=True)"
    )
    paths = [str(runs[s].run_dir / "model.keras") for s in SCHEDULED]
    out = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines() + [out.stderr[-1500:]] * len(SCHEDULED)  # Python's own error if it stopped
    return {s: (runs[s], out.returncode, lines[k]) for k, s in enumerate(SCHEDULED)}


@pytest.mark.parametrize("schedule", SCHEDULED)
def test_a_scheduled_run_saves_a_model_any_keras_loads(scheduled, schedule):
    """model.keras holds no optimizer, so no learning-rate schedule of CNN Studio's: a fresh Python
    with plain Keras (nothing of cnn_core imported) loads it."""
    result, returncode, printed = scheduled[schedule]
    assert RunStore(result.run_dir.parent).info(result.run_dir).status == "completed"
    assert returncode == 0, printed
    assert printed.split() == [str(json.loads((result.run_dir / "config.json").read_text())["architecture"]["params"]), "None"]


def epoch_summaries(folder) -> dict[str, list[int]]:
    """Tag → steps of the scalar summaries in a TensorBoard event folder."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    found = {}
    for path in folder.glob("events.out.tfevents.*"):
        for raw in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(raw.numpy())
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(event.step)
    return {tag: sorted(steps) for tag, steps in found.items() if tag.startswith("epoch_") and "learning_rate" not in tag}


def test_stop_keeps_what_was_learned_and_saves_a_stopped_run(tiny, tmp_path):
    registry, store = JobRegistry(1), RunStore(tmp_path / "runs")
    job = registry.submit(tiny, ARCH, TrainConfig(epochs=200, batch_size=8), "alice", store)
    wait_until(lambda: job.snapshot().points >= 3)
    job.stop("alice")
    job.thread.join(120)
    snap = job.record.snapshot()
    assert snap.status == "stopped" and snap.epoch < 199
    info = store.info(job.run_dir)
    assert info.status == "stopped" and info.has_model and info.test_accuracy is not None


def test_diverging_loss_stops_with_advice(tiny, tmp_path):
    store = RunStore(tmp_path / "runs")
    config = TrainConfig(epochs=3, batch_size=16, optimizer="adam", learning_rate=1.0)  # diverges for every seed tried
    result = train_sync(tiny, config, store, ArchChoice("lenet-dropout"))
    assert result.status == "failed" and "lower learning rate" in result.message and "0.1 instead of 1" in result.message
    info = store.info(result.run_dir)
    assert info.status == "failed" and not info.has_model


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 5000.0])
def test_divergence_callback_on_fake_logs(bad):
    from cnn_core.training.callbacks import StopOnDivergence

    class FakeModel:
        stop_training = False

    callback = StopOnDivergence(0.01)
    callback.set_model(FakeModel())
    callback.on_epoch_begin(1)
    for loss in (2.0, 1.5, 3.0):
        callback.on_train_batch_end(0, {"loss": loss})
    assert not callback.model.stop_training
    callback.on_train_batch_end(7, {"loss": bad})
    assert callback.model.stop_training and "epoch 2, batch 8" in callback.message and "0.001 instead of 0.01" in callback.message


def test_jobs_beyond_the_cap_wait_in_a_queue_and_one_job_per_owner(tiny, tmp_path):
    registry, store = JobRegistry(1), RunStore(tmp_path / "runs")
    first = registry.submit(tiny, ARCH, TrainConfig(epochs=1000, batch_size=8), "alice", store)  # stopped long before its end
    wait_until(lambda: first.status == "running")
    second = registry.submit(tiny, ARCH, TrainConfig(epochs=1), "bob", store)
    time.sleep(0.5)
    assert second.status == "queued" and registry.queue_position(second) == 1
    with pytest.raises(StudioError, match="still running"):
        registry.submit(tiny, ARCH, TrainConfig(epochs=1), "alice", store)
    third = registry.submit(tiny, ARCH, TrainConfig(epochs=1), "carol", store)
    third.stop("carol")  # stopped while queued: never trains
    first.stop("alice")
    for job in (first, second, third):
        job.thread.join(120)
    assert (first.status, second.status, third.status) == ("stopped", "completed", "stopped")
    assert store.info(third.run_dir).message == "cancelled before it started"
    assert len(store.list_runs()) == 3


def test_same_seed_same_history(tiny, tmp_path):
    store = RunStore(tmp_path / "runs")
    a = train_sync(tiny, TrainConfig(epochs=2, batch_size=32, seed=5, rotation=0.1, flip=True), store)
    b = train_sync(tiny, TrainConfig(epochs=2, batch_size=32, seed=5, rotation=0.1, flip=True), store)
    for row_a, row_b in zip(a.history, b.history):
        for key in ("loss", "accuracy", "val_loss"):
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-4, abs=1e-6)


def test_a_failure_inside_the_job_is_recorded_and_the_process_carries_on(tmp_path, monkeypatch):
    folder = make_class_folder(tmp_path / "imgs", {"a": 12, "b": 12})
    monkeypatch.setenv("CNN_STUDIO_MEMORY_BUDGET_MB", "0")  # stream from disk, so deleting the files breaks training
    dataset = load_dataset(DataConfig(f"folder:{folder}", seed=9))
    assert dataset.report.streamed
    registry, store = JobRegistry(1), RunStore(tmp_path / "runs")
    job = registry.submit(dataset, ARCH, TrainConfig(epochs=3, batch_size=4), "alice", store)
    shutil.rmtree(folder)  # while the model is being built: the first batch cannot be read
    job.thread.join(120)
    assert job.status == "failed" and store.info(job.run_dir).status == "failed"
    assert store.info(job.run_dir).message


def test_default_strategy_without_several_gpus():
    import tensorflow as tf

    assert choose_strategy() is tf.distribute.get_strategy()


def test_record_shape_matches_the_data(tiny):
    record = new_record(tiny, TrainConfig(batch_size=64))
    assert record.steps_per_epoch == -(-len(tiny.train) // 64)


def cli_process(*args, cwd=ROOT):
    """The CLI in a new Python process (tests/cli.py's `cli` runs it in this one)."""
    return subprocess.run([sys.executable, "-m", "cnn_core", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_cli_train_evaluate_predict_on_a_tiny_dataset(tmp_path):
    runs = tmp_path / "runs"
    out = cli_process(  # a real `python -m cnn_core`; the commands after it run in this process
        "train",
        "--dataset",
        "shapes",
        "--limit",
        "200",
        "--image-size",
        "16",
        "--arch",
        "tutorial-minimal",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--runs-dir",
        str(runs),
        "--json",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads(out.stdout)
    assert final["status"] == "completed" and 0 <= final["test_accuracy"] <= 1 and final["epochs"] == 2
    epoch_lines = [json.loads(line) for line in out.stderr.splitlines() if line.startswith('{"epoch"')]
    assert [e["epoch"] for e in epoch_lines] == [1, 2]
    evaluation = json.loads(cli("evaluate", final["run_dir"], "--json").stdout)
    assert evaluation["test_accuracy"] == pytest.approx(final["test_accuracy"], abs=1e-6)
    assert sum(map(sum, evaluation["confusion_matrix"])) == 30  # 15 % of 200
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (50, 40), "red").save(image)
    (prediction,) = json.loads(cli("predict", "--run", final["run_dir"], "--image", str(image), "--json").stdout)
    assert prediction["image"] == str(image) and prediction["predicted"] in ["circle", "square", "triangle", "cross", "star"]
    assert sum(t["probability"] for t in prediction["top"]) <= 1.0001
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    (folder / "red.png").write_bytes(image.read_bytes())
    for colour in ("blue", "green"):
        Image.new("RGB", (30, 30), colour).save(folder / "sub" / f"{colour}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"skipped")
    out = cli("predict", "--run", final["run_dir"], "--folder", str(folder), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    batch = {Path(e["image"]).name: e for e in json.loads(out.stdout)}
    assert set(batch) == {"red.png", "blue.png", "green.png", "notes.txt"}
    assert "error" in batch["notes.txt"] and all(0 <= batch[n]["confidence"] <= 1 for n in ("red.png", "blue.png", "green.png"))
    red = [t["probability"] for t in batch["red.png"]["top"]]
    assert red == pytest.approx([t["probability"] for t in prediction["top"]], abs=1e-5)  # alone or in a batch: the same
    given = [str(image), str(folder / "notes.txt"), str(folder / "red.png")]
    listed = json.loads(cli("predict", "--run", final["run_dir"], "--image", *given, "--json").stdout)
    assert [e["image"] for e in listed] == given and "error" in listed[1] and "predicted" in listed[2]


def test_cli_refuses_bad_settings_in_one_line(tmp_path):
    for args in (
        ["train", "--arch", "nope"],
        ["train", "--epochs", "0"],
        ["evaluate", "no-such-run", "--runs-dir", str(tmp_path)],
        ["predict", "--image", "x.png"],
    ):
        out = cli(*args)
        assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr, (args, out.stderr)


def test_cli_train_takes_a_presets_recommended_settings_and_flags_still_win(tmp_path):
    out = cli("train", "--dataset", "digits", "--limit", "300", "--arch", "fashion-cnn", "--epochs", "1",
              "--runs-dir", str(tmp_path), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    saved = json.loads((Path(json.loads(out.stdout)["run_dir"]) / "config.json").read_text())["train"]
    assert saved["epochs"] == 1  # given
    recommended = get_preset("fashion-cnn").recommended
    assert {k: saved[k] for k in recommended if k != "epochs"} == {k: v for k, v in recommended.items() if k != "epochs"}
    assert saved["batch_size"] != TrainConfig().batch_size  # not the plain default


@pytest.mark.slow
def test_cli_trains_fashion_cnn_on_a_subset_of_the_real_fashion_mnist(tmp_path, monkeypatch):
    """CI trains on Debian's Fashion-MNIST (`make test` installs dataset-fashion-mnist). In this
    process (tests/cli.py): test_cli_train_evaluate_predict_on_a_tiny_dataset runs a real one."""
    real = Path("/usr/share/datasets/fashion-mnist")
    if not real.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("dataset-fashion-mnist is not installed: `make test` installs it when root")
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    monkeypatch.setenv("CNN_STUDIO_SYSTEM_DATASETS", str(real.parent))  # the real files, only read
    info = cli("dataset-info", "fashion-mnist", "--limit", "3000", "--json")
    assert json.loads(info.stdout)["origin"].startswith("Debian package dataset-fashion-mnist")
    out = cli(  # 4 epochs: enough steps for batch norm's averages
        "train", "--dataset", "fashion-mnist", "--limit", "3000", "--arch", "fashion-cnn",
        "--epochs", "4", "--batch-size", "32", "--runs-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    final = json.loads(out.stdout)
    assert final["status"] == "completed" and final["test_accuracy"] > 0.7  # 10 classes: chance is 0.1
