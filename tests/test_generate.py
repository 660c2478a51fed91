"""Sampling from a language model: the draws follow softmax(logits / T), seeded, checked."""

import re

import keras
import numpy as np
import pytest

from zoo.generate import sample_words

VOCABULARY = ["<unk>", "a", "b", "c"]


def fixed_model(logits: list[float]) -> keras.Model:
    """Every position scores the vocabulary with `logits`, whatever the input."""
    tokens = keras.Input((None,), dtype="int32")
    one_hot = keras.layers.Embedding(4, 1, embeddings_initializer="zeros")(tokens)
    scores = keras.layers.Dense(4, kernel_initializer="zeros", bias_initializer="zeros")(one_hot)
    model = keras.Model(tokens, scores)
    model.layers[-1].bias.assign(np.asarray(logits, dtype="float32"))
    return model


def test_draws_follow_the_tempered_softmax_and_never_unk():
    model = fixed_model([5.0, 0.0, np.log(3.0), -20.0])  # p(a) : p(b) = 1 : 3 without <unk>
    words = sample_words(model, VOCABULARY, "a b", 400, seed=1)
    assert "<unk>" not in words and "c" not in words
    assert words.count("b") / 400 == pytest.approx(0.75, abs=0.06)
    sharp = sample_words(model, VOCABULARY, "a", 200, temperature=0.1, seed=1)
    assert sharp.count("b") >= 199  # (1/3) ** 10 per draw


def test_same_seed_same_text_and_unknown_prompt_words_read_as_unk():
    model = fixed_model([0.0, 1.0, 1.0, 1.0])
    first = sample_words(model, VOCABULARY, "zebra a", 20, seed=5)
    assert first == sample_words(model, VOCABULARY, "zebra a", 20, seed=5)
    assert first != sample_words(model, VOCABULARY, "zebra a", 20, seed=6)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"prompt": "  "}, "prompt: expected a string of at least one word"),
        ({"prompt": ["a"]}, "prompt: expected a string of at least one word, got"),
        ({"num_words": 0}, "num_words: expected a positive integer"),
        ({"temperature": 0.0}, "temperature: expected a positive number"),
        ({"temperature": "1"}, "temperature: expected a positive number, got '1'"),
        ({"temperature": float("inf")}, "temperature: expected a positive number, got inf"),
        ({"exclude": "<unk>"}, "exclude: expected a sequence of words, got the string"),
        ({"vocabulary": ["a", "b", "a", "c"]}, "vocabulary: expected distinct words"),
        ({"vocabulary": ["a", "b"]}, "vocabulary: 2 words, but the model scores 4"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"vocabulary": VOCABULARY, "prompt": "a", "num_words": 3, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        sample_words(fixed_model([0.0] * 4), **arguments)


def test_a_tiny_temperature_draws_the_top_word_and_nothing_is_left_is_an_error():
    model = fixed_model([0.0, 1.0, 3.0, 2.0])
    assert sample_words(model, VOCABULARY, "a", 5, temperature=1e-310) == ["b"] * 5
    with pytest.raises(ValueError, match="exclude: it holds every word of the vocabulary"):
        sample_words(model, VOCABULARY, "a", 1, exclude=VOCABULARY)


def test_a_prompt_word_outside_a_vocabulary_without_unk_is_named():
    with pytest.raises(ValueError, match="prompt: 'qq' is not in the vocabulary, which has no"):
        sample_words(fixed_model([0.0] * 4), ["w", "x", "y", "z"], "qq y", 1)


def test_numpy_integers_are_integers():
    words = sample_words(fixed_model([0.0] * 4), VOCABULARY, "a", np.int64(2), seed=0)
    assert len(words) == 2
