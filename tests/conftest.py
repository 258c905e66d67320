"""Shared fixtures: an isolated workspace per test, and factories for image folders and zips."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

# One TensorFlow thread per pool in every test process and every process they start (servers, the
# CLI, scripts, Ray workers inherit it): `make test` runs two workers, each with servers beside it,
# on two cores, where TensorFlow's pools of two spinning threads each only took turns. Measured on
# four core test files, two workers, alternating: 82-83 s against 89-96 s with TensorFlow's default.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# Auto precision times bfloat16 against float32 for a few seconds before a model's first long run,
# and keeps the result in the data folder's precision.json: each test server has its own data folder
# and measured the same models again. One cache for the session (set in the controller before the
# xdist workers start, so they and their servers inherit it) lets them reuse what any measured; the
# tests of the cache itself point at their own file.
_PRECISION_CACHE = None
if "CNN_STUDIO_PRECISION_CACHE" not in os.environ:
    _PRECISION_CACHE = Path(tempfile.mkdtemp(prefix="cnn-studio-tests-"))
    os.environ["CNN_STUDIO_PRECISION_CACHE"] = str(_PRECISION_CACHE / "precision.json")


def pytest_unconfigure(config):
    if _PRECISION_CACHE is not None:
        shutil.rmtree(_PRECISION_CACHE, ignore_errors=True)


# A rough cost per test by its marks, for ordering the groups (below): a browser test takes tens of
# seconds, a slow one (TensorFlow, training) a few, a quick one well under one. A file whose tests
# take much longer than their marks say sets its own figure: `TEST_SECONDS = 30`.
COST = {"e2e": 25.0, "slow": 6.0}
QUICK = 0.3


def pytest_configure(config):
    """xdist hands out groups most-tests-first unless told not to; the order below is by cost instead."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers with `--dist loadgroup`: each test file stays on one
    worker (its module fixtures, such as a server, start once), and files that share an expensive
    session fixture name one group (`pytest.mark.xdist_group`) so it is built once.

    Under xdist the groups are handed out costliest first (a browser file of two long tests before a
    file of forty quick ones): the last groups to start are short, so both workers finish close
    together. xdist's own order, most tests first, left the browser files with one or two tests,
    each a minute long, for the end."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(Path(str(item.fspath)).relative_to(ROOT).as_posix()))
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    group = {item: _group(item) for item in items}
    cost, first = {}, {}
    for index, item in enumerate(items):
        weights = [weight for mark, weight in COST.items() if item.get_closest_marker(mark)]
        weight = getattr(item.module, "TEST_SECONDS", None) or max(weights, default=QUICK)  # a file may say
        cost[group[item]] = cost.get(group[item], 0.0) + weight
        first.setdefault(group[item], index)
    items[:] = sorted(items, key=lambda item: (-cost[group[item]], first[group[item]]))


def pytest_xdist_node_collection_finished(node, ids):
    """Stop at once when xdist no longer groups: each group's tests would be spread over both workers,
    and every module and session fixture built once per worker (pytest 9.2 with xdist 3.8 did that
    silently, and the suite took minutes longer). A grouped test's id ends in `@group`."""
    lost = [i for i in ids if "@" not in i.rpartition("]")[2].rpartition("::")[2]]
    if lost and node.config.getvalue("dist") == "loadgroup":
        pytest.exit(
            f"pytest-xdist did not group {lost[0]} (and {len(lost) - 1} more) by its xdist_group mark: this pytest "
            "and pytest-xdist do not work together (requirements-dev.txt says which pytest to use)",
            returncode=3,
        )


def _group(item) -> str:
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0] if mark.args else mark.kwargs.get("name"))


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    """Runs, uploads, the Keras cache and the system datasets folder (Debian's, normally) live in
    the test's own temporary folder; a test that wants the real Debian files points there itself."""
    ws = tmp_path / "workspace"
    folders = [
        ("runs", "CNN_STUDIO_RUNS_DIR"),
        ("data", "CNN_STUDIO_DATA_DIR"),
        ("keras", "KERAS_HOME"),
        ("system", "CNN_STUDIO_SYSTEM_DATASETS"),
    ]
    for name, var in folders:
        (ws / name).mkdir(parents=True)
        monkeypatch.setenv(var, str(ws / name))
    monkeypatch.delenv("CNN_STUDIO_RAY_ADDRESS", raising=False)  # jobs train in this process unless a test sets it
    return ws


