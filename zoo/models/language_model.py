"""Word-level language model: embedding, stacked recurrent layers, softmax over the vocabulary.

The model of Zaremba et al. (2014) for any cell of `zoo.layers.CELLS`. The hidden state is an
explicit input and output of `call`, so a training loop carries it from one batch to the next
(truncated BPTT over a contiguous stream) and resets it at the start of each epoch; the same
model evaluates valid and test with their own carried state. Dropout acts on the non-recurrent
connections only (embedding output, between layers, before the softmax) through
`keras.layers.Dropout`, whose mask is drawn elementwise over (batch, time, features): a fresh
mask at every timestep, as in the paper.
"""

from __future__ import annotations

import keras

from zoo import layers as zoo_layers
from zoo.checks import positive_int
from zoo.models import configs, folding

IMPLS = ("zoo", "keras")
# cell name -> (Keras layer class name, fixed arguments) for impl="keras"
KERAS_EQUIVALENTS: dict[str, tuple[str, dict]] = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {"reset_after": True}),
    "gru_v1": ("GRU", {"reset_after": False}),
    "rnn": ("SimpleRNN", {}),
    "simple_rnn": ("SimpleRNN", {}),
}
BUDGETS = ("same_width", "match:<cell>")


def check_cell(cell: str, impl: str) -> None:
    """Raise a ValueError naming `cell` or `impl` when the pair cannot be built."""
    if impl not in IMPLS:
        raise ValueError(f"impl: expected one of {IMPLS}, got {impl!r}")
    if cell not in zoo_layers.CELLS:
        raise ValueError(f"cell: expected one of {sorted(zoo_layers.CELLS)}, got {cell!r}")
    if impl == "keras" and cell not in KERAS_EQUIVALENTS:
        raise ValueError(
            f"cell: {cell!r} has no built-in Keras layer (impl='keras' supports "
            f"{sorted(set(KERAS_EQUIVALENTS) & set(zoo_layers.CELLS))}); use impl='zoo'"
        )


def recurrent_layer(
    cell: str,
    impl: str,
    units: int,
    *,
    return_sequences: bool = True,
    return_state: bool = False,
    name: str | None = None,
    **cell_kwargs,
) -> keras.layers.Layer:
    """A recurrent layer of cell `cell` ("lstm", "gru", ... any key of `zoo.layers.CELLS`).

    impl="zoo" builds the zoo's layer (`zoo.layers.recurrent`); impl="keras" the built-in
    `keras.layers.LSTM` / `GRU` / `SimpleRNN`. `cell_kwargs` go to the cell (initializers,
    dropout, `unit_forget_bias` for the LSTM, ...).
    """
    check_cell(cell, impl)
    layer_kwargs = {"return_sequences": return_sequences, "return_state": return_state}
    if name is not None:
        layer_kwargs["name"] = name
    if impl == "zoo":
        return zoo_layers.recurrent(cell, units, **cell_kwargs, **layer_kwargs)
    class_name, fixed = KERAS_EQUIVALENTS[cell]
    return getattr(keras.layers, class_name)(units, **fixed, **cell_kwargs, **layer_kwargs)


def layer_widths(cell: str, units: int, layers: int, budget: str = "same_width") -> list[int]:
    """The width of each recurrent layer for `budget`.

    "same_width": `units` everywhere. "match:<other>" (e.g. "match:lstm"): layer i gets the
    width whose parameter count is closest to that of layer i of an `<other>` stack of `units`
    (`zoo.layers.units_for_budget`; the input width of the first layer is `units`, the
    embedding's, and of each later layer the previous layer's width).
    """
    units, layers = positive_int("units", units), positive_int("layers", layers)
    if budget == "same_width":
        return [units] * layers
    if not (isinstance(budget, str) and budget.startswith("match:")):
        raise ValueError(f"budget: expected 'same_width' or 'match:<cell>', got {budget!r}")
    reference = budget.split(":", 1)[1]
    if reference not in zoo_layers.CELLS:
        raise ValueError(f"budget: unknown cell {reference!r}; valid: {sorted(zoo_layers.CELLS)}")
    widths, input_dim = [], units
    for index in range(layers):
        target = zoo_layers.count_params(reference, units, units)
        widths.append(
            units if cell == reference else zoo_layers.units_for_budget(cell, input_dim, target)
        )
        input_dim = widths[index]
    return widths


