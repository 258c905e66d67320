"""Data: pick a dataset or bring your own images, and see what is in it."""

import streamlit as st

from cnn_core import charts, ingest, paths
from cnn_core.config import DataConfig
from cnn_core.datasets import REGISTRY
from cnn_core.errors import StudioError
from cnn_core.images import montage
from cnn_core.settings import declared
from ui import halt, settings_form, state, widgets

OWN = "own"
DATASET_HELP = next(d.setting.help for d in declared(DataConfig) if d.name == "dataset_id")
KIND_LABEL = {"bundled": "bundled, offline", "generated": "generated, offline", "download": "Keras download"}

st.title("Data")
st.caption("Pick the images to train on. Bundled datasets work offline; Keras downloads need the internet once.")

config = state.data_config()
choice_key = state.setting_key("data", "dataset_id")
state.seed_widget(choice_key, config.dataset_id if config.dataset_id in REGISTRY else OWN)
choice = st.selectbox(
    "Dataset",
    [*REGISTRY, OWN],
    key=choice_key,
    help=DATASET_HELP,
    format_func=lambda k: (
        "Your own images (zip or folder)" if k == OWN else f"{REGISTRY[k].name} ({KIND_LABEL[REGISTRY[k].kind]})"
    ),
)

dataset_id = choice
if choice == OWN:
    st.markdown("One subfolder per class, e.g. `cats/…`, `dogs/…`, with or without one folder around them.")
    upload_col, folder_col = st.columns(2)
    uploaded = upload_col.file_uploader("Upload a zip", type=["zip"], key=state.key("data", "upload"))
    folder = folder_col.text_input("…or a folder on this machine", key=state.key("data", "folder"), placeholder="/path/to/images")
    if uploaded is not None:
        saved = ingest.save_upload(uploaded.getvalue(), uploaded.name, paths.data_dir() / "uploads")
        dataset_id = f"zip:{saved}"
    elif folder.strip():
        dataset_id = f"folder:{folder.strip()}"
    elif config.dataset_id.startswith(("zip:", "folder:")):
        dataset_id = config.dataset_id
    else:
        st.info("Upload a zip or give a folder path to load your images.")
        halt()

with st.expander("Splits and image format"):
    values = settings_form.form_section(config, "data", "Splits", columns=3)
    values |= settings_form.form_section(config, "data", "Format", columns=3)
new_config = DataConfig(dataset_id, **values)
if new_config != config:
    state.set_data_config(new_config)

try:
    with st.spinner(f"Loading {dataset_id} …"):
        ds = state.current_dataset(new_config)
except StudioError as exc:
    st.error(str(exc))
    halt()

st.subheader(ds.spec.name)
st.markdown(f"{ds.spec.description}  \n**Source:** {ds.spec.source}")
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
left.image(charts.class_distribution_svg(ds.class_names, counts), width="stretch")
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
        st.image(montage(images, columns=8, scale=scale), clamp=True)
