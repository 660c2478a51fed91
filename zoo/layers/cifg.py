"""The LSTM with coupled input and forget gates (Greff et al. 2015): ``CIFGLSTMCell`` and the
``CIFGLSTM`` layer."""

from __future__ import annotations

import keras
from keras import ops

from zoo.layers.engine import (
    BASE_CELL_ARGUMENTS,
    RecurrentCell,
    expose_cell_arguments,
    project,
    recurrent_project,
)
from zoo.layers.rnn import CellLayer


@keras.saving.register_keras_serializable(package="zoo")
class CIFGLSTMCell(RecurrentCell):
    """LSTM with coupled input and forget gate, CIFG (Greff et al. 2015, "LSTM: A Search Space
    Odyssey"): the forget gate is tied to the input gate, ``f_t = 1 - i_t``.

    For input ``x_t`` (d,) and state ``(h_{t-1}, c_{t-1})`` (units each), with ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        i_t = sigma(x_t W_i + h_{t-1} U_i + b_i)          input gate
        g_t = act(x_t W_c + h_{t-1} U_c + b_c)            candidate cell
        o_t = sigma(x_t W_o + h_{t-1} U_o + b_o)          output gate
        c_t = (1 - i_t) * c_{t-1} + i_t * g_t             cell state (f_t = 1 - i_t)
        h_t = o_t * act(c_t)                              output and hidden state

    The cell state is a gated running average of the candidates, as the GRU's hidden state is.
    Three blocks: ``kernel`` (d, 3 units) = [W_i | W_c | W_o], ``recurrent_kernel``
    (units, 3 units) = [U_i | U_c | U_o], ``bias`` (3 units,). Parameters:
    ``3 (d units + units^2 + units)``, without the ``3 units`` of the bias when
    ``use_bias=False``. The bias is initialized with ``bias_initializer`` (zeros: ``i = f =
    1/2`` at the start); there is no separate forget bias to set to 1.

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: as in ``zoo.layers.RecurrentCell``.

    Call arguments:
        inputs: (batch, d). states: ``[h, c]``, each (batch, units). training: bool.
    Returns ``(h_t, [h_t, c_t])``.
    """

    blocks = 3
    cell_arguments = BASE_CELL_ARGUMENTS

    def __init__(self, units: int, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = [self.units, self.units]

    @staticmethod
    def param_count(input_dim: int, units: int, use_bias: bool = True, **_) -> int:
        """``3 (d units + units^2 + units)``; without ``3 units`` when ``use_bias=False``."""
        return 3 * (input_dim * units + units * units + (units if use_bias else 0))

    def build(self, input_shape):
        self.build_weights(input_shape, (3 * self.units,))

    def project_inputs(self, inputs, dropout_mask=None):
        """``x W + b``: (batch, [T,] d) -> (batch, [T,] 3 units)."""
        return project(inputs, self.kernel, self.bias, dropout_mask, self.blocks)

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the projected input ``x_t W + b``."""
        h_tm1, c_tm1 = states
        z = projected + recurrent_project(
            h_tm1, self.recurrent_kernel, recurrent_dropout_mask, self.blocks
        )
        z_i, z_c, z_o = ops.split(z, 3, axis=-1)
        i = self.recurrent_activation(z_i)
        c = (1 - i) * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class CIFGLSTM(CellLayer):
    """Coupled input-forget gate LSTM layer over ``zoo.layers.CIFGLSTMCell``, on the engine's
    loop.

    Args: ``units`` and the cell's arguments as in ``CIFGLSTMCell``; the layer arguments as in
    ``zoo.layers.rnn.CellLayer``. The states are ``[h, c]``, each (batch, units).
    """

    cell_class = CIFGLSTMCell
