"""The minimal gated unit (Zhou et al. 2016): ``MGUCell`` and the ``MGU`` layer."""

from __future__ import annotations

import keras
from keras import ops

from zoo.layers.engine import (
    BASE_CELL_ARGUMENTS,
    RecurrentCell,
    expose_cell_arguments,
    project,
)
from zoo.layers.rnn import CellLayer


@keras.saving.register_keras_serializable(package="zoo")
class MGUCell(RecurrentCell):
    """Minimal gated unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal Gated Unit for Recurrent
    Neural Networks"): a GRU whose one forget gate plays both the reset and the update role.

    For input ``x_t`` (d,) and state ``h_{t-1}`` (units,), with ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        f_t = sigma(x_t W_f + h_{t-1} U_f + b_f)                 forget gate
        hh_t = act(x_t W_h + (f_t * h_{t-1}) U_h + b_h)          candidate
        h_t = (1 - f_t) * h_{t-1} + f_t * hh_t                   output and state

    Two blocks: ``kernel`` (d, 2 units) = [W_f | W_h], ``recurrent_kernel`` (units, 2 units) =
    [U_f | U_h], ``bias`` (2 units,) = [b_f | b_h]. Parameters: ``2 (d units + units^2 +
    units)``, without the ``2 units`` of the bias when ``use_bias=False``. Note that ``f_t``
    weighs the *new* candidate (the GRU's ``1 - z_t``).

    With ``recurrent_dropout`` each block gets its own mask, as in Keras's GRU with
    ``reset_after=False``: ``U_f`` sees ``h_{t-1} * m_f`` and ``U_h`` sees
    ``f_t * h_{t-1} * m_h``; the ``h_{t-1}`` of the last equation is never dropped.

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: as in ``zoo.layers.RecurrentCell``.

    Call arguments:
        inputs: (batch, d). states: ``[h]`` or ``h``, (batch, units). training: bool.
    Returns ``(h_t, [h_t])`` (or ``(h_t, h_t)`` when ``states`` is not a list).
    """

    blocks = 2
    cell_arguments = BASE_CELL_ARGUMENTS

    def __init__(self, units: int, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = self.units

    @staticmethod
    def param_count(input_dim: int, units: int, use_bias: bool = True, **_) -> int:
        """``2 (d units + units^2 + units)``; without ``2 units`` when ``use_bias=False``."""
        return 2 * (input_dim * units + units * units + (units if use_bias else 0))

    def build(self, input_shape):
        self.build_weights(input_shape, (2 * self.units,))

    def project_inputs(self, inputs, dropout_mask=None):
        """``x W + b``: (batch, [T,] d) -> (batch, [T,] 2 units)."""
        return project(inputs, self.kernel, self.bias, dropout_mask, self.blocks)

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the projected input ``x_t W + b``."""
        (h_tm1,) = states
        units = self.units
        masks = recurrent_dropout_mask
        x_f, x_h = ops.split(projected, 2, axis=-1)
        h_for_gate = h_tm1 if masks is None else h_tm1 * masks[0]
        f = self.recurrent_activation(
            x_f + ops.matmul(h_for_gate, self.recurrent_kernel[:, :units])
        )
        h_for_candidate = h_tm1 if masks is None else h_tm1 * masks[1]
        hh = self.activation(
            x_h + ops.matmul(f * h_for_candidate, self.recurrent_kernel[:, units:])
        )
        h = (1 - f) * h_tm1 + f * hh
        return h, [h]


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class MGU(CellLayer):
    """Minimal gated unit layer over ``zoo.layers.MGUCell``, on the engine's loop.

    Args: ``units`` and the cell's arguments as in ``MGUCell``; the layer arguments as in
    ``zoo.layers.rnn.CellLayer``. The state is ``h`` (batch, units).
    """

    cell_class = MGUCell
