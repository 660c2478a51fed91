"""The data layer names what is wrong: bad bytes, empty files, misplaced folders, bad seeds;
and `--data-dir` may name a dataset's folder or the folder above it."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.data import imdb, ptb, sst2, synthetic, word_vectors
from zoo.data.download import DataNotFoundError, dataset_folder, resolve_data_dir
from zoo.data.text import split_off_validation

NOT_UTF8 = b"caf\xe9 film\n"


@pytest.fixture(autouse=True)
def _no_tfds(monkeypatch):
    """Keep a locally installed tensorflow-datasets out of these tests."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


def test_sst_files_that_are_not_utf8_or_empty_are_named(tmp_path):
    bad, empty, header_only = tmp_path / "bad.txt", tmp_path / "empty.txt", tmp_path / "h.tsv"
    bad.write_bytes(NOT_UTF8)
    empty.write_text("")
    header_only.write_text("sentence\tlabel\n")
    with pytest.raises(ValueError, match=rf"^{bad}: expected UTF-8 text, one sentiment tree"):
        sst2.read_trees(bad)
    with pytest.raises(ValueError, match=rf"^{bad}: expected UTF-8 text, a GLUE SST-2 TSV"):
        sst2.read_glue_tsv(bad)
    with pytest.raises(ValueError, match=rf"^{empty}: expected one sentiment tree a line; the"):
        sst2.read_trees(empty)
    with pytest.raises(ValueError, match=rf"^{header_only}: expected sentences after the header"):
        sst2.read_glue_tsv(header_only)


def test_sst_lines_split_at_newlines_only(tmp_path):
    """A tree may hold U+2028 (a line break to str.splitlines) between its leaves; only "\\n"
    ends a tree, with or without "\\r"."""
    trees = tmp_path / "trees.txt"
    trees.write_text("(3 (2 a)\u2028(3 good))\r\n(1 (1 bad) (2 film))\n", encoding="utf-8")
    texts, labels = sst2.read_trees(trees)
    assert texts == ["a good", "bad film"] and labels.tolist() == [1, 0]


def test_a_trees_folder_missing_one_file_names_it(tmp_path):
    (tmp_path / "trees").mkdir()
    (tmp_path / "trees" / "train.txt").write_text("(3 (3 good) (2 film))\n")
    with pytest.raises(DataNotFoundError, match=r"test.txt: missing from .*trees; put the file"):
        sst2.load_texts("test", tmp_path, "trees", download=True)


def test_imdb_empty_files_and_undecodable_reviews_are_named(tmp_path):
    empty = tmp_path / "train.jsonl.gz"
    with gzip.open(empty, "wt") as stream:
        stream.write("")
    with pytest.raises(ValueError, match=rf"^{empty}: expected gzip-compressed JSON Lines; it"):
        imdb.read_jsonl(empty)
    for label in ("neg", "pos"):
        (tmp_path / "aclImdb" / "test" / label).mkdir(parents=True)
    (tmp_path / "aclImdb" / "test" / "neg" / "0_1.txt").write_bytes(NOT_UTF8)
    with pytest.raises(ValueError, match=r"0_1.txt: expected a review in UTF-8 text"):
        imdb.read_aclimdb(tmp_path / "aclImdb", "test")
    (tmp_path / "aclImdb" / "test" / "neg" / "0_1.txt").write_text("fine")
    with pytest.raises(ValueError, match=r"test/pos: expected reviews <id>_<rating>.txt; the"):
        imdb.read_aclimdb(tmp_path / "aclImdb", "test")


def test_a_boolean_label_is_not_a_class(tmp_path):
    path = tmp_path / "train.jsonl.gz"
    with gzip.open(path, "wt") as stream:
        stream.write('{"text": "fine", "label": true}\n')
    with pytest.raises(ValueError, match=r"line 1: expected a string text and a label of 0 or 1"):
        imdb.read_jsonl(path)


def test_an_unknown_checksum_algorithm_is_refused_before_any_transfer(tmp_path, monkeypatch):
    import zoo.data.download as download

    monkeypatch.setattr(download, "_copy_response", lambda *a: pytest.fail("transferred"))
    with pytest.raises(ValueError, match=r"^algorithm: expected a hashlib algorithm"):
        download.download_file("http://127.0.0.1:9/x", tmp_path / "x", "md6", "0" * 32)
    assert not list(tmp_path.iterdir())


def test_a_folder_where_a_ptb_file_belongs_is_named(tmp_path):
    for name in ("ptb.train.txt", "ptb.valid.txt"):
        (tmp_path / name).write_text("a b\n")
    (tmp_path / "ptb.test.txt").mkdir()
    with pytest.raises(ValueError, match=r"ptb.test.txt is a folder; expected the PTB text file"):
        ptb.load(tmp_path, download=False)


def test_zoo_data_dir_that_is_a_file_is_named(tmp_path, monkeypatch):
    a_file = tmp_path / "data"
    a_file.write_text("")
    monkeypatch.setenv("ZOO_DATA_DIR", str(a_file))
    with pytest.raises(ValueError, match=rf"^ZOO_DATA_DIR: {a_file} is a file; expected the"):
        resolve_data_dir("ptb")


def test_data_dir_may_name_the_dataset_or_the_folder_above(tmp_path):
    assert dataset_folder(None, "ptb") is None
    assert dataset_folder(tmp_path, "ptb") == tmp_path / "ptb"  # empty: downloads go to ptb/
    (tmp_path / "ptb.train.txt").write_text("a\n")
    assert dataset_folder(tmp_path, "ptb") == tmp_path  # holds the files itself
    (tmp_path / "ptb").mkdir()
    assert dataset_folder(tmp_path, "ptb") == tmp_path / "ptb"  # the folder above
    named = tmp_path / "imdb"
    named.mkdir()
    assert dataset_folder(named, "imdb") == named  # named after the dataset, still empty
    assert dataset_folder(tmp_path / "other", "sst") == tmp_path / "other" / "sst"
    with pytest.raises(ValueError, match=r"data_dir: .*ptb.train.txt is a file; expected the"):
        dataset_folder(tmp_path / "ptb.train.txt", "ptb")


@pytest.mark.parametrize("seed", [None, -1, 1.5, "7", True])
def test_seeds_must_be_non_negative_integers(tmp_path, seed):
    message = r"^seed: expected an integer >= 0, got "
    calls = [
        lambda: synthetic.adding_problem(4, 8, seed=seed),
        lambda: synthetic.embedded_reber_strings(4, 20, seed=seed),
        lambda: split_off_validation(10, 0.2, seed),
        lambda: imdb.datasets(tmp_path / "none", seed=seed, download=False),
        lambda: sst2.datasets(tmp_path / "none", seed=seed, download=False),
        lambda: word_vectors.ppmi_svd_vectors(
            ["a b c d"], ["", "[UNK]", "a", "b", "c"], 1, seed=seed
        ),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()


def test_a_validation_fraction_must_be_a_number():
    with pytest.raises(ValueError, match=r"^validation_fraction: expected a number in \(0, 1\)"):
        split_off_validation(100, "0.1", 1)
    train, validation = split_off_validation(100, np.float32(0.1), np.int64(1))
    assert len(validation) == 10 and len(train) == 90


def test_real_sst_and_imdb_still_load_with_their_counts(data_dir: Path):
    texts, labels = sst2.read_trees(data_dir / "sst" / "trees" / "train.txt")
    assert len(texts) == 6920 and int(labels.sum()) == 3610
    texts, labels = sst2.read_glue_tsv(data_dir / "sst" / "SST-2" / "dev.tsv")
    assert len(texts) == 872 and int(labels.sum()) == 444
