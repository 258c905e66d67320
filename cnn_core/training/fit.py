"""Training: one synchronous `run_training`, shared by the CLI, the app's jobs and remote workers.

A training session starts a run afresh, resumes it from a checkpoint (after a pause, a stop or a
killed server, or to train more epochs), or starts a new run from another run's weights. Every
outcome ends in a saved status: paused runs keep a resume point, finished ones a model and test
metrics, and every completed epoch leaves a checkpoint.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from cnn_core.data.datasets import Dataset
from cnn_core.data.pipeline import evaluation_batches, steps_per_epoch, training_batches
from cnn_core.errors import StudioError
from cnn_core.model.builder import check_size, float32_copy
from cnn_core.model.summary import plan
from cnn_core.runs.store import RunStore, read_json, update_config
from cnn_core.settings.config import SETTINGS_VERSION, ArchChoice, TrainConfig
from cnn_core.training import checkpoints, schedules
from cnn_core.training.build import build_run_model, choose_strategy, compile_run_model
from cnn_core.training.live import Control, LiveRecord
from cnn_core.training.saved import start_from_parent
from cnn_core.training.transfer import Parent


def versions() -> dict:
    """Versions of the packages a run was trained with."""
    found = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy", "streamlit"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def run_config(dataset: Dataset, arch: ArchChoice, config: TrainConfig, owner: str = "", parent: Parent | None = None) -> dict:
    """What config.json records: enough to rebuild the data, the model and the settings.

    `owner` is the owner tag (see `runs.owner_tag`) of the session that started the run, or "cli";
    `parent` the run a fine-tuning run starts from.
    """
    spec = arch.spec()
    model_plan = plan(spec, dataset.input_shape, dataset.num_classes, config.dropout)
    return {
        "data": dataset.config.to_dict(),
        "dataset": dataset.record(),
        "architecture": {**arch.to_dict(), "name": spec.name, "layers": spec.layers, "params": model_plan.total_params},
        "train": config.to_dict(),
        "settings_version": SETTINGS_VERSION,
        "owner": owner,
        "parent": parent.record() if parent else None,
        "versions": versions(),
        "name": "",
        "note": "",
    }


@dataclass
class Start:
    """Where a training session begins: a fresh model, a checkpoint of the same run, or another run's weights."""

    resume: checkpoints.CheckpointInfo | None = None
    parent: Parent | None = None
    freeze: bool = False  # a resumed fine-tuning run keeps its parent's frozen layers

    @property
    def kind(self) -> str:
        return "resume" if self.resume else "fine-tune" if self.parent else "start"


@dataclass
class TrainResult:
    run_dir: Path
    status: str
    message: str = ""
    test_loss: float | None = None
    test_accuracy: float | None = None
    history: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diagnosis: list[dict] = field(default_factory=list)


def new_record(dataset: Dataset, config: TrainConfig) -> LiveRecord:
    """An empty live record for training `config` on `dataset`."""
    return LiveRecord(
        config.epochs, steps_per_epoch(len(dataset.train), config.batch_size), config.batch_size, len(dataset.train)
    )


