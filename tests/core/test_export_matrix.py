"""Every exported script runs, across the cases users hit: each dataset kind (bundled digits and
mnist-5k, generated shapes, a folder, a zip), each learning-rate schedule, each optimizer, with and
without augmentation and early stopping.

Issue 25's defect: the script of any run with a schedule failed with `NameError: math` unless the
dataset was shapes, whose generator brought `import math` along; the one test of a scheduled
export used shapes. Here every case is executed. A run per dataset is trained once (1 epoch, tiny
data); the other cases of that dataset are run records written exactly as training writes them
(`training.run_config`). One driver process executes every script as `__main__` (`runpy`, a fresh
namespace each, so a missing import fails as it would alone) with `--epochs 1 --limit N`, so
TensorFlow is imported once; one script also runs alone as `python script.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cnn_core.settings.config import SCHEDULES, ArchChoice, DataConfig, TrainConfig
from cnn_core.takehome import export
from tests.conftest import ROOT, make_class_folder

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    dataset: str  # digits, mnist-5k, shapes, folder, zip
    schedule: str
    optimizer: str
    augment: bool
    early: bool
    arch: str = "tutorial-minimal"
    warmup: float = 0.0
    data: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        extras = [x for x, on in (("aug", self.augment), ("early", self.early), ("warmup", self.warmup)) if on]
        return "-".join([self.dataset, self.schedule, self.optimizer, *extras])

    def train_config(self) -> TrainConfig:
        augmentation = {"rotation": 10.0, "zoom": 0.1, "flip": True, "translation": 0.1} if self.augment else {}
        return TrainConfig(
            epochs=2, batch_size=32, optimizer=self.optimizer, schedule=self.schedule, warmup_epochs=self.warmup,
            early_stopping=self.early, patience=1, lr_step_epochs=1, lr_decay=0.5, **augmentation,
        )  # fmt: skip


CASES = [
    Case("digits", "cosine", "adam", augment=True, early=True, data={"limit": 300}),
    Case("mnist-5k", "one-cycle", "sgd", augment=False, early=False, arch="fashion-cnn", data={"limit": 300}),
    Case("shapes", "step", "rmsprop", augment=True, early=True, arch="lenet-dropout", data={"limit": 150, "image_size": 16}),
    Case("folder", "exponential", "adam", augment=False, early=True),
    Case("zip", "constant", "sgd", augment=True, early=False, warmup=1.0),
    Case("digits", "constant", "rmsprop", augment=False, early=False, data={"limit": 300}),
]
LIMIT = {"digits": 200, "mnist-5k": 200, "shapes": 150, "folder": 40, "zip": 40}


def test_the_matrix_covers_every_schedule_optimizer_and_dataset_kind():
    assert {c.schedule for c in CASES} == set(SCHEDULES)
    assert {c.optimizer for c in CASES} == {"adam", "rmsprop", "sgd"}
    assert {c.dataset for c in CASES} == set(LIMIT)
    assert {c.augment for c in CASES} == {c.early for c in CASES} == {True, False}


def _dataset_id(case: Case, folder: Path) -> str:
    if case.dataset in ("folder", "zip"):
        images = make_class_folder(folder / "pets", {"cats": 14, "dogs": 14}, size=16, rgb=True)
        if case.dataset == "folder":
            return f"folder:{images}"
        with zipfile.ZipFile(folder / "pets.zip", "w") as zf:
            for path in sorted(images.rglob("*.png")):
                zf.write(path, path.relative_to(images.parent).as_posix())
        return f"zip:{folder / 'pets.zip'}"
    return case.dataset


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    """case id → its exported script; the first case of each dataset is a trained run."""
    from cnn_core.data.datasets import load_dataset
    from cnn_core.runs.store import RunStore
    from cnn_core.training.fit import run_config, run_training

    base = tmp_path_factory.mktemp("matrix")
    store, trained, out = RunStore(base / "runs"), set(), {}
    for case in CASES:
        dataset = load_dataset(DataConfig(_dataset_id(case, base / case.id), **case.data))
        arch, train = ArchChoice(case.arch), case.train_config()
        run_dir = store.new_run(run_config(dataset, arch, train), case.arch)
        if case.dataset not in trained:
            run_training(dataset, arch, TrainConfig(**{**train.to_dict(), "epochs": 1}), run_dir, store)
            trained.add(case.dataset)
        out[case.id] = base / "scripts" / case.id / "train.py"
        out[case.id].parent.mkdir(parents=True)
        out[case.id].write_text(export.script(run_dir), encoding="utf-8")
    return out


DRIVER = """
import json, os, runpy, sys, traceback
results = {}
for case, script, limit in json.loads(sys.argv[1]):
    os.chdir(os.path.dirname(script))
    sys.argv = [script, "--epochs", "1", "--limit", str(limit)]
    try:
        runpy.run_path(script, run_name="__main__")
        results[case] = "ok" if os.path.isfile("model.keras") else "no model.keras"
    except BaseException:
        results[case] = traceback.format_exc()[-1500:]
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def executed(scripts) -> dict[str, str]:
    """case id → "ok", or the end of the traceback its script raised."""
    jobs = [(case.id, str(scripts[case.id]), LIMIT[case.dataset]) for case in CASES]
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULTS ")), None)
    assert line, done.stderr[-3000:]
    return json.loads(line.removeprefix("RESULTS "))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_exported_script_finishes(case, scripts, executed):
    text = scripts[case.id].read_text()
    assert "cnn_core" not in text.replace("CNN Studio", "")
    assert executed[case.id] == "ok", executed[case.id]


def test_a_script_runs_alone_in_a_clean_folder(scripts):
    """The flagship's case (fashion-cnn, one-cycle) as a user runs it: `python train.py`."""
    script = scripts["mnist-5k-one-cycle-sgd"]
    done = subprocess.run(
        [sys.executable, str(script), "--epochs", "1", "--limit", "200"],
        cwd=script.parent, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy:" in done.stdout and (script.parent / "model.keras").is_file()
