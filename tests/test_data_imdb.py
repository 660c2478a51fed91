"""IMDB: the JSONL and aclImdb layouts, errors, standardization, the vectorized pipeline."""

from __future__ import annotations

import gzip
import json
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import imdb
from zoo.data.download import DataNotFoundError
from zoo.data.text import split_off_validation, standardize


@pytest.fixture(autouse=True)
def _no_tfds(monkeypatch):
    """Keep a locally installed tensorflow-datasets out of these tests."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


def _write_jsonl(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        for record in records:
            stream.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def test_read_jsonl(tmp_path):
    records = [{"id": "x", "text": "Bad.<br />Really", "label": 0, "rating": 1}]
    records.append({"text": "Good", "label": 1})
    texts, labels = imdb.load_texts(
        "train", _write_jsonl(tmp_path / "train.jsonl.gz", records).parent
    )
    assert texts == ["Bad.<br />Really", "Good"]
    assert labels.dtype == np.int32 and labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    "bad_line", ['{"text": "x", "label": 1', '{"text": "x"}', '{"text": "x", "label": -1}']
)
def test_malformed_jsonl_line_names_file_and_line(tmp_path, bad_line):
    path = _write_jsonl(tmp_path / "test.jsonl.gz", [{"text": "ok", "label": 0}, bad_line])
    with pytest.raises(ValueError, match=rf"{path.name}, line 2"):
        imdb.read_jsonl(path)


def test_a_file_that_is_not_gzip_json_lines_is_named(tmp_path):
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(ValueError, match=rf"{path}: expected gzip-compressed JSON Lines"):
        imdb.read_jsonl(path)
    with pytest.raises(ValueError, match=rf"{path}: expected gzip-compressed JSON Lines"):
        imdb.load_texts("train", tmp_path, download=False)


def test_read_raw_aclimdb_layout_in_id_order(tmp_path):
    for name, text in {
        "test/neg/10_1.txt": "ten",
        "test/neg/2_4.txt": "two",
        "test/pos/0_10.txt": "zero",
    }.items():
        path = tmp_path / "aclImdb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    texts, labels = imdb.load_texts("test", tmp_path, download=False)
    assert texts == ["two", "ten", "zero"]
    assert labels.tolist() == [0, 0, 1]


def test_missing_data_says_where_it_looked_and_how_to_supply(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        imdb.load_texts("test", tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path / "test.jsonl.gz") in message
    assert "aclImdb" in message and "download=True" in message and "ZOO_DATA_DIR" in message


def test_unlabelled_reviews_from_jsonl_or_the_aclimdb_layout(tmp_path):
    records = [{"id": "train/unsup/0_0.txt", "text": "Meh.", "label": -1, "rating": 0}]
    _write_jsonl(tmp_path / "jsonl" / "unsup.jsonl.gz", records)
    assert imdb.load_unlabelled_texts(tmp_path / "jsonl", download=False) == ["Meh."]
    folder = tmp_path / "raw" / "aclImdb" / "train" / "unsup"
    folder.mkdir(parents=True)
    (folder / "10_0.txt").write_text("ten")
    (folder / "9_0.txt").write_text("nine")
    assert imdb.load_unlabelled_texts(tmp_path / "raw", download=False) == ["nine", "ten"]


def test_unlabelled_jsonl_refuses_a_labelled_line(tmp_path):
    _write_jsonl(tmp_path / "unsup.jsonl.gz", [{"text": "x", "label": 1}])
    with pytest.raises(ValueError, match=r"unsup.jsonl.gz, line 1: .* label of -1, got label 1"):
        imdb.load_unlabelled_texts(tmp_path, download=False)


def test_missing_unlabelled_reviews_say_where_it_looked(tmp_path):
    (tmp_path / "aclImdb" / "train" / "neg").mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as caught:
        imdb.load_unlabelled_texts(tmp_path, download=False)
    message = str(caught.value)
    assert message.startswith("IMDB unlabelled data not found.")
    assert str(tmp_path / "unsup.jsonl.gz") in message and "download=True" in message
    with pytest.raises(DataNotFoundError, match="exists without train/unsup/"):
        imdb.load_unlabelled_texts(tmp_path, download=True)


def test_a_validation_split_must_leave_both_parts_non_empty():
    train, validation = split_off_validation(10, 0.3, seed=0)
    assert (len(train), len(validation)) == (7, 3)
    assert set(train) | set(validation) == set(range(10))
    for fraction in (0.01, 0.99):
        with pytest.raises(ValueError, match="validation_fraction: .* both need at least one"):
            split_off_validation(10, fraction, seed=0)


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="split"):
        imdb.load_texts("validation", tmp_path)


def test_standardize_in_graph_and_registered():
    text = tf.constant([["It's GREAT!<br /><br />Really.", "ÉTÉ, ok?"]])
    result = standardize(text)
    assert result.shape == (1, 2)
    assert [value.decode() for value in result.numpy()[0]] == ["its great  really", "été ok"]
    assert keras.saving.get_registered_name(standardize) == "zoo>standardize"
    assert keras.saving.get_registered_object("zoo>standardize") is standardize


def _tiny_imdb(folder):
    positive = ["great fun film", "loved it great", "superb acting great", "great great"]
    negative = ["awful boring film", "hated it awful", "dull plot awful", "awful awful"]
    train = [{"text": t, "label": 1} for t in positive * 5] + [
        {"text": t, "label": 0} for t in negative * 5
    ]
    test = [{"text": "great film", "label": 1}, {"text": "awful film", "label": 0}]
    _write_jsonl(folder / "train.jsonl.gz", train)
    _write_jsonl(folder / "test.jsonl.gz", test)
    return folder


def test_datasets_split_vectorize_and_right_pad(tmp_path):
    data = imdb.datasets(
        _tiny_imdb(tmp_path), vocab_size=50, max_len=6, batch_size=4, validation_fraction=0.25
    )
    counts = {
        name: sum(int(labels.shape[0]) for _, labels in part)
        for name, part in (("train", data.train), ("val", data.validation), ("test", data.test))
    }
    assert counts == {"train": 30, "val": 10, "test": 2}
    # known batch counts (ceil(examples / 4)), so Keras need not run an iterator dry to count
    assert [int(part.cardinality()) for part in (data.train, data.validation, data.test)] == [
        8,
        3,
        1,
    ]
    ids, labels = next(iter(data.test))
    assert ids.shape == (2, 6) and ids.dtype == tf.int64 and labels.dtype == tf.int32
    vocabulary = data.vocabulary
    assert vocabulary[:2] == ["", "[UNK]"]
    assert ids.numpy()[0].tolist() == [
        vocabulary.index("great"),
        vocabulary.index("film"),
        0,
        0,
        0,
        0,
    ]
    for batch_ids, _ in data.train:
        mask = batch_ids.numpy() != 0
        # right-padded: the mask of every row is a prefix of ones
        assert np.all(mask[:, :-1] | ~mask[:, 1:])


def test_vectorizer_is_fitted_on_the_training_part_only(tmp_path):
    folder = _tiny_imdb(tmp_path)
    records = [{"text": f"common words here {i}", "label": i % 2} for i in range(9)]
    records.append({"text": "unicorn", "label": 1})
    _write_jsonl(folder / "train.jsonl.gz", records)
    for seed in range(20):
        data = imdb.datasets(folder, vocab_size=50, max_len=4, validation_fraction=0.1, seed=seed)
        validation_texts = [ids.numpy() for ids, _ in data.validation.unbatch()]
        unicorn_held_out = any(row[0] == 1 and row[1] == 0 for row in validation_texts)
        assert unicorn_held_out == ("unicorn" not in data.vocabulary)
        if unicorn_held_out:
            return
    pytest.fail("no seed put the 'unicorn' review into the validation split")


def test_real_imdb_counts(data_dir):
    folder = data_dir / "imdb"
    if not folder.is_dir():
        pytest.skip(f"IMDB not found at {folder}")
    for split in imdb.SPLITS:
        texts, labels = imdb.load_texts(split, folder, download=False)
        assert len(texts) == 25_000
        assert np.bincount(labels).tolist() == [12_500, 12_500]
        assert labels[:12_500].max() == 0  # neg first, then pos
        if split == "train":  # the first positive review is train/pos/0_9.txt
            assert texts[12_500].startswith("Bromwell High is a cartoon comedy")
