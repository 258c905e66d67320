"""Data: pick a dataset or bring your own images, and see what is in it."""

import streamlit as st

from cnn_core import charts
from cnn_core.access import classroom
from cnn_core.data import versions
from cnn_core.data.datasets import REGISTRY
from cnn_core.data.images import montage
from cnn_core.errors import StudioError
from cnn_core.settings.config import DataConfig
from cnn_core.settings.fields import declared
from ui import data_sources, halt, settings_form, state, version_view, widgets

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
choice_key = state.setting_key("data", "dataset_id")
base_id = versions.split_id(config.dataset_id)[0]  # a version is picked below, under its dataset
state.seed_widget(choice_key, base_id if base_id in REGISTRY else OWN)
choice = st.selectbox(
    "Dataset",
    [*REGISTRY, OWN],
    key=choice_key,
    help=DATASET_HELP,
    format_func=lambda k: "Your own images (zip or folder)" if k == OWN else f"{REGISTRY[k].name} ({kind_label(REGISTRY[k])})",
)

dataset_id = choice
if choice == OWN:
    dataset_id = data_sources.own_images(config)
elif not REGISTRY[choice].offline:
    st.warning(f"{REGISTRY[choice].name} is not on this machine yet: it will be downloaded, which needs the internet once.")
    data_sources.place_keras_file(choice)
dataset_id = version_view.keep_version(config.dataset_id, dataset_id)

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

version_view.section(ds, new_config)

st.subheader("Samples")
scale = max(1, 48 // max(ds.input_shape[:2]))
columns = st.columns(2)
for k, (name, images) in enumerate(ds.samples(8).items()):
    with columns[k % 2]:
        st.markdown(f"**{name}**")
        st.image(montage(images, columns=8, scale=scale), clamp=True, alt=f"Eight sample images of the class {name}")
