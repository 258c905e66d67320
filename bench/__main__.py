"""`python -m bench [name ...]`: run the named benchmarks (default: all) and print their tables."""

import sys

from bench import (
    checkpoints,
    classroom,
    cluster,
    fashion,
    hostile,
    inference,
    labels,
    live,
    memory,
    speed,
    startup,
    sweeps,
    training,
    why,
)

BENCHMARKS = {
    "training": training.run,
    "checkpoints": checkpoints.run,
    "live": live.run,
    "inference": inference.run,
    "startup": startup.run,
    "memory": memory.run,
    "fashion": fashion.run,
    "why": why.run,
    "cluster": cluster.run,
    "classroom": classroom.run,
    "hostile": hostile.run,
    "speed": speed.run,
    "sweeps": sweeps.run,
    "labels": labels.run,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    for name in names:
        BENCHMARKS[name]()
