"""The TFDS paths of zoo.data, with a stand-in `tensorflow_datasets` module (no download)."""

import sys
import types

import numpy as np
import pytest

from zoo.data import imdb, sst2

EXAMPLES = {
    ("imdb_reviews", "train"): [(b"A fine film.<br />Loved it", 1), (b"Dull.", 0)],
    ("imdb_reviews", "unsupervised"): [(b"Unrated.", -1)],
    ("glue/sst2", "validation"): [(b"a gem", 1), (b"a mess", 0), (b"flat", 0)],
}


@pytest.fixture
def fake_tfds(monkeypatch):
    """A `tensorflow_datasets` whose `load` serves EXAMPLES and records its calls."""
    calls = []
    module = types.ModuleType("tensorflow_datasets")

    def load(name, split, download):
        calls.append((name, split, download))
        key = "text" if name == "imdb_reviews" else "sentence"
        return [{key: text, "label": np.int64(label)} for text, label in EXAMPLES[(name, split)]]

    module.load = load
    module.as_numpy = lambda data: iter(data)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    return calls


def test_imdb_falls_back_to_tfds_when_no_local_files(tmp_path, fake_tfds):
    texts, labels = imdb.load_texts("train", data_dir=tmp_path, download=False)
    assert fake_tfds == [("imdb_reviews", "train", False)]
    assert texts == ["A fine film.<br />Loved it", "Dull."]
    np.testing.assert_array_equal(labels, [1, 0])
    assert labels.dtype == np.int32


def test_imdb_unlabelled_reviews_from_tfds(tmp_path, fake_tfds):
    assert imdb.load_unlabelled_texts(tmp_path, download=True) == ["Unrated."]
    assert fake_tfds == [("imdb_reviews", "unsupervised", True)]


def test_local_files_win_over_tfds(tmp_path, fake_tfds):
    import gzip
    import json

    with gzip.open(tmp_path / "train.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"id": "train/pos/0_9.txt", "text": "Local.", "label": 1}) + "\n")
    texts, _ = imdb.load_texts("train", data_dir=tmp_path, download=False)
    assert texts == ["Local."] and fake_tfds == []


def test_sst2_from_tfds(tmp_path, fake_tfds):
    texts, labels = sst2.load_texts("validation", data_dir=tmp_path, source="tfds")
    assert fake_tfds[0][:2] == ("glue/sst2", "validation")
    assert texts == ["a gem", "a mess", "flat"]
    np.testing.assert_array_equal(labels, [1, 0, 0])


def test_tfds_errors_are_reported_with_the_other_attempts(tmp_path, monkeypatch):
    module = types.ModuleType("tensorflow_datasets")

    def load(name, split, download):
        raise RuntimeError("dataset imdb_reviews not prepared and download=False")

    module.load = load
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    with pytest.raises(Exception, match="TFDS imdb_reviews: dataset imdb_reviews not prepared"):
        imdb.load_texts("test", data_dir=tmp_path, download=False)
