"""Sentiment classifier: Embedding(mask_zero=True) -> (bidirectional) recurrent layer(s) -> Dense.

For IMDB and SST-2 token ids from `zoo.data.text` (0 is padding, sequences right-padded): the
embedding's mask makes every recurrent layer skip the padding, so the last state read by the
classifier is that of the last real token.
"""

from __future__ import annotations

import keras

from zoo.models.language_model import check_cell, recurrent_layer


def sentiment_classifier(
    cell: str = "lstm",
    impl: str = "zoo",
    vocab_size: int = 20000,
    embedding_dim: int = 128,
    units: int = 128,
    layers: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.3,
    max_len: int | None = None,
    summary: bool = False,
) -> keras.Model:
    """A binary sentiment classifier over token ids.

    Embedding(vocab_size, embedding_dim, mask_zero=True) -> Dropout -> `layers` recurrent layers
    of `units` (each wrapped in `keras.layers.Bidirectional` when `bidirectional`; all but the
    last return sequences) -> Dropout -> Dense(1) logit.

    Args:
        cell, impl: as in `zoo.models.language_model`.
        vocab_size: token ids are in [0, vocab_size); 0 is padding.
        embedding_dim, units, layers: widths and depth.
        bidirectional: read each sequence both ways and concatenate.
        dropout: rate of the Dropout after the embedding and before the Dense.
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
    tokens = keras.Input((max_len,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(tokens)
    x = keras.layers.Dropout(dropout)(x)
    for index in range(layers):
        layer = recurrent_layer(
            cell, impl, units, return_sequences=index < layers - 1, name=f"{cell}_{index}"
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bi_{cell}_{index}")
        x = layer(x)
    x = keras.layers.Dropout(dropout)(x)
    logits = keras.layers.Dense(1, name="logit")(x)
    model = keras.Model(tokens, logits, name=f"sentiment_{cell}_{impl}")
    if summary:
        model.summary()
    return model
