"""Gradient flow through time in a recurrent cell (TensorFlow backend).

A *cell* is any Keras RNN cell: a layer with `state_size` and
`call(inputs, states, training=False) -> (output, new_states)`, such as `keras.layers.LSTMCell`,
`keras.layers.GRUCell`, `keras.layers.SimpleRNNCell` and the cells of `zoo.layers`. Its first
state is the hidden state h_t; when `state_size` has two entries, the second is the memory
cell c_t (LSTM family).

Definitions used throughout, for inputs x of shape (B, T, d) and the unrolled recursion
(h_t, c_t) = cell(x_t, (h_{t-1}, c_{t-1})), t = 1..T, from the initial state (h_0, c_0):

    L            = loss_fn(y_T)                  (default: sum of y_T = h_T over batch and units)
    g^h_t        = dL/dh_t  in R^{B x n}         total derivative: every path from h_t to L
    G^h_t        = (1/B) sum_b ||g^h_t[b]||_2    Euclidean norm per example, mean over the batch

and likewise G^c_t for c_t. Because the default loss is a sum of per-example terms, g^h_t[b]
is the gradient of example b's own loss. Step t = 1..T is stored at array index t - 1, so
`result["h"][0]` is G^h_1 (the earliest step, farthest from the loss) and `result["h"][-1]`
is G^h_T.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from zoo.checks import is_integer


def state_sizes(cell) -> list[int]:
    """The cell's state sizes as a list: [n] for h only, [n, n] for (h, c)."""
    size = cell.state_size
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    if len(sizes) not in (1, 2) or not all(is_integer(s) for s in sizes):
        raise ValueError(
            "cell: expected one state (h) or two states (h, c), each of an integer size, got "
            f"state_size={size!r}"
        )
    return [int(s) for s in sizes]


