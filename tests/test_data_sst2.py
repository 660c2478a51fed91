"""SST-2: trees and GLUE TSV parsing, source selection, errors, real split sizes."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from zoo.data import sst2
from zoo.data.download import DataNotFoundError

TREES = {
    "train.txt": [
        "(4 (3 (2 A) (3 (2 -LRB-) (3 (3 great) (2 -RRB-)))) (2 film))",
        "(2 (2 It) (2 exists))",
        "(0 (1 (2 Awful) (2 and\\/or)) (1 dull))",
        "(3 (2 Nice) (2 .))",
        "(1 (2 Not) (2 good))",
    ],
    "dev.txt": ["(3 (2 Fine) (2 film))", "(1 (2 Weak) (2 film))"],
    "test.txt": ["(4 (2 Superb) (2 !))", "(2 (2 Meh) (2 .))", "(0 (2 Terrible) (2 !))"],
}
GLUE = {
    "train.tsv": "sentence\tlabel\ngreat film \t1\nawful \t0\nnice \t1\n",
    "dev.tsv": "sentence\tlabel\nfine film \t1\nweak film \t0\n",
}


@pytest.fixture(autouse=True)
def _no_tfds(monkeypatch):
    """Keep a locally installed tensorflow-datasets out of these tests."""
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)


def _write_trees(folder):
    (folder / "trees").mkdir(parents=True, exist_ok=True)
    for name, lines in TREES.items():
        (folder / "trees" / name).write_text("\n".join(lines) + "\n")
    return folder


def _write_glue(folder):
    (folder / "SST-2").mkdir(parents=True, exist_ok=True)
    for name, text in GLUE.items():
        (folder / "SST-2" / name).write_text(text)
    return folder


def test_trees_leaves_joined_neutral_dropped(tmp_path):
    texts, labels = sst2.load_texts("train", _write_trees(tmp_path), source="trees")
    assert texts == ["A ( great ) film", "Awful and/or dull", "Nice .", "Not good"]
    assert labels.dtype == np.int32 and labels.tolist() == [1, 0, 1, 0]


def test_glue_tsv(tmp_path):
    texts, labels = sst2.load_texts("validation", _write_glue(tmp_path), source="glue")
    assert texts == ["fine film", "weak film"]
    assert labels.tolist() == [1, 0]


def test_auto_prefers_trees_then_glue(tmp_path):
    _write_glue(tmp_path)
    assert sst2.load_texts("train", tmp_path)[0] == ["great film", "awful", "nice"]
    _write_trees(tmp_path)
    assert sst2.load_texts("train", tmp_path)[0][0] == "A ( great ) film"


def test_glue_has_no_labelled_test_split(tmp_path):
    with pytest.raises(ValueError, match="no labelled test split.*source='trees'"):
        sst2.load_texts("test", _write_glue(tmp_path), source="glue")


@pytest.mark.parametrize("bad_line", ["(3 (2 unbalanced) (2 tree)", "3 no tree", "(7 (2 x))"])
def test_malformed_tree_names_file_and_line(tmp_path, bad_line):
    _write_trees(tmp_path)
    path = tmp_path / "trees" / "dev.txt"
    path.write_text(f"{TREES['dev.txt'][0]}\n{bad_line}\n")
    with pytest.raises(ValueError, match=r"dev\.txt, line 2"):
        sst2.load_texts("validation", tmp_path, source="trees")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("sentence\tlabel\nok \t1\nmissing label\n", 3),
        ("sentence\tlabel\nbad label \t5\n", 2),
        ("index\tsentence\n0\tunlabelled\n", 1),
    ],
)
def test_malformed_tsv_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "train.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"train\.tsv, line {line}:"):
        sst2.read_glue_tsv(path)


def test_missing_source_without_download(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        sst2.load_texts("train", tmp_path, source="trees", download=False)
    message = str(caught.value)
    assert str(tmp_path / "trees") in message and "trainDevTestTrees_PTB.zip" in message


def test_tfds_source_needs_tensorflow_datasets(tmp_path):
    with pytest.raises(DataNotFoundError, match="tensorflow-datasets"):
        sst2.load_texts("train", tmp_path, source="tfds")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="split"):
        sst2.load_texts("dev", tmp_path)
    with pytest.raises(ValueError, match="source"):
        sst2.load_texts("train", tmp_path, source="csv")


def test_datasets_from_trees_and_glue(tmp_path):
    _write_trees(tmp_path / "a")
    data = sst2.datasets(tmp_path / "a", vocab_size=30, max_len=5, batch_size=2)
    sizes = [
        sum(int(y.shape[0]) for _, y in part) for part in (data.train, data.validation, data.test)
    ]
    assert sizes == [4, 2, 2]
    ids, _ = next(iter(data.validation))
    assert ids.shape == (2, 5)
    glue = sst2.datasets(_write_glue(tmp_path / "b"), vocab_size=30, max_len=5)
    assert glue.test is None


def test_real_sst2_sizes(data_dir):
    folder = data_dir / "sst"
    if not folder.is_dir():
        pytest.skip(f"SST not found at {folder}")
    expected = {"train": (3310, 3610), "validation": (428, 444), "test": (912, 909)}
    for split, counts in expected.items():
        _, labels = sst2.load_texts(split, folder, source="trees", download=False)
        assert tuple(np.bincount(labels).tolist()) == counts
    assert len(sst2.load_texts("train", folder, source="glue", download=False)[0]) == 67_349
    glue_dev = sst2.load_texts("validation", folder, source="glue", download=False)
    trees_dev = sst2.load_texts("validation", folder, source="trees", download=False)
    assert sorted(zip(glue_dev[0], glue_dev[1].tolist(), strict=True)) == sorted(
        zip([text.lower() for text in trees_dev[0]], trees_dev[1].tolist(), strict=True)
    )
