"""Small reusable widgets: image grids that keep pixels sharp."""

from __future__ import annotations

import numpy as np
import streamlit as st


def sharp(image: np.ndarray, size: int = 72) -> np.ndarray:
    """Enlarge a small `uint8` image by whole steps (nearest neighbour) so pixels stay crisp; (h, w) for grayscale."""
    image = np.asarray(image)
    scale = max(1, size // max(image.shape[:2]))
    big = image.repeat(scale, axis=0).repeat(scale, axis=1)
    return big[..., 0] if big.ndim == 3 and big.shape[-1] == 1 else big


def image_grid(images, captions: list[str] | None = None, size: int = 72) -> None:
    images = list(images)
    if images:
        st.image([sharp(im, size) for im in images], caption=captions, width=size, clamp=True)
