"""CNN Studio's core: datasets, architectures, training, runs and inspection, with no UI.

Nothing here imports streamlit, and TensorFlow is imported only inside the functions that need it,
so that light pages and quick tests stay fast.
"""

from cnn_core.errors import StudioError

__all__ = ["StudioError"]