def default_max_jobs() -> int:
    """How many runs may train at once: `CNN_STUDIO_MAX_JOBS`, or half the CPU cores (at least 1)."""
    return int(os.environ.get("CNN_STUDIO_MAX_JOBS", max(1, (os.cpu_count() or 2) // 2)))


def _restore(model, run_dir: Path, store: RunStore, record: LiveRecord, point: checkpoints.CheckpointInfo) -> None:
    """Put the run back where `point` left it: variables, counters, curves and files."""
    checkpoints.clean_partial(run_dir)
    checkpoints.restore(model, run_dir, point)
    batches = store.read_batches(run_dir)[: point.batches]
    history = store.read_history(run_dir)[: point.history_rows]
    store.write_batches(run_dir, batches)  # drop what a killed process wrote after the checkpoint
    store.write_history(run_dir, history)
    record.restore(batches, history, point.seconds)


def compiled_model(
    dataset: Dataset, arch: ArchChoice, config: TrainConfig, start: Start, steps: int, run_dir: Path, announce=None
):
    """The run's model in its precision (resolved and recorded now, see precision.py; `announce` is told
    when auto measures), with a parent's weights when `start` names one, compiled (the recipe's loss)."""
    import keras

    from cnn_core.training.precision import for_run

    model_plan = plan(arch.spec(), dataset.input_shape, dataset.num_classes, config.dropout)
    check_size(model_plan, config.batch_size)  # before auto's measurement builds it twice
    args = (config.precision, model_plan, config.batch_size, len(dataset.train), config.epochs, bool(start.resume))
    precision = for_run(run_dir, *args, announce=announce).chosen
    keras.utils.set_random_seed(config.seed)  # after auto's measurement: the start weights depend on the seed alone
    with choose_strategy().scope():
        model = build_run_model(arch, dataset.input_shape, dataset.num_classes, config, start.freeze, precision)
        if start.parent:
            start_from_parent(model, start.parent)
        compile_run_model(model, config, steps)
    return model


def run_training(
    dataset: Dataset,
    arch: ArchChoice,
    config: TrainConfig,
    run_dir: Path,
    store: RunStore,
    record: LiveRecord | None = None,
    control: Control | None = None,
    report=None,
    start: Start | None = None,
) -> TrainResult:
    """Train (or resume), then evaluate on the test split and save; every outcome ends in a saved status.

    Args:
        record: the live record the pages read (a new one when None).
        control: stop and pause requests from outside.
        report: called as `report(epoch, row)` after each epoch (the CLI prints with it).
        start: a fresh start (default), a resume point of this run, or a parent run's weights.
    """
    start, control = start or Start(), control or Control()
    record = record or new_record(dataset, config)
    steps = steps_per_epoch(len(dataset.train), config.batch_size)
    record.prepare("building the model")  # it holds its slot: "running", though the training clock waits for fit
    if not start.resume:  # a new run's file says so too, as the page does (a resumed one keeps its status until restored)
        store.set_status(run_dir, "running", "building the model")
    model = compiled_model(dataset, arch, config, start, steps, run_dir, record.prepare)  # seeds itself after measuring
    if start.parent:  # which layers came from the parent, and which start afresh
        update_config(run_dir, parent=start.parent.record())
    first_epoch = first_step = 0
    if start.resume:
        _restore(model, run_dir, store, record, start.resume)
        first_epoch, first_step = start.resume.epoch, start.resume.step
    store.set_status(run_dir, "running", session={"kind": start.kind, "from": start.resume.label if start.resume else "epoch 0"})
    writer = checkpoints.CheckpointWriter(run_dir, config.checkpoint_keep, config.checkpoint_budget_mb * 2**20, record.warn)
    try:
        global_step = first_epoch * steps + first_step
        callbacks, divergence, early = _callbacks(
            dataset, config, run_dir, store, record, control, writer, start, steps, report, global_step, first_step
        )
        history = next(c for c in callbacks if type(c).__name__ == "HistoryWriter")
        train = training_batches(dataset.train, config.batch_size, config.seed, first_epoch, first_step)
        if first_step and first_epoch < config.epochs:  # finish the epoch the pause cut short
            model.fit(train.take(steps - first_step), epochs=first_epoch + 1, initial_epoch=first_epoch,
                      steps_per_epoch=steps - first_step, callbacks=callbacks, verbose=0)  # fmt: skip
            first_epoch += 1
            train = training_batches(dataset.train, config.batch_size, config.seed, first_epoch)
        if first_epoch < config.epochs and not model.stop_training:
            model.fit(
                train,
                epochs=config.epochs,
                initial_epoch=first_epoch,
                steps_per_epoch=steps,
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
            )
        if early and early.stopped_epoch and early.best_weights is None:
            _best_from_checkpoint(model, run_dir, writer, early)
        history.flush()  # the batches of an epoch a pause or stop cut short
    finally:
        writer.close()
    return _finish(model, dataset, config, run_dir, store, record, control, divergence, early)


def _callbacks(dataset, config, run_dir, store, record, control, writer, start, steps, report, global_step, first_step):
    """The session's callbacks in their order (see callbacks.py), and the ones run_training reads after."""
    from cnn_core.training import callbacks as cb

    early = None
    if config.early_stopping and len(dataset.validation):
        early = cb.ResumableEarlyStopping(config.patience, start.resume.early_stopping if start.resume else None)
    divergence = cb.StopOnDivergence(config.learning_rate)
    listed = [
        cb.Validation(evaluation_batches(dataset.validation, config.batch_size), record, control)
        if len(dataset.validation)
        else None,
        cb.LiveMetrics(record, control, lambda step: schedules.rate(config, step, steps), global_step, first_step),
        divergence,
        early,
        cb.HistoryWriter(store, run_dir, record),
        cb.Checkpointer(record, writer, early),
        cb.EpochTensorBoard(str(run_dir / "tensorboard"), record),
        cb.EpochReporter(report, record) if report else None,
    ]
    return [c for c in listed if c is not None], divergence, early


def _best_from_checkpoint(model, run_dir: Path, writer: checkpoints.CheckpointWriter, early) -> None:
    """Early stopping's best epoch came before this session: take its weights from its checkpoint."""
    writer.close()
    name = checkpoints.epoch_name(early.best_epoch + 1)
    for info in checkpoints.list_checkpoints(run_dir):
        if info.name == name:
            checkpoints.restore(model, run_dir, info, optimizer=False)


def _finish(model, dataset, config, run_dir, store, record, control, divergence, early) -> TrainResult:
    if divergence.message:
        return _outcome(store, run_dir, record, "failed", divergence.message)
    try:
        return _save(model, dataset, config, run_dir, store, record, control, early)
    except OSError as exc:  # a full disk: what was saved before stays, and the run can resume from it
        reason = exc.strerror or type(exc).__name__
        return _outcome(
            store,
            run_dir,
            record,
            "failed",
            f"the run could not be saved ({reason}); free some disk space, then resume it from its last checkpoint",
        )


def _save(model, dataset, config, run_dir, store, record, control, early) -> TrainResult:
    from cnn_core.training.callbacks import point_info

    if control.pause.is_set() and record.epochs_recorded < config.epochs:
        checkpoints.write(run_dir, point_info(model, record, checkpoints.RESUME, early), checkpoints.capture(model))
        return _outcome(store, run_dir, record, "paused", f"paused at {_where(record)}; resume to continue from there")
    stopped = control.stop.is_set()  # a pause that lands after the last epoch: every epoch trained, it is complete
    if stopped:  # the run can still be continued from exactly here
        checkpoints.write(run_dir, point_info(model, record, checkpoints.RESUME, early), checkpoints.capture(model))
    scores = model.evaluate(evaluation_batches(dataset.test, config.batch_size), return_dict=True, verbose=0)
    metrics = {"test_loss": float(scores["loss"]), "test_accuracy": float(scores["accuracy"]), "test_size": len(dataset.test)}
    store.save_model(run_dir, float32_copy(model))
    if early and early.stopped_epoch:
        message = f"early stopping: no better validation loss for {config.patience} epochs; kept epoch {early.best_epoch + 1}"
    else:
        message = (control.reason or "stopped by request; the model keeps what it learned") if stopped else ""
    return _outcome(store, run_dir, record, "stopped" if stopped else "completed", message, metrics)


def _where(record: LiveRecord) -> str:
    snap = record.snapshot()
    if snap.step >= snap.steps_per_epoch:
        return f"the end of epoch {snap.epoch + 1}"
    return f"batch {snap.step} of {snap.steps_per_epoch} in epoch {snap.epoch + 1}"


def run_diagnosis(run_dir: Path, record: LiveRecord, message: str = "") -> list[dict]:
    """The findings for a run's curves so far (see diagnosis.py), as plain data."""
    from cnn_core.training.diagnosis import RECENT, context_of, diagnose

    context = context_of(read_json(Path(run_dir) / "config.json"), message)
    points = record.points_since(max(0, record.snapshot().points - RECENT))
    return [f.to_dict() for f in diagnose(record.history(), points, context)]


def _outcome(store, run_dir, record, status, message, metrics=None) -> TrainResult:
    """Save the outcome (status, test metrics when given, diagnosis) and report it."""
    metrics = dict(metrics or {})
    findings = run_diagnosis(run_dir, record, message)
    try:
        previous = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() and not metrics else {}
        store.write_metrics(run_dir, {**previous, **metrics, "diagnosis": findings})
        store.set_status(run_dir, status, message, duration=round(record.seconds, 2))
    except (OSError, StudioError):
        pass  # a full disk or a damaged file: the live record still says what happened
    record.set_status(status, message)
    return TrainResult(
        run_dir, status, message, metrics.get("test_loss"), metrics.get("test_accuracy"), record.history(),
        record.snapshot().warnings, findings,
    )  # fmt: skip
