"""The Data page's versions section: a dataset's versions, their edits, class counts before and after,
picking one as the dataset, and undoing one edit (which gives, and selects, the derived version)."""

from __future__ import annotations

import dataclasses
import time
from html import escape

import numpy as np
import streamlit as st

from cnn_core.data import versions
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig
from ui import state, widgets

SHOWN_EDITS = 200  # rows of a version's edit table; the CLI's --json lists them all
THUMBNAILS = 12
ARROW = '<span style="opacity:.55">→</span>'


def _key(name: str, *suffix) -> str:
    return state.key("data", name, *suffix)


def keep_version(current_id: str, chosen_id: str) -> str:
    """The chosen dataset, as the version in use when that version is of the chosen dataset."""
    try:
        return current_id if versions.split_id(current_id)[0] == chosen_id else chosen_id
    except StudioError:
        return chosen_id


def section(ds, config: DataConfig) -> None:
    """List the versions of the loaded dataset's base and act on the one shown."""
    base_id, _ = versions.split_id(ds.spec.id)
    st.subheader("Versions")
    st.caption(
        "A version is this dataset with label edits: *relabel* an image to another class, *exclude* it, or *keep* it "
        "(reviewed, unchanged). Its id, `<dataset>@v-<hash>`, is named by its edits and works wherever a dataset id "
        "does: links, runs, the command line. The image files are never changed."
    )
    flash = state.get(_key("versions_flash"))
    if flash:
        st.success(flash, icon=":material/undo:")
        state.drop(_key("versions_flash"))
    try:
        listed = versions.versions_of(base_id)
    except OSError as exc:
        st.error(f"the versions folder cannot be read: {exc}")
        return
    if not listed:
        st.info(
            "No versions of this dataset yet. Mark images on the Evaluate page, or from the command line: "
            f"`python -m cnn_core edit-dataset {base_id} --relabel FILE_OR_INDEX=CLASS --exclude FILE_OR_INDEX`."
        )
        return
    _overview(ds, listed)
    shown = _pick(ds, base_id, listed)
    if shown is not None:
        _details(ds, config, shown)
    elif ds.edits:
        _use_button(config, base_id, "Use the original dataset")


