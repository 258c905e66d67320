"""The job registry's rules: a repeated Train press, cancelling a queued run, and the class limits
(on this machine, and a learner's turn on the Ray backend, which needs no cluster to check)."""

import time

import pytest

from cnn_core.access import classroom
from cnn_core.data.datasets import load_dataset
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JobRegistry, RemoteJob, TrainRequest
from cnn_core.runs.store import RunStore, owner_tag, read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from tests.conftest import wait_until

pytestmark = pytest.mark.slow
ARCH = ArchChoice("tutorial-minimal")
LONG = TrainConfig(epochs=500, batch_size=8)


@pytest.fixture(scope="module")
def tiny():
    return load_dataset(DataConfig("shapes", limit=200, image_size=16))


@pytest.fixture
def registry():
    made = JobRegistry(1)
    yield made
    for job in list(made.jobs.values()):  # leave no thread training into the next test
        job.control.stop.set()
    made.wake()
    for job in list(made.jobs.values()):
        job.thread.join(120)


@pytest.fixture
def classroom_mode(monkeypatch):
    monkeypatch.setenv(classroom.CLASSROOM_ENV, "1")
    monkeypatch.setenv(classroom.CLASS_CODE_ENV, "class-code-1")
    monkeypatch.setenv(classroom.TEACHER_CODE_ENV, "teacher-code-1")
    for var in classroom.Limits.ENV.values():
        monkeypatch.delenv(var, raising=False)
    for owner in ("alice", "bob"):
        classroom.join(owner, classroom.LEARNER, owner)
    classroom.join("teacher", classroom.TEACHER, "Ms T")
    return monkeypatch


def test_the_same_request_twice_returns_the_run_already_on_its_way(tiny, registry):
    store = RunStore()
    first = registry.submit(tiny, ARCH, LONG, "alice", store)
    again = registry.submit(tiny, ARCH, LONG, "alice", store)
    assert again is first and len(store.list_runs()) == 1
    with pytest.raises(StudioError, match=f"run {first.run_id} is still (queued|running): stop it or wait"):
        registry.submit(tiny, ARCH, TrainConfig(epochs=3, batch_size=8), "alice", store)
    assert registry.active_for("alice") == [first]


def test_a_queued_run_is_cancelled_at_once_by_its_owner_only(tiny, registry):
    store = RunStore()
    first = registry.submit(tiny, ARCH, LONG, "alice", store)
    wait_until(lambda: first.status == "running")
    queued = registry.submit(tiny, ARCH, LONG, "bob", store)
    assert queued.status == "queued" and registry.queue_position(queued) == 1
    with pytest.raises(StudioError, match="only that session can cancel"):
        queued.cancel("alice")
    queued.cancel("bob")
    assert queued.status == "stopped" and registry.queue_position(queued) == 0  # at once: its place is free
    info = store.info(queued.run_dir)
    assert (info.status, info.message) == ("stopped", "cancelled before it started")
    queued.thread.join(10)
    assert not queued.thread.is_alive() and not (queued.run_dir / "model.keras").exists()
    assert queued.request.dataset is None  # a cancelled job holds no images for the server's life
    with pytest.raises(StudioError, match="has started training: stop it instead"):
        first.cancel("alice")


