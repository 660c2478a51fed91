"""Seed statistics: mean and spread over seeds, and which differences between cells are
within seed noise.

Two cells differ beyond seed noise when Welch's two-sided t-test on their final metrics (one
value per seed) gives p < `ALPHA` (SciPy's `ttest_ind(equal_var=False)` when SciPy is
installed). Without SciPy the rule is |mean_a - mean_b| > 2 * sqrt(s_a^2 / n_a + s_b^2 / n_b)
(about the same test with a normal approximation, which is less conservative at 3 seeds).
With 3 seeds per cell the test has little power: "within seed noise" means the seeds could
not tell the cells apart, not that the cells are equal. With one seed nothing can be said.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

ALPHA = 0.05
NOISE_FACTOR = 2.0  # the rule without SciPy: difference > 2 standard errors


def spread(values: list[float]) -> dict[str, float | None]:
    """Mean, sample standard deviation (None for one value: it is undefined), min and max of
    `values`."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else None
    return {
        "mean": float(array.mean()),
        "std": std,
        "min": float(array.min()),
        "max": float(array.max()),
        "n": len(array),
    }


def compare_pair(a: list[float], b: list[float]) -> dict[str, Any]:
    """Whether final metrics `a` and `b` (one per seed) differ beyond seed noise.

    Returns:
        {"difference": mean(a) - mean(b) (None when a run diverged), "test": the test used,
        "p_value": float or None,
        "verdict": "differs" | "within seed noise" | "cannot tell (one seed)" |
        "cannot tell (a run diverged)"}; a run diverged when its metric is not finite.
    """
    difference = float(np.mean(a) - np.mean(b))
    if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        return {
            "difference": None,
            "test": "none",
            "p_value": None,
            "verdict": "cannot tell (a run diverged)",
        }
    if len(a) < 2 or len(b) < 2:
        return _verdict(difference, "none", None, None)
    variance = np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)
    if variance == 0.0:  # identical seeds on both sides: any difference is real
        return _verdict(difference, "exact", None, difference != 0.0)
    try:
        from scipy.stats import ttest_ind
    except ImportError:
        differs = abs(difference) > NOISE_FACTOR * math.sqrt(variance)
        return _verdict(difference, "2 standard errors", None, differs)
    with warnings.catch_warnings():  # nearly equal seeds: SciPy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p_value = float(ttest_ind(a, b, equal_var=False).pvalue)
    return _verdict(difference, "Welch t-test", p_value, p_value < ALPHA)


def _verdict(
    difference: float, test: str, p_value: float | None, differs: bool | None
) -> dict[str, Any]:
    if differs is None:
        verdict = "cannot tell (one seed)"
    else:
        verdict = "differs" if differs else "within seed noise"
    return {"difference": difference, "test": test, "p_value": p_value, "verdict": verdict}


def pairwise(finals: dict[str, list[float]]) -> list[dict[str, Any]]:
    """`compare_pair` for every pair of cells (in the given order) of {cell: final metrics}."""
    return [
        {"a": a, "b": b, **compare_pair(finals[a], finals[b])}
        for a, b in itertools.combinations(finals, 2)
    ]
