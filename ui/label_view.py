"""The Evaluate page's label issues: confident learning in the background, marks on images, the
marks saved as a dataset version, and a run trained on it set beside the original.

Marks (relabel to a class, exclude, keep) can be made on the issues, the hardest examples and the
misclassified test images; they collect in the session per dataset until saved as a version.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import streamlit as st

from cnn_core.access import classroom
from cnn_core.errors import StudioError
from cnn_core.inspection.label_issues import Search
from cnn_core.settings.config import ArchChoice, DataConfig, train_config_of
from ui import run_access, state, widgets

SHOWN = 24  # issues drawn at once; the CSV holds them all
POLL_SECONDS = 1.0
KEPT = 8  # finished searches kept (with their results) across the process
NO_MARK = "no mark"
_SEARCHES: dict[tuple[str, str], Search] = {}  # (owner, run id) -> its search, across reruns and tabs
_LOCK = threading.Lock()


def _key(name: str, *suffix) -> str:
    """A session key of this section (registered in ui/state.PAGE_KEYS under "evaluate")."""
    return state.key("evaluate", name, *suffix)


def dataset_id_of(loaded) -> str:
    return DataConfig.from_dict(loaded.config.get("data", {})).dataset_id


def allowed(loaded) -> bool:
    """In classroom mode a learner finds and fixes label issues of their own runs only."""
    if not classroom.enabled():
        return True
    run = run_access.find(loaded.run_id)
    return run is not None and (run_access.mine(run) or classroom.is_teacher(state.owner_id()))


# Marks.


def marks(dataset_id: str) -> dict:
    """The pending marks on a dataset's images: key -> edit {"key", "action", "to"}."""
    return st.session_state.setdefault(_key("label_marks", dataset_id), {})


def plain_key(key):
    """A key from `Split.keys` as the version file stores it: a file path, or an int index."""
    key = key.item() if isinstance(key, np.generic) else key
    return key if isinstance(key, str) else int(key)


def mark_choice(dataset_id: str, key, given: str, suggested: str | None, names: list[str], where: str) -> None:
    """One image's mark: no mark, relabel to a class (the suggested one first), exclude or keep."""
    key = plain_key(key)
    others = [n for n in names if n != given]
    if suggested in others:
        others.remove(suggested)
        others.insert(0, suggested)
    options = [NO_MARK, *[f"relabel to {n}" for n in others], "exclude", "keep"]
    current = marks(dataset_id).get(key)
    if current is None:
        shown = NO_MARK
    elif current["action"] == "relabel":
        shown = f"relabel to {current['to']}"
    else:
        shown = current["action"]
    widget = _key("label_mark", where, key)
    state.put(widget, shown if shown in options else NO_MARK)

    def changed():
        choice = state.get(widget)
        if choice == NO_MARK:
            marks(dataset_id).pop(key, None)
        elif choice.startswith("relabel to "):
            marks(dataset_id)[key] = {"key": key, "action": "relabel", "to": choice[len("relabel to ") :]}
        else:
            marks(dataset_id)[key] = {"key": key, "action": choice}

    st.selectbox("Mark", options, key=widget, on_change=changed, label_visibility="collapsed")


def mark_gallery(dataset_id: str, names: list[str], entries: list[dict], where: str, columns: int = 6) -> None:
    """Images with their captions and a mark under each; an entry is {"image", "key", "caption",
    "given", "suggested"}."""
    for start in range(0, len(entries), columns):
        cells = st.columns(columns)
        for cell, entry in zip(cells, entries[start : start + columns]):
            with cell:
                st.image(widgets.sharp(entry["image"], 96), caption=entry["caption"], width=96, clamp=True,
                         alt=f"Image: {entry['caption']}")  # fmt: skip
                mark_choice(dataset_id, entry["key"], entry["given"], entry.get("suggested"), names, where)


# Confident learning in the background.


def _search(run_id: str) -> Search | None:
    return _SEARCHES.get((state.owner_id(), run_id))


def section(loaded) -> None:
    """The label-issues section: which method is which, the fold trainings, the issues and their marks."""
    st.markdown(
        "**Two ways to find wrong labels.** *Hardest examples* (above) ranks the training images by the loss of "
        "this run's own model: quick, but the model trained on those very images and may have memorised a wrong "
        "label. *Confident learning* trains k new models, each on all folds but one, so every image is judged by "
        "a model that never saw it; cleanlab then estimates how many labels of each class are wrong and picks the "
        "most likely ones (Northcutt et al., 2021). It finds the errors a model memorises, at the cost of k trainings."
    )
    if not allowed(loaded):
        st.info("In a class, you can look for label issues in your own runs only.", icon=":material/lock:")
        return
    search = _search(loaded.run_id)
    if search is None or not search.active:
        _start_form(loaded)
    search = _search(loaded.run_id)
    if search is not None and search.active:  # only the progress polls: marks made below rerun the whole page
        st.fragment(run_every=POLL_SECONDS)(_watch)(loaded)
    elif search is not None:
        _outcome(loaded, search)


