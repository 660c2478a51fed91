"""Parameter counts of every cell (closed forms against built layers) and the
fixed-parameter-budget sizing ``units_for_budget``."""

import pytest

import zoo.layers
from zoo.layers import count_params, units_for_budget

NAMES = list(zoo.layers.CELLS)


def built_count(name, input_dim, units, **kwargs):
    layer = zoo.layers.recurrent(name, units, **kwargs)
    layer.build((None, 3, input_dim))
    return layer.count_params()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(("input_dim", "units"), [(1, 1), (5, 7), (200, 200)])
def test_count_params_equals_the_built_layer(name, use_bias, input_dim, units):
    expected = built_count(name, input_dim, units, use_bias=use_bias)
    assert count_params(name, input_dim, units, use_bias=use_bias) == expected


def test_count_params_closed_forms_at_200():
    """The numbers of the README's table (d = units = 200)."""
    d = h = 200
    expected = {
        "gru": 3 * (d * h + h * h + 2 * h),
        "gru_v1": 3 * (d * h + h * h + h),
        "lstm": 4 * (d * h + h * h + h),
        "rnn": d * h + h * h + h,
        "lstm_nofg": 3 * (d * h + h * h + h),
        "peephole_lstm": 4 * (d * h + h * h + h) + 3 * h,
        "cifg_lstm": 3 * (d * h + h * h + h),
        "mgu": 2 * (d * h + h * h + h),
        "layernorm_lstm": 4 * (d * h + h * h + h) + 18 * h,
    }
    assert {name: count_params(name, d, h) for name in NAMES} == expected
    assert expected["layernorm_lstm"] == 324_400 and expected["mgu"] == 160_400


@pytest.mark.parametrize(
    ("argument", "value"), [("input_dim", 0), ("input_dim", 2.0), ("units", -1), ("units", True)]
)
def test_count_params_rejects_bad_sizes(argument, value):
    sizes = {"input_dim": 4, "units": 4, argument: value}
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        count_params("mgu", sizes["input_dim"], sizes["units"])


def test_count_params_rejects_arguments_the_cell_does_not_have():
    with pytest.raises(ValueError, match=r"Unknown argument\(s\) 'use_bais' for cell 'lstm'"):
        count_params("lstm", 4, 4, use_bais=False)
    with pytest.raises(ValueError, match="'reset_after'"):
        count_params("mgu", 4, 4, reset_after=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("input_dim", [1, 32])
@pytest.mark.parametrize("budget", [500, 4_321, 99_999, 1_234_567])
def test_units_for_budget_is_closest(name, input_dim, budget):
    units = units_for_budget(name, input_dim, budget)
    error = abs(count_params(name, input_dim, units) - budget)
    step = count_params(name, input_dim, units + 1) - count_params(name, input_dim, units)
    assert error <= step
    assert error <= abs(count_params(name, input_dim, units + 1) - budget)
    if units > 1:
        assert error < abs(count_params(name, input_dim, units - 1) - budget)  # ties: smaller


@pytest.mark.parametrize("name", NAMES)
def test_units_for_budget_inverts_count_params(name):
    for units in (1, 2, 37, 650):
        assert units_for_budget(name, 48, count_params(name, 48, units)) == units


def test_units_for_budget_tie_goes_to_the_smaller():
    low, high = count_params("lstm", 10, 20), count_params("lstm", 10, 21)
    assert (high - low) % 2 == 0
    assert units_for_budget("lstm", 10, (low + high) // 2) == 20
    assert units_for_budget("lstm", 10, (low + high) // 2 + 1) == 21


def test_units_for_budget_passes_cell_arguments():
    budget = count_params("gru", 100, 64, use_bias=False)
    assert units_for_budget("gru", 100, budget, use_bias=False) == 64
    assert units_for_budget("gru", 100, budget, reset_after=False, use_bias=False) == 64
    assert units_for_budget("gru", 100, count_params("gru", 100, 64)) == 64


def test_lstm_650_against_gru_with_the_same_budget():
    """The medium LSTM of Zaremba et al. (650 units on 650 inputs) has 3,382,600 parameters;
    the GRU with the closest count has 785 units (the square-root rule of thumb, 650 sqrt(4/3)
    = 750, ignores the input weights, which grow only linearly with the units)."""
    budget = count_params("lstm", 650, 650)
    assert budget == 3_382_600
    units = units_for_budget("gru", 650, budget)
    assert units == 785
    step = count_params("gru", 650, units + 1) - count_params("gru", 650, units)
    assert abs(count_params("gru", 650, units) - budget) <= step / 2


@pytest.mark.parametrize("name", NAMES)
def test_budget_below_one_unit(name):
    smallest = count_params(name, 16, 1)
    assert units_for_budget(name, 16, smallest) == 1
    message = (
        rf"argument `budget`.*budget {smallest - 1} is too small for cell '{name}': "
        rf"one unit already has {smallest} parameters"
    )
    with pytest.raises(ValueError, match=message):
        units_for_budget(name, 16, smallest - 1)


@pytest.mark.parametrize("budget", [0, -5, 100.0, True, "1000"])
def test_bad_budget(budget):
    with pytest.raises(ValueError, match="argument `budget`"):
        units_for_budget("lstm", 8, budget)


def test_budget_errors_name_the_other_arguments():
    with pytest.raises(ValueError, match="valid names"):
        units_for_budget("lstn", 8, 1000)
    with pytest.raises(ValueError, match="argument `input_dim`"):
        units_for_budget("lstm", 0, 1000)
