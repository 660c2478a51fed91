"""The shared recurrence engine: one loop that runs every cell of the zoo.

A cell of the zoo states only its equations, split in two:

- ``project_inputs(inputs, dropout_mask)``: the input projection ``x_t W + b``, written so that it
  works on one timestep ``(batch, d)`` or on a whole sequence ``(batch, T, d)`` at once (one
  large matmul instead of T small ones);
- ``step(projected_t, states, recurrent_dropout_mask)``: given the projected input at t and the
  previous states, the output and the new states.

``RecurrentCell.call`` chains the two, so every cell also works one step at a time inside
``keras.layers.RNN`` and ``keras.layers.StackedRNNCells``. ``RecurrentLayer`` (a
``keras.layers.RNN``) projects the whole sequence first and then runs ``scan_recurrence``, the
engine's loop, which owns the masking rules, the direction and the output bookkeeping. A speed-up
of the engine speeds up every cell. A cell may also offer a fused loop over the whole sequence
(``fused_loop``: the LSTM and GRU on TensorFlow, ``zoo.layers.fused``), which projects the
inputs itself; ``fused_recurrence`` then keeps the same rules around it.

Dropout follows Keras exactly: one mask per sequence (drawn once per call of the layer from the
cell's seed generator, reused at every timestep), active only in training; with
``recurrent_dropout > 0`` each gate block gets its own input and recurrent mask (Keras's
``implementation=1``), so a zoo layer and a built-in layer with the same seed draw the same masks.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator, Sequence

import keras
from keras import activations, constraints, initializers, ops, regularizers

# keras.layers.RNN prepares and clears the per-sequence dropout masks only for cells that are
# instances of this mixin (see RNN._maybe_config_dropout_masks); it is not exported publicly,
# so it is imported from its module. Its masks are `keras.random.dropout(ones, rate)`: 0 or
# 1 / (1 - rate).
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

Step = Callable[[object, list], tuple[object, list]]

# Set by `generic_loop()`: when True, RecurrentLayer ignores its cell's fused loop.
_GENERIC_LOOP_ONLY = False


@contextlib.contextmanager
def generic_loop() -> Iterator[None]:
    """Within this context, zoo layers trace the engine's generic loop, not the fused one.

    The fused LSTM/GRU loops (``zoo.layers.fused``) are XLA-compiled (``jit_compile=True``)
    functions with a custom gradient; a graph traced through them needs XLA wherever it runs.
    Graphs traced inside this context use one plain ``tf.while_loop`` over the cell's ``step``
    instead: the same numbers, no XLA-must-compile function, so a SavedModel exported this way
    runs in TF Serving, TFLite converters and TensorFlow builds without XLA. The switch acts at
    trace time: a ``tf.function`` traced before entering the context keeps its fused loop.
    """
    global _GENERIC_LOOP_ONLY
    previous, _GENERIC_LOOP_ONLY = _GENERIC_LOOP_ONLY, True
    try:
        yield
    finally:
        _GENERIC_LOOP_ONLY = previous


def check_units(units: object) -> int:
    """Return ``units`` if it is a positive integer, else raise a ValueError naming it."""
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
        raise ValueError(
            f"Received an invalid value for argument `units`: expected a positive integer, "
            f"got {units!r}."
        )
    return int(units)


def check_use_cudnn(use_cudnn: object) -> None:
    """Raise a ValueError unless ``use_cudnn`` is "auto" or False: the built-in layers'
    argument, kept for their callers; zoo layers have no cuDNN path to turn on."""
    if use_cudnn is not False and use_cudnn != "auto":
        raise ValueError(
            f"Received an invalid value for argument `use_cudnn`: zoo layers never run cuDNN, "
            f"so it can be 'auto' or False; got {use_cudnn!r}."
        )


def check_rate(name: str, rate: object) -> float:
    """Return ``rate`` as a float if it lies in [0, 1), else raise a ValueError naming it."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`: expected a float in [0, 1), "
            f"got {rate!r}."
        )
    return float(rate)


