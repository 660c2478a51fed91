"""zoo.layers.LSTM / GRU against keras.layers.LSTM / GRU: same weights, same numbers."""

import keras
import numpy as np
import pytest
from layer_pairs import (
    KINDS,
    assert_models_equal,
    copy_weights,
    layer_pair,
    outputs_and_gradients,
)

import zoo.layers
import zoo.layers.fused

B, T, D, UNITS = 4, 7, 5, 6


def float_inputs(seed=0, batch=B, steps=T, dim=D):
    return np.random.RandomState(seed).uniform(-1, 1, (batch, steps, dim)).astype("float32")


def right_padded(seed=0):
    """Float sequences whose trailing steps are zero rows (lengths 7, 5, 3, 1)."""
    x = float_inputs(seed)
    for row, length in enumerate([7, 5, 3, 1]):
        x[row, length:] = 0.0
    return x


def sequence_models(kind, wrap=None, mask=False, **kwargs):
    """(keras model, zoo model) on float (T, D) inputs, weights copied keras -> zoo."""
    models = []
    for layer in layer_pair(kind, UNITS, **kwargs):
        inputs = keras.Input((T, D))
        x = keras.layers.Masking(0.0)(inputs) if mask else inputs
        outputs = (wrap(layer) if wrap else layer)(x)
        models.append(keras.Model(inputs, outputs))
    copy_weights(*models)
    return models


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "arguments",
    [
        {"return_sequences": True, "return_state": True},
        {},
        {"go_backwards": True, "return_sequences": True},
        {"unroll": True, "return_sequences": True, "return_state": True},
        {"use_bias": False, "return_sequences": True},
        {"activation": "relu", "recurrent_activation": "hard_sigmoid", "return_state": True},
    ],
    ids=["sequences+state", "last", "go_backwards", "unroll", "no_bias", "activations"],
)
def test_outputs_states_and_gradients_equal(kind, arguments):
    reference, ours = sequence_models(kind, **arguments)
    assert_models_equal(reference, ours, [float_inputs()])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_right_padded_masking_layer(kind, go_backwards, return_sequences):
    reference, ours = sequence_models(
        kind,
        mask=True,
        go_backwards=go_backwards,
        return_sequences=return_sequences,
        return_state=True,
    )
    assert_models_equal(reference, ours, [right_padded()])


@pytest.mark.parametrize("kind", KINDS)
def test_embedding_mask_zero(kind):
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0], [7, 8, 9, 6, 5]], dtype="int32")
    models = []
    for layer in layer_pair(kind, UNITS, return_sequences=True):
        inputs = keras.Input((5,), dtype="int32")
        x = keras.layers.Embedding(10, D, mask_zero=True)(inputs)
        models.append(keras.Model(inputs, layer(x)))
    copy_weights(*models)
    assert_models_equal(*models, [tokens])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional(kind, merge_mode):
    reference, ours = sequence_models(
        kind,
        mask=True,
        wrap=lambda layer: keras.layers.Bidirectional(layer, merge_mode=merge_mode),
        return_sequences=True,
    )
    assert type(ours.layers[-1].backward_layer) is KINDS[kind][1]
    assert ours.layers[-1].backward_layer.go_backwards
    assert_models_equal(reference, ours, [right_padded()])


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state(kind):
    n_states = 2 if kind == "lstm" else 1
    models = []
    for layer in layer_pair(kind, UNITS, return_sequences=True, return_state=True):
        inputs = keras.Input((T, D))
        states = [keras.Input((UNITS,)) for _ in range(n_states)]
        models.append(keras.Model([inputs, *states], layer(inputs, initial_state=states)))
    copy_weights(*models)
    rng = np.random.RandomState(3)
    states = [rng.uniform(-1, 1, (B, UNITS)).astype("float32") for _ in range(n_states)]
    assert_models_equal(*models, [float_inputs(), *states])


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_across_batches_and_reset(kind):
    reference, ours = layer_pair(kind, UNITS, stateful=True, return_sequences=True)
    batches = [float_inputs(seed) for seed in range(3)]
    reference(batches[0])
    ours(batches[0])
    ours.set_weights(reference.get_weights())
    reference.reset_states()
    ours.reset_states()
    for _ in range(2):  # two passes, with a reset between them
        for x in batches:
            np.testing.assert_allclose(ours(x), reference(x), atol=1e-5, rtol=0)
        assert not np.allclose(ours.states[0], 0.0)
        np.testing.assert_allclose(ours.states[0], reference.states[0], atol=1e-5, rtol=0)
        reference.reset_states()
        ours.reset_states()
        np.testing.assert_array_equal(ours.states[0], 0.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.3, 0.4), (0.0, 0.4)], ids=str)
