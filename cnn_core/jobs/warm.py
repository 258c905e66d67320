"""Warm workers: an actor whose job ended trains this server's next job, for a few seconds.

A new actor is a new worker process, and its first training step imports TensorFlow again: 5-8 s
of a CPU here, paid by every trial of a sweep and by every resume. So when a job ends cleanly its
actor is kept, idle, for `CNN_STUDIO_RAY_WARM_SECONDS` (10 by default; 0 turns this off), and the
next job of this server that asks for the same resources trains in it (as Ray Tune's
`reuse_actors` does for trials). An idle actor still holds its CPUs: a job that asks for other
resources ends this server's idle actors first, and another server's job waits at most that long.
An actor that failed, was cancelled or whose worker died is never kept.
"""

from __future__ import annotations

import logging
import os
import threading

from cnn_core.errors import StudioError
from cnn_core.jobs import cluster

WARM_ENV = "CNN_STUDIO_RAY_WARM_SECONDS"
log = logging.getLogger("cnn_studio.cluster")
_lock = threading.Lock()
_idle: list[tuple[tuple, object]] = []  # (cluster address and resources, actor), one entry per idle spell
_starting: set[int] = set()  # new actors of this process still waiting for a worker's CPUs (by id)


def warm_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(WARM_ENV, "10")))
    except ValueError:
        raise StudioError(f"{WARM_ENV} must be a number of seconds, such as 10 (0: a new worker for every job)") from None


def lease(job: dict) -> tuple[object, tuple]:
    """An actor for `job` and its key for `give_back`: an idle one of this server with the same
    resources when there is one (the job is handed to it), otherwise a new one
    (`cluster.start_actor`), after ending the idle rest. A bad warm setting fails the job here, before it trains."""
    warm_seconds()
    ray = cluster.connect()
    resources = cluster.job_resources()
    key = (cluster.address(), tuple(sorted(resources.items())))
    while True:
        with _lock:
            match = next((entry for entry in _idle if entry[0] == key), None)
            if match is None:
                others = _idle[:]
                _idle.clear()
            else:
                _idle[:] = [e for e in _idle if e is not match]
        if match is None:
            for _, actor in others:  # their CPUs go to the new actor
                _end(ray, actor)
            actor = cluster.start_actor(job, resources)
            with _lock:
                _starting.add(id(actor))
            return actor, key
        try:
            ray.get(match[1].begin.remote(job), timeout=30)
            return match[1], key
        except Exception:  # noqa: BLE001 - its worker died while idle: try the next one, or start one
            _end(ray, match[1])


def started(actor) -> None:
    """The actor has a worker: it no longer waits for CPUs."""
    with _lock:
        _starting.discard(id(actor))


def give_back(ray, actor, key: tuple, reusable: bool) -> None:
    """The job is over: the actor removes its folder, then waits for the next job, or ends (at once
    when another job of this server waits for CPUs: they go to it)."""
    started(actor)
    with _lock:
        reusable = reusable and not _starting
    try:
        ray.get(actor.close.remote(), timeout=10)
    except Exception:  # noqa: BLE001 - a dead actor has nothing left to remove
        reusable = False
    seconds = warm_seconds() if reusable else 0.0  # checked when the job was leased
    if not seconds:
        _end(ray, actor)
        return
    entry = (key, actor)
    with _lock:
        _idle.append(entry)
    timer = threading.Timer(seconds, _expire, (ray, entry))
    timer.daemon = True
    timer.start()


def _expire(ray, entry: tuple) -> None:
    """End the actor of `entry` if it is still idle since then (leased meanwhile, it has a new entry)."""
    with _lock:
        idle = any(e is entry for e in _idle)
        _idle[:] = [e for e in _idle if e is not entry]
    if idle:
        _end(ray, entry[1])


def drain() -> int:
    """End every idle actor of this process now (their CPUs go back to the cluster); how many."""
    with _lock:
        ended = [actor for _, actor in _idle]
        _idle.clear()
    if ended:
        import ray

        for actor in ended:
            _end(ray, actor)
    return len(ended)


def _end(ray, actor) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # noqa: BLE001 - already gone
        log.debug("ending an actor that was already gone")
