"""zoo: the GRU vs LSTM model zoo for Keras 3.

Recurrent cells written from their equations (weight-compatible with, and numerically equal
to, `keras.layers.LSTM` / `keras.layers.GRU`), data pipelines, models, training, TensorBoard
callbacks and export.
"""

__version__ = "0.1.0"

from zoo import layers, losses  # noqa: E402,F401  (registers the serializable classes on import)