def png_bytes(array: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    img.save(buf, format=fmt)
    return buf.getvalue()


def digit_like(label: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """A small grayscale image whose bright bar's position encodes the label, with some noise."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, (size, size), dtype=np.uint8)
    img[:, (label * 3) % size : (label * 3) % size + 2] = 230
    return img


def make_class_folder(root: Path, classes: dict[str, int], size: int = 16, fmt: str = "PNG", rgb: bool = False) -> Path:
    """`root/<class>/<i>.png` for each class with the given count of images."""
    for k, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            arr = digit_like(k, size, seed=i)
            if rgb:
                arr = np.stack([arr, arr // 2, 255 - arr], axis=-1)
            (root / name / f"{i}.{fmt.lower()}").write_bytes(png_bytes(arr, fmt))
    return root


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def folder_members(classes: dict[str, int], prefix: str = "", size: int = 16) -> dict[str, bytes]:
    return {
        f"{prefix}{name}/{i}.png": png_bytes(digit_like(k, size, seed=i))
        for k, (name, count) in enumerate(classes.items())
        for i in range(count)
    }


def train_tiny_run(runs_dir: Path, dataset_id: str = "shapes", arch: str = "tutorial-minimal", epochs: int = 2, **data) -> Path:
    """A real (tiny) training run saved under `runs_dir`; returns its folder."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore
    from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
    from cnn_core.training.fit import run_config, run_training

    data = {"limit": 150, "image_size": 16} | data if dataset_id == "shapes" else data
    dataset = load_dataset(DataConfig(dataset_id, **data))
    store, choice, config = RunStore(runs_dir), ArchChoice(arch), TrainConfig(epochs=epochs, batch_size=16)
    run_dir = store.new_run(run_config(dataset, choice, config), arch)
    return run_training(dataset, choice, config, run_dir, store).run_dir


# Trained once per session and shared (tests/trained.py says why): read them, or copy before changing.


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory):
    """A runs folder with one completed tiny run (shapes, 16x16, minimal CNN, 2 epochs)."""
    runs = tmp_path_factory.mktemp("trained") / "runs"
    train_tiny_run(runs)
    return runs


@pytest.fixture(scope="session")
def digits_runs(tmp_path_factory):
    """A runs folder with one completed digits run (28x28, minimal CNN, 3 epochs): the Predict canvas takes it."""
    runs = tmp_path_factory.mktemp("digits") / "runs"
    train_tiny_run(runs, "digits", "tutorial-minimal", epochs=3, image_size=28)
    return runs


@pytest.fixture(scope="session")
def diagnosed(tmp_path_factory):
    """Every diagnosis scenario's real short run: finding kind -> (title, TrainResult)."""
    from tests.trained import train_diagnosed

    return train_diagnosed(tmp_path_factory.mktemp("diagnosed"))


@pytest.fixture(scope="session")
def corner_model():
    """A small convnet trained to tell a square in the top-left corner from one in the bottom-right."""
    from tests.trained import corner_model

    return corner_model()


@pytest.fixture(scope="session")
def corner_embedding_model():
    """The same with a Dense layer of 16 units before the output: features for an embedding map."""
    from tests.trained import corner_model

    return corner_model(dense_units=16)


@pytest.fixture
def trained_run(trained_runs, monkeypatch) -> str:
    """Point the app at the shared runs folder; returns the run id."""
    monkeypatch.setenv("CNN_STUDIO_RUNS_DIR", str(trained_runs))
    return next(p.name for p in trained_runs.iterdir() if p.is_dir())


def wait_until(predicate, timeout: float = 120.0) -> None:
    """Poll `predicate` every 50 ms until it holds; fail the test after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture(scope="session")
def ray_cluster():
    """One one-node Ray cluster on 127.0.0.1 (2 CPUs) for every Ray test of the session. With a
    cluster per test module, the second module's could not be joined from the same test process
    (seen in CI); one cluster also starts once. Its files share the xdist group "ray", so one worker,
    and under xdist the cluster stops after that group's last test (`pytest_runtest_teardown`): its
    processes took 5 % of a core for the rest of the session."""
    from cnn_core.jobs import cluster

    local = cluster.LocalCluster(cpus=2).start()
    auth = {k: v for k, v in local.env().items() if k != cluster.ADDRESS_ENV}
    saved = {k: os.environ.get(k) for k in auth}
    os.environ.update(auth)
    _RAY_CLUSTER.update(local=local, saved=saved)
    yield local
    stop_ray_cluster()


_RAY_CLUSTER: dict = {}  # the session's cluster while it runs: "local" and the environment it replaced; "stopped" after


def stop_ray_cluster() -> None:
    """Stop the session's Ray cluster, once: every process it started is gone afterwards."""
    if "local" not in _RAY_CLUSTER:
        return
    import ray

    from cnn_core.jobs import cluster, warm

    local, saved = _RAY_CLUSTER.pop("local"), _RAY_CLUSTER.pop("saved")
    _RAY_CLUSTER["stopped"] = True
    warm.drain()
    ray.shutdown()
    cluster._joined.clear()
    started = local.processes()
    local.stop()
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert started and not [p for p in started if Path(f"/proc/{p}").exists() and _state(p) != "Z"]


def pytest_runtest_setup(item):
    if _RAY_CLUSTER.get("stopped") and "ray_cluster" in item.fixturenames:
        pytest.fail('the session\'s Ray cluster stopped after the last test of the xdist group "ray": mark this test with it')


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """Under xdist a group's tests run one after another on one worker: after the last of "ray", stop its cluster."""
    last = nextitem is None or _group(nextitem) != "ray"
    if "local" in _RAY_CLUSTER and os.environ.get("PYTEST_XDIST_WORKER") and _group(item) == "ray" and last:
        stop_ray_cluster()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.fixture
def on_cluster(ray_cluster, monkeypatch):
    """The Ray backend on for this test: jobs train on the session's loopback cluster."""
    monkeypatch.setenv("CNN_STUDIO_RAY_ADDRESS", ray_cluster.address)
    return ray_cluster
