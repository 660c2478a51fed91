"""Fold an embedding into the input projection of the recurrent layer that reads it.

For token ids the first recurrent layer's input is a row of the embedding table E, so its input
projection is a row of E W::

    x_t = E[token_t]      =>      x_t W = (E W)[token_t]

A copy of the model whose Embedding holds E W (vocabulary x gates * units) and whose first
recurrent layer takes `inputs_projected=True` (its recurrent kernel and bias, no kernel)
computes the same logits with the first layer's input matmul (2 d * gates * units FLOPs a
token) replaced by a row lookup. The table is (gates * units) / d times the embedding's size:
a serving trade of memory for time (`benchmarks/folded_inference.py` measures it).
"""

from __future__ import annotations

import keras


def fold_embedding(model: keras.Sequential) -> keras.Sequential:
    """A copy of `model` with its embedding folded into its first recurrent layer (above).

    Args:
        model: a built `keras.Sequential` whose first two layers are a `keras.layers.Embedding`
            and a zoo layer that takes projected inputs (`zoo.layers.LSTM` or `GRU`, without
            `inputs_projected` already). The other layers are copied unchanged (from their
            configs, with their weights).

    Returns:
        The folded copy, for inference: it computes `model`'s outputs to float32 rounding,
        from the current states of its stateful layers (copied). Its first recurrent layer has
        no input dropout (`dropout` on projected inputs cannot be applied; `model`'s acts only
        in training anyway). A LoRA-enabled Embedding is folded with its merged table.

    Raises:
        ValueError: naming what `model` lacks.
    """
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"model: expected a keras.Sequential, got {type(model).__name__}")
    if len(model.layers) < 2 or not isinstance(model.layers[0], keras.layers.Embedding):
        raise ValueError(
            f"model {model.name!r}: expected an Embedding followed by a recurrent layer, got "
            f"layers {[type(layer).__name__ for layer in model.layers[:2]]}"
        )
    embedding, recurrent = model.layers[:2]
    cell = getattr(recurrent, "cell", None)
    if getattr(cell, "inputs_projected", False):
        raise ValueError(
            f"model {model.name!r}: its layer {recurrent.name!r} has inputs_projected=True "
            "already: the model is folded"
        )
    if not getattr(cell, "supports_inputs_projected", False):
        raise ValueError(
            f"model {model.name!r}: its layer {recurrent.name!r} ({type(recurrent).__name__}) "
            "does not take projected inputs; fold_embedding needs a zoo.layers.LSTM or GRU "
            "reading the embedding"
        )
    if not cell.built:
        raise ValueError(f"model {model.name!r}: expected a built model (call it once first)")
    kernel = cell.kernel
    table = keras.ops.convert_to_numpy(keras.ops.matmul(embedding.embeddings, kernel))
    embedding_config = {**embedding.get_config(), "output_dim": kernel.shape[1]}
    for lora in ("lora_rank", "lora_alpha"):  # `embeddings` is the merged table already
        embedding_config.pop(lora, None)
    recurrent_config = {**recurrent.get_config(), "inputs_projected": True, "dropout": 0.0}
    copies = [
        embedding.__class__.from_config(embedding_config),
        recurrent.__class__.from_config(recurrent_config),
        *(layer.__class__.from_config(layer.get_config()) for layer in model.layers[2:]),
    ]
    weights = [
        [table],
        [keras.ops.convert_to_numpy(w) for w in cell.weights if w is not kernel],
        *(layer.get_weights() for layer in model.layers[2:]),
    ]
    source = model.inputs[0]
    inputs = keras.Input(
        source.shape[1:], batch_size=source.shape[0], dtype=source.dtype, name=source.name
    )
    folded = keras.Sequential([inputs, *copies], name=model.name)
    for copy, layer_weights in zip(copies, weights):
        copy.set_weights(layer_weights)
    for layer, copy in zip(model.layers[1:], copies[1:]):
        if getattr(layer, "stateful", False) and layer.states is not None:
            for state, copied in zip(layer.states, copy.states):
                copied.assign(state)
    return folded
