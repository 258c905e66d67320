"""Tools around the Train page's form: the learning-rate schedule with its preview, the
learning-rate finder, a preset's recommended settings, the precision `auto` chose and why, and
earlier runs to draw beside the live curves."""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from cnn_core.access import classroom
from cnn_core.data.pipeline import steps_per_epoch
from cnn_core.errors import StudioError
from cnn_core.jobs.registry import JOBS
from cnn_core.runs.info import RunInfo
from cnn_core.runs.store import RunStore, read_json
from cnn_core.settings.config import ArchChoice, DataConfig, TrainConfig, train_config_of
from cnn_core.settings.fields import format_value
from cnn_core.training import curves, schedules
from ui import settings_form, state
from ui.widgets import plain_text


def recommended_settings(spec, settings: TrainConfig) -> None:
    """When the preset was designed with settings that differ from the current ones: a button that applies them."""
    differ = {k: v for k, v in spec.recommended.items() if getattr(settings, k) != v}
    if not differ:
        return
    listed = ", ".join(f"{settings_form.TRAIN_LABELS[k].lower()} {format_value(v)}" for k, v in spec.recommended.items())
    left, right = st.columns([4, 1], vertical_alignment="center")
    measured = f" Measured: {spec.measured}." if spec.measured else ""
    left.info(f"**{spec.name}** was designed to train with: {listed}.{measured}", icon=":material/tips_and_updates:")
    if right.button("Use these settings", key=state.key("train", "recommended"), icon=":material/tune:"):
        state.update_train_config(**spec.recommended)
        settings_form.forget("train", TrainConfig)
        st.rerun()


def precision_note(model_plan, train_size: int, settings: TrainConfig, job=None) -> None:
    """What the precision setting chose and why: the attached run's recorded choice, else a preview
    from this machine's CPU flags and earlier measurements (no TensorFlow import, no measuring)."""
    from cnn_core.training.precision import from_record, resolve

    recorded = None
    if job is not None and getattr(job, "run_dir", None) and (Path(job.run_dir) / "config.json").is_file():
        recorded = from_record(read_json(Path(job.run_dir) / "config.json").get("precision"))
    if recorded is not None:
        choice, whose = recorded, f"run {job.run_id}"
    else:
        choice = resolve(settings.precision, model_plan, settings.batch_size, train_size, settings.epochs, measure_now=False)
        whose = "next run"
    sentence = plain_text(choice.sentence) if recorded is not None else choice.sentence  # a record may be edited by hand
    st.caption(f":material/memory: Precision ({whose}): {sentence}.")


def schedule_section(settings, train_size: int) -> dict:
    """The schedule settings (live, outside the form: they apply at once) and the learning rate they give."""
    left, right = st.columns([3, 2])
    with left:
        chosen = settings_form.form_section(settings, "train", "Schedule", columns=2)
    preview = state.update_train_config(**chosen)
    epochs, rates = schedules.curve(preview, steps_per_epoch(train_size, preview.batch_size))
    right.plotly_chart(curves.schedule_preview(epochs, rates), width="stretch", key=state.key("train", "preview"))
    right.caption(f"The learning rate over {preview.epochs} epochs, from a peak of {preview.learning_rate:g}.")
    return chosen


def lr_finder(dataset, arch, settings) -> None:
    """Sweep the learning rate over 100 batches, plot loss against rate, and apply the suggestion."""
    from cnn_core.training.lr_finder import find_learning_rate

    found = state.get(state.key("train", "finder"))
    st.caption(
        "Trains a throw-away copy of the model for up to 100 batches while the learning rate grows from 1e-7 to 10, "
        "and suggests the rate where the loss falls fastest (as fastai's lr_find). Takes a few seconds."
    )
    if st.button("Find a learning rate", icon=":material/search:", key=state.key("train", "find")):
        bar = st.progress(0.0, text="Sweeping the learning rate…")
        try:
            with JOBS.slot():  # it trains: it waits for a free slot like any job
                result = find_learning_rate(dataset, arch, settings, report=lambda done, steps: bar.progress(done / steps))
        except StudioError as exc:
            st.error(f"The sweep could not run: {exc}")
            return
        bar.empty()
        found = {**result.to_dict(), "for": f"{arch.preset} on {dataset.spec.id}"}
        state.put(state.key("train", "finder"), found)
    if not found:
        return
    st.plotly_chart(curves.lr_finder(found["rates"], found["losses"], found["smoothed"], found["suggested_learning_rate"]),
                    width="stretch", key=state.key("train", "finder_chart"))  # fmt: skip
    rate = float(f"{found['suggested_learning_rate']:.2g}")
    if st.button(f"Use the suggested learning rate, {rate:g}", type="primary", key=state.key("train", "use_rate")):
        state.update_train_config(learning_rate=rate)
        settings_form.forget("train", type(settings))
        st.rerun()


@st.cache_data(ttl=15, show_spinner=False)
def _finished_runs(root: str) -> dict[str, tuple[str, str, str, bool]]:
    """Run id → (label, folder, owner tag, published) of runs with at least one epoch (read at most
    every 15 s: the live view polls)."""
    runs = RunStore(root).list_runs()
    return {
        r.run_id: (f"{r.name or r.run_id} · {r.architecture} on {r.dataset}", str(r.path), r.owner, r.published)
        for r in runs
        if r.epochs_done
    }


def ghost_runs(current: str | None) -> dict[str, list[dict]]:
    """Earlier runs this browser may see, to draw beside the live curves; by label, their histories."""
    store, owner = RunStore(), state.owner_id()
    found = _finished_runs(str(store.root)).items()
    runs = {k: v for k, v in found if k != current and classroom.can_view(v[2], v[3], owner)}
    if not runs:
        return {}
    labels = {k: v[0] for k, v in runs.items()}
    chosen = st.multiselect(
        "Compare with earlier runs", list(labels), format_func=labels.get, key=state.key("train", "ghosts"),
        help="Their loss and accuracy per epoch are drawn faintly on the same axes as the live run.",
    )  # fmt: skip
    # a run's name becomes a Plotly trace name, which renders a subset of HTML: escaped
    return {html.escape(labels[k].split(" · ")[0]): store.read_history(Path(runs[k][1])) for k in chosen if k in runs}


def load_setup(config: dict) -> None:
    state.set_data_config(DataConfig.from_dict(config.get("data", {})))
    arch = config.get("architecture", {})
    if arch.get("preset") not in (None, "imported"):
        state.set_arch_choice(ArchChoice.from_dict(arch))
    if config.get("train"):
        state.update_train_config(**train_config_of(config).to_dict())
    state.forget_widgets("data", "model", "train")  # widgets re-read the loaded setup
    state.set_fine_tune_parent(None)


def start_variant(run: RunInfo) -> None:
    """Set up a variant of `run`: its setup loaded, and it drawn beside the new run's live curves."""
    load_setup(read_json(run.path / "config.json"))
    state.put(state.key("train", "ghosts"), [run.run_id])
    state.put(state.key("train", "variant"), run.run_id)
    st.switch_page("pages/train.py")
