"""The gated recurrent unit, written from its equations: ``GRUCell`` and the ``GRU`` layer."""

from __future__ import annotations

import keras
from keras import ops

from zoo.layers.engine import (
    BASE_CELL_ARGUMENTS,
    RecurrentCell,
    RecurrentLayer,
    check_inputs_projected,
    check_use_cudnn,
    expose_cell_arguments,
    fused_projection,
    project,
    recurrent_project,
    uses_default_activations,
)


@keras.saving.register_keras_serializable(package="zoo")
class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014), in Keras's two forms.

    For input ``x_t`` (d,) and state ``h_{t-1}`` (units,), with ``sigma`` the
    ``recurrent_activation`` (sigmoid) and ``act`` the ``activation`` (tanh)::

        z_t = sigma(x_t W_z + b_z + h_{t-1} U_z + b'_z)           update gate
        r_t = sigma(x_t W_r + b_r + h_{t-1} U_r + b'_r)           reset gate

        reset_after=True (default; the cuDNN form):
        hh_t = act(x_t W_h + b_h + r_t * (h_{t-1} U_h + b'_h))   candidate
        reset_after=False (Cho et al. 2014; one bias, b' = 0):
        hh_t = act(x_t W_h + b_h + (r_t * h_{t-1}) U_h)          candidate

        h_t = z_t * h_{t-1} + (1 - z_t) * hh_t                   output and state

    Weights as Keras stores them: ``kernel`` (d, 3 units) = [W_z | W_r | W_h],
    ``recurrent_kernel`` (units, 3 units) = [U_z | U_r | U_h] (cuDNN orders them r, z, h),
    ``bias`` (2, 3 units) = [b; b'] with reset_after=True, else (3 units,) = b.
    Parameters: ``3 (d units + units^2 + units)``, plus ``3 units`` for the second bias with
    reset_after=True; no bias terms with ``use_bias=False``.

    Along the direct path ``dh_t / dh_{t-1}`` contains ``diag(z_t)``: the update gate plays the
    part of the LSTM's forget gate.

    Args:
        units: positive integer, dimensionality of the output space.
        activation: activation of the candidate (default tanh).
        recurrent_activation: activation of the gates (default sigmoid).
        use_bias: whether the cell uses bias vectors.
        kernel_initializer: initializer of ``kernel`` (default "glorot_uniform").
        recurrent_initializer: initializer of ``recurrent_kernel`` (default "orthogonal").
        bias_initializer: initializer of ``bias`` (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: weight constraints.
        dropout: float in [0, 1), fraction of the input units to drop (training only).
        recurrent_dropout: float in [0, 1), fraction of the recurrent units to drop.
        reset_after: apply the reset gate after the recurrent matmul (True, the cuDNN form)
            or before it (False, the original form).
        seed: random seed for the dropout masks.
        inputs_projected: if True, the inputs are ``x_t W`` already, (batch, 3 units): the
            cell has no ``kernel`` and adds only its bias (``zoo.models.fold_embedding``
            folds W into the embedding table that feeds it). Needs ``dropout=0``.

    Call arguments:
        inputs: (batch, d). states: ``[h]`` or ``h``, (batch, units). training: bool.
    Returns ``(h_t, [h_t])`` (or ``(h_t, h_t)`` when ``states`` is not a list).
    """

    blocks = 3
    supports_inputs_projected = True
    cell_arguments = BASE_CELL_ARGUMENTS + ("reset_after",)

    def __init__(
        self, units: int, *, reset_after: bool = True, inputs_projected: bool = False, **kwargs
    ):
        super().__init__(units, **kwargs)
        self.reset_after = reset_after
        self.inputs_projected = check_inputs_projected(self, inputs_projected)
        self.state_size = self.units

    @staticmethod
    def param_count(
        input_dim: int,
        units: int,
        use_bias: bool = True,
        reset_after: bool = True,
        inputs_projected: bool = False,
        **_,
    ) -> int:
        """``3 (d units + units^2 + units)`` (+ ``3 units`` with reset_after); no bias terms
        with ``use_bias=False``, no kernel (``d units``) with ``inputs_projected``."""
        biases = (2 if reset_after else 1) if use_bias else 0
        kernel = 0 if inputs_projected else input_dim * units
        return 3 * (kernel + units * units + biases * units)

    def build(self, input_shape):
        width = 3 * self.units
        self.build_weights(input_shape, (2, width) if self.reset_after else (width,))

    def _biases(self):
        """(input bias, recurrent bias), either None."""
        if self.bias is None:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def project_inputs(self, inputs, dropout_mask=None):
        """``x W + b``: (batch, [T,] d) -> (batch, [T,] 3 units)."""
        input_bias, _ = self._biases()
        return project(inputs, self.kernel, input_bias, dropout_mask, self.blocks)

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equations above, from the projected input ``x_t W + b``."""
        (h_tm1,) = states
        units = self.units
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
        masks = recurrent_dropout_mask
        if self.reset_after:
            _, recurrent_bias = self._biases()
            inner = recurrent_project(h_tm1, self.recurrent_kernel, masks, 3)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            r_z, r_r, r_h = ops.split(inner, 3, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + r * r_h)
        else:
            gate_masks = None if masks is None else masks[:2]
            inner = recurrent_project(h_tm1, self.recurrent_kernel[:, : 2 * units], gate_masks, 2)
            r_z, r_r = ops.split(inner, 2, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            h_for_candidate = h_tm1 if masks is None else h_tm1 * masks[2]
            hh = self.activation(
                x_h + ops.matmul(r * h_for_candidate, self.recurrent_kernel[:, 2 * units :])
            )
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]

    def fused_loop(self, input_dropout_mask=None, recurrent_dropout_mask=None):
        """The TensorFlow fast path over a whole sequence (``zoo.layers.fused``), for the
        default activations; None where it does not apply (other activations, or a subclass
        with equations of its own). It is ``run(sequences, states, mask) -> (H,
        final_states)``, the input projection included, as ``fused_recurrence`` calls it."""
        own_equations = type(self).step is GRUCell.step and type(self).project_inputs is (
            GRUCell.project_inputs
        )
        if not (own_equations and uses_default_activations(self)):
            return None
        from zoo.layers.fused import gru_states

        def run(sequences, states, mask):
            input_bias, recurrent_bias = self._biases()
            inputs, kernel, bias = fused_projection(self, sequences, input_dropout_mask, input_bias)
            hidden = gru_states(
                inputs,
                states[0],
                mask,
                ops.convert_to_tensor(self.recurrent_kernel),
                recurrent_bias,
                recurrent_dropout_mask,
                self.reset_after,
                kernel=kernel,
                bias=bias,
            )
            return hidden, [hidden[:, -1]]

        return run


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class GRU(RecurrentLayer):
    """Gated recurrent unit layer: a drop-in replacement for ``keras.layers.GRU``.

    The same constructor arguments and defaults (``reset_after=True``, the cuDNN form, and
    ``reset_after=False``, Cho et al. 2014), the same weights in the same order (``kernel``,
    ``recurrent_kernel``, ``bias``; gate order z, r, h), so
    ``zoo_layer.set_weights(keras_layer.get_weights())`` gives the same outputs, states and
    gradients. The equations are those of ``zoo.layers.GRUCell``. The input projection of all
    timesteps is one matmul; the loop over time runs only ``h_{t-1} U`` and the gate math.

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, reset_after, seed: as in ``zoo.layers.GRUCell``.
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return the output of every timestep (batch, T, units) rather than
            the last one (batch, units).
        return_state: also return the final state ``h``.
        go_backwards: process the input sequence backwards (outputs in processing order).
        stateful: carry the final state of batch i over as the initial state of batch i+1
            (needs a fixed batch size); ``reset_states()`` zeroes it.
        unroll: unroll the loop in Python (static, short sequences only).
        use_cudnn: accepted for code written for the built-in layer: "auto" or False, which
            mean the same here, since zoo layers never run cuDNN; True is an error. Like the
            built-in's, it is not part of the config.
        inputs_projected: as in ``zoo.layers.GRUCell`` (the built-in layer has no such option;
            the weights are then ``recurrent_kernel`` and ``bias``).
        **kwargs: base layer arguments (name, dtype, trainable, zero_output_for_mask).

    Call arguments:
        sequences: float (batch, timesteps, features).
        initial_state: optional ``h`` or ``[h]``, (batch, units).
        mask: optional boolean (batch, timesteps), True for real steps (right padding).
        training: whether dropout is active.
    """

    cell_class = GRUCell

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
        reset_after: bool = True,
        use_cudnn: str | bool = "auto",
        inputs_projected: bool = False,
        **kwargs,
    ):
        check_use_cudnn(use_cudnn)
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
            inputs_projected=inputs_projected,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
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
