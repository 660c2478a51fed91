"""`benchmarks/revision_ab.py`: the old revision's package, exported and renamed so that it
loads beside the working tree's; no timings."""

import importlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "benchmarks"))
revision_ab = importlib.import_module("revision_ab")

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPOSITORY / ".git").exists(),
    reason="needs git and the repository's history",
)


def test_old_package_loads_beside_the_current_one(tmp_path, monkeypatch):
    commit = revision_ab.export_old_package("HEAD", tmp_path)
    assert len(commit) == 40
    sources = list((tmp_path / revision_ab.OLD_PACKAGE).rglob("*.py"))
    assert sources and not (tmp_path / "zoo").exists()
    for source in sources:
        assert not revision_ab.LEFT_OVER_IMPORT.search(source.read_text()), source
    monkeypatch.syspath_prepend(str(tmp_path))
    old_layers = importlib.import_module("zoo_old.layers")
    import zoo.layers

    assert old_layers.LSTM.__module__ == "zoo_old.layers.lstm"
    # HEAD's layers and the working tree's compute the same (the tree may differ from HEAD
    # elsewhere, not in a test run of a clean checkout): same weights, same outputs.
    x = np.random.RandomState(0).randn(3, 4, 5).astype("float32")
    old, new = old_layers.GRU(6), zoo.layers.GRU(6)
    old.build(x.shape)
    new.build(x.shape)
    new.set_weights(old.get_weights())
    np.testing.assert_allclose(np.asarray(old(x)), np.asarray(new(x)), atol=1e-6)


def test_an_unknown_revision_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="Argument --old: 'no-such-revision' is not a commit"):
        revision_ab.export_old_package("no-such-revision", tmp_path)