def test_over_the_queue_limit_a_learner_is_told_the_limit(tiny, registry, classroom_mode):
    classroom_mode.setenv("CNN_STUDIO_LEARNER_QUEUED_RUNS", "2")
    store = RunStore()
    with registry.slot():  # every slot busy: none of alice's runs can train, so each one waits
        jobs = [registry.submit(tiny, ARCH, TrainConfig(epochs=500 + i, batch_size=8), "alice", store) for i in range(2)]
        assert [j.status for j in jobs] == ["queued", "queued"]
        with pytest.raises(StudioError, match=r"you already have 2 runs waiting, and the class allows at most 2 queued runs: "):
            registry.submit(tiny, ARCH, TrainConfig(epochs=9, batch_size=8), "alice", store)
        assert len(store.list_runs()) == 2  # the refused one made no folder
    wait_until(lambda: jobs[0].status == "running")  # her first trains: one waits, so one more may wait
    third = registry.submit(tiny, ARCH, TrainConfig(epochs=9, batch_size=8), "alice", store)
    assert [j.status for j in registry.active_for("alice")] == ["running", "queued", "queued"] and third.active
    with pytest.raises(StudioError, match=r"you already have 2 runs waiting, and the class allows at most 2 queued runs"):
        registry.submit(tiny, ARCH, TrainConfig(epochs=8, batch_size=8), "alice", store)
    teacher = registry.submit(tiny, ARCH, TrainConfig(epochs=9, batch_size=8), "teacher", store)
    extra = registry.submit(tiny, ARCH, TrainConfig(epochs=8, batch_size=8), "teacher", store)
    assert teacher.active and extra.active  # the teacher has no limits


def test_with_no_queued_runs_allowed_a_second_run_is_told_the_active_limit(tiny, registry, classroom_mode):
    classroom_mode.setenv("CNN_STUDIO_LEARNER_QUEUED_RUNS", "0")
    store = RunStore()
    with registry.slot(), pytest.raises(StudioError, match=r"every training slot is busy, and the class allows no queued runs"):
        registry.submit(tiny, ARCH, LONG, "alice", store)
    first = registry.submit(tiny, ARCH, LONG, "alice", store)  # a slot is free: it starts, nothing waits
    with pytest.raises(
        StudioError, match=r"you already have 1 run training, and the class allows at most 1 active run and no queued runs: "
    ):
        registry.submit(tiny, ARCH, TrainConfig(epochs=9, batch_size=8), "alice", store)
    assert [r.run_id for r in store.list_runs()] == [first.run_id]


def test_on_the_ray_backend_a_learners_second_run_waits_for_the_first_without_a_slot_here(tiny, classroom_mode):
    """A Ray job takes no slot of this machine (the only one is held throughout), but waits for its
    owner's turn: queued, visible in the queue, cancellable by its owner. No cluster is set, so a job
    whose turn has come fails at once with "no Ray cluster is set": that is how we see it went on."""
    registry, store = JobRegistry(1), RunStore()

    def remote(owner: str, epochs: int) -> RemoteJob:  # made as `JobRegistry.submit` makes one when a cluster is set
        job = RemoteJob(registry, TrainRequest(tiny, ARCH, TrainConfig(epochs=epochs, batch_size=8), owner), store)
        registry.jobs[job.run_id] = job
        return job

    with registry.slot():
        first = remote("alice", 5)
        deadline = time.monotonic() + 10
        assert registry.acquire(first, lambda: time.monotonic() > deadline)  # its turn, as its thread takes it, at once
        second, third = remote("alice", 6), remote("alice", 7)
        second.thread.start()
        third.thread.start()
        time.sleep(0.6)
        assert (second.status, third.status) == ("queued", "queued")
        assert [registry.queue_position(j) for j in (first, second, third)] == [1, 2, 3]  # first: waiting for the cluster
        with pytest.raises(StudioError, match="only that session can cancel"):
            second.cancel("bob")
        second.cancel("alice")
        second.thread.join(5)
        assert (second.status, second.record.message) == ("stopped", "cancelled before it started")
        registry.release(first)  # the first run ended: the next of hers goes on to the cluster
        third.thread.join(10)
        assert third.status == "failed" and "no Ray cluster is set" in third.record.message
        assert not registry.load("alice", local=False).waits

        classroom_mode.delenv(classroom.CLASSROOM_ENV)  # personal mode: Ray jobs start at once, as before
        mine = [remote("alice", 8), remote("alice", 9)]
        for job in mine:
            job.thread.start()
        for job in mine:
            job.thread.join(10)
        assert all(j.status == "failed" and "no Ray cluster is set" in j.record.message for j in mine)


