"""SST-2: binary sentence sentiment from the Stanford Sentiment Treebank.

`data_dir` is the SST folder itself (default `$ZOO_DATA_DIR/sst`, else the user cache). Sources:

- "trees": `<data_dir>/trees/{train,dev,test}.txt` (trainDevTestTrees_PTB). Sentence = the tree's
  leaves joined by spaces (-LRB-/-RRB- written as parentheses, the escapes "\\/" and "\\*" as
  "/" and "*"); root label 0-1 is negative, 3-4 positive, 2 (neutral) dropped: 6,920 / 872 /
  1,821 sentences. The validation sentences then equal GLUE's dev.tsv up to case.
- "glue": `<data_dir>/SST-2/{train,dev}.tsv` (GLUE). Train holds 67,349 phrases, dev 872
  sentences; GLUE's test split has no labels, so asking it for "test" is an error.
- "tfds": TFDS `glue/sst2` (same content as "glue"), when tensorflow-datasets is installed.
- "auto": "trees" if its folder exists, else "glue" if its folder exists, else "trees"
  downloaded (sha256-checked) from Stanford.

Splits are named "train", "validation" (the dev set) and "test".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import tensorflow as tf

from zoo.checks import integer_at_least
from zoo.data.download import (
    DataNotFoundError,
    DownloadError,
    download_file,
    extract_members,
    missing_data_message,
    resolve_data_dir,
    skipped_download,
)
from zoo.data.text import TextDatasets, fit_vectorizer, load_tfds_texts, vectorized_dataset

SPLITS = ("train", "validation", "test")
SOURCES = ("auto", "trees", "glue", "tfds")
TREE_FILES = {"train": "train.txt", "validation": "dev.txt", "test": "test.txt"}
GLUE_FILES = {"train": "train.tsv", "validation": "dev.tsv"}
# source -> (folder inside data_dir, archive URL, digest algorithm, expected digest)
ARCHIVES = {
    "trees": (
        "trees",
        "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",
        "sha256",
        "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc",
    ),
    "glue": (
        "SST-2",
        "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
        "md5",
        "9f81648d4199384278b86e315dac217c",
    ),
}
TREE_LINE = re.compile(r"\(([0-4]) ")
TREE_LEAF = re.compile(r"\([0-4] ([^()\s]+)\)")
BRACKETS = {"-LRB-": "(", "-RRB-": ")"}
PTB_ESCAPE = re.compile(r"\\([/*])")  # the treebank writes "/" and "*" as "\/" and "\*"


def load_texts(
    split: str,
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    download: bool = True,
) -> tuple[list[str], np.ndarray]:
    """The sentences of `split` and their labels (0 negative, 1 positive).

    Args:
        split: "train", "validation" or "test".
        data_dir: the SST folder (holding `trees/` and/or `SST-2/`).
        source: "auto", "trees", "glue" or "tfds" (see the module docstring).
        download: allow fetching a missing source (Stanford trees zip, GLUE zip, or TFDS).

    Returns:
        (texts, labels): sentence strings and an int32 array of 0/1, same length.

    Raises:
        ValueError: unknown split/source, "test" asked from GLUE, or a malformed line (names the
            file and line number).
        DataNotFoundError: the source is missing and could not be fetched.
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    directory = resolve_data_dir("sst", data_dir)
    source = resolve_source(directory, source)
    if split == "test" and source in ("glue", "tfds"):
        raise ValueError(
            f"split: GLUE SST-2 (source={source!r}) has no labelled test split; use "
            "source='trees' for the labelled 1,821-sentence test set"
        )
    if source == "tfds":
        return _load_from_tfds(split, download)
    folder = directory / ARCHIVES[source][0]
    if not folder.is_dir():
        _fetch(directory, source, download)
    path = folder / (TREE_FILES if source == "trees" else GLUE_FILES)[split]
    if not path.is_file():
        raise DataNotFoundError(
            f"{path}: missing from {folder}; put the file there, or delete {folder} to have "
            "the archive downloaded and extracted again"
        )
    return read_trees(path) if source == "trees" else read_glue_tsv(path)


def resolve_source(directory: Path, source: str) -> str:
    """The concrete source ("trees", "glue" or "tfds") that `source` means for `directory`."""
    if source not in SOURCES:
        raise ValueError(f"source: expected one of {SOURCES}, got {source!r}")
    if source != "auto":
        return source
    if (directory / "trees").is_dir() or not (directory / "SST-2").is_dir():
        return "trees"
    return "glue"


