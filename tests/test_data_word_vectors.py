"""PPMI-SVD word vectors: tokenization, counts and PPMI against brute force, the vectors."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data import word_vectors

VOCABULARY = ["", "[UNK]", "good", "film", "great", "bad", "awful", "plot", "the", "a"]


def test_token_ids_tokenize_like_the_vectorizer_and_keep_whole_texts():
    ids = word_vectors.token_ids(["Good film!<br />Bad, BAD movie", ""], VOCABULARY)
    assert [row.tolist() for row in ids] == [[2, 3, 5, 5, 1], []]


def brute_force_counts(sequences, vocab_size, window):
    counts = np.zeros((vocab_size, vocab_size))
    for sequence in sequences:
        for t, word in enumerate(sequence):
            for context in sequence[t + 1 : t + 1 + window]:
                if word and context:
                    counts[word, context] += 1
                    counts[context, word] += 1
    return counts


@pytest.mark.parametrize("window", [1, 2, 4])
def test_cooccurrence_counts_equal_brute_force(window):
    rng = np.random.default_rng(window)
    sequences = [rng.integers(0, 7, size) for size in (0, 1, 3, 9, 12)]
    counts = word_vectors.cooccurrence_counts(sequences, 7, window)
    np.testing.assert_array_equal(counts.toarray(), brute_force_counts(sequences, 7, window))


def test_cooccurrence_counts_name_bad_arguments():
    with pytest.raises(ValueError, match="window: expected a positive integer"):
        word_vectors.cooccurrence_counts([np.array([2, 3])], 5, 0)
    with pytest.raises(ValueError, match=r"sequences: expected ids in \[0, 5\)"):
        word_vectors.cooccurrence_counts([np.array([2, 5])], 5, 2)
    with pytest.raises(ValueError, match=r"ids in \[0, 5\), got -1"):
        word_vectors.cooccurrence_counts([np.array([2, 3]), np.array([-1])], 5, 2)


def test_ppmi_equals_the_dense_formula():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, (6, 6)).astype(float)
    counts = counts + counts.T
    counts[5] = counts[:, 5] = 0  # a word that never co-occurs
    got = word_vectors.ppmi(counts).toarray()
    context = counts.sum(axis=0) ** 0.75
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * context.sum() / np.outer(counts.sum(axis=1), context))
    want = np.where(counts > 0, np.maximum(pmi, 0.0), 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def synonym_corpus(count: int = 400) -> list[str]:
    """'good'/'great' share contexts, 'bad'/'awful' share others."""
    rng = np.random.default_rng(1)
    texts = []
    for _ in range(count):
        positive = rng.random() < 0.5
        word = rng.choice(["good", "great"] if positive else ["bad", "awful"])
        context = ["a", "film"] if positive else ["the", "plot"]
        words = list(rng.choice(context, 3)) + [word] + list(rng.choice(context, 3))
        texts.append(" ".join(words))
    return texts


def test_vectors_are_unit_rows_that_put_synonyms_together():
    vectors = word_vectors.ppmi_svd_vectors(synonym_corpus(), VOCABULARY, dim=4, window=2)
    assert vectors.shape == (10, 4) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], 0.0)
    np.testing.assert_allclose(np.linalg.norm(vectors[2:], axis=1), 1.0, rtol=1e-5)
    good, great, bad, awful = vectors[[2, 4, 5, 6]]
    assert good @ great > 0.9 and bad @ awful > 0.9
    assert good @ bad < 0.5 and great @ awful < 0.5


def test_vectors_are_deterministic_for_a_seed():
    first = word_vectors.ppmi_svd_vectors(synonym_corpus(), VOCABULARY, dim=3, seed=5)
    again = word_vectors.ppmi_svd_vectors(synonym_corpus(), VOCABULARY, dim=3, seed=5)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("dim", [0, 9, 2.5])
def test_vectors_name_a_bad_dim(dim):
    with pytest.raises(ValueError, match=r"dim: expected an integer in \[1, 9\)"):
        word_vectors.ppmi_svd_vectors(["good film"], VOCABULARY, dim=dim)