def _overview(ds, listed: list[dict]) -> None:
    rows = []
    for v in listed:
        changed = {split: n for split, (_, n) in versions.effect(ds, v["edits"]).items()}
        tag = " <b>(in use)</b>" if v["id"] == ds.spec.id else ""
        rows.append(
            [f"<code>v-{escape(v['id'][-8:])}</code>{tag}", *(str(v["actions"][a]) for a in versions.ACTIONS),
             *(str(changed[s]) for s in ("train", "validation", "test")), time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created"]))]
        )  # fmt: skip
    header = ["version", "relabel", "exclude", "keep", "changed: train", "validation", "test", "made"]
    _table(header, rows, right=range(1, 7))


def _pick(ds, base_id: str, listed: list[dict]) -> dict | None:
    """The version whose details are shown (None: the original), chosen in a select box.

    Its labels never depend on which version is in use: Streamlit keeps a choice by its label.
    """
    by_id = {v["id"]: v for v in listed}
    options = [v["id"] for v in listed] + [base_id]
    shown, pending = _key("version_shown", base_id), _key("version_shown", base_id, "next")
    if state.get(pending) in options or state.get(shown) not in options:  # a version just picked, or none yet
        state.put(shown, state.get(pending) or (ds.spec.id if ds.spec.id in by_id else options[0]))
    state.drop(pending)
    chosen = st.selectbox("Show version", options, key=shown, format_func=lambda i: _label(by_id.get(i)))
    return by_id.get(chosen)


def _label(version: dict | None) -> str:
    if version is None:
        return "the original dataset (no edits)"
    counts = ", ".join(f"{n} {a}" for a, n in version["actions"].items() if n)
    return f"v-{version['id'][-8:]}: {counts}"


def _details(ds, config: DataConfig, version: dict) -> None:
    found = versions.effect(ds, version["edits"])
    before = versions.counts_with(ds, [])
    if found["test"][1]:
        st.warning(
            f"{found['test'][1]} test image(s) are edited in this version: its test accuracy is measured on other "
            "labels (or fewer images) than the original's, so the two are not the same measure.",
            icon=":material/rule:",
        )
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Images per class, before → after**")
        _counts_table(ds.class_names, before, {split: counts for split, (counts, _) in found.items()})
    with right:
        st.markdown(f"**Edits** ({len(version['edits']):,})")
        _edits_table(ds, version["edits"])
        _thumbnails(ds, version["edits"])
    use, undo = st.columns([1, 2], vertical_alignment="bottom")
    with use:
        if version["id"] == ds.spec.id:
            st.badge("In use", icon=":material/check:", color="green")
        else:
            _use_button(config, version["id"], "Use this version", primary=True)
    with undo:
        _undo(config, version)


def _counts_table(names: list[str], before: dict, after: dict) -> None:
    rows = []
    for k, name in enumerate(names):
        rows.append([escape(name), *(_moved(before[s][k], after[s][k]) for s in before)])
    rows.append(["total", *(_moved(sum(before[s]), sum(after[s])) for s in before)])
    _table(["class", *before], rows, right=range(1, 4), bold_last=True)


def _moved(before: int, after: int) -> str:
    if before == after:
        return f"{after:,}"
    colour = "#2e7d32" if after > before else "#c62828"
    return f'{before:,} {ARROW} <b style="color:{colour}">{after:,}</b>'


def _where(ds) -> dict:
    """Each original image's split by its key."""
    return {key: split for split, (keys, _) in ds.original_labels().items() if keys is not None for key in keys.tolist()}


def _edits_table(ds, edits: list[dict]) -> None:
    where, rows = _where(ds), []
    for edit in edits[:SHOWN_EDITS]:
        to = escape(edit.get("to", "")) if edit["action"] == "relabel" else ""
        rows.append(
            [f"<code>{escape(str(edit['key']))}</code>", escape(where.get(edit["key"], "not loaded")), edit["action"], to]
        )
    if len(edits) > SHOWN_EDITS:
        rows.append([f"… and {len(edits) - SHOWN_EDITS:,} more", "", "", ""])
    _table(["image", "split", "action", "to"], rows, max_height=330)


def _thumbnails(ds, edits: list[dict]) -> None:
    """The first edited images that the loaded dataset holds, captioned with their class before → after."""
    position, given = {}, {}
    for split, s in ds.splits.items():
        if s.keys is not None:
            position |= {key: (split, i) for i, key in enumerate(s.keys.tolist())}
    for keys, labels in ds.original_labels().values():
        if keys is not None:
            given |= dict(zip(keys.tolist(), labels.tolist()))
    picked = [(e, position[e["key"]]) for e in edits if e["key"] in position][:THUMBNAILS]
    if not picked:
        return
    images = [np.asarray(ds.splits[split].images[np.array([i])])[0] for _, (split, i) in picked]
    captions = []
    for edit, _ in picked:
        change = f" → {edit['to']}" if edit["action"] == "relabel" else f" ({edit['action']})"
        name = str(edit["key"]).rsplit("/", 1)[-1].rsplit(".", 1)[0]  # the file's stem: the table has its path
        captions.append(f"{name if len(name) <= 12 else name[:11] + '…'}: {ds.class_names[given[edit['key']]]}{change}")
    widgets.image_grid(images, captions, size=72)


def _use_button(config: DataConfig, dataset_id: str, label: str, primary: bool = False) -> None:
    if st.button(label, key=_key("use_version", dataset_id), type="primary" if primary else "secondary"):
        _select(config, dataset_id)


def _undo(config: DataConfig, version: dict) -> None:
    edits = version["edits"]
    inner = st.columns([3, 1], vertical_alignment="bottom")
    picked = inner[0].selectbox(
        "Undo one edit", range(len(edits)), key=_key("undo_pick", version["id"]),
        format_func=lambda i: f"{edits[i]['key']}: {edits[i]['action']}" + (f" to {edits[i]['to']}" if "to" in edits[i] else ""),
    )  # fmt: skip
    if inner[1].button("Undo", key=_key("undo", version["id"])):
        try:
            derived = versions.undo(version["id"], edits[picked]["key"])
        except StudioError as exc:
            st.error(str(exc))
            return
        state.put(_key("versions_flash"), f"Undid the edit of {edits[picked]['key']}: now using {derived}.")
        _select(config, derived)


def _select(config: DataConfig, dataset_id: str) -> None:
    state.set_data_config(dataclasses.replace(config, dataset_id=dataset_id))
    state.put(_key("version_shown", versions.split_id(dataset_id)[0], "next"), dataset_id)  # show the version now in use
    st.rerun()


def _table(header: list[str], rows: list[list[str]], right=(), bold_last: bool = False, max_height: int = 320) -> None:
    """A small HTML table of cells already escaped (they may hold markup of this module's own)."""
    widgets.compact_table(header, rows, max_height, right=right, bold_last=bold_last, markup=True)
