"""Sample text from a trained word-level language model.

At each step the model reads the prompt and the words drawn so far (from zero states) and the
next word is drawn from softmax(logits / temperature) over the vocabulary, excluding `exclude`
(by default `<unk>`, which PTB's preprocessing made the most frequent word). Temperature 1
samples the model's own distribution; lower values sharpen it towards the greedy choice.
Rereading the prefix costs O(n^2) in the text length, which is nothing for a paragraph. The
model runs on the engine's generic loop (`zoo.layers.engine.generic_loop`): the fused loop would
compile an XLA program for every new prefix length.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import keras
import numpy as np

from zoo.layers.engine import generic_loop

UNK = "<unk>"


def sample_words(
    model: keras.Model,
    vocabulary: Sequence[str],
    prompt: str,
    num_words: int,
    temperature: float = 1.0,
    seed: int = 0,
    exclude: Sequence[str] = (UNK,),
) -> list[str]:
    """`num_words` words drawn after `prompt`.

    Args:
        model: token ids (1, T) -> next-token logits (1, T, V), e.g. a run directory's
            `model.keras` or `zoo.models.inference_model(...)`.
        vocabulary: id -> word, V entries (a run directory's `vocab.txt`).
        prompt: words separated by whitespace; words outside the vocabulary read as `<unk>`.
        num_words: how many words to draw (>= 1).
        temperature: > 0; the logits are divided by it before the softmax.
        seed: seed of the draws (same seed, same text).
        exclude: words never drawn.

    Returns:
        The drawn words (the prompt not included).
    """
    words = prompt.split() if isinstance(prompt, str) else []
    if not words:
        raise ValueError(f"prompt: expected a string of at least one word, got {prompt!r}")
    if isinstance(num_words, bool) or not isinstance(num_words, numbers.Integral) or num_words < 1:
        raise ValueError(f"num_words: expected a positive integer, got {num_words!r}")
    if not isinstance(temperature, numbers.Real) or not 0 < temperature < float("inf"):
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    if isinstance(exclude, str):
        raise ValueError(f"exclude: expected a sequence of words, got the string {exclude!r}")
    word_to_id = {word: index for index, word in enumerate(vocabulary)}
    if len(word_to_id) != len(vocabulary):
        raise ValueError("vocabulary: expected distinct words (line i is the word of id i)")
    outside = [word for word in words if word not in word_to_id]
    if outside and UNK not in word_to_id:
        raise ValueError(
            f"prompt: {outside[0]!r} is not in the vocabulary, which has no {UNK} to read it as"
        )
    ids = [word_to_id[word if word in word_to_id else UNK] for word in words]
    allowed = np.ones(len(vocabulary), dtype=bool)
    allowed[[word_to_id[word] for word in exclude if word in word_to_id]] = False
    if not allowed.any():
        raise ValueError("exclude: it holds every word of the vocabulary; none is left to draw")
    rng = np.random.default_rng(seed)
    drawn = []
    with generic_loop():
        for _ in range(num_words):
            logits = keras.ops.convert_to_numpy(model(np.asarray([ids], dtype="int32")))[0, -1]
            if logits.shape != (len(vocabulary),):
                raise ValueError(
                    f"vocabulary: {len(vocabulary)} words, but the model scores {logits.shape[-1]}"
                )
            logits = logits.astype("float64")
            # Shifted to <= 0 before the division: a tiny temperature then sends the others to
            # -inf (probability 0), never the top word to +inf.
            with np.errstate(over="ignore"):
                scaled = np.where(allowed, (logits - logits[allowed].max()) / temperature, -np.inf)
            probabilities = np.exp(scaled)
            next_id = int(rng.choice(len(vocabulary), p=probabilities / probabilities.sum()))
            ids.append(next_id)
            drawn.append(vocabulary[next_id])
    return drawn
