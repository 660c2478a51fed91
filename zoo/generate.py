"""Sample text from a trained word-level language model.

The model reads the prompt once, from zero states; then each next word is drawn from
softmax(logits / temperature) over the vocabulary, excluding `exclude` (by default `<unk>`,
which PTB's preprocessing made the most frequent word), and fed back as a one-word input from
the states the model reached, so a text of n words costs O(n) model steps. Temperature 1
samples the model's own distribution; lower values sharpen it towards the greedy choice. The
model runs on the engine's generic loop (`zoo.layers.engine.generic_loop`): the fused loop
would compile an XLA program for the prompt's length and again for one-word inputs.

Command line: `zoo generate SOURCE --prompt "the company said" [--words 30] [--temperature 1]
[--seed 0] [--vocab PATH] [--keep-unk]` where SOURCE is a `.keras` file or a `zoo train ptb` run
directory holding `model.keras`; the vocabulary is `--vocab` (default `vocab.txt` next to the
model: one word a line, line i is id i). It prints the prompt (its words joined by single
spaces) and the drawn words on one line; `--keep-unk` lets `<unk>` be drawn. An input it
cannot use is reported in one line on stderr (`zoo generate: ...`), exit status 1. Keras is
imported inside the functions, as in the other subcommand modules.
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.checks import integer_at_least
from zoo.export import (
    MODEL_FILE,
    VOCAB_FILE,
    ExportError,
    load_keras_model,
    output_shape,
    read_vocabulary,
    resolve_model_file,
)

if TYPE_CHECKING:
    import keras

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
        model: a language model: a Sequential Embedding -> recurrent layers -> Dense over the
            vocabulary (a run directory's `model.keras`, `zoo.models.inference_model(...)`,
            folded or not; Dropout layers are skipped and a softmax Dense is read before its
            softmax), or a whole `zoo.models.LanguageModel`.
        vocabulary: id -> word, V entries (a run directory's `vocab.txt`).
        prompt: words separated by whitespace; words outside the vocabulary read as `<unk>`.
        num_words: how many words to draw (>= 1).
        temperature: > 0; the logits are divided by it before the softmax.
        seed: seed of the draws (>= 0; same seed, same text).
        exclude: words never drawn.

    Returns:
        The drawn words (the prompt not included).
    """
    import numpy as np

    from zoo.layers.engine import generic_loop

    words = prompt.split() if isinstance(prompt, str) else []
    if not words:
        raise ValueError(f"prompt: expected a string of at least one word, got {prompt!r}")
    if isinstance(num_words, bool) or not isinstance(num_words, numbers.Integral) or num_words < 1:
        raise ValueError(f"num_words: expected a positive integer, got {num_words!r}")
    if not isinstance(temperature, numbers.Real) or not 0 < temperature < float("inf"):
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    integer_at_least("seed", seed, 0)
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
    score = next_word_scorer(model)
    rng = np.random.default_rng(seed)
    drawn = []
    with generic_loop():
        logits, states = score(ids, None)
        if logits.shape != (len(vocabulary),):
            raise ValueError(
                f"vocabulary: {len(vocabulary)} words, but the model scores {logits.shape[-1]}"
            )
        while True:
            logits = logits.astype("float64")
            # Shifted to <= 0 before the division: a tiny temperature then sends the others to
            # -inf (probability 0), never the top word to +inf.
            with np.errstate(over="ignore"):
                scaled = np.where(allowed, (logits - logits[allowed].max()) / temperature, -np.inf)
            probabilities = np.exp(scaled)
            next_id = int(rng.choice(len(vocabulary), p=probabilities / probabilities.sum()))
            drawn.append(vocabulary[next_id])
            if len(drawn) == num_words:
                return drawn
            logits, states = score([next_id], states)


