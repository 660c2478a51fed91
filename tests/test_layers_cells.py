"""The zoo's cells against NumPy references of their equations, keras.layers.SimpleRNN, and
``keras.layers.RNN(cell)``; their configs, saved files, dropout and argument errors."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_pairs import assert_models_equal, copy_weights

import zoo.layers

ADDED = ["rnn", "lstm_nofg", "peephole_lstm", "cifg_lstm", "mgu", "layernorm_lstm"]
B, T, D, UNITS = 3, 5, 4, 3


def float_inputs(seed=0, batch=B, steps=T, dim=D, dtype="float32"):
    return np.random.RandomState(seed).uniform(-1, 1, (batch, steps, dim)).astype(dtype)


def right_padded(seed=0):
    """Float sequences whose trailing steps are zero rows (lengths 5, 3, 1)."""
    x = float_inputs(seed)
    for row, length in enumerate([5, 3, 1]):
        x[row, length:] = 0.0
    return x


# --- NumPy references: the equations of the docstrings, one step, float64 --------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def layer_norm(z, gamma, beta, epsilon=1e-3):
    mean = z.mean(-1, keepdims=True)
    return (z - mean) / np.sqrt(z.var(-1, keepdims=True) + epsilon) * gamma + beta


def blocks(matrix, count):
    return np.split(matrix, count, axis=-1)


def ref_rnn(w, x, h, c):
    return np.tanh(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]), c


def ref_lstm(w, x, h, c):
    i, f, g, o = blocks(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"], 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def ref_lstm_nofg(w, x, h, c):
    i, g, o = blocks(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"], 3)
    c = c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def ref_peephole_lstm(w, x, h, c):
    zi, zf, zg, zo = blocks(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"], 4)
    i = sigmoid(zi + w["input_gate_peephole_weights"] * c)
    f = sigmoid(zf + w["forget_gate_peephole_weights"] * c)
    c = f * c + i * np.tanh(zg)
    o = sigmoid(zo + w["output_gate_peephole_weights"] * c)
    return o * np.tanh(c), c


def ref_cifg_lstm(w, x, h, c):
    zi, zg, zo = blocks(x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"], 3)
    i = sigmoid(zi)
    c = (1 - i) * c + i * np.tanh(zg)
    return sigmoid(zo) * np.tanh(c), c


def ref_layernorm_lstm(w, x, h, c):
    z = (
        layer_norm(x @ w["kernel"], w["input_norm_gamma"], w["input_norm_beta"])
        + layer_norm(h @ w["recurrent_kernel"], w["recurrent_norm_gamma"], w["recurrent_norm_beta"])
        + w["bias"]
    )
    i, f, g, o = blocks(z, 4)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(layer_norm(c, w["cell_norm_gamma"], w["cell_norm_beta"])), c


def ref_gru(w, x, h, c):
    xz, xr, xh = blocks(x @ w["kernel"] + w["bias"][0], 3)
    hz, hr, hh = blocks(h @ w["recurrent_kernel"] + w["bias"][1], 3)
    z, r = sigmoid(xz + hz), sigmoid(xr + hr)
    return z * h + (1 - z) * np.tanh(xh + r * hh), c


def ref_gru_v1(w, x, h, c):
    xz, xr, xh = blocks(x @ w["kernel"] + w["bias"], 3)
    uz, ur, uh = blocks(w["recurrent_kernel"], 3)
    z, r = sigmoid(xz + h @ uz), sigmoid(xr + h @ ur)
    return z * h + (1 - z) * np.tanh(xh + (r * h) @ uh), c


def ref_mgu(w, x, h, c):
    xf, xh = blocks(x @ w["kernel"] + w["bias"], 2)
    uf, uh = blocks(w["recurrent_kernel"], 2)
    f = sigmoid(xf + h @ uf)
    return (1 - f) * h + f * np.tanh(xh + (f * h) @ uh), c


REFERENCES = {
    "rnn": ref_rnn,
    "lstm": ref_lstm,
    "lstm_nofg": ref_lstm_nofg,
    "peephole_lstm": ref_peephole_lstm,
    "cifg_lstm": ref_cifg_lstm,
    "layernorm_lstm": ref_layernorm_lstm,
    "gru": ref_gru,
    "gru_v1": ref_gru_v1,
    "mgu": ref_mgu,
}


def reference_outputs(name, weights, x):
    """(batch, T, units) hidden outputs of cell ``name`` from zero states."""
    units = weights["recurrent_kernel"].shape[0]
    h = c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        h, c = REFERENCES[name](weights, x[:, t], h, c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def weight_dict(layer):
    return {w.path.split("/")[-1]: np.asarray(w) for w in layer.weights}


def random_float64_layer(name, dim, units, seed=0):
    """The fast layer of ``name`` in float64, every weight random (peepholes and gains too)."""
    layer = zoo.layers.recurrent(name, units, return_sequences=True, dtype="float64")
    layer.build((None, None, dim))
    rng = np.random.RandomState(seed)
    layer.set_weights([rng.normal(0.0, 0.6, w.shape) for w in layer.get_weights()])
    return layer


def test_registry_covers_every_cell():
    assert list(zoo.layers.CELLS) == [
        "gru",
        "gru_v1",
        "lstm",
        "rnn",
        "lstm_nofg",
        "peephole_lstm",
        "cifg_lstm",
        "mgu",
        "layernorm_lstm",
    ]
    assert set(REFERENCES) == set(zoo.layers.CELLS)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_forward_and_gradients_against_numpy_reference(name):
    """Outputs equal the NumPy equations; TensorFlow's gradients (inputs and every weight)
    equal central finite differences of the NumPy equations, all in float64."""
    dim, units = 2, 3
    layer = random_float64_layer(name, dim, units)
    weights = weight_dict(layer)
    x = float_inputs(1, batch=2, steps=4, dim=dim, dtype="float64")
    projection = np.random.RandomState(2).uniform(-1, 1, (2, 4, units))

    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        outputs = layer(x_tensor)
        loss = tf.reduce_sum(outputs * projection)
    grads = tape.gradient(loss, [x_tensor] + layer.trainable_weights)
    np.testing.assert_allclose(outputs, reference_outputs(name, weights, x), atol=1e-12, rtol=0)

    def numpy_loss(x, weights):
        return np.sum(reference_outputs(name, weights, x) * projection)

    def finite_difference(array, evaluate, eps=1e-6):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            up = evaluate()
            array[index] = saved - eps
            down = evaluate()
            array[index] = saved
            grad[index] = (up - down) / (2 * eps)
        return grad

    expected = [finite_difference(x, lambda: numpy_loss(x, weights))]
    for variable in layer.trainable_weights:
        array = weights[variable.path.split("/")[-1]]
        expected.append(finite_difference(array, lambda: numpy_loss(x, weights)))
    assert len(grads) == len(expected) == 1 + len(weights)
    for got, want in zip(grads, expected):
        assert np.abs(want).max() > 1e-3  # every weight matters
        np.testing.assert_allclose(got, want, atol=1e-7, rtol=1e-6)


# --- the tanh RNN is keras.layers.SimpleRNN ------------------------------------------------


def simple_rnn_models(mask=False, **kwargs):
    """(keras SimpleRNN model, zoo TanhRNN model), weights copied keras -> zoo."""
    models = []
    for layer_class in (keras.layers.SimpleRNN, zoo.layers.TanhRNN):
        inputs = keras.Input((T, D))
        x = keras.layers.Masking(0.0)(inputs) if mask else inputs
        models.append(keras.Model(inputs, layer_class(UNITS, **kwargs)(x)))
    copy_weights(*models)
    return models


@pytest.mark.parametrize(
    "arguments",
    [
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "return_sequences": True},
        {"use_bias": False, "activation": "relu"},
        {"unroll": True, "return_sequences": True},
    ],
    ids=["sequences+state", "go_backwards", "no_bias_relu", "unroll"],
)
def test_tanh_rnn_equals_simple_rnn(arguments):
    assert_models_equal(*simple_rnn_models(**arguments), [float_inputs()])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_tanh_rnn_equals_simple_rnn_with_mask(go_backwards):
    models = simple_rnn_models(
        mask=True, go_backwards=go_backwards, return_sequences=True, return_state=True
    )
    assert_models_equal(*models, [right_padded()])


def test_tanh_rnn_dropout_matches_simple_rnn_in_training():
    models = simple_rnn_models(return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=7)
    assert_models_equal(*models, [float_inputs()], training=True)


def test_simple_rnn_config_loads_into_tanh_rnn():
    reference = keras.layers.SimpleRNN(4, return_sequences=True, dropout=0.2, activation="relu")
    ours = zoo.layers.TanhRNN.from_config(reference.get_config())
    assert ours.get_config() == {**reference.get_config(), "seed": None}


def test_tanh_rnn_cell_rejects_recurrent_activation():
    with pytest.raises(ValueError, match="argument `recurrent_activation`"):
        zoo.layers.TanhRNNCell(3, recurrent_activation="sigmoid")
    with pytest.raises(ValueError, match="recurrent_activation"):
        zoo.layers.TanhRNN(3, recurrent_activation="sigmoid")


def test_peephole_lstm_with_zero_peepholes_is_the_lstm():
    """The default (zeros) peepholes make the untrained cell exactly the LSTM."""
    x = float_inputs()
    lstm = zoo.layers.LSTM(UNITS, return_sequences=True)
    peephole = zoo.layers.PeepholeLSTM(UNITS, return_sequences=True)
    lstm(x)
    peephole(x)
    peephole.set_weights(lstm.get_weights() + [np.zeros(UNITS)] * 3)
    np.testing.assert_allclose(peephole(x), lstm(x), atol=1e-6, rtol=0)
    assert [w.path.split("/")[-1] for w in peephole.weights][3:] == [
        "input_gate_peephole_weights",
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    ]


# --- every cell in keras.layers.RNN equals its fast layer -----------------------------------


def rnn_and_fast_models(name, mask=False, **kwargs):
    """(keras.layers.RNN(cell) model, fast layer model) of cell ``name``, same weights."""
    cell_names = ("dropout", "recurrent_dropout", "seed")
    cell_kwargs = {k: kwargs.pop(k) for k in cell_names if k in kwargs}
    layers = [
        keras.layers.RNN(zoo.layers.get_cell(name, UNITS, **cell_kwargs), **kwargs),
        zoo.layers.recurrent(name, UNITS, **cell_kwargs, **kwargs),
    ]
    models = []
    for layer in layers:
        inputs = keras.Input((T, D))
        x = keras.layers.Masking(0.0)(inputs) if mask else inputs
        models.append(keras.Model(inputs, layer(x)))
    rng = np.random.RandomState(0)
    models[0].set_weights([rng.normal(0.0, 0.5, w.shape) for w in models[0].get_weights()])
    copy_weights(*models)
    return models


@pytest.mark.parametrize("name", ADDED)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_cell_in_keras_rnn_equals_fast_layer_with_mask(name, go_backwards):
    models = rnn_and_fast_models(
        name, mask=True, go_backwards=go_backwards, return_sequences=True, return_state=True
    )
    assert_models_equal(*models, [right_padded()])


@pytest.mark.parametrize("name", ADDED)
def test_cell_in_keras_rnn_equals_fast_layer_with_dropout_in_training(name):
    """Same seed, same per-block masks: keras.layers.RNN's step-by-step cell and the engine."""
    models = rnn_and_fast_models(
        name, return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=5
    )
    assert_models_equal(*models, [float_inputs()], training=True)


