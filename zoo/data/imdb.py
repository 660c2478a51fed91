"""IMDB movie reviews (Maas et al. 2011): 25,000 train / 25,000 test, 12,500 per label, and
50,000 unlabelled reviews (`load_unlabelled_texts`, for pretraining word vectors).

`data_dir` is the IMDB folder itself (default `$ZOO_DATA_DIR/imdb`, else the user cache). The
first of these that exists is used:

1. `<data_dir>/{train,test,unsup}.jsonl.gz`: gzip JSON Lines, one review a line with fields
   "text" and "label" (0 negative, 1 positive, -1 unlabelled), as in the shared offline copy;
2. `<data_dir>/aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt` (and `aclImdb/train/unsup/`):
   the raw Stanford layout;
3. TFDS `imdb_reviews` (splits train, test, unsupervised), when tensorflow-datasets is
   installed and has (or may download) it;
4. the Stanford archive aclImdb_v1.tar.gz, downloaded (md5-checked) and extracted to layout 2.

Reviews come in the order neg then pos, each by numeric id (layouts 1 and 2).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

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
from zoo.data.text import (
    TextDatasets,
    fit_vectorizer,
    load_tfds_texts,
    split_off_validation,
    vectorized_dataset,
)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
UNLABELLED = -1
ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ACLIMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"


def load_texts(
    split: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    url: str = ACLIMDB_URL,
) -> tuple[list[str], np.ndarray]:
    """The raw reviews of `split` ("train" or "test") and their labels.

    Args:
        split: "train" or "test".
        data_dir: the IMDB folder (see the module docstring for the layouts it may hold).
        download: allow TFDS or the Stanford archive at `url` to fetch missing data.
        url: where aclImdb_v1.tar.gz is served.

    Returns:
        (texts, labels): raw review strings (with their `<br />` tags) and an int32 array of
        0 (negative) / 1 (positive), same length.

    Raises:
        DataNotFoundError: no layout present and nothing could be fetched.
        ValueError: a malformed JSONL line (names the file and line number).
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    directory = resolve_data_dir("imdb", data_dir)
    jsonl = directory / f"{split}.jsonl.gz"
    if jsonl.is_file():
        return read_jsonl(jsonl)
    if (directory / "aclImdb").is_dir():
        return read_aclimdb(directory / "aclImdb", split)
    attempts = []
    try:
        from_tfds = load_tfds_texts("imdb_reviews", split, "text", download)
    except Exception as error:  # TFDS reports missing or unreachable data with various types
        attempts.append(f"TFDS imdb_reviews: {error}")
    else:
        if from_tfds is not None:
            return from_tfds
        attempts.append("TFDS imdb_reviews: tensorflow-datasets is not installed")
    if not download:
        attempts.append(skipped_download(url))
    else:
        try:
            return read_aclimdb(download_aclimdb(directory, url), split)
        except (DownloadError, PermissionError) as error:
            attempts.append(str(error))
    how = (
        f"put {split}.jsonl.gz (gzip JSON Lines with fields text, label) or the extracted "
        f"aclImdb/ folder of {ACLIMDB_URL} in that folder."
    )
    looked_in = [jsonl, directory / "aclImdb"]
    raise DataNotFoundError(missing_data_message("IMDB", "imdb", looked_in, how, attempts))


def load_unlabelled_texts(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    url: str = ACLIMDB_URL,
) -> list[str]:
    """The 50,000 unlabelled reviews (`aclImdb/train/unsup`), raw, in id order.

    They share no film with the test set (Maas et al. 2011), so they may be used for
    pretraining, e.g. `zoo.data.word_vectors.ppmi_svd_vectors`.

    Args:
        data_dir, download, url: as in `load_texts`; the layouts are `unsup.jsonl.gz` (label
            -1), `aclImdb/train/unsup/*.txt`, TFDS `imdb_reviews` split "unsupervised", the
            Stanford archive.

    Raises:
        DataNotFoundError: no layout present and nothing could be fetched.
    """
    directory = resolve_data_dir("imdb", data_dir)
    jsonl = directory / "unsup.jsonl.gz"
    if jsonl.is_file():
        return read_jsonl(jsonl, labels=(UNLABELLED,))[0]
    folder = directory / "aclImdb" / "train" / "unsup"
    if folder.is_dir():
        return _read_folder(folder)
    attempts = []
    try:
        from_tfds = load_tfds_texts("imdb_reviews", "unsupervised", "text", download)
    except Exception as error:  # TFDS reports missing or unreachable data with various types
        attempts.append(f"TFDS imdb_reviews: {error}")
    else:
        if from_tfds is not None:
            return from_tfds[0]
        attempts.append("TFDS imdb_reviews: tensorflow-datasets is not installed")
    if not download:
        attempts.append(skipped_download(url))
    elif (directory / "aclImdb").is_dir():
        attempts.append(
            f"{directory / 'aclImdb'} exists without train/unsup/: add that folder of "
            f"{ACLIMDB_URL}, or delete aclImdb/ to download the archive again"
        )
    else:
        try:
            return _read_folder(download_aclimdb(directory, url) / "train" / "unsup")
        except (DownloadError, PermissionError) as error:
            attempts.append(str(error))
    how = (
        f"put unsup.jsonl.gz (gzip JSON Lines with fields text, label -1) or the extracted "
        f"aclImdb/train/unsup/ folder of {ACLIMDB_URL} in that folder."
    )
    raise DataNotFoundError(
        missing_data_message("IMDB unlabelled", "imdb", [jsonl, folder], how, attempts)
    )