def uses_default_activations(cell) -> bool:
    """Whether ``cell`` uses tanh and sigmoid, the activations the fused loops differentiate."""
    return cell.activation is activations.tanh and cell.recurrent_activation is activations.sigmoid


def _expand_for(mask, tensor):
    """Broadcast a (batch, features) mask against (batch, features) or (batch, T, features)."""
    if len(tensor.shape) == 3:
        return ops.expand_dims(mask, 1)
    return mask


def project(inputs, kernel, bias, dropout_mask, blocks: int):
    """``inputs @ kernel + bias`` with Keras's input dropout.

    Args:
        inputs: (batch, d) or (batch, T, d).
        kernel: (d, blocks * units); or None for inputs that are ``x W`` already (a cell with
            ``inputs_projected=True``): then only the bias is added.
        bias: (blocks * units,) or None.
        dropout_mask: None; one (batch, d) mask applied to the inputs; or a list of ``blocks``
            masks, block k of the kernel seeing ``inputs * mask[k]``. None without a kernel.
        blocks: how many gate blocks the kernel holds.

    Returns:
        (batch, blocks * units) or (batch, T, blocks * units).
    """
    if kernel is None:
        z = inputs
    elif dropout_mask is None:
        z = ops.matmul(inputs, kernel)
    elif isinstance(dropout_mask, (list, tuple)):
        kernels = ops.split(kernel, blocks, axis=1)
        z = ops.concatenate(
            [ops.matmul(inputs * _expand_for(m, inputs), k) for m, k in zip(dropout_mask, kernels)],
            axis=-1,
        )
    else:
        z = ops.matmul(inputs * _expand_for(dropout_mask, inputs), kernel)
    if bias is not None:
        z = z + bias
    return z


def check_inputs_projected(cell: RecurrentCell, inputs_projected: object) -> bool:
    """``inputs_projected`` as a bool, refused with input ``dropout``: that acts on x_t, before
    the projection, and such a cell only sees ``x_t W``."""
    if not isinstance(inputs_projected, bool):
        raise ValueError(f"inputs_projected: expected True or False, got {inputs_projected!r}")
    if inputs_projected and not cell.supports_inputs_projected:
        raise ValueError(
            f"inputs_projected: {type(cell).__name__} does not take projected inputs (LSTMCell "
            "and GRUCell do)"
        )
    if inputs_projected and cell.dropout:
        raise ValueError(
            f"dropout: expected 0 with inputs_projected=True (input dropout acts on x_t, before "
            f"the projection x_t W that such a cell receives), got {cell.dropout!r}"
        )
    return inputs_projected


def lookup_argument(module, argument: str, identifier: object):
    """``module.get(identifier)`` (Keras's activations, initializers, regularizers,
    constraints), its error naming ``argument``."""
    try:
        return module.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(f"Received an invalid value for argument `{argument}`: {error}") from None


def recurrent_project(h, recurrent_kernel, dropout_mask, blocks: int):
    """``h @ recurrent_kernel`` with Keras's recurrent dropout (None, or one mask per block).

    Args:
        h: (batch, units).
        recurrent_kernel: (units, blocks * units), or a column slice of it.
        dropout_mask: None or a list of ``blocks`` (batch, units) masks.
        blocks: how many gate blocks ``recurrent_kernel`` holds.
    """
    if dropout_mask is None:
        return ops.matmul(h, recurrent_kernel)
    kernels = ops.split(recurrent_kernel, blocks, axis=1)
    return ops.concatenate([ops.matmul(h * m, k) for m, k in zip(dropout_mask, kernels)], axis=-1)