# --- dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ADDED)
def test_blocks_match_the_kernel_layout(name):
    """Per-block dropout masks split the kernels into ``blocks`` column blocks of ``units``."""
    layer = zoo.layers.recurrent(name, UNITS, recurrent_dropout=0.2)
    layer.build((None, T, D))
    cell = layer.cell
    assert cell.kernel.shape == (D, cell.blocks * UNITS)
    assert cell.recurrent_kernel.shape == (UNITS, cell.blocks * UNITS)
    assert cell.dropout_mask_count == cell.blocks
    expected = {"rnn": 1, "lstm_nofg": 3, "peephole_lstm": 4, "cifg_lstm": 3, "mgu": 2}
    assert cell.blocks == expected.get(name, 4)


@pytest.mark.parametrize("name", ADDED)
def test_dropout_inference_equals_no_dropout(name):
    x = float_inputs()
    plain = zoo.layers.recurrent(name, UNITS, return_sequences=True)
    dropped = zoo.layers.recurrent(
        name, UNITS, return_sequences=True, dropout=0.3, recurrent_dropout=0.4
    )
    plain(x)
    dropped(x)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_array_equal(dropped(x, training=False), plain(x))
    assert not np.allclose(dropped(x, training=True), plain(x), atol=1e-3)


# --- configs and saved files -----------------------------------------------------------------

