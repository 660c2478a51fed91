"""zoo.analysis: gradient flow through time, checked against analytic expectations."""

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from zoo.analysis import gradient_flow, plot_gradient_flow, state_jacobians
from zoo.layers import get_cell

# Keras's built-in cells and zoo's cells of the same equations (and weight layout).
KERAS_CELLS = {
    "lstm": lambda units: keras.layers.LSTMCell(units, unit_forget_bias=True),
    "gru": lambda units: keras.layers.GRUCell(units, reset_after=True),
    "gru_v1": lambda units: keras.layers.GRUCell(units, reset_after=False),
    "rnn": lambda units: keras.layers.SimpleRNNCell(units),
}
IMPLS = ["keras", "zoo"]


def _cell(impl: str, name: str, units: int):
    return KERAS_CELLS[name](units) if impl == "keras" else get_cell(name, units)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _random(shape, seed, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


@pytest.mark.parametrize("impl", IMPLS)
def test_lstm_cell_jacobian_is_the_forget_gate(impl):
    """dc_t/dc_{t-1} = diag(f_t), f_t = sigmoid(x W_f + h U_f + b_f) (Keras gate order i,f,c,o)."""
    units, batch, dim = 6, 4, 5
    cell = _cell(impl, "lstm", units)
    cell.build((batch, dim))
    bias = _random((4 * units,), seed=3)  # nonzero biases so f_t is not the same for all units
    cell.bias.assign(bias)
    x, h, c = _random((batch, dim), 0), _random((batch, units), 1), _random((batch, units), 2)

    jac = state_jacobians(cell, x, [h, c])

    W, U = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    f = slice(units, 2 * units)
    forget = _sigmoid(x @ W[:, f] + h @ U[:, f] + bias[f])
    assert jac["c"].shape == (batch, units, units)
    np.testing.assert_allclose(jac["c"], np.stack([np.diag(row) for row in forget]), atol=1e-6)
    assert jac["h"].shape == (batch, units, units)


def _gru_jacobian(cell, x, h):
    """Analytic dh_t/dh_{t-1} for keras.layers.GRUCell (gate order z, r, h).

    h_t = z * h + (1 - z) * hh, so J = diag(z) + diag(h - hh) dz/dh + diag(1 - z) dhh/dh.
    """
    n = cell.units
    W, U = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    Wz, Wr, Wh = W[:, :n], W[:, n : 2 * n], W[:, 2 * n :]
    Uz, Ur, Uh = U[:, :n], U[:, n : 2 * n], U[:, 2 * n :]
    bias = cell.bias.numpy()
    b_in, b_rec = (bias[0], bias[1]) if cell.reset_after else (bias, np.zeros_like(bias))
    z = _sigmoid(x @ Wz + b_in[:n] + h @ Uz + b_rec[:n])
    r = _sigmoid(x @ Wr + b_in[n : 2 * n] + h @ Ur + b_rec[n : 2 * n])
    # d gate_i / d h_j = gate_i (1 - gate_i) U[j, i]  ->  (B, i, j)
    dz = np.einsum("bi,ji->bij", z * (1 - z), Uz)
    dr = np.einsum("bi,ji->bij", r * (1 - r), Ur)
    if cell.reset_after:
        recurrent_h = h @ Uh + b_rec[2 * n :]
        hh = np.tanh(x @ Wh + b_in[2 * n :] + r * recurrent_h)
        dpre = dr * recurrent_h[:, :, None] + np.einsum("bi,ji->bij", r, Uh)
    else:
        hh = np.tanh(x @ Wh + b_in[2 * n :] + (r * h) @ Uh)
        # pre_i = sum_k r_k h_k Uh[k, i]: d/dh_j = r_j Uh[j, i] + sum_k dr_k/dh_j h_k Uh[k, i]
        dpre = np.einsum("bj,ji->bij", r, Uh) + np.einsum("bkj,bk,ki->bij", dr, h, Uh)
    dhh = (1 - hh**2)[:, :, None] * dpre
    eye = np.eye(n)
    return (z[:, :, None] * eye + (h - hh)[:, :, None] * dz + (1 - z)[:, :, None] * dhh), z


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ["gru", "gru_v1"])  # reset_after True, False
def test_gru_jacobian_has_the_update_gate_on_its_direct_path(impl, name):
    units, batch, dim = 5, 3, 4
    cell = _cell(impl, name, units)
    assert cell.reset_after == (name == "gru")
    cell.build((batch, dim))
    cell.bias.assign(_random(tuple(cell.bias.shape), seed=7))
    x, h = _random((batch, dim), 0), _random((batch, units), 1)

    expected, z = _gru_jacobian(cell, x, h)
    np.testing.assert_allclose(state_jacobians(cell, x, [h])["h"], expected, atol=1e-5)

    # With the recurrent kernel at zero, only the direct path h_{t-1} -> h_t is left: diag(z_t).
    cell.recurrent_kernel.assign(np.zeros_like(cell.recurrent_kernel.numpy()))
    _, z = _gru_jacobian(cell, x, h)
    direct = state_jacobians(cell, x, [h])["h"]
    np.testing.assert_allclose(direct, np.stack([np.diag(row) for row in z]), atol=1e-6)


