"""Recurrent cells and layers of the zoo, written from their equations.

``CELLS`` maps each cell name to its cell class; ``get_cell`` builds one by name and
``count_params`` gives any cell's exact parameter count from its closed form.
"""

from __future__ import annotations

from zoo.layers.engine import RecurrentCell, RecurrentLayer, scan_recurrence
from zoo.layers.gru import GRU, GRUCell
from zoo.layers.lstm import LSTM, LSTMCell

# name -> (cell class, the arguments that name fixes)
_CELL_SPECS: dict[str, tuple[type[RecurrentCell], dict]] = {
    "lstm": (LSTMCell, {}),
    "gru": (GRUCell, {"reset_after": True}),
    "gru_v1": (GRUCell, {"reset_after": False}),
}

CELLS: dict[str, type[RecurrentCell]] = {name: spec[0] for name, spec in _CELL_SPECS.items()}


def _spec(name: str) -> tuple[type[RecurrentCell], dict]:
    if name not in _CELL_SPECS:
        raise ValueError(
            f"Unknown cell name {name!r} for argument `name`; valid names: "
            f"{', '.join(sorted(_CELL_SPECS))}."
        )
    return _CELL_SPECS[name]


def get_cell(name: str, units: int, **kwargs) -> RecurrentCell:
    """Build the cell called ``name`` (a key of ``CELLS``) with ``units`` and ``kwargs``."""
    cell_class, fixed = _spec(name)
    return cell_class(units, **{**fixed, **kwargs})


def count_params(name: str, input_dim: int, units: int, **cell_kwargs) -> int:
    """The exact number of parameters of cell ``name`` on ``input_dim`` inputs with ``units``.

    Equal to ``layer.count_params()`` of the built layer; e.g. LSTM
    ``4 (d units + units^2 + units)``, GRU ``3 (d units + units^2 + 2 units)``.
    """
    cell_class, fixed = _spec(name)
    return cell_class.param_count(input_dim, units, **{**fixed, **cell_kwargs})


__all__ = [
    "CELLS",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RecurrentCell",
    "RecurrentLayer",
    "count_params",
    "get_cell",
    "scan_recurrence",
]