def _utf8_lines(path: str | os.PathLike, expected: str) -> list[str]:
    """The lines of `path` split at "\n" only (a sentence may hold other Unicode line breaks),
    without their "\r\n" / "\n"; a ValueError naming `path` and `expected` when it is not
    UTF-8 text."""
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: expected UTF-8 text, {expected} ({error})") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_trees(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """(sentences, int32 labels) from a PTB-format tree file, neutral roots (label 2) dropped;
    a ValueError naming `path` when it is not UTF-8 or holds no tree."""
    lines = _utf8_lines(path, "one sentiment tree a line")
    if not lines:
        raise ValueError(f"{path}: expected one sentiment tree a line; the file is empty")
    texts, labels = [], []
    for line_number, line in enumerate(lines, start=1):
        line = line.strip()
        root = TREE_LINE.match(line)
        leaves = TREE_LEAF.findall(line)
        if root is None or not leaves or line.count("(") != line.count(")"):
            raise ValueError(
                f"{path}, line {line_number}: expected a sentiment tree like "
                f"'(3 (2 word) (3 word))', got {line[:60]!r}"
            )
        root_label = int(root.group(1))
        if root_label == 2:
            continue
        words = (PTB_ESCAPE.sub(r"\1", BRACKETS.get(leaf, leaf)) for leaf in leaves)
        texts.append(" ".join(words))
        labels.append(0 if root_label < 2 else 1)
    return texts, np.asarray(labels, dtype=np.int32)


def read_glue_tsv(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """(sentences, int32 labels) from a GLUE SST-2 TSV with header `sentence<TAB>label`; a
    ValueError naming `path` when it is not UTF-8 or holds no sentence."""
    lines = _utf8_lines(path, "a GLUE SST-2 TSV")
    header = lines[0] if lines else ""
    if header != "sentence\tlabel":
        raise ValueError(
            f"{path}, line 1: expected the header 'sentence<TAB>label', got {header!r}"
        )
    if len(lines) < 2:
        raise ValueError(f"{path}: expected sentences after the header; there are none")
    texts, labels = [], []
    for line_number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2 or fields[1] not in ("0", "1"):
            raise ValueError(
                f"{path}, line {line_number}: expected 'sentence<TAB>0 or 1', "
                f"got {line.rstrip()[:60]!r}"
            )
        texts.append(fields[0].strip())
        labels.append(int(fields[1]))
    return texts, np.asarray(labels, dtype=np.int32)


def _fetch(directory: Path, source: str, download: bool) -> None:
    """Download and extract the archive of `source` into `directory`, or raise."""
    folder, url, algorithm, digest = ARCHIVES[source]
    how = (
        f"extract the {folder}/ folder of {url} into {directory}, or choose another source "
        f"({', '.join(SOURCES)})."
    )
    looked_in = [directory / folder]
    if not download:
        attempt = skipped_download(url)
        raise DataNotFoundError(missing_data_message("SST-2", "sst", looked_in, how, [attempt]))
    try:
        archive = download_file(url, directory / url.rsplit("/", 1)[1], algorithm, digest)
    except (DownloadError, PermissionError) as error:
        message = missing_data_message("SST-2", "sst", looked_in, how, [str(error)])
        raise DataNotFoundError(message) from error
    extract_members(archive, directory, folder, _archive_filter(source))
    archive.unlink()


def _archive_filter(source: str) -> Callable[[PurePosixPath], bool]:
    """Which archive members to keep: the tree .txt files, or GLUE's top-level .tsv files."""
    suffix = ".txt" if source == "trees" else ".tsv"

    def keep(path: PurePosixPath) -> bool:
        return len(path.parts) == 2 and path.suffix == suffix

    return keep


def _load_from_tfds(split: str, download: bool) -> tuple[list[str], np.ndarray]:
    """`split` of TFDS glue/sst2, or DataNotFoundError when TFDS is not installed."""
    from_tfds = load_tfds_texts("glue/sst2", split, "sentence", download)
    if from_tfds is None:
        raise DataNotFoundError(
            "source='tfds' needs tensorflow-datasets (pip install tensorflow-datasets); "
            "or use source='trees' / 'glue' with local files"
        )
    return from_tfds


def datasets(
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    vocab_size: int = 20000,
    max_len: int = 64,
    batch_size: int = 32,
    seed: int = 1337,
    download: bool = True,
) -> TextDatasets:
    """Vectorized SST-2: train / validation (the dev set) / test (None for GLUE sources).

    The `TextVectorization` (see `zoo.data.text`) is fitted on the training split only. With
    the trees: 6,920 / 872 / 1,821 sentences; batches of (32, 64) int64 ids, (32,) int32 labels.
    """
    integer_at_least("seed", seed, 0)  # before the data load
    directory = resolve_data_dir("sst", data_dir)
    source = resolve_source(directory, source)
    train_texts, train_labels = load_texts("train", directory, source, download)
    vectorizer = fit_vectorizer(train_texts, vocab_size, max_len)

    def split_dataset(split: str) -> tf.data.Dataset:
        texts, labels = load_texts(split, directory, source, download)
        return vectorized_dataset(texts, labels, vectorizer, batch_size)

    return TextDatasets(
        train=vectorized_dataset(
            train_texts, train_labels, vectorizer, batch_size, shuffle_seed=seed
        ),
        validation=split_dataset("validation"),
        test=split_dataset("test") if source == "trees" else None,
        vectorizer=vectorizer,
        train_texts=tuple(train_texts),
    )
