"""Integer arguments: the shared checks, and the functions that use them, name what is wrong."""

import numpy as np
import pytest

from zoo.checks import integer_at_least, is_integer, positive_int
from zoo.data import ptb, synthetic, text, word_vectors
from zoo.models.language_model import layer_widths

NOT_INTEGERS = [None, "3", 3.0, True, np.float32(3)]


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_are_accepted_as_python_ints(value):
    assert is_integer(value)
    assert positive_int("size", value) == 3 and type(positive_int("size", value)) is int
    assert integer_at_least("size", value, 3) == 3


@pytest.mark.parametrize("value", NOT_INTEGERS)
def test_non_integers_are_refused_with_the_argument_named(value):
    assert not is_integer(value)
    with pytest.raises(ValueError, match=r"^size: expected a positive integer, got "):
        positive_int("size", value)


def test_the_minimum_is_stated():
    with pytest.raises(ValueError, match=r"^length: expected an integer >= 2, got 1$"):
        integer_at_least("length", 1, 2)
    with pytest.raises(ValueError, match=r"^size: expected a positive integer, got 0$"):
        positive_int("size", 0)


CALLS = {
    "ptb.batches batch_size": (
        "batch_size",
        lambda v: ptb.batches(np.arange(100), batch_size=v, num_steps=2),
    ),
    "ptb.batches num_steps": (
        "num_steps",
        lambda v: ptb.batches(np.arange(100), batch_size=2, num_steps=v),
    ),
    "adding_problem num_examples": ("num_examples", lambda v: synthetic.adding_problem(v, 8)),
    "adding_problem length": ("length", lambda v: synthetic.adding_problem(4, v)),
    "adding_problem_dataset batch_size": (
        "batch_size",
        lambda v: synthetic.adding_problem_dataset(4, 8, batch_size=v),
    ),
    "embedded_reber_strings max_length": (
        "max_length",
        lambda v: synthetic.embedded_reber_strings(4, v),
    ),
    "fit_vectorizer vocab_size": (
        "vocab_size",
        lambda v: text.fit_vectorizer(["a b"], vocab_size=v, max_len=4),
    ),
    "fit_vectorizer max_len": (
        "max_len",
        lambda v: text.fit_vectorizer(["a b"], vocab_size=10, max_len=v),
    ),
    "cooccurrence_counts window": (
        "window",
        lambda v: word_vectors.cooccurrence_counts([np.array([2, 3])], 5, v),
    ),
    "layer_widths units": ("units", lambda v: layer_widths("gru", v, 2)),
    "layer_widths layers": ("layers", lambda v: layer_widths("gru", 8, v)),
}


@pytest.mark.parametrize("value", [None, "3", 3.0])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_public_functions_name_a_non_integer_size(call, value):
    name, function = CALLS[call]
    with pytest.raises(ValueError, match=rf"^{name}: expected (a positive integer|an integer >=)"):
        function(value)
