"""zoo: the GRU vs LSTM model zoo for Keras 3.

Recurrent cells written from their equations (weight-compatible with, and numerically equal
to, `keras.layers.LSTM` / `keras.layers.GRU`), data pipelines, models, training, TensorBoard
callbacks and export.
"""

__version__ = "0.1.0"

# Imported for their side effect: registering the serializable classes (layers, the loss,
# the classifier's SequencePooling) with Keras, so .keras files that use them load.
from zoo import layers, losses, models  # noqa: E402,F401
