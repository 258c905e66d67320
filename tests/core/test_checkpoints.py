"""Checkpoints with real Keras training: pause and resume, continue, retention, damage, a full disk, fine-tuning."""

import json
import resource
import signal
from dataclasses import replace

import numpy as np
import pytest

from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.inspection.evaluation import evaluate_model, load_run
from cnn_core.jobs.registry import JobRegistry, plan_resume
from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.training import checkpoints
from cnn_core.training.checkpoints import CheckpointInfo, retention
from cnn_core.training.fit import Start, new_record, run_config, run_training
from cnn_core.training.live import Control
from cnn_core.training.transfer import parent_of

pytestmark = pytest.mark.slow
ARCH = ArchChoice("lenet-dropout")  # dropout and augmentation: their random state must survive a pause too
CONFIG = TrainConfig(epochs=4, batch_size=16, seed=3, flip=True, rotation=10.0)


@pytest.fixture(scope="module")
def shapes():
    return load_dataset(DataConfig("shapes", limit=300, image_size=16))


def train(dataset, store, config=CONFIG, arch=ARCH, control=None, report=None, start=None, owner="cli"):
    run_dir = store.new_run(run_config(dataset, arch, config, owner, start.parent if start else None), arch.preset)
    return run_training(dataset, arch, config, run_dir, store, new_record(dataset, config), control, report, start)


def pause_after(epoch_number: int, control: Control):
    """A reporter that asks for a pause when an epoch ends: the pause lands one batch into the next epoch."""

    def report(epoch, row):
        if epoch + 1 == epoch_number:
            control.pause.set()

    return report


def resume(store, run_dir, more=0, dataset=None):
    plan = plan_resume(store, run_dir, "cli", more)
    plan.save_settings()
    return run_training(dataset or load_dataset(plan.data), plan.arch, plan.config, run_dir, store, start=plan.start)


def test_a_pause_that_lands_after_the_last_epoch_completes_the_run(shapes, tmp_path):
    """The pause arrives when the last epoch ends: nothing is left to resume, so the run is complete
    (a sweep's trial then counts as complete, not as stopped by hand)."""
    store, control = RunStore(tmp_path / "runs"), Control()
    config = TrainConfig(epochs=2, batch_size=32)
    done = train(
        shapes, store, config=config, arch=ArchChoice("tutorial-minimal"), control=control, report=pause_after(2, control)
    )
    assert control.pause.is_set()
    assert done.status == "completed" and done.message == "", (done.status, done.message)
    assert store.status(done.run_dir)["status"] == "completed" and done.test_accuracy is not None


