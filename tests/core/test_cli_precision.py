"""The CLI says which precision a run trains in, and why, as the Train page does (issue 28)."""

from __future__ import annotations

import json

import pytest

from tests.cli import cli


@pytest.mark.slow
def test_train_prints_the_precision_it_chose_and_records_the_same(tmp_path):
    done = cli("train", "--dataset", "digits", "--arch", "tutorial-minimal", "--epochs", "1", "--limit", "300",
               "--runs-dir", tmp_path, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    told = [line for line in done.stderr.splitlines() if line.startswith("precision: ")]
    assert len(told) == 1, done.stderr
    (run,) = [p for p in tmp_path.iterdir() if (p / "config.json").is_file()]
    recorded = json.loads((run / "config.json").read_text())["precision"]
    assert recorded["chosen"] == "float32"  # a run this short never pays for auto's measurement
    assert told[0] == f"precision: auto chose float32: {recorded['reason']}"
    assert "short" in recorded["reason"]