BASE_CELL_ARGUMENTS = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
)


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the zoo's cells: the arguments every cell shares, its weights, its dropout
    masks and ``call``.

    Subclasses set ``blocks`` (gate blocks in the kernel: 4 for the LSTM, 3 for the GRU),
    ``cell_arguments`` (their constructor arguments, for ``get_config``) and ``state_size``,
    and implement ``step``. The standard weights (kernel, recurrent kernel, one bias per block),
    their input projection and their ``param_count`` are defined here; cells with other weights
    override ``build``, ``project_inputs`` and ``param_count``.

    Args:
        units: positive integer, dimensionality of the output space.
        activation: activation of the candidate (and output) (default tanh).
        recurrent_activation: activation of the gates (default sigmoid).
        use_bias: whether the cell uses bias vectors.
        kernel_initializer: initializer of ``kernel`` (default "glorot_uniform").
        recurrent_initializer: initializer of ``recurrent_kernel`` (default "orthogonal").
        bias_initializer: initializer of ``bias`` (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: weight constraints.
        dropout: float in [0, 1), fraction of the input units to drop (training only).
        recurrent_dropout: float in [0, 1), fraction of the recurrent units to drop.
        seed: random seed for the dropout masks.
        **kwargs: base ``keras.layers.Layer`` arguments (name, dtype, trainable).
    """

    blocks = 1
    cell_arguments = BASE_CELL_ARGUMENTS
    # Cells that take `inputs_projected` (LSTMCell, GRUCell) set the first True; with the second
    # True the inputs are x_t W already and the cell has no kernel. The option is in a config
    # only when True, so a default config stays equal to the built-in layer's.
    supports_inputs_projected = False
    inputs_projected = False

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        units = check_units(units)
        dropout = check_rate("dropout", dropout)
        recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        super().__init__(**kwargs)
        self.units = units
        self.activation = lookup_argument(activations, "activation", activation)
        self.recurrent_activation = lookup_argument(
            activations, "recurrent_activation", recurrent_activation
        )
        self.use_bias = use_bias
        self.kernel_initializer = lookup_argument(
            initializers, "kernel_initializer", kernel_initializer
        )
        self.recurrent_initializer = lookup_argument(
            initializers, "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = lookup_argument(initializers, "bias_initializer", bias_initializer)
        self.kernel_regularizer = lookup_argument(
            regularizers, "kernel_regularizer", kernel_regularizer
        )
        self.recurrent_regularizer = lookup_argument(
            regularizers, "recurrent_regularizer", recurrent_regularizer
        )
        self.bias_regularizer = lookup_argument(regularizers, "bias_regularizer", bias_regularizer)
        self.kernel_constraint = lookup_argument(
            constraints, "kernel_constraint", kernel_constraint
        )
        self.recurrent_constraint = lookup_argument(
            constraints, "recurrent_constraint", recurrent_constraint
        )
        self.bias_constraint = lookup_argument(constraints, "bias_constraint", bias_constraint)
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        if recurrent_dropout:
            # As Keras's implementation=1: one mask per gate block, inputs and recurrent.
            self.dropout_mask_count = self.blocks
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = units
        self.input_dim = None

    def build_weights(self, input_shape, bias_shape, bias_initializer=None) -> None:
        """Create ``kernel`` (d, blocks units; none with ``inputs_projected``),
        ``recurrent_kernel`` (units, blocks units) and, with ``use_bias``, ``bias`` of
        ``bias_shape``."""
        self.input_dim = input_shape[-1]
        width = self.blocks * self.units
        self.kernel = None
        if self.inputs_projected:
            if self.input_dim != width:
                raise ValueError(
                    f"Cell '{self.name}' has inputs_projected=True: its inputs are x_t W "
                    f"already, so their last axis must be {self.blocks} x units = {width}; "
                    f"received inputs of shape {tuple(input_shape)}."
                )
        else:
            self.kernel = self.add_weight(
                shape=(self.input_dim, width),
                name="kernel",
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape,
                name="bias",
                initializer=bias_initializer or self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def dropout_masks(self, step_input, state, training: bool):
        """The (input, recurrent) dropout masks of the current sequence, None where inactive."""
        input_mask = None
        recurrent_mask = None
        if training and self.dropout:
            input_mask = self.get_dropout_mask(step_input)
        if training and self.recurrent_dropout:
            recurrent_mask = self.get_recurrent_dropout_mask(state)
        return input_mask, recurrent_mask

    @classmethod
    def param_count(
        cls, input_dim: int, units: int, use_bias: bool = True, inputs_projected: bool = False, **_
    ) -> int:
        """``blocks (d units + units^2 + units)``: kernel, recurrent kernel and one bias per
        block, without the bias terms when ``use_bias=False`` and without the kernel's
        ``d units`` when ``inputs_projected``. Cells with other weights override it."""
        kernel = 0 if inputs_projected else input_dim * units
        return cls.blocks * (kernel + units * units + (units if use_bias else 0))

    def build(self, input_shape):
        """The standard weights: kernel, recurrent kernel and a bias of ``blocks units``."""
        self.build_weights(input_shape, (self.blocks * self.units,))

    def project_inputs(self, inputs, dropout_mask=None):
        """``x W + b``: (batch, [T,] d) -> (batch, [T,] blocks units)."""
        return project(inputs, self.kernel, self.bias, dropout_mask, self.blocks)

    def step(self, projected, states: list, recurrent_dropout_mask=None):
        """One step from the projected input: ``(output, new_states)``; cells define it."""
        raise NotImplementedError(f"{type(self).__name__} must define step")

    def call(self, inputs, states, training=False):
        """One timestep: ``inputs`` (batch, d), ``states`` as ``state_size``."""
        nested = isinstance(states, (list, tuple))
        state_list = list(states) if nested else [states]
        input_mask, recurrent_mask = self.dropout_masks(inputs, state_list[0], training)
        output, new_states = self.step(
            self.project_inputs(inputs, input_mask), state_list, recurrent_mask
        )
        return output, (new_states if nested else new_states[0])

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        config = {**super().get_config(), **serialize_cell_arguments(self, self.cell_arguments)}
        if self.inputs_projected:
            config["inputs_projected"] = True
        return config


def _masked_step(step: Step, zero_output_for_mask: bool) -> Callable:
    """Wrap ``step`` with Keras's masking rule.

    Where ``mask_t`` is False the states keep their previous value and the output repeats the
    previous output (or is zero with ``zero_output_for_mask``).
    """

    def masked(x_t, mask_t, prev_output, states):
        output, new_states = step(x_t, states)
        new_states = [ops.where(mask_t, n, s) for n, s in zip(new_states, states)]
        fallback = ops.zeros_like(output) if zero_output_for_mask else prev_output
        return ops.where(mask_t, output, fallback), new_states

    return masked


def scan_recurrence(
    step: Step,
    projected,
    initial_state: Sequence,
    mask=None,
    go_backwards: bool = False,
    unroll: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
):
    """Run ``step`` over time: the engine's loop.

    Args:
        step: ``(projected_t, states) -> (output_t, new_states)``; ``projected_t`` is
            (batch, G), ``states`` a list of (batch, n) tensors.
        projected: (batch, T, G), the input projection of every timestep.
        initial_state: list of (batch, n) tensors.
        mask: None or (batch, T) booleans; False marks padding.
        go_backwards: process the sequence from t = T to 1; outputs come in processing order,
            as in Keras.
        unroll: a Python loop over the (static) T steps instead of a symbolic loop.
        zero_output_for_mask: masked timesteps output zeros instead of the previous output.
        return_sequences: whether the outputs of every timestep are needed.

    Returns:
        ``(last_output, outputs, final_states)``: (batch, units); (batch, T, units) when
        ``return_sequences`` else (batch, 1, units); the list of final states.
    """
    projected, mask = _in_processing_order(projected, mask, go_backwards)
    inputs = ops.transpose(projected, (1, 0, 2))  # time major
    if mask is not None:
        mask = ops.expand_dims(ops.transpose(mask, (1, 0)), -1)
    states = list(initial_state)
    if unroll or keras.backend.backend() != "tensorflow":
        last, outputs, states = _python_or_scan_loop(
            step, inputs, states, mask, unroll, zero_output_for_mask
        )
    else:
        last, outputs, states = _tf_while_loop(
            step, inputs, states, mask, zero_output_for_mask, return_sequences
        )
    outputs = ops.transpose(outputs, (1, 0, 2)) if return_sequences else ops.expand_dims(last, 1)
    return last, outputs, states


def _in_processing_order(sequences, mask, go_backwards: bool):
    """The (batch, T, ...) sequences and the (batch, T) mask as booleans (or None), both
    reversed along time for ``go_backwards``."""
    if mask is not None:
        mask = ops.cast(mask, "bool")
    if go_backwards:
        sequences = ops.flip(sequences, axis=1)
        mask = None if mask is None else ops.flip(mask, axis=1)
    return sequences, mask


def fused_recurrence(
    fused: Callable,
    sequences,
    initial_state: Sequence,
    mask=None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
):
    """Run a cell's fused loop over the sequences, with ``scan_recurrence``'s rules.

    Args:
        fused: ``(sequences, states, mask) -> (H, final_states)``, the cell's loop over the
            whole sequence, input projection included: ``sequences`` (batch, T, d), ``mask``
            (batch, T) booleans or None, and ``H`` (batch, T, units) the first state after
            every step, masked steps keeping the previous state (see ``zoo.layers.fused``).
        sequences, initial_state, mask, go_backwards, zero_output_for_mask, return_sequences:
            as in ``scan_recurrence`` (with the raw sequences instead of their projection).

    Returns:
        ``(last_output, outputs, final_states)``, as ``scan_recurrence``.
    """
    sequences, mask = _in_processing_order(sequences, mask, go_backwards)
    state_sequence, states = fused(sequences, list(initial_state), mask)
    outputs = _outputs_from_states(state_sequence, mask, zero_output_for_mask)
    last = outputs[:, -1]
    return last, (outputs if return_sequences else ops.expand_dims(last, 1)), states


def fused_projection(cell: RecurrentCell, sequences, dropout_mask, bias):
    """What a fused loop projects: ``(inputs, kernel, bias)``, that is the sequences with the
    cell's kernel and ``bias`` (its input bias, or None); or, with an input dropout mask, the
    cell's own projection ``project_inputs`` (one mask per gate block) with kernel and bias
    None; for a cell with ``inputs_projected``, the sequences plus ``bias``, kernel and bias
    None."""
    if dropout_mask is not None:
        return cell.project_inputs(sequences, dropout_mask), None, None
    if cell.kernel is None:  # inputs_projected: the sequences are x_t W already
        return (sequences if bias is None else sequences + bias), None, None
    return sequences, cell.kernel, bias


def _outputs_from_states(state_sequence, mask, zero_output_for_mask: bool):
    """The outputs of the masking rule, from the states after every step (batch major: states
    (batch, T, units), ``mask`` (batch, T) booleans or None).

    Where ``mask_t`` is True the output is the new state. Where it is False the state was kept,
    so the state equals the previous output, except before the first real step, where the
    output is zero (the previous output starts at zero); with ``zero_output_for_mask`` it is
    zero at every masked step.
    """
    if mask is None:
        return state_sequence
    keep = mask
    if not zero_output_for_mask:
        keep = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
    return ops.where(keep[:, :, None], state_sequence, ops.zeros_like(state_sequence))


def _tf_while_loop(step, inputs, states, mask, zero_output_for_mask, return_sequences):
    """TensorFlow: one ``tf.while_loop`` over TensorArrays, no per-step Python."""
    import tensorflow as tf

    steps = tf.shape(inputs)[0]
    input_ta = tf.TensorArray(inputs.dtype, size=steps, element_shape=inputs.shape[1:])
    input_ta = input_ta.unstack(inputs)
    mask_ta = None
    if mask is not None:
        mask_ta = tf.TensorArray(tf.bool, size=steps, element_shape=mask.shape[1:]).unstack(mask)
    masked_step = _masked_step(step, zero_output_for_mask)

    # The output has the shape of the first state (h) in every cell of the zoo.
    first_output = tf.zeros_like(states[0])
    output_ta = tf.TensorArray(
        first_output.dtype, size=steps if return_sequences else 1, element_shape=first_output.shape
    )

    def body(t, output_ta, prev_output, *states):
        x_t = input_ta.read(t)
        if mask_ta is None:
            output, new_states = step(x_t, list(states))
        else:
            output, new_states = masked_step(x_t, mask_ta.read(t), prev_output, list(states))
        output_ta = output_ta.write(t if return_sequences else 0, output)
        return (t + 1, output_ta, output, *new_states)

    result = tf.while_loop(
        lambda t, *_: t < steps,
        body,
        (tf.constant(0), output_ta, first_output, *states),
        maximum_iterations=steps,
        parallel_iterations=32,
    )
    last = result[2]
    outputs = result[1].stack() if return_sequences else None
    return last, outputs, list(result[3:])


def _python_or_scan_loop(step, inputs, states, mask, unroll, zero_output_for_mask):
    """Other backends (``keras.ops.scan``) and ``unroll=True`` (a Python loop)."""
    masked_step = _masked_step(step, zero_output_for_mask)
    first_output = ops.zeros_like(states[0])

    def scan_fn(carry, xs):
        prev_output, states = carry
        if mask is None:
            output, new_states = step(xs, list(states))
        else:
            x_t, mask_t = xs
            output, new_states = masked_step(x_t, mask_t, prev_output, list(states))
        return (output, new_states), output

    xs = inputs if mask is None else (inputs, mask)
    if unroll:
        if inputs.shape[0] is None:
            raise ValueError("unroll=True needs a static number of timesteps.")
        carry, outputs = (first_output, states), []
        for t in range(inputs.shape[0]):
            x_t = inputs[t] if mask is None else (inputs[t], mask[t])
            carry, output = scan_fn(carry, x_t)
            outputs.append(output)
        outputs = ops.stack(outputs)
    else:
        carry, outputs = ops.scan(scan_fn, (first_output, states), xs)
    last, states = carry
    return last, outputs, list(states)


class RecurrentLayer(keras.layers.RNN):
    """Base class of the zoo's sequence layers: a ``keras.layers.RNN`` with the fast loop.

    ``keras.layers.RNN`` keeps what every recurrent layer shares (stateful state variables,
    ``reset_states``, ``initial_state``, ``return_state``, masks from the previous layer,
    ``Bidirectional`` support); this class replaces its per-timestep loop (the cell called once
    per step, its input matmul included) with the engine: the input projection of all
    timesteps in one matmul, then ``scan_recurrence`` over the cell's ``step``; or, for a cell
    with a fused loop (LSTM and GRU on TensorFlow), ``fused_recurrence``.

    It also checks its input: a float tensor of rank 3, (batch, timesteps, features), whose
    feature size matches the one the layer was built with.

    Subclasses set ``cell_class``; their config is the cell's arguments plus the RNN's.
    """

    cell_class: type[RecurrentCell] = RecurrentCell

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        config.update(serialize_cell_arguments(self.cell, self.cell_class.cell_arguments))
        if self.cell.inputs_projected:
            config["inputs_projected"] = True
        return config

    @property
    def inputs_projected(self) -> bool:
        """Whether the inputs are the cell's input projection already (its cell has no kernel)."""
        return self.cell.inputs_projected

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _check_sequences_shape(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                f"Layer '{self.name}' expects `sequences` of rank 3, (batch, timesteps, "
                f"features); received an input of rank {len(shape)} with shape {tuple(shape)}."
            )
        built_dim = getattr(self.cell, "input_dim", None)
        if built_dim is not None and shape[-1] is not None and shape[-1] != built_dim:
            raise ValueError(
                f"Layer '{self.name}' was built for inputs with {built_dim} features (last "
                f"axis of `sequences`), but received shape {tuple(shape)}."
            )

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_sequences_shape(sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_sequences_shape(sequences.shape)
        if not keras.backend.is_float_dtype(sequences.dtype):
            raise ValueError(
                f"Layer '{self.name}' expects float `sequences`, received dtype "
                f"{keras.backend.standardize_dtype(sequences.dtype)}. Embed integer tokens first "
                "(e.g. keras.layers.Embedding) or cast them to float."
            )
        self._check_mask_and_states(sequences.shape, initial_state, mask)
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _check_mask_and_states(self, shape, initial_state, mask) -> None:
        """Static shape checks of `mask` (batch, timesteps) and `initial_state` (one (batch, n)
        tensor per state of the cell), so a mismatch is named here rather than deep in the loop."""

        def differs(got, expected) -> bool:
            return len(got) != len(expected) or any(
                g is not None and e is not None and g != e for g, e in zip(got, expected)
            )

        if shape[1] == 0:
            raise ValueError(f"Layer '{self.name}' expects at least one timestep, got {shape}.")
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if mask is not None and differs(tuple(mask.shape), tuple(shape[:2])):
            raise ValueError(
                f"Layer '{self.name}': `mask` must have shape (batch, timesteps) = "
                f"{tuple(shape[:2])}, like `sequences` {tuple(shape)}; got {tuple(mask.shape)}."
            )
        if initial_state is None:
            return
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        sizes = self.cell.state_size
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        expected = [(shape[0], size) for size in sizes]
        got = [tuple(state.shape) for state in states]
        if len(got) != len(expected) or any(differs(g, e) for g, e in zip(got, expected)):
            raise ValueError(
                f"Layer '{self.name}': `initial_state` must be {len(expected)} tensor(s) of "
                f"shape(s) {expected} (batch, units) for its cell's states; got shapes {got}."
            )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        initial_state = list(initial_state)
        input_mask, recurrent_mask = cell.dropout_masks(
            sequences[:, 0, :], initial_state[0], training
        )
        fused = None
        if (
            keras.backend.backend() == "tensorflow"
            and hasattr(cell, "fused_loop")
            and not _GENERIC_LOOP_ONLY
            and not self.unroll
        ):
            fused = cell.fused_loop(input_mask, recurrent_mask)
        if fused is not None:
            return fused_recurrence(
                fused,
                sequences,
                initial_state,
                mask=mask,
                go_backwards=self.go_backwards,
                zero_output_for_mask=self.zero_output_for_mask,
                return_sequences=self.return_sequences,
            )

        def step(projected_t, states):
            return cell.step(projected_t, states, recurrent_mask)

        return scan_recurrence(
            step,
            cell.project_inputs(sequences, input_mask),
            initial_state,
            mask=mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
        )


def expose_cell_arguments(layer_class: type) -> type:
    """Class decorator: give a layer a read-only property for each of its cell's arguments
    (``layer.units`` reads ``layer.cell.units``), as Keras's LSTM and GRU layers have."""
    for name in layer_class.cell_class.cell_arguments:
        prop = property(lambda self, name=name: getattr(self.cell, name), doc=f"The cell's {name}.")
        setattr(layer_class, name, prop)
    return layer_class


def serialize_cell_arguments(cell: keras.layers.Layer, names: tuple[str, ...]) -> dict:
    """The config entries ``names`` of a cell, serialized the way Keras serializes them."""
    serializers = {
        "activation": activations.serialize,
        "initializer": initializers.serialize,
        "regularizer": regularizers.serialize,
        "constraint": constraints.serialize,
    }
    config = {}
    for name in names:
        value = getattr(cell, name)
        kind = name.rsplit("_", 1)[-1]
        config[name] = serializers[kind](value) if kind in serializers else value
    return config
