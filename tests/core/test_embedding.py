"""The embedding map separates classes a model tells apart; PCA is exact; refusals are clear."""

import numpy as np
import pytest

from cnn_core.errors import StudioError
from cnn_core.inspection.embedding import embed, pca
from tests.trained import corner_data

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("corner")]  # a shared session fixture (tests/conftest.py)
SILHOUETTE = 0.5  # well-separated clusters score near 1; overlapping ones near 0


def test_pca_matches_numpys_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 6)) * [5, 3, 1, 0.5, 0.2, 0.1]
    points, explained = pca(features)
    values, vectors = np.linalg.eigh(np.cov(features.T))
    top = vectors[:, ::-1][:, :2]
    np.testing.assert_allclose(np.abs(points), np.abs((features - features.mean(0)) @ top), atol=1e-8)
    assert explained == pytest.approx(values[::-1][:2].sum() / values.sum())


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_a_model_that_separates_two_classes_gives_a_map_that_separates_them(method, corner_embedding_model):
    from sklearn.metrics import silhouette_score

    model = corner_embedding_model
    test_x, test_y = corner_data(120, seed=1)
    heard = []
    found = embed(model, test_x, test_y, method, progress=lambda p: heard.append(p.done))
    if method == "tsne":  # scikit-learn's iterations, read as they pass
        assert heard[0] < heard[-1] == 1000 and heard == sorted(heard)
    assert found.points.shape == (120, 2) and (found.predicted == test_y).mean() > 0.9
    assert silhouette_score(found.points, test_y) > SILHOUETTE
    with pytest.raises(StudioError, match="unknown projection"):
        embed(model, test_x, test_y, "umap")


def test_the_hover_thumbnails_are_one_sheet_with_each_image_in_its_slot():
    import io

    from PIL import Image

    from cnn_core.inspection.embedding import sprite

    images = np.stack([np.full((28, 28, 1), 10 * k, np.uint8) for k in range(11)])
    png, cols, rows, tile = sprite(images)
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    assert (cols, rows, tile) == (4, 3, 28) and sheet.shape == (3 * 28, 4 * 28)
    for k in range(11):
        r, q = divmod(k, cols)
        assert (sheet[r * 28 : (r + 1) * 28, q * 28 : (q + 1) * 28] == 10 * k).all()
    colour = np.random.default_rng(0).integers(0, 256, (5000, 64, 64, 3), dtype=np.uint8)
    png, cols, rows, tile = sprite(colour, max_pixels=2_000_000)
    assert tile == 20 and Image.open(io.BytesIO(png)).size == (cols * 20, rows * 20) and cols * rows >= 5000
