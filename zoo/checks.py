"""Argument checks shared across the package: each failure is a ValueError naming the argument.

The layers' own checks (``zoo.layers.engine``) keep Keras's wording ("Received an invalid value
for argument ..."); these serve the data, model-building, training and callback functions.
"""

from __future__ import annotations

import numbers


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), bools excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer_at_least(name: str, value: object, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else a ValueError naming ``name``
    (None, floats such as 2.0, strings and bools are refused)."""
    if not is_integer(value) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def positive_int(name: str, value: object) -> int:
    """``value`` as an int if it is a positive integer, else a ValueError naming ``name``."""
    return integer_at_least(name, value, 1)