def read_jsonl(
    path: str | os.PathLike, labels: tuple[int, ...] = (0, 1)
) -> tuple[list[str], np.ndarray]:
    """(texts, int32 labels) from a gzip JSON Lines file with fields "text" and "label".

    Args:
        path: the file.
        labels: the labels allowed: (0, 1) for the labelled splits, (-1,) for unsup.
    """
    texts, found = [], []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line_number, line in enumerate(stream, start=1):
                text, label = _labelled_review(line, path, line_number, labels)
                texts.append(text)
                found.append(label)
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError, zlib.error) as error:
        raise ValueError(
            f"{path}: expected gzip-compressed JSON Lines in UTF-8 ({type(error).__name__}: "
            f"{error})"
        ) from None
    if not texts:
        raise ValueError(f"{path}: expected gzip-compressed JSON Lines; it holds no review")
    return texts, np.asarray(found, dtype=np.int32)


def _labelled_review(
    line: str, path: str | os.PathLike, line_number: int, labels: tuple[int, ...]
) -> tuple[str, int]:
    """(text, label) of one JSON Lines record; a ValueError naming the file and line."""
    try:
        record = json.loads(line)
        text, label = record["text"], record["label"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}, line {line_number}: expected a JSON object with fields "
            f'"text" and "label" ({error})'
        ) from None
    if not isinstance(text, str) or isinstance(label, bool) or label not in labels:
        allowed = " or ".join(str(value) for value in labels)
        raise ValueError(
            f"{path}, line {line_number}: expected a string text and a label of "
            f"{allowed}, got label {label!r}"
        )
    return text, label


def read_aclimdb(root: str | os.PathLike, split: str) -> tuple[list[str], np.ndarray]:
    """(texts, int32 labels) from the raw layout `root/<split>/{neg,pos}/<id>_<rating>.txt`."""
    texts, labels = [], []
    for folder, label in LABELS.items():
        directory = Path(root) / split / folder
        if not directory.is_dir():
            raise DataNotFoundError(f"{directory}: missing (expected the aclImdb/ layout)")
        reviews = _read_folder(directory)
        texts += reviews
        labels += [label] * len(reviews)
    return texts, np.asarray(labels, dtype=np.int32)


def _read_folder(directory: Path) -> list[str]:
    """The texts of `directory/<id>_<rating>.txt`, by numeric id; a ValueError naming the
    folder when it holds none, or the file that is not UTF-8 text."""
    paths = sorted(directory.glob("*.txt"), key=_review_id)
    if not paths:
        raise ValueError(f"{directory}: expected reviews <id>_<rating>.txt; the folder has none")
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: expected a review in UTF-8 text ({error})") from None
    return texts


def _review_id(path: Path) -> int:
    """The numeric id of a review file named `<id>_<rating>.txt`."""
    try:
        return int(path.name.split("_")[0])
    except ValueError:
        raise ValueError(f"{path}: expected a file name <id>_<rating>.txt") from None


def download_aclimdb(directory: Path, url: str = ACLIMDB_URL) -> Path:
    """Download the Stanford archive and extract its reviews to `directory/aclImdb`.

    Only `aclImdb/{train,test}/{neg,pos}/*.txt` and `aclImdb/train/unsup/*.txt` are extracted
    (not the bag-of-words files); the archive is deleted after.
    """
    archive = download_file(url, directory / "aclImdb_v1.tar.gz", "md5", ACLIMDB_MD5)
    root = extract_members(archive, directory, "aclImdb", _is_review)
    archive.unlink()
    return root


def _is_review(path: PurePosixPath) -> bool:
    """Whether an archive member is `aclImdb/<split>/<neg|pos>/*.txt` or `aclImdb/train/unsup/*`."""
    parts = path.parts
    if len(parts) != 4 or path.suffix != ".txt" or parts[1] not in SPLITS:
        return False
    return parts[2] in LABELS or parts[1:3] == ("train", "unsup")


def datasets(
    data_dir: str | os.PathLike | None = None,
    vocab_size: int = 20000,
    max_len: int = 400,
    batch_size: int = 32,
    validation_fraction: float = 0.1,
    seed: int = 1337,
    download: bool = True,
) -> TextDatasets:
    """Vectorized IMDB: train / validation (carved from train with `seed`) / test.

    The `TextVectorization` (see `zoo.data.text`) is fitted on the training part only, without
    the validation reviews. With the defaults: 22,500 / 2,500 / 25,000 reviews, batches of
    (32, 400) int64 ids and (32,) int32 labels.
    """
    integer_at_least("seed", seed, 0)  # before the data load
    train_texts, train_labels = load_texts("train", data_dir, download)
    test_texts, test_labels = load_texts("test", data_dir, download)
    train_index, validation_index = split_off_validation(
        len(train_texts), validation_fraction, seed
    )
    fit_texts = [train_texts[i] for i in train_index]
    vectorizer = fit_vectorizer(fit_texts, vocab_size, max_len)
    return TextDatasets(
        train=vectorized_dataset(
            fit_texts, train_labels[train_index], vectorizer, batch_size, shuffle_seed=seed
        ),
        validation=vectorized_dataset(
            [train_texts[i] for i in validation_index],
            train_labels[validation_index],
            vectorizer,
            batch_size,
        ),
        test=vectorized_dataset(test_texts, test_labels, vectorizer, batch_size),
        vectorizer=vectorizer,
        train_texts=tuple(fit_texts),
    )
