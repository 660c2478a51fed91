"""The layer-normalized LSTM (Ba, Kiros & Hinton 2016): ``LayerNormLSTMCell`` and the
``LayerNormLSTM`` layer."""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from zoo.layers.engine import expose_cell_arguments, project, recurrent_project
from zoo.layers.lstm import LSTMCell
from zoo.layers.rnn import CellLayer


@keras.saving.register_keras_serializable(package="zoo")
class LayerNormLSTMCell(LSTMCell):
    """Layer-normalized LSTM (Ba, Kiros & Hinton 2016, "Layer Normalization", supplementary
    "Layer-normalized LSTM").

    With ``LN(z; gamma, beta) = (z - mean(z)) / sqrt(var(z) + epsilon) * gamma + beta``, the
    mean and the (biased) variance taken over the feature axis of one example, for input
    ``x_t`` (d,) and state ``(h_{t-1}, c_{t-1})`` (units each), ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        z_t = LN(x_t W; gamma_x, beta_x) + LN(h_{t-1} U; gamma_h, beta_h) + b   (4 units,)
        [z_i, z_f, z_c, z_o] = z_t
        i_t = sigma(z_i), f_t = sigma(z_f), g_t = act(z_c), o_t = sigma(z_o)
        c_t = f_t * c_{t-1} + i_t * g_t                               cell state
        h_t = o_t * act(LN(c_t; gamma_c, beta_c))                     output and hidden state

    Placement: the input projection ``x_t W`` and the recurrent projection ``h_{t-1} U`` are
    normalized separately, each over all its ``4 units`` gate pre-activations at once (not gate
    by gate), as in the paper; ``c_t`` is normalized over its ``units`` before the output
    ``act`` only: the state carried to the next step is the unnormalized ``c_t``. The input
    normalization runs once over the whole sequence, outside the loop.

    Weights: those of ``zoo.layers.LSTMCell`` (``kernel`` [W_i | W_f | W_c | W_o], gate order
    i, f, c, o; ``recurrent_kernel``; ``bias`` b, the forget part initialized to 1 with
    ``unit_forget_bias``), then ``input_norm_gamma``, ``input_norm_beta``,
    ``recurrent_norm_gamma``, ``recurrent_norm_beta`` (4 units each) and ``cell_norm_gamma``,
    ``cell_norm_beta`` (units each); gains start at 1 and biases at 0, with no regularizer or
    constraint. ``b``, ``beta_x`` and ``beta_h`` add to the same pre-activation, so two of the
    three are redundant; all are kept, as in the paper, and counted. Parameters:
    ``4 (d units + units^2 + units) + 18 units`` (16 units for the two 4-unit
    normalizations, 2 units for the cell's), without the ``4 units`` of ``b`` when
    ``use_bias=False``.

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout, seed: as in ``zoo.layers.LSTMCell``.
        epsilon: positive float added to the variances (default 1e-3, as
            ``keras.layers.LayerNormalization``).

    Call arguments:
        inputs: (batch, d). states: ``[h, c]``, each (batch, units). training: bool.
    Returns ``(h_t, [h_t, c_t])``.
    """

    supports_inputs_projected = False  # its weights and counts assume a kernel
    cell_arguments = LSTMCell.cell_arguments + ("epsilon",)

    def __init__(self, units: int, *, epsilon: float = 1e-3, **kwargs):
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, numbers.Real)
            or not 0 < epsilon < math.inf  # NaN fails both comparisons
        ):
            raise ValueError(
                f"Received an invalid value for argument `epsilon`: expected a positive finite "
                f"float, got {epsilon!r}."
            )
        super().__init__(units, **kwargs)
        self.epsilon = float(epsilon)

    @staticmethod
    def param_count(input_dim: int, units: int, use_bias: bool = True, **_) -> int:
        """``4 (d units + units^2 + units) + 18 units``; without ``4 units`` when
        ``use_bias=False``."""
        return LSTMCell.param_count(input_dim, units, use_bias=use_bias) + 18 * units

    def build(self, input_shape):
        super().build(input_shape)
        width = 4 * self.units
        self.input_norm_gamma, self.input_norm_beta = self._norm_weights("input", width)
        self.recurrent_norm_gamma, self.recurrent_norm_beta = self._norm_weights("recurrent", width)
        self.cell_norm_gamma, self.cell_norm_beta = self._norm_weights("cell", self.units)

    def _norm_weights(self, name: str, size: int):
        """The gain (ones) and bias (zeros) of one normalization, each (size,)."""
        gamma = self.add_weight(shape=(size,), name=f"{name}_norm_gamma", initializer="ones")
        beta = self.add_weight(shape=(size,), name=f"{name}_norm_beta", initializer="zeros")
        return gamma, beta

    def _layer_norm(self, z, gamma, beta):
        """``LN(z; gamma, beta)`` over the last axis."""
        mean, variance = ops.moments(z, axes=[-1], keepdims=True)
        return (z - mean) * ops.rsqrt(variance + self.epsilon) * gamma + beta

    def project_inputs(self, inputs, dropout_mask=None):
        """``LN(x W; gamma_x, beta_x) + b``: (batch, [T,] d) -> (batch, [T,] 4 units)."""
        z = project(inputs, self.kernel, None, dropout_mask, self.blocks)
        z = self._layer_norm(z, self.input_norm_gamma, self.input_norm_beta)
        return z if self.bias is None else z + self.bias

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the normalized input projection ``projected``."""
        h_tm1, c_tm1 = states
        recurrent = recurrent_project(
            h_tm1, self.recurrent_kernel, recurrent_dropout_mask, self.blocks
        )
        z = projected + self._layer_norm(
            recurrent, self.recurrent_norm_gamma, self.recurrent_norm_beta
        )
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_tm1 + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        h = o * self.activation(self._layer_norm(c, self.cell_norm_gamma, self.cell_norm_beta))
        return h, [h, c]


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class LayerNormLSTM(CellLayer):
    """Layer-normalized LSTM layer over ``zoo.layers.LayerNormLSTMCell``, on the engine's loop.

    Args: ``units`` and the cell's arguments as in ``LayerNormLSTMCell``; the layer arguments
    as in ``zoo.layers.rnn.CellLayer``. The states are ``[h, c]``, each (batch, units).
    """

    cell_class = LayerNormLSTMCell