def _as_state_list(states) -> list[tf.Tensor]:
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _check_inputs(cell, inputs) -> tf.Tensor:
    x = tf.convert_to_tensor(inputs, dtype=tf.float32)
    if x.shape.rank != 3:
        raise ValueError(f"inputs: expected shape (batch, T, d), got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError("inputs: need at least one time step, got T=0")
    if not cell.built:
        cell.build((x.shape[0], x.shape[2]))
    return x


def _initial_states(cell, batch: int, initial_state) -> list[tf.Tensor]:
    sizes = state_sizes(cell)
    if initial_state is None:
        return [tf.zeros((batch, n), tf.float32) for n in sizes]
    states = [tf.convert_to_tensor(s, tf.float32) for s in _as_state_list(initial_state)]
    shapes = [tuple(s.shape) for s in states]
    if shapes != [(batch, n) for n in sizes]:
        raise ValueError(
            f"initial_state: expected shapes {[(batch, n) for n in sizes]}, got {shapes}"
        )
    return states


def _sum_loss(output: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(output)


def gradient_flow(
    cell,
    inputs,
    loss_fn: Callable[[tf.Tensor], tf.Tensor] | None = None,
    initial_state: Sequence | None = None,
) -> dict[str, np.ndarray]:
    """Per-timestep gradient norms ||dL/dh_t|| (and ||dL/dc_t||) of an unrolled cell.

    Unrolls `cell` over `inputs` in Python under one `tf.GradientTape`, with dropout off
    (`training=False`), computes L = loss_fn(y_T) from the last step's output y_T only, and
    differentiates L with respect to every state tensor h_t (and c_t).

    Args:
        cell: a Keras RNN cell (built, or built here from the input shape).
        inputs: float array of shape (B, T, d).
        loss_fn: maps the last output y_T, shape (B, n), to a scalar loss L.
            Default: sum(y_T), i.e. L = sum_b sum_i h_T[b, i].
        initial_state: (h_0,) or (h_0, c_0), each of shape (B, n). Default: zeros.

    Returns:
        {"h": G^h, "c": G^c}, float64 arrays of shape (T,), "c" only for cells with a memory
        cell. G^h[t - 1] = mean over the batch of the Euclidean norm of the total derivative
        dL/dh_t (all paths from h_t to L), for t = 1..T; G^c likewise for c_t. A state with no
        path to L has norm 0; gradients are float32, so norms below about 1e-38 underflow to 0.
    """
    x = _check_inputs(cell, inputs)
    batch, steps = int(x.shape[0]), int(x.shape[1])
    loss_fn = _sum_loss if loss_fn is None else loss_fn
    states = _initial_states(cell, batch, initial_state)

    history: list[list[tf.Tensor]] = []
    with tf.GradientTape() as tape:
        for t in range(steps):
            output, new_states = cell(x[:, t], states, training=False)
            states = _as_state_list(new_states)
            history.append(states)
        loss = loss_fn(output)
    if loss.shape.rank != 0:
        raise ValueError(f"loss_fn: must return a scalar, got shape {tuple(loss.shape)}")

    n_states = len(states)
    tensors = [step_states[k] for k in range(n_states) for step_states in history]
    grads = tape.gradient(loss, tensors)
    result = {}
    for k, key in enumerate(["h", "c"][:n_states]):
        chunk = slice(k * steps, (k + 1) * steps)
        result[key] = _mean_norms(grads[chunk])
    return result


def _mean_norms(grads: list) -> np.ndarray:
    """Mean over the batch of the per-example Euclidean norm; None (no path to L) counts as 0.

    The norms are taken in float64: in float32 the squares of entries below about 1e-19
    underflow (and are flushed to zero on CPU), so a norm computed there reads 0 for a
    gradient that is still about 1e-19 to 1e-38.
    """
    norms = [
        0.0 if g is None else float(np.linalg.norm(g.numpy().astype(np.float64), axis=-1).mean())
        for g in grads
    ]
    return np.asarray(norms, dtype=np.float64)


def state_jacobians(cell, inputs_t, states: Sequence) -> dict[str, np.ndarray]:
    """One-step Jacobians of the new state with respect to the previous one, per example.

    For one step (h_t, c_t) = cell(x_t, (h_{t-1}, c_{t-1})), returns the partial derivatives
    (the other previous state held fixed)

        "h": J^h[b, i, j] = dh_t[b, i] / dh_{t-1}[b, j]
        "c": J^c[b, i, j] = dc_t[b, i] / dc_{t-1}[b, j]      (cells with a memory cell only)

    For the LSTM, c_t = f_t * c_{t-1} + i_t * g_t with gates that read h_{t-1} and x_t only,
    so J^c = diag(f_t) exactly. For the GRU, h_t = z_t * h_{t-1} + (1 - z_t) * hh_t, so J^h is
    diag(z_t) plus the paths through z_t and hh_t.

    Args:
        cell: a Keras RNN cell (built, or built here from the input shape).
        inputs_t: float array of shape (B, d), the input x_t of this step.
        states: (h_{t-1},) or (h_{t-1}, c_{t-1}), each of shape (B, n).

    Returns:
        {"h": J^h, "c": J^c}, float64 arrays of shape (B, n, n).
    """
    x = _check_inputs(cell, tf.expand_dims(tf.convert_to_tensor(inputs_t, tf.float32), 1))
    previous = _initial_states(cell, int(x.shape[0]), states)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(previous)
        _, new_states = cell(x[:, 0], previous, training=False)
        new_states = _as_state_list(new_states)
    keys = ["h", "c"][: len(previous)]
    result = {
        key: tape.batch_jacobian(new, old).numpy().astype(np.float64)
        for key, new, old in zip(keys, new_states, previous, strict=True)
    }
    del tape
    return result


def plot_gradient_flow(results: Mapping[str, Mapping[str, np.ndarray]], title: str = "") -> Figure:
    """Plot gradient-flow curves from `gradient_flow`, one curve per cell, on a log scale.

    Args:
        results: {name: gradient_flow(...) result}. Each cell's ||dL/dh_t|| is a solid line;
            its ||dL/dc_t||, if present, a dashed line of the same colour.
        title: the figure title (default: a description of the axes).

    Returns:
        A matplotlib Figure (not attached to pyplot), x axis the time step t = 1..T, y axis the
        mean per-example gradient norm, log scale.
    """
    if not results:
        raise ValueError("results: need at least one {name: gradient_flow result} entry")
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    for index, (name, result) in enumerate(results.items()):
        if "h" not in result:
            raise ValueError(f"results[{name!r}]: expected a gradient_flow result with key 'h'")
        color = f"C{index % 10}"
        steps = np.arange(1, len(result["h"]) + 1)
        axes.plot(steps, result["h"], color=color, label=f"{name}: ||dL/dh_t||")
        if "c" in result:
            axes.plot(steps, result["c"], color=color, linestyle="--", label=f"{name}: ||dL/dc_t||")
    axes.set_yscale("log", nonpositive="mask")  # norms that underflowed to 0 are left out
    axes.set_xlabel("time step t (loss on the last step T)")
    axes.set_ylabel("mean per-example gradient norm")
    axes.set_title(title or "Gradient flow through time")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure
