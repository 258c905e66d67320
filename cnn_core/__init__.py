"""CNN Studio's core: datasets, architectures, training, runs and inspection, with no UI.

Nothing here imports streamlit, and TensorFlow is imported only inside the functions that need it,
so that light pages and quick tests stay fast.
"""

import os

from cnn_core.errors import StudioError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter is not for users
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the training code uses tf.data and TensorFlow ops

__all__ = ["StudioError"]
