"""Where CNN Studio keeps its files: runs, uploaded datasets and the Keras download cache."""

from __future__ import annotations

import os
from pathlib import Path


def runs_dir() -> Path:
    """Folder of saved runs: `CNN_STUDIO_RUNS_DIR`, or `./runs`."""
    return Path(os.environ.get("CNN_STUDIO_RUNS_DIR", "runs")).resolve()


def data_dir() -> Path:
    """Folder for uploaded zips and their extracted datasets: `CNN_STUDIO_DATA_DIR`, or `./data`."""
    return Path(os.environ.get("CNN_STUDIO_DATA_DIR", "data")).resolve()


def keras_cache_dir() -> Path:
    """Where Keras caches its dataset downloads (`$KERAS_HOME/datasets`, default `~/.keras/datasets`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def system_datasets_dir() -> Path:
    """Where Debian's dataset packages install (`/usr/share/datasets`; `CNN_STUDIO_SYSTEM_DATASETS` overrides)."""
    return Path(os.environ.get("CNN_STUDIO_SYSTEM_DATASETS", "/usr/share/datasets"))
