"""The LSTM with forget gate, written from its equations: ``LSTMCell`` and the ``LSTM`` layer."""

from __future__ import annotations

import keras
from keras import initializers, ops

from zoo.layers.engine import (
    BASE_CELL_ARGUMENTS,
    RecurrentCell,
    RecurrentLayer,
    check_inputs_projected,
    check_use_cudnn,
    expose_cell_arguments,
    fused_projection,
    recurrent_project,
    uses_default_activations,
)


@keras.saving.register_keras_serializable(package="zoo")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell with forget gate (Hochreiter & Schmidhuber 1997; Gers et al.
    2000).

    For input ``x_t`` (d,) and state ``(h_{t-1}, c_{t-1})`` (units each), with ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        i_t = sigma(x_t W_i + h_{t-1} U_i + b_i)          input gate
        f_t = sigma(x_t W_f + h_{t-1} U_f + b_f)          forget gate
        g_t = act(x_t W_c + h_{t-1} U_c + b_c)            candidate cell
        o_t = sigma(x_t W_o + h_{t-1} U_o + b_o)          output gate
        c_t = f_t * c_{t-1} + i_t * g_t                   cell state
        h_t = o_t * act(c_t)                              output and hidden state

    The weights are stored as Keras stores them (and cuDNN orders the gates):
    ``kernel`` (d, 4 units) = [W_i | W_f | W_c | W_o], ``recurrent_kernel`` (units, 4 units) =
    [U_i | U_f | U_c | U_o], ``bias`` (4 units,). Parameters: ``4 (d units + units^2 + units)``,
    without the ``4 units`` of the bias when ``use_bias=False``.

    Along the cell-state path ``dc_t / dc_{t-1} = diag(f_t)``: the gradient through the memory
    decays only as the product of the forget gates (the "linear carousel").

    Args:
        units: positive integer, dimensionality of the output space.
        activation: activation of the candidate and of the output (default tanh).
        recurrent_activation: activation of the gates (default sigmoid).
        use_bias: whether the cell uses a bias vector.
        kernel_initializer: initializer of ``kernel`` (default "glorot_uniform").
        recurrent_initializer: initializer of ``recurrent_kernel`` (default "orthogonal").
        bias_initializer: initializer of ``bias`` (default "zeros").
        unit_forget_bias: if True, initialize the forget-gate bias to 1 (Jozefowicz et al.
            2015) and the other gates' with ``bias_initializer``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: weight constraints.
        dropout: float in [0, 1), fraction of the input units to drop (training only).
        recurrent_dropout: float in [0, 1), fraction of the recurrent units to drop.
        seed: random seed for the dropout masks.
        inputs_projected: if True, the inputs are ``x_t W`` already, (batch, 4 units): the
            cell has no ``kernel`` and adds only its bias (``zoo.models.fold_embedding``
            folds W into the embedding table that feeds it). Needs ``dropout=0``.

    Call arguments:
        inputs: (batch, d). states: ``[h, c]``, each (batch, units). training: bool.
    Returns ``(h_t, [h_t, c_t])``.
    """

    blocks = 4
    supports_inputs_projected = True
    cell_arguments = BASE_CELL_ARGUMENTS + ("unit_forget_bias",)

    def __init__(
        self,
        units: int,
        *,
        unit_forget_bias: bool = True,
        inputs_projected: bool = False,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = unit_forget_bias
        self.inputs_projected = check_inputs_projected(self, inputs_projected)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        units = self.units
        bias_initializer = None
        if self.unit_forget_bias:

            def bias_initializer(_, *args, **kwargs):
                return ops.concatenate(
                    [
                        self.bias_initializer((units,), *args, **kwargs),
                        initializers.get("ones")((units,), *args, **kwargs),
                        self.bias_initializer((2 * units,), *args, **kwargs),
                    ]
                )

        self.build_weights(input_shape, (4 * units,), bias_initializer)

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the projected input ``x_t W + b``."""
        h_tm1, c_tm1 = states
        z = projected + recurrent_project(
            h_tm1, self.recurrent_kernel, recurrent_dropout_mask, self.blocks
        )
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def fused_loop(self, input_dropout_mask=None, recurrent_dropout_mask=None):
        """The TensorFlow fast path over a whole sequence (``zoo.layers.fused``), for the
        default activations; None where it does not apply (other activations, or a subclass
        with equations of its own). It is ``run(sequences, states, mask) -> (H,
        final_states)``, the input projection included, as ``fused_recurrence`` calls it."""
        own_equations = type(self).step is LSTMCell.step and type(self).project_inputs is (
            LSTMCell.project_inputs
        )
        if not (own_equations and uses_default_activations(self)):
            return None
        from zoo.layers.fused import lstm_states

        def run(sequences, states, mask):
            inputs, kernel, bias = fused_projection(self, sequences, input_dropout_mask, self.bias)
            hidden, cell = lstm_states(
                inputs,
                states[0],
                states[1],
                mask,
                ops.convert_to_tensor(self.recurrent_kernel),
                recurrent_dropout_mask,
                kernel=kernel,
                bias=bias,
            )
            return hidden, [hidden[:, -1], cell]

        return run


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class LSTM(RecurrentLayer):
    """Long short-term memory layer: a drop-in replacement for ``keras.layers.LSTM``.

    The same constructor arguments and defaults, the same weights in the same order
    (``kernel``, ``recurrent_kernel``, ``bias``; gate order i, f, c, o), so
    ``zoo_layer.set_weights(keras_layer.get_weights())`` gives the same outputs, states and
    gradients. The equations are those of ``zoo.layers.LSTMCell``. The input projection of all
    timesteps is one matmul; the loop over time runs only ``h_{t-1} U`` and the gate math.
    cuDNN is never used, so the layer computes the same on every device, with any
    ``recurrent_dropout``, and exports without cuDNN-only ops.

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: as in ``zoo.layers.LSTMCell``.
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return the output of every timestep (batch, T, units) rather than
            the last one (batch, units).
        return_state: also return the final states ``h`` and ``c``.
        go_backwards: process the input sequence backwards (outputs in processing order).
        stateful: carry the final states of batch i over as the initial states of batch i+1
            (needs a fixed batch size); ``reset_states()`` zeroes them.
        unroll: unroll the loop in Python (static, short sequences only).
        use_cudnn: accepted for code written for the built-in layer: "auto" or False, which
            mean the same here, since zoo layers never run cuDNN; True is an error. Like the
            built-in's, it is not part of the config.
        inputs_projected: as in ``zoo.layers.LSTMCell`` (the built-in layer has no such option;
            the weights are then ``recurrent_kernel`` and ``bias``).
        **kwargs: base layer arguments (name, dtype, trainable, zero_output_for_mask).

    Call arguments:
        sequences: float (batch, timesteps, features).
        initial_state: optional ``[h, c]``, each (batch, units).
        mask: optional boolean (batch, timesteps), True for real steps (right padding).
        training: whether dropout is active.
    """

    cell_class = LSTMCell

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: str | bool = "auto",
        inputs_projected: bool = False,
        **kwargs,
    ):
        check_use_cudnn(use_cudnn)
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            inputs_projected=inputs_projected,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
