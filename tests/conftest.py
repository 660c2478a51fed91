"""Shared test setup: quiet TensorFlow, deterministic seeds, the real-data directory."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def data_dir() -> Path:
    """The real datasets: $ZOO_DATA_DIR, else ../shared/data; skips when absent."""
    root = Path(os.environ.get("ZOO_DATA_DIR", SHARED_DATA))
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set ZOO_DATA_DIR)")
    return root
