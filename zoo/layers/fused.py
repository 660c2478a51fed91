"""TensorFlow fast path: the LSTM and GRU loops with hand-written backpropagation through time.

Automatic differentiation of a ``tf.while_loop`` replays every forward op backwards, pushes and
pops each intermediate on a stack, and accumulates the recurrent-kernel gradient with one extra
matmul per timestep. Here the forward loop stores only the gate activations of each step, and
the backward loop is one matmul and a few elementwise ops per step; the weight gradients come
after the loop as one large matmul over all timesteps::

    dU = sum_t a_{t-1}^T dz_t = A^T dZ        (A: the recurrent matmul inputs, (T B, units))

Used by ``RecurrentLayer`` on the TensorFlow backend for ``LSTMCell`` and ``GRUCell`` with their
default activations (tanh, sigmoid), whose derivatives are written out below; other settings
and other backends take the engine's generic loop. Both compute the same numbers (the
equivalence tests compare both against Keras's built-in layers).

Each compiled forward function also makes the input projection ``x_t W + b`` of its rows, from
batch-major inputs (batch, T, d), and returns the states batch major; its backward function
returns the projection's gradients too (``dX = dZ W^T``, ``dW = X^T dZ``, ``db = sum dZ``). The
transposes to and from time major then happen inside XLA, per slice, instead of as TensorFlow
ops on the whole batch. With input dropout the cell projects first (one mask per gate block) and
the functions take that projection instead (``kernel=None``).

Masking rule (the engine's): where ``mask_t`` is False the states keep their previous value.
The functions here return the state sequence; the layer derives the outputs from it.

Batch slices: a compiled loop runs on one thread (XLA does not split a step's small matmul
across threads), so on a CPU with several threads the batch is cut into slices of rows, each
run by a loop of its own; TensorFlow runs the independent loops concurrently on its inter-op
threads. Rows do not interact in these equations, so the states are those of one loop over the
whole batch; the kernel gradients are the sum of the slices' (a different order of the same
additions). See ``batch_slice_sizes``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import tensorflow as tf
from tensorflow.python import pywrap_tfe  # what records which tensors: no public API

from zoo.layers.engine import recurrent_project

# The loops are compiled with XLA: each step then runs as fused native code rather than a dozen
# separately scheduled TensorFlow ops. Only stacked tensors cross the compiled functions'
# boundaries (the gradients are written by hand below, so nothing differentiates through them).
_compiled = functools.partial(tf.function, jit_compile=True, autograph=False)


# The fewest rows worth a loop of their own: a choice. At 2 threads two slices of 10 rows beat
# one loop of 20 (benchmarks/batch_slices.py); four slices of 5 trained slower than two of 10
# (ad hoc), their step matmuls too thin.
MIN_ROWS_PER_SLICE = 8

# Set by `batch_slices()`: the number of slices, instead of the one chosen from the threads.
_SLICES_OVERRIDE: int | None = None


@contextlib.contextmanager
def batch_slices(count: int) -> Iterator[None]:
    """Within this context, the fused loops cut the batch into ``count`` slices (at most one
    per row; 1: no slicing), whatever the threads and the batch size. Acts at trace time, as
    ``zoo.layers.engine.generic_loop()``. For tests and benchmarks."""
    global _SLICES_OVERRIDE
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"`count` must be a positive integer, received {count!r}.")
    previous, _SLICES_OVERRIDE = _SLICES_OVERRIDE, count
    try:
        yield
    finally:
        _SLICES_OVERRIDE = previous


def _cpu_threads() -> int:
    """The CPU threads TensorFlow can run independent ops on: its inter-op setting (0: the
    default, one per core), at most the cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return min(tf.config.threading.get_inter_op_parallelism_threads() or cores, cores)