def test_total_derivative_follows_the_chain_rule():
    """dL/dh_{t-1} = dL/dh_t J_t for a one-state cell; with L = sum(h_T), dL/dh_T = ones."""
    units, batch, steps = 4, 3, 6
    cell = keras.layers.SimpleRNNCell(units)
    x = _random((batch, steps, 2), 0)
    flow = gradient_flow(cell, x)
    assert set(flow) == {"h"} and flow["h"].shape == (steps,)

    grad = np.ones((batch, units))
    h = np.zeros((batch, units), "float32")
    hidden = [h]
    for t in range(steps):
        h = cell(x[:, t], [h])[0].numpy()
        hidden.append(h)
    expected = [np.linalg.norm(grad, axis=1).mean()]
    for t in range(steps - 1, 0, -1):  # J_{t+1} = dh_{t+1}/dh_t, evaluated at (x_{t+1}, h_t)
        jac = state_jacobians(cell, x[:, t], [hidden[t]])["h"]
        grad = np.einsum("bi,bij->bj", grad, jac)
        expected.append(np.linalg.norm(grad, axis=1).mean())
    np.testing.assert_allclose(flow["h"], expected[::-1], rtol=1e-5)


def test_custom_loss_and_initial_state():
    units, batch = 3, 2
    cell = keras.layers.LSTMCell(units)
    x = _random((batch, 4, 2), 0)
    h0, c0 = _random((batch, units), 1), _random((batch, units), 2)
    flow = gradient_flow(cell, x, loss_fn=lambda y: 3.0 * keras.ops.sum(y), initial_state=[h0, c0])
    base = gradient_flow(cell, x, initial_state=[h0, c0])
    assert set(flow) == {"h", "c"} and flow["c"].shape == (4,)
    np.testing.assert_allclose(flow["h"], 3.0 * base["h"], rtol=1e-5)
    np.testing.assert_allclose(flow["h"][-1], np.sqrt(units) * 3.0, rtol=1e-6)
    assert not np.allclose(base["c"], gradient_flow(cell, x)["c"])


@pytest.mark.parametrize("impl", IMPLS)
def test_tanh_rnn_vanishes_far_faster_than_the_lstm(impl):
    """T=100, N(0, 1) inputs, Keras initialisation (LSTM forget bias 1), fixed seeds."""
    keras.utils.set_random_seed(0)
    x = _random((16, 100, 8), seed=0)
    rnn = gradient_flow(_cell(impl, "rnn", 32), x)["h"]
    lstm = gradient_flow(_cell(impl, "lstm", 32), x)["h"]
    rnn_decay = np.log10(rnn[0] / rnn[-1])  # measured: about -14.4
    lstm_decay = np.log10(lstm[0] / lstm[-1])  # measured: about -9.4
    assert rnn_decay < -12
    assert lstm_decay - rnn_decay > 3


def test_lstm_without_forget_gate_keeps_the_cell_gradient():
    """f_t = 1: dc_t/dc_{t-1} = I, and ||dL/dc_t|| does not shrink going back in time."""
    cell = get_cell("lstm_nofg", 16)
    x = _random((8, 50, 4), seed=0)
    h, c = _random((8, 16), 1), _random((8, 16), 2)
    np.testing.assert_allclose(
        state_jacobians(cell, x[:, 0], [h, c])["c"],
        np.broadcast_to(np.eye(16), (8, 16, 16)),
        atol=1e-6,
    )
    flow = gradient_flow(cell, x)["c"]
    assert flow.min() >= 0.5 * flow[-1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": np.zeros((2, 3), "float32")}, "inputs"),
        ({"inputs": np.zeros((2, 0, 3), "float32")}, "inputs"),
        ({"initial_state": [np.zeros((2, 5), "float32")]}, "initial_state"),
        ({"loss_fn": lambda y: y}, "loss_fn"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"cell": keras.layers.LSTMCell(4), "inputs": np.zeros((2, 3, 3), "float32")}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        gradient_flow(**arguments)


def test_plot_gradient_flow_draws_one_log_curve_per_cell_state():
    x = _random((2, 5, 3), 0)
    results = {
        "lstm": gradient_flow(keras.layers.LSTMCell(4), x),
        "gru": gradient_flow(keras.layers.GRUCell(4), x),
    }
    figure = plot_gradient_flow(results)
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["lstm: ||dL/dh_t||", "lstm: ||dL/dc_t||", "gru: ||dL/dh_t||"]
    np.testing.assert_allclose(axes.get_lines()[2].get_ydata(), results["gru"]["h"])
    with pytest.raises(ValueError, match="results"):
        plot_gradient_flow({})


def test_tiny_gradients_keep_their_norm():
    """Entries around 1e-25 square to below float32's range; the norm must not read 0."""
    cell = keras.layers.SimpleRNNCell(4)
    x = _random((2, 3, 2), 0)
    flow = gradient_flow(cell, x, loss_fn=lambda y: 1e-25 * keras.ops.sum(y))
    np.testing.assert_allclose(flow["h"][-1], 2e-25, rtol=1e-5)  # ||1e-25 * ones(4)|| = 2e-25
    assert (flow["h"] > 0).all()
