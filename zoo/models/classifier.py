"""Sentiment classifier: Embedding(mask_zero=True) -> (bidirectional) recurrent layer(s) ->
pooling over time -> Dense.

For IMDB and SST-2 token ids from `zoo.data.text` (0 is padding, sequences right-padded): the
embedding's mask makes every recurrent layer skip the padding, so the last state read by the
classifier is that of the last real token, and `SequencePooling` averages or maxes over the real
tokens only.
"""

from __future__ import annotations

import keras
from keras import ops

from zoo.models.language_model import check_cell, recurrent_layer

POOLINGS = ("last", "mean", "max")


@keras.saving.register_keras_serializable(package="zoo")
class SequencePooling(keras.layers.Layer):
    """Mean or max over the unmasked timesteps of a (batch, steps, features) sequence.

    With mask m (True for real tokens), for each example b and feature j:

        mean: y[b, j] = sum_t m[b, t] * x[b, t, j] / sum_t m[b, t]
        max:  y[b, j] = max_{t : m[b, t]} x[b, t, j]

    Without a mask every step counts. An example whose steps are all masked gets zeros.

    Args:
        mode: "mean" or "max".
    """

    def __init__(self, mode: str = "max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "max"):
            raise ValueError(f"mode: expected 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        if self.mode == "mean":
            count = ops.sum(ops.cast(keep, inputs.dtype), axis=1)
            total = ops.sum(ops.where(keep, inputs, ops.zeros_like(inputs)), axis=1)
            return total / ops.maximum(count, 1.0)
        pooled = ops.max(ops.where(keep, inputs, ops.full_like(inputs, float("-inf"))), axis=1)
        return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


def sentiment_classifier(
    cell: str = "lstm",
    impl: str = "zoo",
    vocab_size: int = 20000,
    embedding_dim: int = 128,
    units: int = 128,
    layers: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.3,
    pooling: str = "last",
    embedding_trainable: bool = True,
    max_len: int | None = None,
    summary: bool = False,
) -> keras.Model:
    """A binary sentiment classifier over token ids.

    Embedding(vocab_size, embedding_dim, mask_zero=True) -> Dropout -> `layers` recurrent layers
    of `units` (each wrapped in `keras.layers.Bidirectional` when `bidirectional`) -> pooling
    over time -> Dropout -> Dense(1) logit.

    Args:
        cell, impl: as in `zoo.models.language_model`.
        vocab_size: token ids are in [0, vocab_size); 0 is padding.
        embedding_dim, units, layers: widths and depth.
        bidirectional: read each sequence both ways and concatenate.
        dropout: rate of the Dropout after the embedding and before the Dense.
        pooling: what the Dense reads: "last" (the last layer's final state, that of the last
            real token; with `bidirectional` the backward direction's state after the first
            token), or "mean" / "max" over the last layer's outputs at the real tokens
            (`SequencePooling`).
        embedding_trainable: False freezes the embedding (for pretrained word vectors loaded
            with `model.get_layer("embedding").set_weights(...)`).
        max_len: sequence length of the Input (None: any length).
        summary: print `model.summary()` with parameter counts.

    Returns:
        A functional model: int (batch, max_len) -> logits (batch, 1); probability of the
        positive class = sigmoid(logit).
    """
    check_cell(cell, impl)
    for name, value in (
        ("vocab_size", vocab_size),
        ("embedding_dim", embedding_dim),
        ("units", units),
        ("layers", layers),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {POOLINGS}, got {pooling!r}")
    if not isinstance(embedding_trainable, bool):
        raise ValueError(
            f"embedding_trainable: expected True or False, got {embedding_trainable!r}"
        )
    tokens = keras.Input((max_len,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, trainable=embedding_trainable, name="embedding"
    )(tokens)
    x = keras.layers.Dropout(dropout)(x)
    for index in range(layers):
        sequences = index < layers - 1 or pooling != "last"
        layer = recurrent_layer(
            cell, impl, units, return_sequences=sequences, name=f"{cell}_{index}"
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bi_{cell}_{index}")
        x = layer(x)
    if pooling != "last":
        x = SequencePooling(pooling, name=f"{pooling}_pooling")(x)
    x = keras.layers.Dropout(dropout)(x)
    logits = keras.layers.Dense(1, name="logit")(x)
    model = keras.Model(tokens, logits, name=f"sentiment_{cell}_{impl}")
    if summary:
        model.summary()
    return model