def next_word_scorer(model: keras.Model) -> Callable[[list[int], list | None], tuple]:
    """`score(ids, states) -> (logits (V,) of the word after ids[-1], new states)`: `model` run
    over the token ids `ids` from `states` (None: zero states), one row.

    A `zoo.models.LanguageModel` carries its states itself. A Sequential language model
    (`zoo.export.language_model_parts`: Embedding -> recurrent layers -> Dense) runs through
    stateless copies of its recurrent layers that return their final states
    (`zoo.export.stateless_twin`), and its Dense before any softmax, on the last layer's h
    (the output of the last unmasked step, as when the whole text is read at once).
    """
    import keras
    import numpy as np

    from zoo.export import language_model_parts, stateless_twin
    from zoo.models import LanguageModel

    def as_batch(ids: list[int]):
        return np.asarray([ids], dtype="int32")

    if isinstance(model, LanguageModel):

        def score_language_model(ids, states):
            logits, new_states = model(as_batch(ids), states, training=False)
            return keras.ops.convert_to_numpy(logits)[0, -1], new_states

        return score_language_model
    embedding, recurrent, dense = language_model_parts(model)
    twins = [stateless_twin(layer) for layer in recurrent]

    def score_sequential(ids, states):
        tokens = as_batch(ids)
        x, mask = embedding(tokens), embedding.compute_mask(tokens)
        new_states = []
        for twin, state in zip(twins, states or [None] * len(twins)):
            x, *final = twin(x, initial_state=state, mask=mask, training=False)
            new_states.append(final)
        # The last layer's h, not x[:, -1]: at a masked step (a drawn id 0 under mask_zero) the
        # state keeps the last real output, while a one-word call outputs zeros there.
        logits = keras.ops.matmul(new_states[-1][0], dense.kernel)
        if dense.use_bias:
            logits = logits + dense.bias
        return keras.ops.convert_to_numpy(logits)[0], new_states

    return score_sequential


# ----------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `zoo generate`."""
    parser.add_argument(
        "source",
        type=Path,
        help=f"a .keras language model, or a `zoo train ptb` run directory holding {MODEL_FILE}",
    )
    parser.add_argument(
        "--prompt", required=True, help="the words to continue, separated by spaces"
    )
    parser.add_argument("--words", type=int, default=30, help="how many words to draw (30)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="> 0; the logits are divided by it before the softmax (1.0: the model's own "
        "distribution; lower: closer to the most probable word)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (0)")
    parser.add_argument(
        "--vocab",
        type=Path,
        help=f"one word a line, line i is id i (default: {VOCAB_FILE} next to the model)",
    )
    parser.add_argument(
        "--keep-unk", action="store_true", help=f"allow drawing {UNK} (excluded by default)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the prompt and `--words` words drawn after it; 1 with a one-line error."""
    try:
        check_options(args.words, args.temperature, args.seed)
        model_file = resolve_model_file(args.source)
        model = load_keras_model(model_file)
        scored = scored_words(model, model_file)
        vocab_path = args.vocab or model_file.parent / VOCAB_FILE
        if not Path(vocab_path).is_file():
            raise ExportError(
                f"{vocab_path}: no such vocabulary file (--vocab, or {VOCAB_FILE} beside the model)"
            )
        vocabulary = read_vocabulary(vocab_path)
        if scored is not None and scored != len(vocabulary):
            raise ExportError(
                f"{vocab_path}: {len(vocabulary)} words, but the model scores {scored}"
            )
        words = sample_words(
            model,
            vocabulary,
            args.prompt,
            args.words,
            temperature=args.temperature,
            seed=args.seed,
            exclude=() if args.keep_unk else (UNK,),
        )
    except (ExportError, OSError, ValueError) as error:
        print(f"zoo generate: {error}", file=sys.stderr)
        return 1
    print(" ".join([*args.prompt.split(), *words]))
    return 0


def check_options(num_words: int, temperature: float, seed: int) -> None:
    """A ValueError naming `--words`, `--temperature` or `--seed` when it is out of range."""
    if num_words < 1:
        raise ValueError(f"--words: expected a positive integer, got {num_words}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"--temperature: expected a positive number, got {temperature}")
    if seed < 0:
        raise ValueError(f"--seed: expected an integer >= 0, got {seed}")


def scored_words(model: keras.Model, model_file: Path) -> int | None:
    """How many words `model` scores (None where its output shape does not say); an
    ExportError unless it maps token ids (B, T) to scores (B, T, V)."""
    shape = output_shape(model)
    if len(shape) != 3:
        raise ExportError(
            f"{model_file}: not a language model (its output has shape {shape}; expected "
            "next-word logits (batch, time, vocabulary))"
        )
    return shape[-1]