def test_dropout_inference_equals_no_dropout(kind, rates):
    dropout, recurrent_dropout = rates
    _, plain = layer_pair(kind, UNITS, return_sequences=True)
    _, dropped = layer_pair(
        kind, UNITS, return_sequences=True, dropout=dropout, recurrent_dropout=recurrent_dropout
    )
    x = float_inputs()
    plain(x)
    dropped(x)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_array_equal(dropped(x, training=False), plain(x))
    assert not np.allclose(dropped(x, training=True), plain(x), atol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.3, 0.4), (0.0, 0.4)], ids=str)
def test_dropout_masks_match_keras_in_training(kind, rates):
    """With the same seed, Keras's masks and ours are the same draws: one mask per sequence
    (per gate block when recurrent_dropout > 0), so training outputs and gradients agree."""
    dropout, recurrent_dropout = rates
    reference, ours = sequence_models(
        kind, return_sequences=True, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=7
    )
    assert_models_equal(reference, ours, [float_inputs()], training=True)


def test_dropout_mask_is_fixed_along_the_sequence():
    """The same input at every step gives the same dropped features at every step."""
    _, ours = layer_pair("lstm", UNITS, return_sequences=True, dropout=0.5, seed=1)
    step = np.random.RandomState(0).uniform(1, 2, (B, 1, D)).astype("float32")
    x = np.repeat(step, T, axis=1)
    ours(x)
    cell = ours.cell
    projected = []
    original = cell.project_inputs

    def recording(inputs, dropout_mask=None):
        projected.append(dropout_mask)
        return original(inputs, dropout_mask)

    cell.project_inputs = recording
    ours(x, training=True)
    (mask,) = projected
    assert mask.shape == (B, D)
    values = set(np.unique(np.asarray(mask)).round(6))
    assert values <= {0.0, 2.0} and len(values) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_cell_in_keras_rnn_and_stacked_cells(kind):
    keras_class, _, fixed = KINDS[kind]
    cell_class = zoo.layers.LSTMCell if kind == "lstm" else zoo.layers.GRUCell
    keras_cell_class = keras.layers.LSTMCell if kind == "lstm" else keras.layers.GRUCell
    x = float_inputs()
    # one cell in keras.layers.RNN against the built-in layer
    reference = keras_class(UNITS, return_sequences=True, **fixed)
    ours = keras.layers.RNN(cell_class(UNITS, **fixed), return_sequences=True)
    reference(x)
    ours(x)
    ours.set_weights(reference.get_weights())
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5, rtol=0)
    # two cells in StackedRNNCells against Keras's own cells stacked the same way
    stacked_ref = keras.layers.RNN(
        keras.layers.StackedRNNCells([keras_cell_class(UNITS, **fixed) for _ in range(2)]),
        return_state=True,
    )
    stacked_ours = keras.layers.RNN(
        keras.layers.StackedRNNCells([cell_class(UNITS, **fixed) for _ in range(2)]),
        return_state=True,
    )
    stacked_ref(x)
    stacked_ours(x)
    stacked_ours.set_weights(stacked_ref.get_weights())
    for a, b in zip(stacked_ours(x), stacked_ref(x)):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_dropout_in_keras_rnn_matches_builtin(kind):
    keras_class, _, fixed = KINDS[kind]
    cell_class = zoo.layers.LSTMCell if kind == "lstm" else zoo.layers.GRUCell
    x = float_inputs()
    arguments = dict(dropout=0.25, recurrent_dropout=0.25, seed=11, **fixed)
    reference = keras_class(UNITS, return_sequences=True, **arguments)
    ours = keras.layers.RNN(cell_class(UNITS, **arguments), return_sequences=True)
    reference(x)
    ours(x)
    ours.set_weights(reference.get_weights())
    np.testing.assert_allclose(
        ours(x, training=True), reference(x, training=True), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("kind", KINDS)
def test_weight_shapes_and_order(kind):
    reference, ours = layer_pair(kind, UNITS)
    x = float_inputs()
    reference(x)
    ours(x)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [w.path.split("/")[-1] for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


@pytest.mark.parametrize("kind", KINDS)
def test_initialization_matches_keras(kind):
    """Same seeded initializers give the same initial weights (unit_forget_bias included)."""
    reference, ours = layer_pair(
        kind,
        UNITS,
        kernel_initializer=keras.initializers.GlorotUniform(seed=1),
        recurrent_initializer=keras.initializers.Orthogonal(seed=2),
        bias_initializer=keras.initializers.RandomUniform(seed=3),
    )
    x = float_inputs()
    reference(x)
    ours(x)
    for a, b in zip(reference.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)


# Loop paths against Keras: (layer arguments, masked inputs, training mode).
LOOP_CASES = pytest.mark.parametrize(
    ("arguments", "mask", "training"),
    [
        ({"return_sequences": True, "return_state": True}, False, False),
        ({"go_backwards": True, "return_state": True}, True, False),
        (
            {"return_sequences": True, "dropout": 0.3, "recurrent_dropout": 0.4, "seed": 3},
            True,
            True,
        ),
    ],
    ids=["plain", "masked-backwards", "dropout"],
)


@pytest.mark.parametrize("kind", KINDS)
@LOOP_CASES
def test_generic_loop_equals_keras(kind, arguments, mask, training):
    """The engine's generic loop (what exports trace) is equal to Keras too, not only the
    fused TensorFlow path that the other tests exercise."""
    reference, ours = sequence_models(kind, mask=mask, **arguments)
    with zoo.layers.engine.generic_loop():
        assert_models_equal(reference, ours, [right_padded()], training=training)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("slices", [2, 3])
@LOOP_CASES
def test_batch_slices_equal_keras(kind, slices, arguments, mask, training):
    """The fused loops over batch slices (rows 2+2, or 2+1+1) are equal to Keras too: states,
    masks, dropout masks and gradients cut and joined along the right axes."""
    reference, ours = sequence_models(kind, mask=mask, **arguments)
    with zoo.layers.fused.batch_slices(slices):
        assert_models_equal(reference, ours, [right_padded()], training=training)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_slices_run_one_loop_per_slice(kind, monkeypatch):
    """Forward and backward loops each run once per slice, on that slice's rows."""
    loop_names = {"lstm": ("_lstm_forward", "_lstm_backward")}.get(
        kind, ("_gru_forward", "_gru_backward")
    )
    rows = {name: [] for name in loop_names}
    for name in loop_names:
        loop = getattr(zoo.layers.fused, name)

        def counted(*args, loop=loop, name=name):
            rows[name].append(args[0].shape[0])  # (rows, T, ...) batch-major first argument
            return loop(*args)

        monkeypatch.setattr(zoo.layers.fused, name, counted)
    reference, ours = sequence_models(kind, return_sequences=True)
    with zoo.layers.fused.batch_slices(3):
        outputs_and_gradients(ours, [float_inputs()])
    assert rows == {name: [2, 1, 1] for name in loop_names}


def test_fused_loops_refuse_a_bias_without_a_kernel():
    """With ``kernel=None`` the inputs are the projection already, bias included."""
    import tensorflow as tf

    fused, state = zoo.layers.fused, tf.zeros((2, 2))
    message = "Argument `bias`: expected None when `kernel` is None"
    with pytest.raises(ValueError, match=message):
        fused.lstm_states(tf.ones((2, 3, 8)), state, state, None, tf.ones((2, 8)), None, bias=[1.0])
    with pytest.raises(ValueError, match=message):
        fused.gru_states(
            tf.ones((2, 3, 6)), state, None, tf.ones((2, 6)), None, None, True, bias=[1.0]
        )


def test_batch_slice_sizes(monkeypatch):
    fused = zoo.layers.fused
    monkeypatch.setattr(fused.tf.config, "list_logical_devices", lambda kind=None: [])  # a CPU
    monkeypatch.setattr(fused, "_cpu_threads", lambda: 2)
    assert fused.batch_slice_sizes(20) == [10, 10]  # one slice per thread
    assert fused.batch_slice_sizes(12) == [12]  # slices of 6 rows: too thin
    assert fused.batch_slice_sizes(None) == [None]  # batch unknown when tracing
    monkeypatch.setattr(fused, "_cpu_threads", lambda: 4)
    assert fused.batch_slice_sizes(20) == [10, 10]  # at least MIN_ROWS_PER_SLICE rows each
    assert fused.batch_slice_sizes(35) == [9, 9, 9, 8]
    with fused.batch_slices(3):
        assert fused.batch_slice_sizes(4) == [2, 1, 1]
        assert fused.batch_slice_sizes(2) == [1, 1]  # at most one slice per row
    with fused.batch_slices(1):
        assert fused.batch_slice_sizes(64) == [64]
    assert fused.batch_slice_sizes(64) == [16, 16, 16, 16]  # the override ends with the context
    monkeypatch.setattr(fused.tf.config, "list_logical_devices", lambda kind=None: ["GPU:0"])
    assert fused.batch_slice_sizes(64) == [64]  # a GPU: one loop
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="`count` must be a positive integer"):
            with fused.batch_slices(bad):
                pass
