"""Model and training configurations as plain data.

`PTB` holds the three configurations of Zaremba, Sutskever & Vinyals (2014), "Recurrent Neural
Network Regularization" (arXiv 1409.2329), as used by their `main.lua` and by TensorFlow's
`ptb_word_lm.py` tutorial. Units: `units` per layer; `num_steps` timesteps per truncated-BPTT
window; `batch_size` rows; `init_scale` s for U(-s, s) on every weight and bias; `dropout` on
the non-recurrent connections only; `lr` the SGD learning rate on the loss summed over time and
averaged over the batch, divided by `lr_decay` after each epoch past `decay_after`; `clip` the
global gradient norm.

`SENTIMENT` holds the classifier defaults for IMDB and SST-2 (Adam, no early stopping, a fixed
number of epochs). `embedding_init` is "random" (Keras's uniform initializer) or "ppmi" (word
vectors from the PPMI of the training texts, and for IMDB its unlabelled reviews, with contexts
of `embedding_window` tokens each side: `zoo.data.word_vectors`); `embedding_trainable` False
keeps them fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

PTB: dict[str, dict[str, Any]] = {
    "small": {
        "layers": 2,
        "units": 200,
        "num_steps": 20,
        "batch_size": 20,
        "init_scale": 0.1,
        "dropout": 0.0,
        "lr": 1.0,
        "lr_decay": 2.0,
        "decay_after": 4,
        "epochs": 13,
        "clip": 5.0,
    },
    "medium": {
        "layers": 2,
        "units": 650,
        "num_steps": 35,
        "batch_size": 20,
        "init_scale": 0.05,
        "dropout": 0.5,
        "lr": 1.0,
        "lr_decay": 1.2,
        "decay_after": 6,
        "epochs": 39,
        "clip": 5.0,
    },
    "large": {
        "layers": 2,
        "units": 1500,
        "num_steps": 35,
        "batch_size": 20,
        "init_scale": 0.04,
        "dropout": 0.65,
        "lr": 1.0,
        "lr_decay": 1.15,
        "decay_after": 14,
        "epochs": 55,
        "clip": 10.0,
    },
}

SENTIMENT: dict[str, dict[str, Any]] = {
    "imdb": {
        "vocab_size": 20000,
        "max_len": 400,
        "embedding_dim": 128,
        "units": 128,
        "layers": 1,
        "bidirectional": True,
        "dropout": 0.3,
        "pooling": "last",
        "embedding_init": "random",
        "embedding_window": 5,
        "embedding_trainable": True,
        "batch_size": 64,
        "lr": 1e-3,
        "epochs": 4,
        "clip": 5.0,
    },
    "sst2": {
        "vocab_size": 20000,
        "max_len": 64,
        "embedding_dim": 128,
        "units": 128,
        "layers": 1,
        "bidirectional": True,
        "dropout": 0.3,
        "pooling": "last",
        "embedding_init": "random",
        "embedding_window": 5,
        "embedding_trainable": True,
        "batch_size": 32,
        "lr": 1e-3,
        "epochs": 6,
        "clip": 5.0,
    },
}


def resolve(table: dict[str, dict[str, Any]], config: str | dict, argument: str = "config") -> dict:
    """A full configuration: a name of `table`, or a dict.

    A dict may hold `"base"` (a name of `table`, default the first) and any keys of that base to
    override; unknown keys are an error naming `argument`.
    """
    if isinstance(config, str):
        if config not in table:
            raise ValueError(
                f"{argument}: expected one of {sorted(table)} or a dict, got {config!r}"
            )
        return dict(table[config])
    if not isinstance(config, dict):
        raise TypeError(f"{argument}: expected a name or a dict, got {type(config).__name__}")
    overrides = dict(config)
    base = resolve(table, overrides.pop("base", next(iter(table))), argument)
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise ValueError(f"{argument}: unknown keys {unknown}; valid keys: {sorted(base)}")
    return check_values({**base, **overrides}, argument)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


# key -> (check, what it expects); keys of PTB and SENTIMENT not here are checked where used
VALUE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys(
        (
            "layers",
            "units",
            "num_steps",
            "batch_size",
            "epochs",
            "vocab_size",
            "max_len",
            "embedding_dim",
            "embedding_window",
        ),
        (lambda v: _is_int(v) and v > 0, "a positive integer"),
    ),
    **dict.fromkeys(("lr", "clip"), (lambda v: _is_number(v) and v > 0, "a positive number")),
    "lr_decay": (
        lambda v: _is_number(v) and v >= 1,
        "a number >= 1 (the learning rate is divided by it; below 1 it would grow)",
    ),
    "decay_after": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
    "dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a rate in [0, 1)"),
    "init_scale": (
        lambda v: v is None or (_is_number(v) and v > 0),
        "a positive number, or null for Keras's initializers",
    ),
    **dict.fromkeys(
        ("bidirectional", "embedding_trainable"), (lambda v: isinstance(v, bool), "true or false")
    ),
}


def check_values(settings: dict, argument: str = "config") -> dict:
    """`settings`, if every key of `VALUE_CHECKS` in it holds a value of its kind (positive
    integers for widths and counts, positive numbers for `lr` and `clip`, at least 1 for
    `lr_decay`, a rate in [0, 1) for `dropout`, ...); else a ValueError naming `argument`, the
    key and the value."""
    for key, value in settings.items():
        check, expected = VALUE_CHECKS.get(key, (lambda v: True, ""))
        if not check(value):
            raise ValueError(f"{argument}: {key}: expected {expected}, got {value!r}")
    return settings


def lr_at(config: dict, epoch: int) -> float:
    """The learning rate of 0-based `epoch`: `lr / lr_decay ** max(0, epoch + 1 - decay_after)`.

    Small config: epochs 1-4 (1-based) at 1, then 0.5, 0.25, ...
    """
    return config["lr"] / config["lr_decay"] ** max(0, epoch + 1 - config["decay_after"])
