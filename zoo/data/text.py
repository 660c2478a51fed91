"""Shared text-classification pipeline: standardization, vectorization, tf.data, TFDS reading.

Used by `zoo.data.imdb` and `zoo.data.sst2`. The vectorizer maps a string to `max_len` token
ids: 0 is padding, 1 is out-of-vocabulary, 2.. are the `vocab_size - 2` most frequent training
words. Sequences are truncated at the end and padded at the end (right-padded), so a mask
`ids != 0` is a prefix of ones, as cuDNN-backed recurrent layers require.
"""

from __future__ import annotations

import numbers
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zoo.checks import integer_at_least, positive_int

PUNCTUATION_PATTERN = f"[{re.escape(string.punctuation)}]"
LINE_BREAK_PATTERN = r"<br\s*/?>"
VECTORIZE_CHUNK = 1024


@keras.saving.register_keras_serializable(package="zoo")
def standardize(text: tf.Tensor) -> tf.Tensor:
    """Lowercase, turn `<br />` tags into spaces and delete ASCII punctuation.

    Plain TensorFlow string ops, so it runs in-graph (tf.data, SavedModel) on a string tensor
    of any shape and returns a string tensor of the same shape. Registered as "zoo>standardize"
    so a saved `TextVectorization` that uses it can be reloaded.
    """
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, LINE_BREAK_PATTERN, " ")
    return tf.strings.regex_replace(text, PUNCTUATION_PATTERN, "")


@dataclass(frozen=True)
class TextDatasets:
    """Batched `(token_ids, labels)` datasets and the vectorizer fitted on the training texts.

    Elements are `(int64 ids of shape (batch, max_len), int32 labels of shape (batch,))`.
    `train` is reshuffled every epoch (seeded); `validation` and `test` keep their order.
    `test` is None when the source has no labelled test split. `train_texts` are the raw texts
    behind `train` (those the vectorizer was fitted on), e.g. for pretraining word vectors.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset | None
    vectorizer: keras.layers.TextVectorization
    train_texts: tuple[str, ...] = ()

    @property
    def vocabulary(self) -> list[str]:
        """id -> token of the fitted vectorizer ("" is padding, "[UNK]" out-of-vocabulary)."""
        return [str(token) for token in self.vectorizer.get_vocabulary()]


def fit_vectorizer(
    texts: Sequence[str], vocab_size: int, max_len: int
) -> keras.layers.TextVectorization:
    """A `TextVectorization` using `standardize`, adapted to `texts` (the training texts only).

    Args:
        texts: training texts.
        vocab_size: vocabulary size including the padding and out-of-vocabulary ids.
        max_len: output length in tokens (truncated / right-padded with 0).
    """
    integer_at_least("vocab_size", vocab_size, 3)
    positive_int("max_len", max_len)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=vocab_size,
        standardize=standardize,
        output_mode="int",
        output_sequence_length=max_len,
    )
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(VECTORIZE_CHUNK))
    return vectorizer


def vectorized_dataset(
    texts: Sequence[str],
    labels: np.ndarray,
    vectorizer: keras.layers.TextVectorization,
    batch_size: int,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """Vectorize `texts` in-graph, cache the ids in memory, batch and prefetch.

    Args:
        texts, labels: examples and their integer labels (same length).
        vectorizer: a fitted `TextVectorization`.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle_seed: when given, reshuffle all examples each epoch with this seed.
    """
    if len(texts) != len(labels):
        raise ValueError(f"labels: expected {len(texts)} labels (one per text), got {len(labels)}")
    positive_int("batch_size", batch_size)
    data = tf.data.Dataset.from_tensor_slices((list(texts), np.asarray(labels, dtype=np.int32)))
    data = (
        data.batch(VECTORIZE_CHUNK)
        .map(lambda text, label: (vectorizer(text), label), num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        # unbatch loses the count; with it, Keras knows the batches of a validation pass instead
        # of running the iterator dry and warning "Your input ran out of data" every fit.
        .apply(tf.data.experimental.assert_cardinality(len(texts)))
        .cache()
    )
    if shuffle_seed is not None:
        data = data.shuffle(len(texts), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def dataset_arrays(batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """All (ids, labels) of a batched dataset of pairs as two int32 NumPy arrays."""
    ids, labels = zip(*((x.numpy(), y.numpy()) for x, y in batches))
    return np.concatenate(ids).astype(np.int32), np.concatenate(labels).astype(np.int32)


def random_rows(
    x: np.ndarray, y: np.ndarray, rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`rows` rows of (x, y) drawn without replacement with `seed`: a sample whose classes are
    mixed as in the whole split (the data files list examples by label, so their first rows
    would hold one class)."""
    pick = np.random.default_rng(seed).permutation(len(x))[:rows]
    return x[pick], y[pick]


def split_off_validation(
    count: int, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of `range(count)` into (train indices, validation indices), sorted.

    The validation part has `round(count * validation_fraction)` examples; a ValueError when
    that leaves either part empty.
    """
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, numbers.Real)
        or not 0.0 < validation_fraction < 1.0
    ):
        raise ValueError(
            f"validation_fraction: expected a number in (0, 1), got {validation_fraction!r}"
        )
    order = np.random.default_rng(integer_at_least("seed", seed, 0)).permutation(count)
    validation_count = int(round(count * validation_fraction))
    if not 0 < validation_count < count:
        raise ValueError(
            f"validation_fraction: {validation_fraction!r} of {count} examples leaves "
            f"{validation_count} for validation and {count - validation_count} for training; "
            "both need at least one"
        )
    return np.sort(order[validation_count:]), np.sort(order[:validation_count])


def load_tfds_texts(
    name: str, split: str, text_key: str, download: bool
) -> tuple[list[str], np.ndarray] | None:
    """(texts, labels) of a TFDS dataset split, or None when tensorflow-datasets is not installed.

    Args:
        name: TFDS name, e.g. "imdb_reviews" or "glue/sst2".
        split: TFDS split name.
        text_key: feature holding the text ("text", "sentence").
        download: allow TFDS to download and prepare the dataset.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    data = tfds.load(name, split=split, download=download)
    texts, labels = [], []
    for example in tfds.as_numpy(data):
        texts.append(example[text_key].decode("utf-8"))
        labels.append(int(example["label"]))
    return texts, np.asarray(labels, dtype=np.int32)
