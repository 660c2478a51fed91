"""The tanh RNN (``TanhRNNCell``, ``TanhRNN``) and ``CellLayer``, the base of the sequence layers
of the zoo's added cells.

``CellLayer`` builds its cell from the constructor arguments the cell declares in
``cell_arguments`` and passes the rest (return_sequences, return_state, go_backwards, stateful,
unroll, name, ...) to ``keras.layers.RNN``. The LSTM and GRU layers spell out their arguments
instead, to mirror the signatures of the Keras layers they replace; the added cells have no
built-in counterpart, so each of their layers is a named ``CellLayer`` subclass: one registered
class per cell (a clear name in summaries and saved files), with the constructor logic written
once. ``TanhRNN`` is one too, and spells out ``keras.layers.SimpleRNN``'s arguments in their
order on top of it.
"""

from __future__ import annotations

import re

import keras

from zoo.layers.engine import (
    BASE_CELL_ARGUMENTS,
    RecurrentCell,
    RecurrentLayer,
    expose_cell_arguments,
    recurrent_project,
)


def _snake_case(name: str) -> str:
    """``"PeepholeLSTMCell"`` -> ``"peephole_lstm_cell"`` (the rule Keras names layers by)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class CellLayer(RecurrentLayer):
    """Base class of the sequence layers of the added cells: the engine's fast loop over the
    cell named by ``cell_class``.

    Args:
        units: positive integer, dimensionality of the output space.
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return the output of every timestep (batch, T, units) rather than
            the last one (batch, units).
        return_state: also return the final states (as the cell's ``state_size``).
        go_backwards: process the input sequence backwards (outputs in processing order).
        stateful: carry the final states of batch i over as the initial states of batch i+1
            (needs a fixed batch size); ``reset_states()`` zeroes them.
        unroll: unroll the loop in Python (static, short sequences only).
        **kwargs: the cell's arguments (those in ``cell_class.cell_arguments``: activation,
            initializers, dropout, ...) and the base layer arguments (name, dtype, trainable,
            zero_output_for_mask). An argument that is neither raises a ValueError naming it.

    Call arguments:
        sequences: float (batch, timesteps, features).
        initial_state: optional list of initial states, as the cell's ``state_size``.
        mask: optional boolean (batch, timesteps), True for real steps (right padding).
        training: whether dropout is active.
    """

    def __init__(
        self,
        units: int,
        *,
        activity_regularizer=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs,
    ):
        names = self.cell_class.cell_arguments
        cell_kwargs = {name: kwargs.pop(name) for name in names if name in kwargs}
        cell = self.cell_class(
            units,
            **cell_kwargs,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=_snake_case(self.cell_class.__name__),
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


@keras.saving.register_keras_serializable(package="zoo")
class TanhRNNCell(RecurrentCell):
    """The fully connected ("vanilla", Elman 1990) recurrent cell: the vanishing-gradient
    baseline of the zoo.

    For input ``x_t`` (d,) and state ``h_{t-1}`` (units,), with ``act`` the ``activation``
    (tanh)::

        h_t = act(x_t W + h_{t-1} U + b)                  output and state

    One block, no gates, so no ``recurrent_activation`` argument (passing one raises a
    ValueError). Weights as ``keras.layers.SimpleRNNCell`` stores them: ``kernel`` (d, units) = W,
    ``recurrent_kernel`` (units, units) = U, ``bias`` (units,) = b, so the two cells are
    weight-compatible and compute the same. Parameters: ``d units + units^2 + units``, without
    the ``units`` of the bias when ``use_bias=False``.

    ``dh_t / dh_{t-1} = diag(act'(.)) U^T``: with tanh (act' <= 1) and a contracting U, the
    gradient over k steps shrinks geometrically (Bengio et al. 1994; Hochreiter 1991).

    Args:
        units, activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        seed: as in ``zoo.layers.RecurrentCell``.

    Call arguments:
        inputs: (batch, d). states: ``[h]`` or ``h``, (batch, units). training: bool.
    Returns ``(h_t, [h_t])`` (or ``(h_t, h_t)`` when ``states`` is not a list).
    """

    blocks = 1
    cell_arguments = tuple(a for a in BASE_CELL_ARGUMENTS if a != "recurrent_activation")

    def __init__(self, units: int, **kwargs):
        if "recurrent_activation" in kwargs:
            raise ValueError(
                "TanhRNNCell has no gates: argument `recurrent_activation` is not accepted "
                "(use `activation`)."
            )
        super().__init__(units, **kwargs)
        self.state_size = self.units

    def step(self, projected, states, recurrent_dropout_mask=None):
        """The equation above, from the projected input ``x_t W + b``."""
        (h_tm1,) = states
        h = self.activation(
            projected
            + recurrent_project(h_tm1, self.recurrent_kernel, recurrent_dropout_mask, self.blocks)
        )
        return h, [h]


@expose_cell_arguments
@keras.saving.register_keras_serializable(package="zoo")
class TanhRNN(CellLayer):
    """Fully connected recurrent layer over ``zoo.layers.TanhRNNCell``; a drop-in replacement
    for ``keras.layers.SimpleRNN`` (same arguments and weights, same outputs and gradients), on
    the engine's loop (one input matmul for the whole sequence).

    Args: ``units`` and the cell's arguments as in ``TanhRNNCell``; the layer arguments as in
    ``zoo.layers.rnn.CellLayer``; in ``keras.layers.SimpleRNN``'s order, so they may be given
    by position as there. The state is ``h`` (batch, units).
    """

    cell_class = TanhRNNCell

    def __init__(
        self,
        units: int,
        activation="tanh",
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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            seed=seed,
            **kwargs,
        )