def batch_slice_sizes(batch: int | None) -> list[int]:
    """Rows of each batch slice that runs as a loop of its own: one slice per CPU thread, each
    of at least MIN_ROWS_PER_SLICE rows; a single slice on a GPU (its kernels are parallel
    already) or when the batch size is not known when tracing. ``batch_slices()`` overrides
    the count."""
    if batch is None:
        return [batch]
    if _SLICES_OVERRIDE is not None:
        count = _SLICES_OVERRIDE
    elif tf.config.list_logical_devices("GPU"):
        count = 1
    else:
        count = min(_cpu_threads(), batch // MIN_ROWS_PER_SLICE)
    count = max(1, min(count, batch))
    return [batch // count + (1 if i < batch % count else 0) for i in range(count)]


def _sliced(tensor, sizes, axis):
    """``tensor`` cut into the batch slices along ``axis``; None stays None (per slice)."""
    if tensor is None:
        return [None] * len(sizes)
    if len(sizes) == 1:
        return [tensor]
    return tf.split(tensor, sizes, axis=axis)


def _sliced_masks(masks, sizes):
    """Per slice, the list of recurrent dropout masks (B, units) cut to its rows (or None)."""
    if masks is None:
        return [None] * len(sizes)
    return [list(slice_masks) for slice_masks in zip(*(_sliced(m, sizes, 0) for m in masks))]


def _joined(tensors, axis):
    return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=axis)


def _summed(tensors):
    return tensors[0] if len(tensors) == 1 else tf.add_n(tensors)


def _detached(*tensors):
    """The tensors, hidden from any gradient tape: the compiled loops must not be recorded,
    since a recorded call would export its loop intermediates (TensorLists) out of XLA. Their
    gradients are the hand-written ones."""
    return [None if t is None else tf.stop_gradient(t) for t in tensors]


def _constant_masks(masks):
    """The recurrent dropout masks as a list of constants (None for none): drawn from
    ``ones_like(state)``, they would tie a differentiated initial state to the compiled loop,
    which TensorFlow cannot differentiate (TensorLists do not cross the XLA boundary)."""
    return None if masks is None else [tf.stop_gradient(m) for m in masks]


def _forward_mode_active(tensors) -> bool:
    """Whether a forward accumulator (``tf.autodiff.ForwardAccumulator``) holds a JVP for any of
    ``tensors``. TensorFlow gives a custom gradient's JVPs as None, so the loops then run
    uncompiled under its autodiff."""
    _, jvps = pywrap_tfe.TFE_Py_PackJVPs(list(tensors))
    return bool(jvps)


def _tape_records(tensors) -> bool:
    """Whether a gradient tape records operations on any of ``tensors`` (forward accumulators
    aside): while a custom gradient runs, someone then differentiates the gradient itself."""
    return pywrap_tfe.TFE_Py_TapeSetShouldRecordBackprop([t for t in tensors if t is not None])


def _autodiff_gradients(forward, primals, output_gradients):
    """The gradients of ``forward(*primals)`` (given those of its outputs) by TensorFlow's
    own autodiff of the uncompiled loop, on the whole batch.

    The custom gradients use it when a tape records their inputs or output gradients while they
    run (``_tape_records``): someone differentiates the gradient itself (a gradient penalty, a
    Hessian-vector product). The hand-written backward pass cannot serve them (its inputs are
    detached and it is compiled), and would silently give None. (Under forward-mode autodiff
    the loops skip the custom gradient altogether: ``_forward_mode_active``.)
    """
    with tf.GradientTape() as tape:
        tape.watch(primals)
        outputs = forward(*primals)
    return tape.gradient(outputs, primals, output_gradients=output_gradients)


def _time_major(tensor):
    """(B, T, ...) <-> (T, B, ...): swaps the first two axes."""
    return tf.transpose(tensor, [1, 0, *range(2, tensor.shape.rank)])


def _projection(inputs, kernel, bias):
    """``x_t W + b`` of batch-major ``inputs`` (B, T, d), time major (T, B, G); with ``kernel``
    None, ``inputs`` hold that projection already (B, T, G) and are only made time major."""
    sequence = _time_major(inputs)
    if kernel is None:
        return sequence
    flat = tf.matmul(tf.reshape(sequence, (-1, sequence.shape[-1])), kernel)
    if bias is not None:
        flat += bias
    return tf.reshape(flat, tf.concat([tf.shape(sequence)[:2], [kernel.shape[-1]]], axis=0))


def _projection_grads(dz, inputs, kernel, with_bias):
    """Gradients of ``_projection`` from ``dz`` (T, B, G), its time-major gradient: the inputs'
    (batch major), then, with a ``kernel``, the kernel's (``X^T dZ``) and, ``with_bias``, the
    bias's (``sum dZ``)."""
    if kernel is None:
        return [_time_major(dz)]
    flat_dz = tf.reshape(dz, (-1, dz.shape[-1]))
    flat_inputs = tf.reshape(_time_major(inputs), (-1, inputs.shape[-1]))
    d_inputs = tf.reshape(
        tf.matmul(flat_dz, kernel, transpose_b=True),
        tf.concat([tf.shape(dz)[:2], [inputs.shape[-1]]], axis=0),
    )
    grads = [_time_major(d_inputs), tf.matmul(flat_inputs, flat_dz, transpose_a=True)]
    if with_bias:
        grads.append(tf.reduce_sum(flat_dz, axis=0))
    return grads


def _check_projection(kernel, bias):
    """A bias comes with a kernel: without one the inputs are the projection already."""
    if kernel is None and bias is not None:
        raise ValueError(
            "Argument `bias`: expected None when `kernel` is None (the inputs are then projected "
            "already, bias included)."
        )


def _weights(kernel, bias):
    """The projection weights given (kernel, then bias), as tensors (not variables: the
    custom gradients hand their gradients back to the variables' reads)."""
    return [tf.convert_to_tensor(w) for w in (kernel, bias) if w is not None]


def _unpacked(weights):
    """(kernel, bias) from the list ``_weights`` made, None for each one not given (a bias
    comes only with a kernel: ``_check_projection``)."""
    return (*weights, None, None)[:2]


def _transposed(kernel):
    """The recurrent kernel transposed, for the backward loops' ``dz @ kernel^T``, made by
    TensorFlow outside them: a compiled loop reads it with every step's matmul, and a step's
    matmul on a transposed kernel was faster than one that transposes it (measured at 200 units,
    10 and 20 rows; XLA would fold a transpose made inside the loop function back into the
    matmul)."""
    return tf.transpose(kernel)


def _steps(time_major):
    return time_major.shape[0] if time_major.shape[0] is not None else tf.shape(time_major)[0]


def _time_loop(body, steps, loop_vars):
    return tf.while_loop(
        lambda t, *_: t < steps, body, loop_vars, maximum_iterations=steps, parallel_iterations=32
    )


def _reverse_loop(body, steps, loop_vars):
    return tf.while_loop(
        lambda t, *_: t >= 0, body, loop_vars, maximum_iterations=steps, parallel_iterations=32
    )


def _read_all(tensor, steps):
    return tf.TensorArray(tensor.dtype, size=steps, element_shape=tensor.shape[1:]).unstack(tensor)


def _empty(like, steps, width=None):
    shape = like.shape if width is None else tf.TensorShape([like.shape[0], width])
    return tf.TensorArray(like.dtype, size=steps, element_shape=shape)


def _recurrent_input_grad(dz, kernel_t, masks, blocks):
    """d(h @ kernel)/dh applied to dz, ``dz @ kernel^T``, from the transposed kernel
    ``kernel_t`` (blocks units, units), with one recurrent dropout mask per block (or none)."""
    if masks is None:
        return tf.matmul(dz, kernel_t)
    dzs = tf.split(dz, blocks, axis=1)
    kernels_t = tf.split(kernel_t, blocks, axis=0)
    return tf.add_n([tf.matmul(d, k) * m for d, k, m in zip(dzs, kernels_t, masks)])


def _recurrent_kernel_grad(inputs, dz, masks, blocks):
    """sum_t inputs_t^T dz_t for ``inputs`` (T, B, n) and ``dz`` (T, B, blocks k)."""
    flat_dz = tf.reshape(dz, (-1, dz.shape[-1]))
    if masks is None:
        return tf.matmul(tf.reshape(inputs, (-1, inputs.shape[-1])), flat_dz, transpose_a=True)
    dzs = tf.split(flat_dz, blocks, axis=1)
    return tf.concat(
        [
            tf.matmul(tf.reshape(inputs * m, (-1, inputs.shape[-1])), d, transpose_a=True)
            for d, m in zip(dzs, masks)
        ],
        axis=1,
    )


def _masked(mask_t, new, old):
    return new if mask_t is None else tf.where(mask_t, new, old)


def _split_masked_grad(mask_t, grad):
    """(the part of ``grad`` that reaches the step, the part that passes the step unchanged)."""
    if mask_t is None:
        return grad, tf.zeros_like(grad)
    zeros = tf.zeros_like(grad)
    return tf.where(mask_t, grad, zeros), tf.where(mask_t, zeros, grad)


def _mask_reader(mask, steps):
    """Per step t, the (B, 1) booleans of batch-major ``mask`` (B, T), or None."""
    if mask is None:
        return lambda t: None
    mask = _time_major(mask)[:, :, None]
    # Read once per step by the forward loop and again by the backward loop.
    array = tf.TensorArray(
        mask.dtype, size=steps, element_shape=mask.shape[1:], clear_after_read=False
    ).unstack(mask)
    return array.read


def _previous_states(h0, states):
    """(T, B, n): the state entering each step, h_{t-1}."""
    return tf.concat([h0[None], states[:-1]], axis=0)


@_compiled
def _lstm_forward(inputs, kernel, bias, h0, c0, recurrent_kernel, mask, masks):
    """(H, c_T, C, gates): states (batch major) and cells (time major) after every step, and
    the gates i, f, g, o (time major), for ``inputs`` (B, T, d) projected with (kernel, bias)."""
    projected = _projection(inputs, kernel, bias)
    steps = _steps(projected)
    step_inputs = _read_all(projected, steps)
    mask_at = _mask_reader(mask, steps)

    def body(t, h, c, states, cells, gates):
        z = step_inputs.read(t) + recurrent_project(h, recurrent_kernel, masks, 4)
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
        i, f, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.sigmoid(z_o)
        g = tf.tanh(z_c)
        c_new = f * c + i * g
        h_new = o * tf.tanh(c_new)
        mask_t = mask_at(t)
        h_new = _masked(mask_t, h_new, h)
        c_new = _masked(mask_t, c_new, c)
        return (
            t + 1,
            h_new,
            c_new,
            states.write(t, h_new),
            cells.write(t, c_new),
            gates.write(t, tf.concat([i, f, g, o], axis=1)),
        )

    units = h0.shape[1]
    loop_vars = (tf.constant(0), h0, c0, _empty(h0, steps), _empty(c0, steps))
    _, _, c_last, states, cells, gates = _time_loop(
        body, steps, (*loop_vars, _empty(h0, steps, 4 * units))
    )
    return _time_major(states.stack()), c_last, cells.stack(), gates.stack()


@_compiled
def _lstm_backward(
    d_states,
    d_c_last,
    inputs,
    states,
    cells,
    gates,
    h0,
    c0,
    kernel_t,
    kernel,
    with_bias,
    mask,
    masks,
):
    """Gradients with respect to (h0, c0, recurrent kernel, inputs, then kernel and bias as in
    ``_projection_grads``). ``d_states``, ``states`` and ``inputs`` are batch major, ``cells``
    and ``gates`` as ``_lstm_forward`` returns them; ``kernel_t`` is the recurrent kernel
    transposed (see ``_transposed``)."""
    d_states, states = _time_major(d_states), _time_major(states)
    steps = _steps(states)
    mask_at = _mask_reader(mask, steps)
    previous_cells = _read_all(_previous_states(c0, cells), steps)
    upstream = _read_all(d_states, steps)
    gate_values = _read_all(gates, steps)
    final_cells = _read_all(cells, steps)

    def back(t, dh, dc, dz_array):
        dh_step, dh_pass = _split_masked_grad(mask_at(t), upstream.read(t) + dh)
        dc_step, dc_pass = _split_masked_grad(mask_at(t), dc)
        i, f, g, o = tf.split(gate_values.read(t), 4, axis=1)
        tanh_c = tf.tanh(final_cells.read(t))
        dc_total = dc_step + dh_step * o * (1.0 - tanh_c * tanh_c)
        dz = tf.concat(
            [
                dc_total * g * i * (1.0 - i),
                dc_total * previous_cells.read(t) * f * (1.0 - f),
                dc_total * i * (1.0 - g * g),
                dh_step * tanh_c * o * (1.0 - o),
            ],
            axis=1,
        )
        dh_prev = dh_pass + _recurrent_input_grad(dz, kernel_t, masks, 4)
        dc_prev = dc_pass + dc_total * f
        return t - 1, dh_prev, dc_prev, dz_array.write(t, dz)

    units = h0.shape[1]
    _, dh0, dc0, dz_array = _reverse_loop(
        back, steps, (steps - 1, tf.zeros_like(h0), d_c_last, _empty(h0, steps, 4 * units))
    )
    dz_all = dz_array.stack()
    d_kernel = _recurrent_kernel_grad(_previous_states(h0, states), dz_all, masks, 4)
    return [dh0, dc0, d_kernel, *_projection_grads(dz_all, inputs, kernel, with_bias)]


def lstm_states(inputs, h0, c0, mask, recurrent_kernel, recurrent_masks, kernel=None, bias=None):
    """LSTM over time (tanh and sigmoid), with hand-written BPTT.

    Args:
        inputs: (B, T, d), the sequences, projected here as ``x_t W + b`` with ``kernel`` W
            (d, 4 units) and ``bias`` b (4 units,) or None; or, with ``kernel`` None, that
            projection already, (B, T, 4 units). Gate order i, f, c, o.
        h0, c0: (B, units) initial states.
        mask: None or (B, T) booleans.
        recurrent_kernel: the recurrent kernel U, (units, 4 units).
        recurrent_masks: None or 4 recurrent dropout masks (B, units), one per gate.
        kernel, bias: the input projection's weights (see ``inputs``).

    Returns:
        ``(H, c_T)``: the hidden states after every step, (B, T, units), and the final cell.
    """
    _check_projection(kernel, bias)
    masks = _constant_masks(recurrent_masks)
    primals = (
        *map(tf.convert_to_tensor, (inputs, h0, c0, recurrent_kernel)),
        *_weights(kernel, bias),
    )
    if _forward_mode_active(primals):
        inputs, h0, c0, recurrent_kernel, *weights = primals
        return _lstm_forward.python_function(
            inputs, *_unpacked(weights), h0, c0, recurrent_kernel, mask, masks
        )[:2]
    sizes = batch_slice_sizes(h0.shape[0])
    slice_masks = _sliced_masks(masks, sizes)
    step_masks = _sliced(mask, sizes, 0)

    @tf.custom_gradient
    def run(inputs, h0, c0, recurrent_kernel, *weights):
        kernel, bias = _unpacked(weights)
        with_bias = bias is not None
        xs, h0s, c0s = _sliced(inputs, sizes, 0), _sliced(h0, sizes, 0), _sliced(c0, sizes, 0)
        forwards = [  # per slice: (H, c_T, C, gates)
            _lstm_forward(*_detached(x, kernel, bias, h, c, recurrent_kernel), m, rm)
            for x, h, c, m, rm in zip(xs, h0s, c0s, step_masks, slice_masks)
        ]
        states = _joined([f[0] for f in forwards], 0)
        c_last = _joined([f[1] for f in forwards], 0)

        def grad(d_states, d_c_last):
            d_states = tf.zeros_like(states) if d_states is None else d_states
            d_c_last = tf.zeros_like(c_last) if d_c_last is None else d_c_last
            primals = (inputs, h0, c0, recurrent_kernel, *weights)
            if _tape_records((*primals, d_states, d_c_last)):
                return _autodiff_gradients(
                    lambda x, h, c, u, *w: _lstm_forward.python_function(
                        x, *_unpacked(w), h, c, u, mask, masks
                    )[:2],
                    primals,
                    (d_states, d_c_last),
                )
            kernel_t = _transposed(recurrent_kernel)
            backwards = [  # per slice: d(h0, c0, recurrent kernel, inputs[, kernel][, bias])
                _lstm_backward(
                    *_detached(ds, dc, x, hs, cells, gates, h, c, kernel_t, kernel),
                    with_bias,
                    m,
                    rm,
                )
                for ds, dc, x, (hs, _, cells, gates), h, c, m, rm in zip(
                    _sliced(d_states, sizes, 0),
                    _sliced(d_c_last, sizes, 0),
                    xs,
                    forwards,
                    h0s,
                    c0s,
                    step_masks,
                    slice_masks,
                )
            ]
            return (
                _joined([b[3] for b in backwards], 0),
                _joined([b[0] for b in backwards], 0),
                _joined([b[1] for b in backwards], 0),
                _summed([b[2] for b in backwards]),
                *(_summed(list(parts)) for parts in zip(*(b[4:] for b in backwards))),
            )

        return (states, c_last), grad

    # Tensors, not the variables: custom_gradient then hands the weights' gradients back to the
    # variables' reads through ordinary autodiff (so in `_weights`).
    return run(*primals)


def _gru_step(x, h, kernel, bias, masks, reset_after):
    """One GRU step: (h_new, saved), ``saved`` holding what the backward step needs."""
    units = h.shape[1]
    x_z, x_r, x_h = tf.split(x, 3, axis=1)
    if reset_after:
        inner = recurrent_project(h, kernel, masks, 3) + bias
        r_z, r_r, r_h = tf.split(inner, 3, axis=1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        candidate = tf.tanh(x_h + r * r_h)
        saved = tf.concat([z, r, candidate, r_h], axis=1)
    else:
        gate_masks = None if masks is None else masks[:2]
        inner = recurrent_project(h, kernel[:, : 2 * units], gate_masks, 2)
        r_z, r_r = tf.split(inner, 2, axis=1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        h_candidate = h if masks is None else h * masks[2]
        candidate = tf.tanh(x_h + tf.matmul(r * h_candidate, kernel[:, 2 * units :]))
        saved = tf.concat([z, r, candidate], axis=1)
    return z * h + (1.0 - z) * candidate, saved


@_compiled
def _gru_forward(
    inputs, kernel, bias, h0, recurrent_kernel, recurrent_bias, mask, masks, reset_after
):
    """(H, saved): the states after every step (batch major) and what the backward steps need
    (time major), for ``inputs`` (B, T, d) projected with (kernel, bias)."""
    projected = _projection(inputs, kernel, bias)
    steps = _steps(projected)
    step_inputs = _read_all(projected, steps)
    mask_at = _mask_reader(mask, steps)
    saved_width = (4 if reset_after else 3) * h0.shape[1]

    def body(t, h, states, saved_array):
        h_new, saved = _gru_step(
            step_inputs.read(t), h, recurrent_kernel, recurrent_bias, masks, reset_after
        )
        h_new = _masked(mask_at(t), h_new, h)
        return t + 1, h_new, states.write(t, h_new), saved_array.write(t, saved)

    _, _, states, saved_array = _time_loop(
        body, steps, (tf.constant(0), h0, _empty(h0, steps), _empty(h0, steps, saved_width))
    )
    return _time_major(states.stack()), saved_array.stack()


@_compiled
def _gru_backward(
    d_states, inputs, states, saved_all, h0, kernel_t, kernel, with_bias, mask, masks, reset_after
):
    """Gradients with respect to (h0, recurrent kernel, recurrent bias, inputs, then kernel and
    bias as in ``_projection_grads``). ``d_states``, ``states`` and ``inputs`` are batch major,
    ``saved_all`` as ``_gru_forward`` returns it; ``kernel_t`` is the recurrent kernel
    transposed (see ``_transposed``)."""
    d_states, states = _time_major(d_states), _time_major(states)
    steps = _steps(states)
    units = h0.shape[1]
    mask_at = _mask_reader(mask, steps)
    previous = _previous_states(h0, states)
    previous_array = _read_all(previous, steps)
    upstream = _read_all(d_states, steps)
    saved_values = _read_all(saved_all, steps)
    candidate_kernel_t = kernel_t[2 * units :]
    gate_masks = None if masks is None else masks[:2]

    def back(t, dh, dx_array, dinner_array):
        dh_step, dh_pass = _split_masked_grad(mask_at(t), upstream.read(t) + dh)
        h = previous_array.read(t)
        if reset_after:
            z, r, candidate, r_h = tf.split(saved_values.read(t), 4, axis=1)
        else:
            z, r, candidate = tf.split(saved_values.read(t), 3, axis=1)
        dz = dh_step * (h - candidate) * z * (1.0 - z)
        d_candidate = dh_step * (1.0 - z) * (1.0 - candidate * candidate)
        dh_prev = dh_pass + dh_step * z
        if reset_after:
            dr = d_candidate * r_h * r * (1.0 - r)
            d_inner = tf.concat([dz, dr, d_candidate * r], axis=1)
            dh_prev += _recurrent_input_grad(d_inner, kernel_t, masks, 3)
        else:
            h_candidate = h if masks is None else h * masks[2]
            d_reset_input = tf.matmul(d_candidate, candidate_kernel_t)
            dr = d_reset_input * h_candidate * r * (1.0 - r)
            d_inner = tf.concat([dz, dr], axis=1)
            from_candidate = d_reset_input * r
            if masks is not None:
                from_candidate *= masks[2]
            dh_prev += from_candidate + _recurrent_input_grad(
                d_inner, kernel_t[: 2 * units], gate_masks, 2
            )
        dx = tf.concat([dz, dr, d_candidate], axis=1)
        return t - 1, dh_prev, dx_array.write(t, dx), dinner_array.write(t, d_inner)

    inner_width = (3 if reset_after else 2) * units
    loop_vars = (steps - 1, tf.zeros_like(h0), _empty(h0, steps, 3 * units))
    _, dh0, dx_array, dinner_array = _reverse_loop(
        back, steps, (*loop_vars, _empty(h0, steps, inner_width))
    )
    dx_all, dinner_all = dx_array.stack(), dinner_array.stack()
    if reset_after:
        d_kernel = _recurrent_kernel_grad(previous, dinner_all, masks, 3)
        d_bias = tf.reduce_sum(dinner_all, axis=(0, 1))
    else:
        d_zr = _recurrent_kernel_grad(previous, dinner_all, gate_masks, 2)
        r = tf.split(saved_all, 3, axis=2)[1]
        h_candidate = previous if masks is None else previous * masks[2]
        d_h = _recurrent_kernel_grad(r * h_candidate, dx_all[:, :, 2 * units :], None, 1)
        d_kernel = tf.concat([d_zr, d_h], axis=1)
        d_bias = tf.zeros((3 * units,), h0.dtype)
    return [dh0, d_kernel, d_bias, *_projection_grads(dx_all, inputs, kernel, with_bias)]


def gru_states(
    inputs,
    h0,
    mask,
    recurrent_kernel,
    recurrent_bias,
    recurrent_masks,
    reset_after,
    kernel=None,
    bias=None,
):
    """GRU over time (tanh and sigmoid), in either form, with hand-written BPTT.

    Args:
        inputs: (B, T, d), the sequences, projected here as ``x_t W + b`` with ``kernel`` W
            (d, 3 units) and ``bias`` b (3 units,) or None; or, with ``kernel`` None, that
            projection already, (B, T, 3 units). Gate order z, r, h.
        h0: (B, units) initial state.
        mask: None or (B, T) booleans.
        recurrent_kernel: the recurrent kernel U, (units, 3 units).
        recurrent_bias: None or (3 units,), the second bias of the reset_after form.
        recurrent_masks: None or 3 recurrent dropout masks (B, units), one per gate.
        reset_after: the cuDNN form (True) or the original form (False).
        kernel, bias: the input projection's weights (see ``inputs``).

    Returns:
        H: the hidden states after every step, (B, T, units).
    """
    _check_projection(kernel, bias)
    masks = _constant_masks(recurrent_masks)
    if recurrent_bias is None:
        recurrent_bias = tf.zeros((recurrent_kernel.shape[1],), h0.dtype)
    primals = (
        *map(tf.convert_to_tensor, (inputs, h0, recurrent_kernel, recurrent_bias)),
        *_weights(kernel, bias),
    )
    if _forward_mode_active(primals):
        inputs, h0, recurrent_kernel, recurrent_bias, *weights = primals
        return _gru_forward.python_function(
            inputs,
            *_unpacked(weights),
            h0,
            recurrent_kernel,
            recurrent_bias,
            mask,
            masks,
            reset_after,
        )[0]
    sizes = batch_slice_sizes(h0.shape[0])
    slice_masks = _sliced_masks(masks, sizes)
    step_masks = _sliced(mask, sizes, 0)

    @tf.custom_gradient
    def run(inputs, h0, recurrent_kernel, recurrent_bias, *weights):
        kernel, bias = _unpacked(weights)
        with_bias = bias is not None
        xs, h0s = _sliced(inputs, sizes, 0), _sliced(h0, sizes, 0)
        forwards = [  # per slice: (H, saved)
            _gru_forward(
                *_detached(x, kernel, bias, h, recurrent_kernel, recurrent_bias),
                m,
                rm,
                reset_after,
            )
            for x, h, m, rm in zip(xs, h0s, step_masks, slice_masks)
        ]
        states = _joined([f[0] for f in forwards], 0)

        def grad(d_states):
            primals = (inputs, h0, recurrent_kernel, recurrent_bias, *weights)
            if _tape_records((*primals, d_states)):
                return _autodiff_gradients(
                    lambda x, h, u, ub, *w: _gru_forward.python_function(
                        x, *_unpacked(w), h, u, ub, mask, masks, reset_after
                    )[0],
                    primals,
                    d_states,
                )
            kernel_t = _transposed(recurrent_kernel)
            backwards = [  # per slice: d(h0, recurrent kernel, recurrent bias, inputs, ...)
                _gru_backward(
                    *_detached(ds, x, hs, saved, h, kernel_t, kernel),
                    with_bias,
                    m,
                    rm,
                    reset_after,
                )
                for ds, x, (hs, saved), h, m, rm in zip(
                    _sliced(d_states, sizes, 0), xs, forwards, h0s, step_masks, slice_masks
                )
            ]
            return (
                _joined([b[3] for b in backwards], 0),
                _joined([b[0] for b in backwards], 0),
                _summed([b[1] for b in backwards]),
                _summed([b[2] for b in backwards]),
                *(_summed(list(parts)) for parts in zip(*(b[4:] for b in backwards))),
            )

        return states, grad

    return run(*primals)