EXTRA_ARGUMENTS = {
    "peephole_lstm": dict(
        unit_forget_bias=False,
        peephole_initializer="ones",
        peephole_regularizer="l2",
        peephole_constraint="non_neg",
    ),
    "layernorm_lstm": dict(unit_forget_bias=False, epsilon=1e-5),
}


def non_default_cell_arguments(name):
    arguments = dict(
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        recurrent_initializer="glorot_normal",
        bias_initializer="ones",
        kernel_regularizer="l2",
        recurrent_regularizer="l1",
        bias_regularizer=keras.regularizers.L1L2(0.01, 0.02),
        kernel_constraint="max_norm",
        recurrent_constraint="non_neg",
        bias_constraint="unit_norm",
        dropout=0.1,
        recurrent_dropout=0.2,
        seed=5,
        **EXTRA_ARGUMENTS.get(name, {}),
    )
    if name != "rnn":
        arguments["recurrent_activation"] = "hard_sigmoid"
    return arguments


@pytest.mark.parametrize("name", ADDED)
def test_layer_config_round_trip(name):
    cell_arguments = non_default_cell_arguments(name)
    layer_arguments = dict(
        activity_regularizer="l2",
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        stateful=True,
        unroll=True,
        name="layer",
    )
    layer = zoo.layers.recurrent(name, 3, **cell_arguments, **layer_arguments)
    config = layer.get_config()
    restored = type(layer).from_config(config)
    assert restored.get_config() == config
    assert restored.cell.get_config() == layer.cell.get_config()
    for key, value in {**cell_arguments, **layer_arguments}.items():
        if not key.endswith(("activation", "initializer", "regularizer", "constraint")):
            assert getattr(restored, key) == value, key
    assert restored.activation is keras.activations.relu


@pytest.mark.parametrize("name", ADDED)
def test_cell_config_round_trip_and_rnn_serialization(name):
    cell = zoo.layers.get_cell(name, 3, **non_default_cell_arguments(name))
    config = cell.get_config()
    assert type(cell).from_config(config).get_config() == config
    layer = keras.layers.RNN(cell, return_sequences=True)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored.cell) is type(cell)
    assert restored.cell.get_config() == config


def test_keras_file_round_trip_with_every_added_cell(tmp_path):
    inputs = keras.Input((None, D))
    x = keras.layers.Masking(0.0)(inputs)
    x = zoo.layers.TanhRNN(4, return_sequences=True)(x)
    x = zoo.layers.LSTMNoForgetGate(4, return_sequences=True, dropout=0.1)(x)
    x = keras.layers.Bidirectional(zoo.layers.PeepholeLSTM(3, return_sequences=True))(x)
    x = zoo.layers.CIFGLSTM(4, return_sequences=True, recurrent_dropout=0.1)(x)
    x = keras.layers.RNN(zoo.layers.MGUCell(4), return_sequences=True)(x)
    x = zoo.layers.MGU(4, return_sequences=True)(x)
    x = zoo.layers.LayerNormLSTM(4, epsilon=1e-4)(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    rng = np.random.RandomState(0)
    model.set_weights([rng.normal(0.0, 0.5, w.shape) for w in model.get_weights()])
    x = right_padded()
    expected = model(x)
    path = tmp_path / "cells.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), expected, atol=1e-6, rtol=0)
    loaded_types = {type(layer) for layer in loaded._flatten_layers()}
    for name in ADDED:
        assert zoo.layers.CELLS[name] in loaded_types, name


# --- the registry's builders and errors ------------------------------------------------------


def test_recurrent_routes_cell_and_layer_arguments():
    layer = zoo.layers.recurrent(
        "mgu", 5, return_sequences=True, go_backwards=True, dropout=0.2, seed=3, name="m"
    )
    assert type(layer) is zoo.layers.MGU
    assert (layer.return_sequences, layer.go_backwards, layer.name) == (True, True, "m")
    assert (layer.cell.units, layer.cell.dropout, layer.cell.seed) == (5, 0.2, 3)
    assert zoo.layers.recurrent("gru_v1", 2).reset_after is False
    assert type(zoo.layers.recurrent("lstm", 2, unit_forget_bias=False)) is zoo.layers.LSTM
    for name in zoo.layers.CELLS:
        layer = zoo.layers.recurrent(name, 2)
        assert type(layer.cell) is zoo.layers.CELLS[name]
        assert type(zoo.layers.get_cell(name, 2)) is zoo.layers.CELLS[name]


def test_recurrent_rejects_unknown_names_and_arguments():
    with pytest.raises(ValueError, match=r"Unknown cell name 'mug'.*valid names: gru, .*mgu"):
        zoo.layers.recurrent("mug", 4)
    with pytest.raises(ValueError, match="bogus"):
        zoo.layers.recurrent("cifg_lstm", 4, bogus=1)


@pytest.mark.parametrize("name", ADDED)
@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_bad_units(name, units):
    with pytest.raises(ValueError, match="argument `units`"):
        zoo.layers.recurrent(name, units)


@pytest.mark.parametrize("name", ADDED)
def test_bad_dropout(name):
    with pytest.raises(ValueError, match=r"argument `recurrent_dropout`.*\[0, 1\)"):
        zoo.layers.get_cell(name, 4, recurrent_dropout=1.0)


@pytest.mark.parametrize("epsilon", [0, -1e-3, "small", True, float("nan"), float("inf")])
def test_layernorm_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="argument `epsilon`: expected a positive finite"):
        zoo.layers.LayerNormLSTM(4, epsilon=epsilon)


def test_layernorm_epsilon_may_be_a_numpy_float():
    layer = zoo.layers.LayerNormLSTM(4, epsilon=np.float32(1e-5))
    assert type(layer.get_config()["epsilon"]) is float


@pytest.mark.parametrize(
    "argument",
    ["activation", "recurrent_activation", "kernel_initializer", "bias_regularizer"],
)
def test_an_unknown_identifier_names_its_argument(argument):
    with pytest.raises(ValueError, match=rf"argument `{argument}`: .*tanhh"):
        zoo.layers.MGU(4, **{argument: "tanhh"})
    with pytest.raises(ValueError, match=r"argument `peephole_constraint`: .*tanhh"):
        zoo.layers.PeepholeLSTM(4, peephole_constraint="tanhh")


def test_tanh_rnn_takes_simple_rnn_arguments_by_position():
    signature = list(inspect.signature(keras.layers.SimpleRNN.__init__).parameters)
    assert list(inspect.signature(zoo.layers.TanhRNN.__init__).parameters) == signature
    layer = zoo.layers.TanhRNN(3, "relu", False)
    assert layer.activation is keras.activations.relu and layer.use_bias is False
