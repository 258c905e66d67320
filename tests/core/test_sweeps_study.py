"""A sweep's study read back without training: trials told by hand (as the driver tells them) give
the table's rows, the best trial, the importances and the figures."""

from __future__ import annotations

import pytest

from cnn_core.runs.store import RunStore
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig
from cnn_core.sweeps import charts, study
from cnn_core.sweeps import definition as sweeps
from cnn_core.sweeps.definition import SweepDefinition
from cnn_core.sweeps.space import parse_param

PARAMS = (parse_param("learning_rate=0.0001:0.1:log"), parse_param("optimizer=adam,sgd"))


@pytest.fixture
def told(workspace):
    """Eight random trials: accuracy rises with the learning rate's log, the optimizer barely matters;
    the last one pruned after epoch 1, and one failed."""
    import math

    from optuna.trial import TrialState

    definition = SweepDefinition(DataConfig(dataset_id="digits"), ArchChoice("tutorial-minimal"), TrainConfig(epochs=2),
                                 PARAMS, trials=8, search="random")  # fmt: skip
    sweep = sweeps.create(RunStore(), definition, "cli")
    opened = study.open_study(sweep)
    for n in range(8):
        trial = opened.ask({p.name: p.distribution() for p in PARAMS})
        value = 0.9 + 0.05 * math.log10(trial.params["learning_rate"]) / 4 + (0.001 if trial.params["optimizer"] == "sgd" else 0)
        trial.report(value - 0.1, 1)
        if n == 6:
            opened.tell(trial, state=TrialState.FAIL)
            continue
        if n == 7:
            trial.set_user_attr("message", "pruned after epoch 1: behind the others")
            opened.tell(trial, state=TrialState.PRUNED)
            continue
        trial.report(value, 2)
        opened.tell(trial, value)
    return sweep


def test_rows_best_and_importances_come_from_the_study(told):
    rows = study.trial_rows(told)
    assert [r.state for r in rows] == ["complete"] * 6 + ["failed", "pruned"]
    assert rows[-1].epochs == 1 and rows[-1].message.startswith("pruned after epoch 1")
    assert all(r.curve == [pytest.approx(r.val_accuracy - 0.1), pytest.approx(r.val_accuracy)] for r in rows[:6])
    best = study.best(rows)
    assert best.val_accuracy == max(r.val_accuracy for r in rows[:6])  # only complete trials compete
    weights = study.importances(told)
    assert set(weights) == {"learning_rate", "optimizer"} and sum(weights.values()) == pytest.approx(1.0)
    assert weights["learning_rate"] > weights["optimizer"]
    assert "6 complete, 1 pruned, 1 failed; best: trial" in study.summary(told)


def test_the_figures_draw_every_trial_and_quote_their_names(told):
    rows = study.trial_rows(told)
    rows[0].params["optimizer"] = "<b>adam</b>"  # a value is quoted wherever Plotly would read HTML
    curves = charts.validation_curves(rows, study.best(rows).number)
    assert len(curves.data) == 8 and "&lt;b&gt;adam&lt;/b&gt;" in curves.data[0].name
    assert max(t.line.width for t in curves.data) == 4 and curves.data[-1].line.dash == "dash"
    coords = charts.parallel_coordinates(rows, ["learning_rate", "optimizer"])
    (lr, optimizer, accuracy) = coords.data[0].dimensions
    assert lr.label == "learning_rate (log)" and list(lr.ticktext)[0] == "0.0001"
    assert "&lt;b&gt;adam&lt;/b&gt;" in optimizer.ticktext and len(accuracy.values) == 8  # a stopped trial at its last epoch
    bars = charts.importance_bars(study.importances(told))
    assert set(bars.data[0].y) == {"learning_rate", "optimizer"}


def test_the_definition_chooses_optunas_sampler_and_pruner():
    import optuna

    def made(**changes) -> SweepDefinition:
        base = dict(data=DataConfig(dataset_id="digits"), arch=ArchChoice("tutorial-minimal"), train=TrainConfig(epochs=6),
                    params=PARAMS, trials=12)  # fmt: skip
        return SweepDefinition(**{**base, **changes})

    assert isinstance(study.sampler(made(search="grid"), 0), optuna.samplers.GridSampler)
    assert isinstance(study.sampler(made(search="random"), 0), optuna.samplers.RandomSampler)
    assert isinstance(study.sampler(made(search="tpe"), 0), optuna.samplers.TPESampler)
    median = study.pruner(made(prune="median"))
    assert isinstance(median, optuna.pruners.MedianPruner) and median._n_startup_trials == 3  # a quarter of 12
    hyperband = study.pruner(made(prune="hyperband"))
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner) and hyperband._max_resource == 6  # epochs
    assert isinstance(study.pruner(made()), optuna.pruners.NopPruner)
