"""Recurrent cells and layers of the zoo, written from their equations.

``CELLS`` maps each cell name to its cell class; ``get_cell`` builds a cell by name,
``recurrent`` its sequence layer, ``count_params`` gives any cell's exact parameter count from
its closed form and ``units_for_budget`` the units that best fit a parameter budget (the
"fixed number of parameters" comparison).

Every cell has a fast sequence layer on the shared engine (``RecurrentLayer``), so
``recurrent`` always returns that layer; ``keras.layers.RNN(get_cell(name, units))`` computes
the same, one step at a time.
"""

from __future__ import annotations

import numbers

from zoo.layers.cifg import CIFGLSTM, CIFGLSTMCell
from zoo.layers.engine import RecurrentCell, RecurrentLayer, check_units, scan_recurrence
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.layernorm_lstm import LayerNormLSTM, LayerNormLSTMCell
from zoo.layers.lstm import LSTM, LSTMCell
from zoo.layers.lstm_nofg import LSTMNoForgetGate, LSTMNoForgetGateCell
from zoo.layers.mgu import MGU, MGUCell
from zoo.layers.peephole import PeepholeLSTM, PeepholeLSTMCell
from zoo.layers.rnn import CellLayer, TanhRNN, TanhRNNCell

# name -> (cell class, sequence layer class, the arguments that name fixes); the foundation's
# cells first, then the added cells, the order error messages list them in.
_CELL_SPECS: dict[str, tuple[type[RecurrentCell], type[RecurrentLayer], dict]] = {
    "gru": (GRUCell, GRU, {"reset_after": True}),
    "gru_v1": (GRUCell, GRU, {"reset_after": False}),
    "lstm": (LSTMCell, LSTM, {}),
    "rnn": (TanhRNNCell, TanhRNN, {}),
    "lstm_nofg": (LSTMNoForgetGateCell, LSTMNoForgetGate, {}),
    "peephole_lstm": (PeepholeLSTMCell, PeepholeLSTM, {}),
    "cifg_lstm": (CIFGLSTMCell, CIFGLSTM, {}),
    "mgu": (MGUCell, MGU, {}),
    "layernorm_lstm": (LayerNormLSTMCell, LayerNormLSTM, {}),
}

CELLS: dict[str, type[RecurrentCell]] = {name: spec[0] for name, spec in _CELL_SPECS.items()}


def _spec(name: str) -> tuple[type[RecurrentCell], type[RecurrentLayer], dict]:
    if not isinstance(name, str) or name not in _CELL_SPECS:
        raise ValueError(
            f"Unknown cell name {name!r} for argument `name`; valid names: "
            f"{', '.join(_CELL_SPECS)}."
        )
    return _CELL_SPECS[name]


def get_cell(name: str, units: int, /, **kwargs) -> RecurrentCell:
    """Build the cell called ``name`` (a key of ``CELLS``) with ``units`` and ``kwargs``
    (``name`` and ``units`` are positional-only, so ``kwargs`` may name the cell layer)."""
    cell_class, _, fixed = _spec(name)
    return cell_class(units, **{**fixed, **kwargs})


def recurrent(name: str, units: int, /, **layer_kwargs) -> RecurrentLayer:
    """The sequence layer of cell ``name`` with ``units``: the engine's fast layer
    (``zoo.layers.LSTM``, ``GRU``, ``TanhRNN``, ...; a ``keras.layers.RNN``).

    ``layer_kwargs`` mixes the cell's arguments (activation, dropout, initializers, ...) and
    the layer's (return_sequences, return_state, go_backwards, stateful, unroll, name, dtype,
    ...); the layer's constructor routes each to the cell or to ``keras.layers.RNN``, and an
    argument that is neither raises a ValueError naming it. ``name`` and ``units`` are
    positional-only, so ``layer_kwargs`` may hold the layer's own ``name``.
    """
    _, layer_class, fixed = _spec(name)
    return layer_class(units, **{**fixed, **layer_kwargs})


def _check_positive_int(argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: expected a positive "
            f"integer, got {value!r}."
        )
    return int(value)


def count_params(name: str, input_dim: int, units: int, **cell_kwargs) -> int:
    """The exact number of parameters of cell ``name`` on ``input_dim`` inputs with ``units``.

    Equal to ``layer.count_params()`` of the built layer; e.g. LSTM
    ``4 (d units + units^2 + units)``, GRU ``3 (d units + units^2 + 2 units)``.
    ``cell_kwargs`` are cell arguments that change the count (``use_bias``, ``reset_after``);
    a name that is not an argument of the cell raises a ValueError.
    """
    cell_class, _, fixed = _spec(name)
    _check_positive_int("input_dim", input_dim)
    check_units(units)
    known = set(cell_class.cell_arguments)
    if cell_class.supports_inputs_projected:
        known.add("inputs_projected")
        projected = cell_kwargs.get("inputs_projected", False)
        if not isinstance(projected, bool):
            raise ValueError(f"inputs_projected: expected True or False, got {projected!r}")
    unknown = sorted(set(cell_kwargs) - known)
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(map(repr, unknown))} for cell {name!r} "
            f"({cell_class.__name__}) in `cell_kwargs`."
        )
    return cell_class.param_count(input_dim, units, **{**fixed, **cell_kwargs})


def units_for_budget(name: str, input_dim: int, budget: int, **cell_kwargs) -> int:
    """The units whose parameter count (``count_params``) is closest to ``budget``.

    Counts grow strictly with the units, so the answer is the smallest ``u`` with
    ``count(u) >= budget`` or the one before it, whichever is closer; a tie goes to the
    smaller. Found by doubling then bisection: O(log budget) closed-form evaluations.

    Raises:
        ValueError: ``budget`` is not a positive integer, or is smaller than the count of one
            unit; ``name``, ``input_dim`` or ``cell_kwargs`` are invalid (as in
            ``count_params``).
    """
    _check_positive_int("budget", budget)

    def count(units: int) -> int:
        return count_params(name, input_dim, units, **cell_kwargs)

    smallest = count(1)
    if budget < smallest:
        raise ValueError(
            f"Received an invalid value for argument `budget`: budget {budget} is too small "
            f"for cell {name!r}: one unit already has {smallest} parameters "
            f"(input_dim={input_dim})."
        )
    low, high = 0, 1  # after the doubling: count(low) < budget <= count(high), count(0) = 0
    while count(high) < budget:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        if count(middle) >= budget:
            high = middle
        else:
            low = middle
    if high > 1 and budget - count(high - 1) <= count(high) - budget:
        return high - 1
    return high


__all__ = [
    "CELLS",
    "CIFGLSTM",
    "CIFGLSTMCell",
    "CellLayer",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LSTMNoForgetGate",
    "LSTMNoForgetGateCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "MGU",
    "MGUCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RecurrentCell",
    "RecurrentLayer",
    "TanhRNN",
    "TanhRNNCell",
    "count_params",
    "get_cell",
    "recurrent",
    "scan_recurrence",
    "units_for_budget",
]
