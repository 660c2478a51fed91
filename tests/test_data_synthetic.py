"""Synthetic tasks: shapes, targets recomputed independently, determinism, the Reber validator."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data import synthetic

KNOWN_REBER = ["BTXSE", "BPVVE", "BTSSXXTVVE", "BPTVPXVVE", "BPVPSE", "BTXXVPSE"]
NOT_REBER = ["BTXS", "TXSE", "BTXSEE", "BTSE", "BPVE", "BTXXSE", ""]


def test_adding_problem_shapes_and_targets():
    inputs, targets = synthetic.adding_problem(num_examples=64, length=20, seed=3)
    assert inputs.shape == (64, 20, 2) and inputs.dtype == np.float32
    assert targets.shape == (64, 1) and targets.dtype == np.float32
    values, markers = inputs[..., 0], inputs[..., 1]
    assert np.all((values >= 0) & (values < 1))
    for row in range(64):
        marked = np.flatnonzero(markers[row])
        assert set(np.unique(markers[row])) <= {0.0, 1.0} and len(marked) == 2
        assert marked[0] < 10 <= marked[1]  # one marker in each half
        assert targets[row, 0] == pytest.approx(values[row, marked].sum(), abs=1e-6)


def test_adding_problem_is_deterministic_per_seed():
    first = synthetic.adding_problem(8, 12, seed=1)
    again = synthetic.adding_problem(8, 12, seed=1)
    other = synthetic.adding_problem(8, 12, seed=2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_adding_problem_dataset_batches_in_order():
    inputs, targets = synthetic.adding_problem(10, 6, seed=4)
    batches = list(
        synthetic.adding_problem_dataset(10, 6, batch_size=4, seed=4).as_numpy_iterator()
    )
    assert [x.shape for x, _ in batches] == [(4, 6, 2), (4, 6, 2), (2, 6, 2)]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), inputs)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), targets)


@pytest.mark.parametrize(("name", "value"), [("num_examples", 0), ("length", 1)])
def test_adding_problem_bad_arguments(name, value):
    arguments = {"num_examples": 4, "length": 8, name: value}
    with pytest.raises(ValueError, match=name):
        synthetic.adding_problem(**arguments)


def test_reber_validator_on_known_strings():
    assert all(synthetic.is_reber(string) for string in KNOWN_REBER)
    assert not any(synthetic.is_reber(string) for string in NOT_REBER)
    assert synthetic.is_embedded_reber("BTBTXSETE") and synthetic.is_embedded_reber("BPBPVVEPE")
    assert not synthetic.is_embedded_reber("BTBTXSEPE")  # second-to-last differs from second
    assert not synthetic.is_embedded_reber("BTBTXSTE")  # inner string cut short


def test_generated_strings_are_accepted_and_corruptions_rejected():
    rng = np.random.default_rng(0)
    for _ in range(500):
        string = synthetic.embedded_reber_string(rng)
        assert synthetic.is_embedded_reber(string), string
        swapped = string[:-2] + ("P" if string[-2] == "T" else "T") + "E"
        assert not synthetic.is_embedded_reber(swapped)
        assert not synthetic.is_embedded_reber(string[:-3] + string[-2:])  # drop the inner E
        assert not synthetic.is_embedded_reber(string + "E")


def test_embedded_reber_labels_match_grammaticality():
    strings, labels = synthetic.embedded_reber_strings(400, max_length=20, seed=5)
    assert labels.dtype == np.int32 and 150 < labels.sum() < 250
    for string, label in zip(strings, labels, strict=True):
        assert len(string) <= 20
        assert synthetic.is_embedded_reber(string) == bool(label)
        assert bool(label) == (string[1] == string[-2])
        if not label:  # the negatives are grammatical strings with the final T/P swapped
            fixed = string[:-2] + string[1] + "E"
            assert synthetic.is_embedded_reber(fixed)


def test_embedded_reber_one_hot_and_padding():
    inputs, labels = synthetic.embedded_reber(50, max_length=30, seed=6)
    strings, same_labels = synthetic.embedded_reber_strings(50, max_length=30, seed=6)
    assert inputs.shape == (50, 30, 7) and inputs.dtype == np.float32
    np.testing.assert_array_equal(labels, same_labels)
    for row, string in enumerate(strings):
        steps = inputs[row]
        assert np.all(steps[: len(string)].sum(axis=1) == 1)
        assert np.all(steps[len(string) :] == 0)  # right-padded with zero vectors
        decoded = "".join(synthetic.SYMBOLS[i] for i in steps[: len(string)].argmax(axis=1))
        assert decoded == string


def test_embedded_reber_determinism_and_dataset():
    first = synthetic.embedded_reber(32, 25, seed=9)
    np.testing.assert_array_equal(first[0], synthetic.embedded_reber(32, 25, seed=9)[0])
    assert not np.array_equal(first[0], synthetic.embedded_reber(32, 25, seed=10)[0])
    batches = list(
        synthetic.embedded_reber_dataset(32, 25, batch_size=16, seed=9).as_numpy_iterator()
    )
    assert [x.shape for x, _ in batches] == [(16, 25, 7), (16, 25, 7)]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), first[1])


def test_embedded_reber_rejects_too_short_max_length():
    with pytest.raises(ValueError, match="max_length"):
        synthetic.embedded_reber(4, max_length=8)
