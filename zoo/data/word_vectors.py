"""Word vectors pretrained from raw text: PPMI + truncated SVD (Levy, Goldberg & Dagan 2015).

Used to initialise a classifier's embedding from text it may read without labels (IMDB's
50,000 unlabelled reviews and the training reviews). For words w and contexts c within
`window` tokens of each other, with co-occurrence counts #(w, c):

    PMI(w, c)  = log( #(w, c) * sum_c' #(c')^a / ( #(w) * #(c)^a ) ),   a = 0.75
    PPMI(w, c) = max(PMI(w, c), 0)
    PPMI ~ U S V^T   (rank `dim`, truncated SVD)
    vector(w) = (U S^(1/2))[w] / ||(U S^(1/2))[w]||

where #(w) = sum_c #(w, c) and `a` smooths the context distribution (the paper's "cds"). Row
0 (padding) and the rows of words that never co-occur are zeros. The counting is NumPy and
SciPy (sparse matrices): 67-170 s here for IMDB's 16.8 million tokens (training and unlabelled
reviews, 20,000 words, 128 dimensions), depending on the load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import tensorflow as tf
from scipy import sparse
from scipy.sparse import linalg

from zoo.checks import integer_at_least, is_integer, positive_int
from zoo.data.text import VECTORIZE_CHUNK, standardize

CONTEXT_POWER = 0.75
OOV_ID = 1


def token_ids(texts: Sequence[str], vocabulary: Sequence[str]) -> list[np.ndarray]:
    """Each text as the ids of its words under `vocabulary`, whole (no truncation, no padding).

    Tokenizes as `zoo.data.text.fit_vectorizer` does (`standardize`, then split on whitespace);
    `vocabulary` is the vectorizer's: "" (id 0, padding), "[UNK]" (id 1), then its words.
    Words outside the vocabulary get id 1.
    """
    index = {word: i for i, word in enumerate(vocabulary) if i > OOV_ID}
    ids = []
    for start in range(0, len(texts), VECTORIZE_CHUNK):
        chunk = standardize(tf.constant(list(texts[start : start + VECTORIZE_CHUNK])))
        for text in chunk.numpy():
            words = text.decode("utf-8").split()
            ids.append(np.fromiter((index.get(w, OOV_ID) for w in words), np.int64, len(words)))
    return ids


def cooccurrence_counts(
    sequences: Iterable[np.ndarray], vocab_size: int, window: int
) -> sparse.csr_matrix:
    """Symmetric counts #(w, c): how often id c occurs within `window` tokens of id w.

    Every ordered pair of positions (t, t + d) with 1 <= d <= window inside one sequence adds 1
    to #(w_t, w_{t+d}) and to #(w_{t+d}, w_t). Id 0 (padding) is never counted.

    Returns:
        A (vocab_size, vocab_size) float64 CSR matrix.
    """
    positive_int("window", window)
    gap = np.zeros(window, dtype=np.int64)
    pieces = []
    for sequence in sequences:
        pieces += [np.asarray(sequence, dtype=np.int64), gap]
    stream = np.concatenate(pieces) if pieces else gap
    outside = stream[(stream < 0) | (stream >= vocab_size)]
    if outside.size:
        raise ValueError(f"sequences: expected ids in [0, {vocab_size}), got {outside[0]}")
    counts = sparse.csr_matrix((vocab_size, vocab_size))
    for distance in range(1, window + 1):
        words, contexts = stream[:-distance], stream[distance:]
        keep = (words != 0) & (contexts != 0)
        pairs = sparse.coo_matrix(
            (np.ones(int(keep.sum())), (words[keep], contexts[keep])),
            shape=(vocab_size, vocab_size),
        ).tocsr()
        counts = counts + pairs + pairs.T
    return counts.tocsr()


def ppmi(counts: sparse.spmatrix, context_power: float = CONTEXT_POWER) -> sparse.csr_matrix:
    """Positive pointwise mutual information of a co-occurrence matrix (module docstring)."""
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    counts.eliminate_zeros()
    word_totals = np.asarray(counts.sum(axis=1)).ravel()
    context_weights = np.asarray(counts.sum(axis=0)).ravel() ** context_power
    coo = counts.tocoo()
    pmi = np.log(
        coo.data * context_weights.sum() / (word_totals[coo.row] * context_weights[coo.col])
    )
    keep = pmi > 0
    return sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)


def ppmi_svd_vectors(
    texts: Sequence[str],
    vocabulary: Sequence[str],
    dim: int,
    window: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Unit-length word vectors for `vocabulary` from the PPMI of `texts` (module docstring).

    Args:
        texts: raw texts (tokenized as the vectorizer does).
        vocabulary: the fitted vectorizer's vocabulary (id 0 padding, id 1 out-of-vocabulary).
        dim: vector size; must be below the vocabulary size.
        window: context half-width in tokens.
        seed: seeds the SVD's start vector, so the vectors are the same run after run.

    Returns:
        float32 array (len(vocabulary), dim): row i is the vector of id i; to be loaded with
        `embedding.set_weights([vectors])`.
    """
    vocab_size = len(vocabulary)
    if not is_integer(dim) or not 1 <= dim < vocab_size - 1:
        raise ValueError(
            f"dim: expected an integer in [1, {vocab_size - 1}) (below the vocabulary size), "
            f"got {dim!r}"
        )
    integer_at_least("seed", seed, 0)
    matrix = ppmi(cooccurrence_counts(token_ids(texts, vocabulary), vocab_size, window))
    start = np.random.default_rng(seed).uniform(-1.0, 1.0, vocab_size)
    left, singular, _ = linalg.svds(matrix, k=dim, v0=start)
    order = np.argsort(singular)[::-1]
    vectors = left[:, order] * np.sqrt(singular[order])
    vectors *= np.sign(vectors.sum(axis=0, keepdims=True) + 1e-30)  # SVD signs are arbitrary
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 1e-12)
    vectors[0] = 0.0
    return vectors.astype(np.float32)
