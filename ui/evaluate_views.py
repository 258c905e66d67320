"""Pieces of the Evaluate page: what changed between two epochs of a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnn_core.inspection.evaluation import compare_epochs
from ui import label_view, run_picker, state, widgets
from ui.memo import Memo


def epoch_comparison(loaded, result) -> None:
    """Pick another saved epoch and see per-class accuracy changes and the images that flipped."""
    epochs = run_picker.saved_epochs(loaded.run_id)
    if len(epochs) < 2 and not (epochs and loaded.epoch is None):
        st.caption("This run has a single saved state: train more epochs to compare them.")
        return
    here = "final" if loaded.epoch is None else f"epoch {loaded.epoch}"
    other = st.selectbox(
        f"Compare {here} (B) with epoch (A)", [e for e in epochs if e != loaded.epoch], index=0,
        key=state.key("inspect", "compare", loaded.run_id),
    )  # fmt: skip
    with st.spinner(f"Predicting the test split with epoch {other}…"):
        before = run_picker.evaluation(loaded.run_id, other)
    change = compare_epochs(before, result)
    names, images = result.class_names, loaded.dataset.test.images
    c = st.columns(3)
    c[0].metric(f"Accuracy at epoch {other}", f"{before.accuracy:.2%}")
    c[1].metric(f"Accuracy at {here}", f"{result.accuracy:.2%}", delta=f"{(result.accuracy - before.accuracy) * 100:+.2f} points")
    c[2].metric("Images that flipped", f"{len(change.became_right)} right · {len(change.became_wrong)} wrong")
    st.dataframe(
        pd.DataFrame(change.per_class()), hide_index=True, width="stretch",
        column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("accuracy A", "accuracy B", "change")},
    )  # fmt: skip
    for title, indices in ((f"Became right by {here}", change.became_right), (f"Became wrong by {here}", change.became_wrong)):
        st.markdown(f"**{title}** ({len(indices)})")
        if len(indices):
            widgets.image_grid(
                [images[i] for i in indices[:24]],
                [f"{names[result.y_true[i]]}: {names[before.y_pred[i]]} → {names[result.y_pred[i]]}" for i in indices[:24]],
            )


_RANKINGS = Memo(4)


def hardest(loaded) -> None:
    """Images ranked by their loss, hardest first (often mislabelled), and the surest correct ones."""
    from cnn_core.inspection.hardest import rank

    names = loaded.dataset.class_names
    left, right = st.columns(2)
    split = left.radio("Rank", ["train", "test"], horizontal=True, key=state.key("evaluate", "hard_split"),
                       format_func=lambda s: {"train": "training images", "test": "test images"}[s])  # fmt: skip
    only = right.selectbox("Given label", [None, *range(len(names))], key=state.key("evaluate", "hard_class"),
                           format_func=lambda k: "all classes" if k is None else names[k])  # fmt: skip
    with widgets.progress_bar() as progress:
        ranked = _RANKINGS.get(
            (loaded.run_id, loaded.epoch, split), lambda: rank(loaded.model, loaded.dataset, (split,), progress)
        )
    order = ranked.order(only)[:24]
    images = loaded.dataset.splits[split].images
    st.caption(
        "The images the model finds hardest to accept with their given label: the loss is -log(belief in the label). "
        "At the top are often mislabelled or ambiguous images; worth checking before training longer."
    )
    widgets.image_grid(
        [images[int(ranked.index[i])] for i in order],
        [f"{names[ranked.labels[i]]}: {ranked.probabilities[i, ranked.labels[i]]:.0%} → {names[ranked.predicted[i]]}"
         f" (loss {ranked.loss[i]:.1f})" for i in order],
    )  # fmt: skip
    if label_view.allowed(loaded):
        with st.expander("Mark these images (relabel, exclude, keep) for a new dataset version"):
            keys = loaded.dataset.splits[split].keys
            label_view.mark_gallery(label_view.dataset_id_of(loaded), names, [
                {"image": images[int(ranked.index[i])], "key": keys[int(ranked.index[i])], "given": names[ranked.labels[i]],
                 "suggested": names[ranked.predicted[i]], "caption": f"{names[ranked.labels[i]]} → {names[ranked.predicted[i]]}"}
                for i in order
            ], f"hardest-{split}")  # fmt: skip
    table = pd.DataFrame(ranked.table(ranked.order()))
    st.download_button("Download the whole ranking (CSV)", table.to_csv(index=False), f"{loaded.run_id}-hardest-{split}.csv",
                       "text/csv", icon=":material/download:", key=state.key("evaluate", "hard_csv"))  # fmt: skip
    with st.expander("The other end: the correct images the model is surest of, per class"):
        for name, positions in ranked.most_confident_correct(8).items():
            st.markdown(f"**{name}**")
            widgets.image_grid([images[int(ranked.index[i])] for i in positions],
                               [f"{ranked.probabilities[i].max():.1%}" for i in positions], size=56)  # fmt: skip


def mark_mistakes(loaded, result, shown) -> None:
    """Marks on the misclassified test images shown (a test-set edit changes what accuracy means)."""
    if not len(shown) or not label_view.allowed(loaded):
        return
    names, test = result.class_names, loaded.dataset.test
    with st.expander("Mark these images (relabel, exclude, keep) for a new dataset version"):
        st.caption("These are test images: a version that changes their labels changes what test accuracy measures.")
        label_view.mark_gallery(label_view.dataset_id_of(loaded), names, [
            {"image": test.images[i], "key": test.keys[i], "given": names[result.y_true[i]],
             "suggested": names[result.y_pred[i]], "caption": f"{names[result.y_true[i]]} → {names[result.y_pred[i]]}"}
            for i in shown
        ], "mistakes")  # fmt: skip


_MAPS = Memo(6)
_SPRITES = Memo(4)  # the map's hover thumbnails, per run's test split and method
TSNE_POINTS = 2000  # t-SNE's budget: a fixed sample of the test split (about 5 s on 2 cores)


def embedding_map(loaded) -> None:
    """The penultimate layer's view of the test split in 2-D; click a point to open it in Visualize."""
    from cnn_core import charts
    from cnn_core.inspection.embedding import METHODS, embed, sprite
    from ui import map_component

    test = loaded.dataset.test
    method = st.radio(
        "Projection", list(METHODS), format_func=METHODS.get, horizontal=True, key=state.key("evaluate", "map_method")
    )
    chosen = np.arange(len(test))
    if method == "tsne" and len(test) > TSNE_POINTS:
        chosen = np.sort(np.random.default_rng(0).choice(len(test), TSNE_POINTS, replace=False))
    key = (loaded.run_id, loaded.epoch, method)
    with st.spinner(f"Projecting {len(chosen):,} test images…"), widgets.progress_bar() as progress:
        found = _MAPS.get(
            key, lambda: embed(loaded.model, test.images.take(chosen, axis=0), test.labels[chosen], method, progress)
        )
    thumbnails = _SPRITES.get((loaded.run_id, method), lambda: sprite(test.images.take(chosen, axis=0)))
    names = loaded.dataset.class_names
    fig = charts.embedding_map(found.points, found.labels, found.predicted, names, chosen)
    clicked = map_component.embedding_map(fig, thumbnails, names, key=state.key("evaluate", "map", method), theme=widgets.theme())
    st.caption(
        "Each point is a test image as the layer before the output sees it, placed so that similar ones are close"
        + (f" (the two axes hold {found.explained:.0%} of the variation)" if found.explained is not None else "")
        + ". Crosses are mistakes. Hover a point to see its image; click it to choose it."
        + (f" t-SNE shows a fixed sample of {TSNE_POINTS:,} images." if len(chosen) < len(test) else "")
    )
    if clicked:
        index = int(clicked["index"])
        label = names[int(test.labels[index])]
        guess = names[int(clicked["predicted"])]
        widgets.image_grid([test.images[index]], [f"#{index}: {label}, predicted {guess}"], size=96)
        if st.button(
            f"Open test image #{index} ({label}) in Visualize", icon=":material/visibility:", key=state.key("evaluate", "open")
        ):
            open_in_visualize(loaded.dataset, index)