def _start_form(loaded) -> None:
    run_epochs = train_config_of(loaded.config).epochs
    left, middle, right = st.columns([2, 2, 3], vertical_alignment="bottom")
    folds = left.number_input("Folds (k models)", 2, 20, 5, key=_key("label_folds", loaded.run_id),
                              help="More folds: each model sees more of the data, and k trainings take longer.")  # fmt: skip
    epochs = middle.number_input("Epochs per fold model", 1, max(1, run_epochs), max(1, run_epochs),
                                 key=_key("label_epochs", loaded.run_id),
                                 help="The run's own epochs by default; fewer is quicker and often enough.")  # fmt: skip
    size = len(loaded.dataset.train)
    if right.button(f"Find label issues ({int(folds)} trainings on {size:,} images)", icon=":material/plagiarism:",
                    key=_key("label_go", loaded.run_id), type="primary"):  # fmt: skip
        config = train_config_of(loaded.config)
        arch = ArchChoice.from_dict(loaded.config.get("architecture", {}))
        with _LOCK, st.spinner("Starting (the first time loads TensorFlow)…"):
            search = Search(loaded.dataset, arch, config, int(folds), int(epochs), owner=state.owner_id())
            _SEARCHES[(state.owner_id(), loaded.run_id)] = search.start()
            for old in [k for k, v in _SEARCHES.items() if not v.active][:-KEPT]:  # finished ones hold their dataset
                del _SEARCHES[old]


def _watch(loaded) -> None:
    search = _search(loaded.run_id)
    if search is None or not search.active:
        st.rerun()  # it ended: one full rerun draws the outcome and stops polling
    where = search.where
    text = where.text if where else "waiting for a training slot…"
    st.progress(where.fraction if where else 0.0, text=f"Training the fold models: {text}")
    if st.button("Cancel", icon=":material/cancel:", key=_key("label_cancel", loaded.run_id)):
        search.cancel()


def _outcome(loaded, search: Search) -> None:
    if search.state == "done":
        _issues(loaded, search)
        return
    (st.warning if search.state == "cancelled" else st.error)(
        f"Confident learning {search.state}: {widgets.plain_text(search.message)}"
    )


def _issues(loaded, search: Search) -> None:
    import pandas as pd

    rows, names, images = search.rows, loaded.dataset.class_names, loaded.dataset.train.images
    st.caption(
        f"{len(rows)} label issue(s) among {len(loaded.dataset.train):,} training images, from {search.folds} fold "
        f"models of {search.epochs} epoch(s), lowest self-confidence (the fold model's belief in the given label) "
        f"first" + (f"; showing the first {SHOWN}" if len(rows) > SHOWN else "") + ". Under each image: its given "
        "label → the suggested one · the self-confidence. Mark an image to fix it in a new dataset version."
    )
    keys = loaded.dataset.train.keys
    entries = [
        {"image": images[r["position"]], "key": keys[r["position"]], "given": r["given"], "suggested": r["suggested"],
         "caption": f"{r['given']} → {r['suggested']} · {r['score']:.0%}"}
        for r in rows[:SHOWN]
    ]  # fmt: skip
    if entries:
        mark_gallery(dataset_id_of(loaded), names, entries, "issues")
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "position"} for r in rows])
    st.download_button("Download the label issues (CSV)", table.to_csv(index=False), f"{loaded.run_id}-label-issues.csv",
                       "text/csv", icon=":material/download:", key=_key("label_csv", loaded.run_id))  # fmt: skip


# Saving the marks as a version, and training on it.


def pending(loaded) -> None:
    """The marks so far on this run's dataset: save them as a version, then train on it."""
    if not allowed(loaded):
        return
    dataset_id = dataset_id_of(loaded)
    found = marks(dataset_id)
    saved = state.get(_key("label_saved", loaded.run_id))
    if not found and not saved:
        st.caption("Mark images above (label issues, hardest examples, misclassified test images) to fix their labels.")
        return
    if found:
        counts = {a: sum(e["action"] == a for e in found.values()) for a in ("relabel", "exclude", "keep")}
        st.markdown(f"**{len(found)} pending mark(s):** " + ", ".join(f"{n} {a}" for a, n in counts.items() if n))
        test_keys = loaded.dataset.test.keys
        on_test = len(set(found) & {plain_key(k) for k in test_keys}) if test_keys is not None else 0
        if on_test:
            st.caption(f"{on_test} of them on test images: a version that edits the test split changes what its "
                       "test accuracy measures.")  # fmt: skip
        left, right = st.columns(2)
        if left.button(
            "Save as a dataset version", icon=":material/save:", type="primary", key=_key("label_save", loaded.run_id)
        ):
            _save(loaded, dataset_id, found)
        if right.button("Forget the marks", icon=":material/clear:", key=_key("label_forget", loaded.run_id)):
            found.clear()
            st.rerun()
    if saved:
        _saved(loaded, saved)


def _save(loaded, dataset_id: str, found: dict) -> None:
    from cnn_core.data import versions

    try:
        version = versions.derive(dataset_id, list(found.values()), loaded.dataset)
    except StudioError as exc:
        st.error(f"The version could not be saved: {widgets.plain_text(str(exc))}")
        return
    found.clear()
    state.put(_key("label_saved", loaded.run_id), version)
    st.rerun()  # the marks above were drawn before they were saved


def _saved(loaded, version: str) -> None:
    from ui.label_compare import corrected_run, note_on_test_split

    st.success(f"Saved as dataset version {widgets.code_span(version)}. The original images are not changed.",
               icon=":material/check_circle:")  # fmt: skip
    try:
        dataset = state.current_dataset(replace(DataConfig.from_dict(loaded.config["data"]), dataset_id=version))
    except StudioError as exc:
        st.error(f"The version cannot be loaded: {widgets.plain_text(str(exc))}")
        return
    edited = dataset.edited
    st.caption(
        f"Edited images: {edited.get('train', 0)} training, {edited.get('validation', 0)} validation, "
        f"{edited.get('test', 0)} test. {note_on_test_split(dataset)}"
    )
    corrected_run(loaded, dataset, _key("label_variant", loaded.run_id, version), _key("label_train", loaded.run_id, version))