@keras.saving.register_keras_serializable(package="zoo")
class LanguageModel(keras.Model):
    """Embedding -> [Dropout -> recurrent layer] x L -> Dropout -> Dense softmax logits.

    Call: `model(tokens, states, training=False) -> (logits, new_states)`, with tokens int
    (batch, T), logits (batch, T, vocab_size) (unnormalized; softmax gives next-word
    probabilities) and states a list with one entry per layer, each the list of that layer's
    state tensors (LSTM [h, c], GRU [h]), each (batch, width). `zero_states(batch)` gives the
    states of an epoch's start.

    `model.save("lm.keras")` keeps the whole training model (its dropout and its explicit
    states); `keras.saving.load_model` rebuilds it, with `import zoo`, in safe mode.
    `inference_model(model)` is the copy for serving.
    """

    def __init__(
        self,
        cell: str,
        impl: str,
        vocab_size: int,
        embedding_dim: int,
        widths: list[int],
        dropout: float,
        init_scale: float | None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_cell(cell, impl)
        self.cell_name, self.impl, self.widths = cell, impl, list(widths)
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.dropout, self.init_scale, self.seed = dropout, init_scale, seed

        def init(default: str):
            if init_scale is None:
                return default
            return keras.initializers.RandomUniform(-init_scale, init_scale)

        cell_arguments = getattr(zoo_layers.CELLS[cell], "cell_arguments", ())

        def cell_kwargs() -> dict:  # fresh initializers per layer: a seeded one repeats itself
            kwargs = {
                "kernel_initializer": init("glorot_uniform"),
                "recurrent_initializer": init("orthogonal"),
                "bias_initializer": init("zeros"),
            }
            if init_scale is not None and "unit_forget_bias" in cell_arguments:
                kwargs["unit_forget_bias"] = False  # the paper: forget bias drawn like the rest
            return kwargs

        policy = self.dtype_policy  # the sublayers', so that a saved model reloads with it
        self.embedding = keras.layers.Embedding(
            vocab_size,
            embedding_dim,
            embeddings_initializer=init("uniform"),
            name="embedding",
            dtype=policy,
        )
        self.recurrent = [
            recurrent_layer(
                cell,
                impl,
                width,
                return_sequences=True,
                return_state=True,
                name=f"{cell}_{index}",
                dtype=policy,
                **cell_kwargs(),
            )
            for index, width in enumerate(widths)
        ]
        self.dropouts = [
            keras.layers.Dropout(dropout, seed=None if seed is None else seed + index, dtype=policy)
            for index in range(len(widths) + 1)
        ]
        self.decoder = keras.layers.Dense(
            vocab_size,
            kernel_initializer=init("glorot_uniform"),
            bias_initializer=init("zeros"),
            name="softmax",
            dtype=policy,
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "cell": self.cell_name,
            "impl": self.impl,
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "widths": list(self.widths),
            "dropout": self.dropout,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }

    def zero_states(self, batch_size: int) -> list[list]:
        """All-zero states for `batch_size` rows: the start of an epoch."""
        states = []
        for layer in self.recurrent:
            sizes = layer.cell.state_size
            sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
            states.append([keras.ops.zeros((batch_size, size)) for size in sizes])
        return states

    def call(self, tokens, states=None, training=False):
        if states is None:
            states = self.zero_states(keras.ops.shape(tokens)[0])
        x = self.dropouts[0](self.embedding(tokens), training=training)
        new_states = []
        for layer, dropout, state in zip(self.recurrent, self.dropouts[1:], states):
            x, *final = layer(x, initial_state=list(state), training=training)
            new_states.append(final)
            x = dropout(x, training=training)
        return self.decoder(x), new_states


def inference_model(model: LanguageModel, fold_embedding: bool = False) -> keras.Model:
    """A Sequential copy of `model` for saving and serving: token ids (B, T) -> logits (B, T, V).

    Embedding -> the recurrent layers (same configs, returning sequences but not states) ->
    Dense, with `model`'s weights; no Dropout (inference only) and no explicit states: each call
    starts from zero states. It saves as a `.keras` file that loads with `import zoo` in safe
    mode, and `zoo.export.export_saved_model(..., task="language_model")` exports it.

    With `fold_embedding`, the copy is `zoo.models.fold_embedding`'s: its Embedding holds E W,
    the table times the first layer's kernel, and that layer takes `inputs_projected=True`, so
    the first input matmul becomes a row lookup (same logits to float32 rounding; the table is
    4x the embedding for the same-width LSTM, 3x for the GRU). Needs `impl="zoo"` and cell
    lstm, gru or gru_v1.
    """
    if not isinstance(fold_embedding, bool):
        raise ValueError(f"fold_embedding: expected True or False, got {fold_embedding!r}")
    if fold_embedding and not getattr(model.recurrent[0].cell, "supports_inputs_projected", False):
        raise ValueError(
            f"fold_embedding: needs a zoo layer with `inputs_projected` (impl='zoo', cell lstm, "
            f"gru or gru_v1); this model has cell {model.cell_name!r}, impl {model.impl!r}"
        )
    layers: list[keras.layers.Layer] = [keras.Input((None,), dtype="int32", name="token_ids")]
    for layer in [model.embedding, *model.recurrent, model.decoder]:
        config = layer.get_config()
        if layer in model.recurrent:
            config.update(return_sequences=True, return_state=False)
        layers.append(layer.__class__.from_config(config))
    sequential = keras.Sequential(layers, name=model.name)
    for copy, layer in zip(sequential.layers, [model.embedding, *model.recurrent, model.decoder]):
        copy.set_weights(layer.get_weights())
    return folding.fold_embedding(sequential) if fold_embedding else sequential


def language_model(
    cell: str = "lstm",
    impl: str = "zoo",
    config: str | dict = "small",
    vocab_size: int = 10000,
    budget: str = "same_width",
    seed: int | None = None,
    summary: bool = False,
) -> LanguageModel:
    """The PTB language model of Zaremba et al. (2014) for `cell`, built and initialized.

    Args:
        cell: a key of `zoo.layers.CELLS` ("lstm", "gru", ...).
        impl: "zoo" (the zoo's layers) or "keras" (keras.layers.LSTM / GRU / SimpleRNN).
        config: "small" (2 x 200), "medium" (2 x 650), "large" (2 x 1500), or a dict of
            overrides (see `zoo.models.configs.resolve`; keys of `configs.PTB["small"]`).
            `init_scale` None keeps the Keras default initializers.
        vocab_size: softmax size (10,000 for PTB).
        budget: "same_width" (every cell `units` wide) or "match:lstm" (each layer as wide as
            fits the LSTM layer's parameter count; see `layer_widths`).
        seed: seed of the dropout masks (weights follow the global seed:
            `keras.utils.set_random_seed`).
        summary: print `model.summary()` (per-layer and total parameter counts).

    Returns:
        A built `LanguageModel`; embedding width = the config's `units`.
    """
    check_cell(cell, impl)
    settings = configs.resolve(configs.PTB, config)
    widths = layer_widths(cell, settings["units"], settings["layers"], budget)
    model = LanguageModel(
        cell,
        impl,
        vocab_size,
        settings["units"],
        widths,
        settings["dropout"],
        settings["init_scale"],
        seed=seed,
        name=f"lm_{cell}_{impl}",
    )
    model(keras.ops.zeros((1, settings["num_steps"]), dtype="int32"))
    if summary:
        model.summary()
    return model
