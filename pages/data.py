"""Data: pick a dataset or bring your own images, and see what is in it."""

import streamlit as st

from cnn_core import charts, classroom, downloads, ingest
from cnn_core.config import DataConfig
from cnn_core.datasets import REGISTRY
from cnn_core.errors import StudioError
from cnn_core.images import montage
from cnn_core.settings import declared
from ui import halt, settings_form, state, widgets

OWN = "own"
DATASET_HELP = next(d.setting.help for d in declared(DataConfig) if d.name == "dataset_id")
KIND_LABEL = {"bundled": "bundled, offline", "generated": "generated, offline", "download": "Keras download"}


def kind_label(spec) -> str:
    if spec.kind == "download" and spec.offline:
        return "on this machine, offline"
    return KIND_LABEL[spec.kind]


st.title("Data")
st.caption(
    "Pick the images to train on. Bundled datasets work offline; Keras downloads need the internet once, "
    "unless their files are already on this machine (Fashion-MNIST from Debian's dataset-fashion-mnist)."
)

config = state.data_config()
uploads = classroom.upload_dir(state.owner_id())  # in classroom mode, each browser's own folder
choice_key = state.setting_key("data", "dataset_id")
state.seed_widget(choice_key, config.dataset_id if config.dataset_id in REGISTRY else OWN)
choice = st.selectbox(
    "Dataset",
    [*REGISTRY, OWN],
    key=choice_key,
    help=DATASET_HELP,
    format_func=lambda k: "Your own images (zip or folder)" if k == OWN else f"{REGISTRY[k].name} ({kind_label(REGISTRY[k])})",
)

dataset_id = choice
if choice == OWN:
    st.markdown("One subfolder per class, e.g. `cats/…`, `dogs/…`, with or without one folder around them.")
    sources = ["A zip file", "A folder from this computer"] + (
        ["A folder path on the server"] if classroom.server_folders_allowed() else []
    )
    how = st.radio("Bring them as", sources, horizontal=True, key=state.key("data", "own_source"))
    if how == "A zip file":
        uploaded = st.file_uploader("Upload a zip", type=["zip"], key=state.key("data", "upload"))
        if uploaded is not None:
            dataset_id = f"zip:{ingest.save_upload(uploaded.getvalue(), uploaded.name, uploads)}"
    elif how == "A folder from this computer":
        files = st.file_uploader(
            "Choose the folder", accept_multiple_files="directory", key=state.key("data", "upload_folder"),
            help="Your browser sends every file in the folder; they are kept in this app's data folder.",
        )  # fmt: skip
        if files:
            try:
                saved = ingest.save_folder_upload([(f.name, f.getvalue()) for f in files], uploads)
            except StudioError as exc:
                st.error(str(exc))
                halt()
            dataset_id = f"folder:{saved}"
    else:
        roots = classroom.data_roots() if classroom.enabled() else []
        folder = st.text_input(
            "A folder on this machine", key=state.key("data", "folder"), placeholder=str(roots[0] / "images") if roots else "/path/to/images",
            help=f"A folder under {', '.join(map(str, roots))}: the folders this class may read." if roots else None,
        )  # fmt: skip
        if folder.strip():
            try:
                dataset_id = f"folder:{classroom.check_server_path(folder.strip())}"
            except StudioError as exc:
                st.error(str(exc))
                halt()
    if dataset_id == OWN and config.dataset_id.startswith(("zip:", "folder:")):
        dataset_id = config.dataset_id
    elif dataset_id == OWN:
        st.info("Upload a zip or a folder, or give a folder path, to load your images.")
        halt()
elif not REGISTRY[choice].offline:
    st.warning(f"{REGISTRY[choice].name} is not on this machine yet: it will be downloaded, which needs the internet once.")
    if choice in downloads.PLACEABLE and classroom.enabled() and not classroom.is_teacher(state.owner_id()):
        st.caption(f"Offline? The teacher can place a copy of {downloads.PLACEABLE[choice]} on this server for the class.")
    elif choice in downloads.PLACEABLE:
        placed = st.file_uploader(
            f"Offline? Upload a copy of {downloads.PLACEABLE[choice]}", key=state.key("data", "place", choice),
            help="E.g. from a USB stick: it is checked, then put where Keras looks for it.",
        )  # fmt: skip
        if placed is not None:
            try:
                upload = ingest.save_upload(placed.getvalue(), placed.name, uploads)
                placed_id, target = downloads.place_file(upload)
            except StudioError as exc:
                st.error(f"{placed.name} was not placed: {exc}")
                halt()
            if placed_id != choice:
                st.error(
                    f"{placed.name} is {placed_id}, not {REGISTRY[choice].name}: it was placed, choose {placed_id} to use it."
                )
                halt()
            st.success(f"Placed in {target}.")

with st.expander("Splits and image format"):
    values = settings_form.form_section(config, "data", "Splits", columns=3)
    values |= settings_form.form_section(config, "data", "Format", columns=3)
new_config = DataConfig(dataset_id, **values)
try:
    classroom.check_dataset_id(new_config.dataset_id, state.owner_id())  # a link may name any path
except StudioError as exc:
    st.error(str(exc))
    state.set_data_config(DataConfig())  # so no other page loads it either
    halt()
if new_config != config:
    state.set_data_config(new_config)

try:
    with st.spinner(f"Loading {dataset_id} …"), widgets.progress_bar() as progress:
        ds = state.current_dataset(new_config, progress)
except StudioError as exc:
    st.error(str(exc))
    halt()

st.subheader(ds.spec.name)
st.markdown(f"{ds.spec.description}  \n**Loaded from:** {ds.origin or ds.spec.source}")
counts = ds.counts()
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Image shape", " × ".join(map(str, ds.input_shape)))
m2.metric("Classes", ds.num_classes)
for column, (split, values) in zip((m3, m4, m5), counts.items()):
    column.metric(f"{split.capitalize()} images", f"{sum(values):,}")

if ds.report is not None:
    report = ds.report
    st.markdown(
        f"**Ingestion report** — {sum(report.counts):,} images in {len(report.class_names)} classes, "
        f"{report.image_size[0]}×{report.image_size[1]}, {'grayscale' if report.channels == 1 else 'RGB'}; "
        f"{len(report.skipped)} skipped, {report.ignored} hidden or system files ignored."
    )
    if report.streamed:
        st.info("This folder is larger than the memory budget: images stay on disk and are read as needed.")
    if report.skipped:
        files, reasons = zip(*report.skipped)
        st.dataframe({"file": files, "reason": reasons}, hide_index=True, width="stretch")

left, right = st.columns([3, 2])
left.image(charts.class_distribution_svg(ds.class_names, counts), width="stretch",
           alt="Bar chart of images per class, split into training, validation and test; the table beside it has the numbers")  # fmt: skip
rows = [[name, *column, sum(column)] for name, column in zip(ds.class_names, zip(*counts.values()))]
rows.append(["total", *map(sum, zip(*(row[1:] for row in rows)))])
with right:
    widgets.compact_table(["class", *counts, "all"], rows)

st.subheader("Samples")
scale = max(1, 48 // max(ds.input_shape[:2]))
columns = st.columns(2)
for k, (name, images) in enumerate(ds.samples(8).items()):
    with columns[k % 2]:
        st.markdown(f"**{name}**")
        st.image(montage(images, columns=8, scale=scale), clamp=True, alt=f"Eight sample images of the class {name}")
