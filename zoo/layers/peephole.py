"""The LSTM with peephole connections (Gers & Schmidhuber 2000): ``PeepholeLSTMCell`` and the
``PeepholeLSTM`` layer."""

from __future__ import annotations

import keras
from keras import constraints, initializers, ops, regularizers

from zoo.layers.engine import expose_cell_arguments, lookup_argument, recurrent_project
from zoo.layers.lstm import LSTMCell
from zoo.layers.rnn import CellLayer


@keras.saving.register_keras_serializable(package="zoo")
class PeepholeLSTMCell(LSTMCell):
    """LSTM with forget gate and peephole connections (Gers & Schmidhuber 2000, "Recurrent nets
    that time and count"; the "vanilla LSTM" of Greff et al. 2015): the gates also see the cell
    state, through diagonal (elementwise) peephole weights.

    For input ``x_t`` (d,) and state ``(h_{t-1}, c_{t-1})`` (units each), with ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        i_t = sigma(x_t W_i + h_{t-1} U_i + p_i * c_{t-1} + b_i)      input gate
        f_t = sigma(x_t W_f + h_{t-1} U_f + p_f * c_{t-1} + b_f)      forget gate
        g_t = act(x_t W_c + h_{t-1} U_c + b_c)                        candidate cell
        c_t = f_t * c_{t-1} + i_t * g_t                               cell state
        o_t = sigma(x_t W_o + h_{t-1} U_o + p_o * c_t + b_o)          output gate
        h_t = o_t * act(c_t)                                          output and hidden state

    The input and forget gates peek at the previous cell state, the output gate at the new one.
    Weights: those of ``zoo.layers.LSTMCell`` (``kernel`` [W_i | W_f | W_c | W_o], gate order i,
    f, c, o; ``recurrent_kernel``; ``bias``) plus three (units,) vectors
    ``input_gate_peephole_weights`` = p_i, ``forget_gate_peephole_weights`` = p_f and
    ``output_gate_peephole_weights`` = p_o (the names of TensorFlow's former
    ``PeepholeLSTMCell``). Parameters: ``4 (d units + units^2 + units) + 3 units``, without the
    ``4 units`` of the bias when ``use_bias=False``.

    The peepholes are initialized to zeros by default, so an untrained peephole cell computes
    exactly the LSTM with the same other weights; they receive gradients from the first step
    (``dL/dp_i = sum_t dL/dz_i(t) * c_{t-1}``).

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: as in ``zoo.layers.LSTMCell``.
        peephole_initializer: initializer of the three peephole vectors (default "zeros").
        peephole_regularizer: regularizer of the peephole vectors.
        peephole_constraint: constraint of the peephole vectors.

    Call arguments:
        inputs: (batch, d). states: ``[h, c]``, each (batch, units). training: bool.
    Returns ``(h_t, [h_t, c_t])``.
    """

    supports_inputs_projected = False  # its weights and counts assume a kernel
    cell_arguments = LSTMCell.cell_arguments + (
        "peephole_initializer",
        "peephole_regularizer",
        "peephole_constraint",
    )

    def __init__(
        self,
        units: int,
        *,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.peephole_initializer = lookup_argument(
            initializers, "peephole_initializer", peephole_initializer
        )
        self.peephole_regularizer = lookup_argument(
            regularizers, "peephole_regularizer", peephole_regularizer
        )
        self.peephole_constraint = lookup_argument(
            constraints, "peephole_constraint", peephole_constraint
        )

    @staticmethod
    def param_count(input_dim: int, units: int, use_bias: bool = True, **_) -> int:
        """``4 (d units + units^2 + units) + 3 units``; without ``4 units`` when
        ``use_bias=False``."""
        return LSTMCell.param_count(input_dim, units, use_bias=use_bias) + 3 * units

    def build(self, input_shape):
        super().build(input_shape)
        self.input_gate_peephole_weights = self._peephole("input")
        self.forget_gate_peephole_weights = self._peephole("forget")
        self.output_gate_peephole_weights = self._peephole("output")

    def _peephole(self, gate: str):
        """One (units,) peephole vector, named as TensorFlow named it."""
        return self.add_weight(
            shape=(self.units,),
            name=f"{gate}_gate_peephole_weights",
            initializer=self.peephole_initializer,
            regularizer=self.peephole_regularizer,
            constraint=self.peephole_constraint,
        )

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the projected input ``x_t W + b``."""
        h_tm1, c_tm1 = states
        z = projected + recurrent_project(
            h_tm1, self.recurrent_kernel, recurrent_dropout_mask, self.blocks
        )
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.input_gate_peephole_weights * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole_weights * c_tm1)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.output_gate_peephole_weights * c)
        h = o * self.activation(c)
        return h, [h, c]


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class PeepholeLSTM(CellLayer):
    """Peephole LSTM layer over ``zoo.layers.PeepholeLSTMCell``, on the engine's loop.

    Args: ``units`` and the cell's arguments as in ``PeepholeLSTMCell``; the layer arguments as
    in ``zoo.layers.rnn.CellLayer``. The states are ``[h, c]``, each (batch, units).
    """

    cell_class = PeepholeLSTMCell