def open_in_visualize(dataset, index: int) -> None:
    """Show test image `index` on the Visualize page (its "Test image" choice, class and number)."""
    label = int(dataset.test.labels[index])
    position = int(np.flatnonzero(dataset.test.labels == label).tolist().index(index))
    state.put(state.key("visualize", "source"), "Test image")
    state.put(state.key("visualize", "class"), label)
    state.put(state.key("visualize", "index"), position + 1)
    st.switch_page("pages/visualize.py")


ROBUSTNESS_IMAGES = 300


def robustness_curve(loaded) -> None:
    """Test accuracy with every image turned by an angle, or with noise added: how the model holds up."""
    from cnn_core import charts
    from cnn_core.inspection.robustness import robustness_curve as measure

    key = state.key("evaluate", "robust_curve", loaded.run_id, loaded.epoch)
    if state.get(key) is None:
        if not st.button(f"Measure it on {ROBUSTNESS_IMAGES} test images", icon=":material/query_stats:",
                         key=state.key("evaluate", "robust_go", loaded.run_id)):  # fmt: skip
            return
        test = loaded.dataset.test
        chosen = np.arange(min(ROBUSTNESS_IMAGES, len(test)))
        with st.spinner("Turning and adding noise to every image, then predicting…"):
            state.put(key, measure(loaded.model, test.images.take(chosen, axis=0), test.labels[chosen]))
    st.plotly_chart(charts.robustness_curves(state.get(key)), width="stretch", key=state.key("evaluate", "robust_chart"))
    st.caption("A model trained with rotation or noise augmentation (Train page) holds up longer on these curves.")
