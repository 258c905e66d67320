"""Classroom simulation: 30 learners join with the class code and each train one tiny run, limits on.

In process, on this machine's backend: the learners share one job registry, as the browser
sessions of one classroom server do, and the class limits apply (one run training per learner,
two waiting). Reported: every run completed and saved with its owner, the runs any learner can
see that are not theirs (there must be none), the queue wait, and the process's peak memory.
First, while the training slots are held, learner 1 queues two runs (the class's queue limit:
with every slot busy, none of theirs trains), is refused a third with the limit named, and cancels
the two: the queue gives their places back at once.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from contextlib import ExitStack

from bench.cluster import _simulate
from bench.common import save, table

LEARNERS = 30


def _rss_mb(field: str) -> float:
    """A memory figure of this process from /proc (VmRSS now, VmHWM its peak), in MB."""
    try:
        for line in open("/proc/self/status", encoding="utf-8"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _join_class(classroom) -> tuple[list[str], str]:
    """30 learners and a teacher join with their codes, as the join page does; their owner ids."""
    class_code, teacher_code = classroom.ensure_codes()
    learners = [secrets.token_hex(16) for _ in range(LEARNERS)]
    for i, owner in enumerate(learners):
        classroom.join(owner, classroom.role_for_code(class_code), f"learner {i + 1}")
    teacher = secrets.token_hex(16)
    classroom.join(teacher, classroom.role_for_code(teacher_code), "teacher")
    return learners, teacher


def _over_the_limit(registry, dataset, arch, owner) -> dict:
    """With every slot held, one learner queues to the limit, is refused once more, then cancels them all."""
    from cnn_core.access import quotas
    from cnn_core.errors import StudioError
    from cnn_core.settings.config import TrainConfig

    queued = quotas.limited(owner).queued_runs
    with ExitStack() as held:
        for _ in range(registry.max_running):
            held.enter_context(registry.slot())
        extra = [
            registry.submit(dataset, arch, TrainConfig(epochs=1, batch_size=32, seed=s), owner) for s in range(1, queued + 1)
        ]
        try:
            registry.submit(dataset, arch, TrainConfig(epochs=1, batch_size=32, seed=queued + 1), owner)
            refusal = "not refused"
        except StudioError as exc:
            refusal = str(exc)
        began = time.perf_counter()
        for job in extra:
            job.cancel(owner)
        cancelled = all(j.status == "stopped" and not j.active for j in extra)
    return {
        "refusal": refusal,
        "queued": queued,
        "cancelled": cancelled,
        "cancel_ms": round(1000 * (time.perf_counter() - began), 1),
    }


def _visibility(learners: list[str], teacher: str) -> dict:
    """Runs each learner sees that are not theirs, over every pair; and what the teacher sees."""
    from cnn_core.runs.store import RunStore, owner_tag

    runs = RunStore().list_runs()
    cross = own = 0
    for owner in learners:
        for run in runs:
            if run.visible_to(owner):
                own += run.owner == owner_tag(owner)
                cross += run.owner != owner_tag(owner)
    return {"cross_visible": cross, "own_visible": own, "teacher_sees": sum(r.visible_to(teacher) for r in runs)}


def run() -> dict:
    from cnn_core.access import classroom
    from cnn_core.data.datasets import load_dataset
    from cnn_core.jobs.registry import JobRegistry
    from cnn_core.settings.config import ArchChoice, DataConfig
    from cnn_core.training.build import prepare_tensorflow

    prepare_tensorflow()
    dataset = load_dataset(DataConfig(dataset_id="mnist-5k", limit=600))
    with tempfile.TemporaryDirectory(prefix="bench-classroom-") as work:
        os.environ.update({
            "CNN_STUDIO_RUNS_DIR": f"{work}/runs", "CNN_STUDIO_DATA_DIR": f"{work}/data", classroom.CLASSROOM_ENV: "1",
            classroom.CLASS_CODE_ENV: "", classroom.TEACHER_CODE_ENV: "",
        })  # fmt: skip
        learners, teacher = _join_class(classroom)
        registry, rss_before = JobRegistry(), _rss_mb("VmRSS")
        limits = classroom.limits()
        over = _over_the_limit(registry, dataset, ArchChoice("keras-mnist"), learners[0])
        figures = {**_simulate(registry, dataset, learners), "over_the_limit": over}
        figures |= _visibility(learners, teacher)
        figures |= {
            "learners": LEARNERS, "max_running": registry.max_running, "rss_before_mb": round(rss_before),
            "rss_peak_mb": round(_rss_mb("VmHWM")), "limits": {k: getattr(limits, k) for k in limits.ENV},
        }  # fmt: skip
    _report(figures)
    save("classroom", figures)
    return figures


def _report(f: dict) -> None:
    limit = f["over_the_limit"]
    rows = [
        ("completed, saved", f"{f['completed']}/{LEARNERS} completed, {f['saved']}/{LEARNERS} saved with model and metrics"),
        ("saved to their owners", f"{f['owners_right']}/{LEARNERS}"),
        ("cross-visible runs", f"{f['cross_visible']} (every learner against every run; own runs seen: {f['own_visible']})"),
        ("the teacher sees", f"{f['teacher_sees']} runs"),
        ("queue wait", f"median {f['wait_median_s']} s, longest {f['wait_max_s']} s ({f['max_running']} run(s) train at once)"),
        ("all 30 runs", f"{f['total_s']} s in all; training {f['training_median_s']} s a run"),
        ("over the queue limit", f"refused: {limit['refusal']}"),
        (f"cancel {limit['queued']} queued runs", f"{'done' if limit['cancelled'] else 'NOT done'} in {limit['cancel_ms']} ms"),
        ("server memory (RSS)", f"{f['rss_before_mb']} MB with TensorFlow loaded; peak {f['rss_peak_mb']} MB"),
    ]  # fmt: skip
    table(
        f"Classroom: {LEARNERS} learners join with the class code and each train one run (keras-mnist, 1 epoch, 420 images)", rows
    )
