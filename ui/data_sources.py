"""Where the Data page's images come from besides the registry: your own zip or folder, a folder on
the server, and a Keras file placed by hand.

Uploads go to this browser's own folder (`classroom.upload_dir`) and count against a learner's
disk limit in classroom mode. A server folder is offered in personal mode, and in classroom mode
only under the class's data roots; placing a file in the shared Keras cache is then the teacher's.
"""

from __future__ import annotations

import streamlit as st

from cnn_core.access import classroom
from cnn_core.data import downloads, ingest, storage
from cnn_core.data.datasets import REGISTRY
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig
from ui import halt, state

ZIP, FOLDER_UPLOAD, SERVER_FOLDER = "A zip file", "A folder from this computer", "A folder path on the server"


def own_images(config: DataConfig) -> str:
    """The dataset id of the user's own images (a zip or folder), or the page ends saying what to give."""
    st.markdown("One subfolder per class, e.g. `cats/…`, `dogs/…`, with or without one folder around them.")
    sources = [ZIP, FOLDER_UPLOAD] + ([SERVER_FOLDER] if classroom.server_folders_allowed() else [])
    how = st.radio("Bring them as", sources, horizontal=True, key=state.key("data", "own_source"))
    dataset_id = None
    try:
        if how == ZIP:
            uploaded = st.file_uploader("Upload a zip", type=["zip"], key=state.key("data", "upload"))
            if uploaded is not None:
                dataset_id = f"zip:{save_upload(uploaded.getvalue(), uploaded.name)}"
        elif how == FOLDER_UPLOAD:
            files = st.file_uploader(
                "Choose the folder", accept_multiple_files="directory", key=state.key("data", "upload_folder"),
                help="Your browser sends every file in the folder; they are kept in this app's data folder.",
            )  # fmt: skip
            if files:
                storage.check_upload(state.owner_id(), sum(f.size for f in files))
                saved = ingest.save_folder_upload([(f.name, f.getvalue()) for f in files], uploads())
                dataset_id = f"folder:{saved}"
        else:
            dataset_id = server_folder()
    except StudioError as exc:
        st.error(str(exc))
        halt()
    if dataset_id is None and config.dataset_id.startswith(("zip:", "folder:")):
        return config.dataset_id
    if dataset_id is None:
        st.info("Upload a zip or a folder, or give a folder path, to load your images.")
        halt()
    return dataset_id


def server_folder() -> str | None:
    """`folder:<path>` for a folder typed by the user, once this server may read it (else a `StudioError`)."""
    roots = classroom.data_roots() if classroom.enabled() else []
    folder = st.text_input(
        "A folder on this machine", key=state.key("data", "folder"),
        placeholder=str(roots[0] / "images") if roots else "/path/to/images",
        help=f"A folder under {', '.join(map(str, roots))}: the folders this class may read." if roots else None,
    )  # fmt: skip
    return f"folder:{classroom.check_server_path(folder.strip())}" if folder.strip() else None


def uploads():
    return classroom.upload_dir(state.owner_id())  # in classroom mode, each browser's own folder


def save_upload(data: bytes, name: str):
    storage.check_upload(state.owner_id(), len(data))
    return ingest.save_upload(data, name, uploads())


def place_keras_file(choice: str) -> None:
    """Offer to place the file Keras would download (e.g. from a USB stick); the teacher's alone in a class."""
    if choice not in downloads.PLACEABLE:
        return
    file = downloads.PLACEABLE[choice]
    owner = state.owner_id()
    if classroom.enabled() and not classroom.is_teacher(owner):
        st.caption(f"Offline? The teacher can place a copy of {file} on this server for the class.")
        return
    placed = st.file_uploader(
        f"Offline? Upload a copy of {file}", key=state.key("data", "place", choice),
        help="E.g. from a USB stick: it is checked, then put where Keras looks for it.",
    )  # fmt: skip
    if placed is None:
        return
    try:
        upload = save_upload(placed.getvalue(), placed.name)
        placed_id, target = downloads.place_file(upload, slot=choice, who=classroom.owner_tag(owner))
    except StudioError as exc:
        st.error(f"{placed.name} was not placed: {exc}")
        halt()
    if placed_id != choice:
        st.error(f"{placed.name} is {placed_id}, not {REGISTRY[choice].name}: it was placed, choose {placed_id} to use it.")
        halt()
    st.success(f"Placed in {target}.")