def test_a_learner_trains_one_run_at_a_time_while_others_take_free_slots(tiny, classroom_mode):
    registry, store = JobRegistry(2), RunStore()
    try:
        a1 = registry.submit(tiny, ARCH, LONG, "alice", store)
        a2 = registry.submit(tiny, ARCH, TrainConfig(epochs=501, batch_size=8), "alice", store)
        bob = registry.submit(tiny, ARCH, LONG, "bob", store)
        wait_until(lambda: a1.status == "running" and bob.status == "running")
        time.sleep(0.6)
        assert a2.status == "queued"  # a slot is free, but alice already trains her one run
        a1.stop("alice")
        wait_until(lambda: a2.status == "running")
    finally:
        for job in registry.jobs.values():
            job.control.stop.set()
        for job in registry.jobs.values():
            job.thread.join(120)


def test_saved_runs_and_disk_limits_refuse_before_anything_is_made(tiny, registry, classroom_mode):
    store = RunStore()
    classroom_mode.setenv("CNN_STUDIO_LEARNER_SAVED_RUNS", "1")
    old = store.new_run({"owner": owner_tag("alice")}, "old")
    with pytest.raises(StudioError, match=r"you already have 1 saved runs \(the class limit is 1\)"):
        registry.submit(tiny, ARCH, LONG, "alice", store)
    classroom_mode.setenv("CNN_STUDIO_LEARNER_SAVED_RUNS", "5")
    classroom_mode.setenv("CNN_STUDIO_LEARNER_DISK_MB", "1")
    uploads = classroom.upload_dir("alice")
    uploads.mkdir(parents=True)
    (uploads / "big.zip").write_bytes(b"\0" * 2 * 2**20)
    with pytest.raises(StudioError, match=r"your runs and uploads take 2 MB \(the class limit is 1 MB\)"):
        registry.submit(tiny, ARCH, LONG, "alice", store)
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".")] == [old.name] and old.exists()


def test_a_run_past_the_time_limit_is_stopped_and_saved(tiny, registry, classroom_mode):
    classroom_mode.setenv("CNN_STUDIO_LEARNER_RUN_MINUTES", "0.05")  # three seconds
    store = RunStore()
    job = registry.submit(tiny, ARCH, LONG, "alice", store)
    job.thread.join(180)
    info = store.info(job.run_dir)
    assert info.status == "stopped" and "class limit of 0.05 minutes" in info.message
    assert info.has_model and info.test_accuracy is not None and info.epochs_done < 500
    assert "test_accuracy" in read_json(job.run_dir / "metrics.json")


def test_a_learners_fold_training_counts_as_their_run_training(tiny, classroom_mode, workspace):
    """A label-issue search's folds take turns like runs (inspection/folds.py): while one trains, the
    learner's next run waits, and with no queued runs allowed it is refused by the active limit."""
    registry = JobRegistry(2)
    fold = object()
    assert registry.acquire(fold, owner="alice")
    try:
        load = registry.load("alice")
        assert (load.training, load.waiting, load.waits) == (1, 0, True) and registry.load("bob").training == 0
        classroom_mode.setenv("CNN_STUDIO_LEARNER_QUEUED_RUNS", "0")
        with pytest.raises(StudioError, match="you already have 1 run training, and the class allows at most 1 active run"):
            registry.submit(tiny, ARCH, LONG, "alice", RunStore())
    finally:
        registry.release(fold)
    assert registry.load("alice").training == 0


def test_a_run_whose_thread_cannot_start_leaves_no_place_in_the_line(tiny, monkeypatch, workspace):
    import threading

    registry = JobRegistry(1)  # its own: the job's thread never started, so there is none to join

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(StudioError, match="the server could not start this run"):
        registry.submit(tiny, ARCH, LONG, "alice", RunStore())
    monkeypatch.undo()
    (job,) = registry.jobs.values()
    assert job.status == "failed" and not job.active and registry.load("alice").waits is False
    assert registry.acquire(object())  # the slot is free: nothing holds a place for the failed run