def test_a_run_paused_inside_epoch_3_and_resumed_matches_an_uninterrupted_run(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    whole = train(shapes, store)
    control = Control()
    paused = train(shapes, store, control=control, report=pause_after(2, control))
    steps = -(-len(shapes.train) // CONFIG.batch_size)
    assert paused.status == "paused" and f"batch 1 of {steps} in epoch 3" in paused.message
    point = checkpoints.resume_point(paused.run_dir)
    assert (point.name, point.epoch, point.step, point.global_step) == ("resume", 2, 1, 2 * steps + 1)

    resumed = resume(store, paused.run_dir)
    assert resumed.status == "completed" and resumed.run_dir == paused.run_dir
    # Same batches in the same order, and every random state (dropout, flips, rotations) restored:
    # only the order of float additions inside TensorFlow could differ, so a 1e-5 tolerance is ample.
    for a, b in zip(whole.history, resumed.history, strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["epoch"], key)
    assert resumed.test_loss == pytest.approx(whole.test_loss, rel=1e-5)
    history = store.read_history(resumed.run_dir)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]  # every epoch exactly once
    assert len(store.read_batches(resumed.run_dir)) == 4 * steps
    last = checkpoints.list_checkpoints(resumed.run_dir)[-1]
    assert last.global_step == 4 * steps  # Adam's iteration counter went on from the pause, not from 0
    assert not (resumed.run_dir / "checkpoints" / "resume.json").exists()  # superseded by later epochs
    sessions = store.status(resumed.run_dir)["sessions"]
    assert [s["kind"] for s in sessions] == ["start", "resume"] and sessions[1]["from"] == "epoch 2 + 1 batches"


def test_optimizer_state_is_restored_exactly(shapes, tmp_path):
    import keras

    from cnn_core.training.build import build_run_model, make_optimizer

    store = RunStore(tmp_path / "runs")
    run_dir = train(shapes, store, replace(CONFIG, epochs=2)).run_dir
    info = checkpoints.list_checkpoints(run_dir)[-1]
    model = build_run_model(ARCH, shapes.input_shape, shapes.num_classes, CONFIG)
    steps = -(-len(shapes.train) // CONFIG.batch_size)
    model.compile(optimizer=make_optimizer(CONFIG, steps), loss="sparse_categorical_crossentropy")
    checkpoints.restore(model, run_dir, info)
    assert int(model.optimizer.iterations.numpy()) == 2 * steps
    moments = [v for v in model.optimizer.variables if "momentum" in v.path]
    assert moments and all(np.abs(keras.ops.convert_to_numpy(m)).sum() > 0 for m in moments)


def test_train_more_epochs_on_a_completed_run_extends_the_same_run(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    first = train(shapes, store, replace(CONFIG, epochs=2))
    with pytest.raises(StudioError, match="say how many more epochs"):
        plan_resume(store, first.run_dir, "cli")
    more = resume(store, first.run_dir, more=2, dataset=shapes)
    assert more.status == "completed" and [row["epoch"] for row in more.history] == [1, 2, 3, 4]
    config = json.loads((first.run_dir / "config.json").read_text())
    assert config["train"]["epochs"] == 4 and store.info(first.run_dir).epochs_done == 4


def test_retention_keeps_everything_small_and_first_last_best_and_k_spaced_when_big():
    infos = [CheckpointInfo(f"epoch-{e:04d}", e, val_loss=1.0 / e if e != 7 else 0.01, bytes=10) for e in range(1, 21)]
    assert retention(infos, keep=3, budget_bytes=200) == {i.name for i in infos}
    kept = retention(infos, keep=3, budget_bytes=60)
    assert {"epoch-0001", "epoch-0020", "epoch-0007"} <= kept and len(kept) == 6
    assert retention(infos, keep=3, budget_bytes=35) == {"epoch-0001", "epoch-0020", "epoch-0007"}


def test_a_run_keeps_checkpoints_within_its_budget(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    config = replace(CONFIG, epochs=6, checkpoint_keep=1, checkpoint_budget_mb=10)
    run_dir = train(shapes, store, replace(config, checkpoint_budget_mb=10)).run_dir
    assert len(checkpoints.list_checkpoints(run_dir)) == 6  # 6 × 1 MB fit in 10 MB: every epoch kept
    tight = train(shapes, store, replace(config, checkpoint_budget_mb=4)).run_dir  # room for 4 of them
    kept = [c.epoch for c in checkpoints.list_checkpoints(tight)]
    assert kept[0] == 1 and kept[-1] == 6 and len(kept) <= 4
    assert store.info(tight).checkpoint_bytes <= 4 * 2**20 + 2**20


def test_a_damaged_checkpoint_is_refused_by_name_and_the_run_is_untouched(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    control = Control()
    run_dir = train(shapes, store, control=control, report=pause_after(1, control)).run_dir
    (run_dir / "checkpoints" / "resume.npz").write_bytes(b"not a checkpoint")
    before = {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(StudioError, match=r"checkpoints/resume.npz cannot be read"):
        resume(store, run_dir, dataset=shapes)
    after = {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != "status.json"}
    assert all(before[name] == data for name, data in after.items())
    (run_dir / "checkpoints" / "resume.json").write_text("{broken")
    with pytest.raises(StudioError, match="resume.json or its .npz is missing or damaged"):
        plan_resume(store, run_dir, "cli")


def test_a_full_disk_keeps_the_previous_checkpoints_and_training_says_so(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us

    def fill_the_disk(epoch, row):  # after epoch 2 no file may grow past 200 kB: checkpoints (1 MB) and the model fail
        if epoch == 1:
            resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))

    try:
        result = train(shapes, store, replace(CONFIG, epochs=4), report=fill_the_disk)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    kept = [c.epoch for c in checkpoints.list_checkpoints(result.run_dir)]
    assert kept[0] == 1 and 3 not in kept and 4 not in kept  # the earlier checkpoints survived, whole
    assert not list((result.run_dir / "checkpoints").glob(".*.tmp"))
    assert any("after epoch 3 could not be written (File too large)" in w for w in result.warnings)
    assert result.status == "failed" and "free some disk space, then resume" in result.message
    again = resume(store, result.run_dir, dataset=shapes)  # with room again, it carries on from the last good epoch
    assert again.status == "completed" and [row["epoch"] for row in again.history] == [1, 2, 3, 4]


def test_fine_tuning_from_a_digit_model_learns_a_small_set_faster_than_from_scratch(tmp_path):
    store = RunStore(tmp_path / "runs")
    source = load_dataset(DataConfig("mnist-5k", limit=2000))
    parent = train(source, store, TrainConfig(epochs=3, batch_size=32), ArchChoice("keras-mnist"))
    target = load_dataset(DataConfig("digits", image_size=28, limit=300, seed=1))
    config = TrainConfig(epochs=1, batch_size=16, seed=2)
    scratch = train(target, store, config, ArchChoice("keras-mnist"))
    tuned = train(
        target, store, config, ArchChoice("keras-mnist"), start=Start(parent=parent_of(parent.run_dir, target.input_shape))
    )
    assert tuned.history[0]["val_accuracy"] > scratch.history[0]["val_accuracy"] + 0.1
    lineage = json.loads((tuned.run_dir / "config.json").read_text())["parent"]
    assert lineage["run_id"] == parent.run_dir.name and "conv2d" in lineage["copied"]
    with pytest.raises(StudioError, match=r"shape \(28, 28, 1\).*\(16, 16, 3\)"):
        parent_of(parent.run_dir, (16, 16, 3))


def test_freezing_keeps_the_parents_convolutions(tmp_path):
    store = RunStore(tmp_path / "runs")
    shapes8 = load_dataset(DataConfig("shapes", limit=150, image_size=16))
    parent = train(shapes8, store, TrainConfig(epochs=1, batch_size=16), ArchChoice("tutorial-minimal"))
    other = load_dataset(DataConfig("shapes", limit=150, image_size=16, seed=5))
    child = train(other, store, TrainConfig(epochs=2, batch_size=16), ArchChoice("tutorial-minimal"),
                  start=Start(parent=parent_of(parent.run_dir, other.input_shape, freeze=True)))  # fmt: skip
    before, _, _ = load_run(parent.run_dir)
    after, _, _ = load_run(child.run_dir)
    np.testing.assert_array_equal(before.get_layer("conv2d").kernel.numpy(), after.get_layer("conv2d").kernel.numpy())
    assert not np.allclose(before.get_layer("dense").kernel.numpy(), after.get_layer("dense").kernel.numpy())


def test_evaluating_an_earlier_epoch_gives_its_own_confusion_matrix(shapes, tmp_path):
    store = RunStore(tmp_path / "runs")
    run_dir = train(shapes, store, replace(CONFIG, epochs=3), ArchChoice("tutorial-minimal")).run_dir
    first, dataset, _ = load_run(run_dir, store, epoch=1)
    final, _, _ = load_run(run_dir, store)
    a, b = evaluate_model(first, dataset), evaluate_model(final, dataset)
    assert not np.array_equal(a.probabilities, b.probabilities)
    with pytest.raises(StudioError, match=r"no checkpoint for epoch 9 \(kept epochs: 1, 2, 3\)"):
        load_run(run_dir, store, epoch=9)


def test_the_app_registry_pauses_frees_the_slot_and_resumes_for_the_owner_only(shapes, tmp_path):
    import time

    registry, store = JobRegistry(1), RunStore(tmp_path / "runs")
    job = registry.submit(shapes, ARCH, replace(CONFIG, epochs=200), "alice", store)
    while job.snapshot().points < 3:
        time.sleep(0.05)
    with pytest.raises(StudioError, match="only that session can pause"):
        job.pause("bob")
    job.pause("alice")
    job.wait(120)
    assert job.status == "paused" and store.info(job.run_dir).resumable
    other = registry.submit(shapes, ArchChoice("tutorial-minimal"), replace(CONFIG, epochs=1), "bob", store)
    other.wait(120)
    assert other.status == "completed"  # the paused run freed its slot
    with pytest.raises(StudioError, match="belongs to another session"):
        registry.resume(job.run_id, "bob", shapes, store=store)
    again = registry.resume(job.run_id, "alice", shapes, store=store)
    assert again.run_id == job.run_id
    while again.active and again.snapshot().points < 100:
        time.sleep(0.05)
    again.stop("alice")
    again.wait(120)
    assert again.status == "stopped" and store.info(job.run_dir).has_model
