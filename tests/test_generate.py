"""Sampling from a language model: the draws follow softmax(logits / T), seeded, checked."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo.layers
from zoo import models
from zoo.cli import main
from zoo.generate import sample_words

VOCABULARY = ["<unk>", "a", "b", "c"]


def fixed_model(logits: list[float], activation: str | None = None) -> keras.Model:
    """Every position scores the vocabulary with `logits`, whatever the input: an LSTM with
    zero weights outputs h = 0, so the Dense gives its bias."""
    zeros = {"kernel_initializer": "zeros", "bias_initializer": "zeros"}
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(4, 1, embeddings_initializer="zeros"),
            zoo.layers.LSTM(1, return_sequences=True, recurrent_initializer="zeros", **zeros),
            keras.layers.Dense(4, activation=activation, **zeros),
        ]
    )
    model.layers[-1].bias.assign(np.asarray(logits, dtype="float32"))
    return model


def rereading_reference(model, vocabulary, prompt, num_words, seed):
    """The words drawn by rereading the whole text from zero states before every draw."""
    rng, ids = np.random.default_rng(seed), [vocabulary.index(w) for w in prompt.split()]
    for _ in range(num_words):
        logits = keras.ops.convert_to_numpy(model(np.asarray([ids], "int32")))[0, -1]
        logits = logits.astype("float64")
        logits[vocabulary.index("<unk>")] = -np.inf
        probabilities = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(vocabulary), p=probabilities / probabilities.sum())))
    return [vocabulary[i] for i in ids[len(prompt.split()) :]]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carried_states_draw_what_rereading_the_text_draws(cell):
    vocabulary = ["<unk>", *[f"w{i}" for i in range(11)]]
    keras.utils.set_random_seed(0)
    lm = models.language_model(cell, "zoo", {"base": "small", "units": 8}, len(vocabulary))
    for layer in lm.recurrent:  # larger weights: the next word depends on the history
        layer.cell.recurrent_kernel.assign(layer.cell.recurrent_kernel * 20)
    plain = models.inference_model(lm)
    want = rereading_reference(plain, vocabulary, "w1 w2 w3", 12, seed=4)
    assert len(set(want)) > 3
    for model in (plain, models.inference_model(lm, fold_embedding=True), lm):
        assert sample_words(model, vocabulary, "w1 w2 w3", 12, seed=4) == want


def test_drawing_a_masked_id_keeps_the_distribution_of_the_text_read_whole():
    """Under Embedding(mask_zero=True) a drawn id 0 is a masked step: read whole, the text's
    next-word scores are those after its last real word; fed back alone, they must be too."""
    vocabulary = ["<pad>", "<unk>", *[f"w{i}" for i in range(6)]]
    keras.utils.set_random_seed(1)
    normal = keras.initializers.RandomNormal(stddev=3.0)  # states far from 0
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(
                len(vocabulary), 4, mask_zero=True, embeddings_initializer=normal
            ),
            zoo.layers.GRU(5, return_sequences=True, recurrent_initializer="glorot_uniform"),
            keras.layers.LSTM(5, return_sequences=True),
            keras.layers.Dense(len(vocabulary)),
        ]
    )
    dense = model.layers[-1]
    dense.kernel.assign(dense.kernel * 8)  # the scores depend strongly on the last output
    dense.bias.assign(np.asarray([2.0] + [0.0] * 7, "float32"))  # <pad> drawn now and then
    want = rereading_reference(model, vocabulary, "w1 w2", 30, seed=0)
    assert want.count("<pad>") >= 3
    assert sample_words(model, vocabulary, "w1 w2", 30, seed=0) == want


def test_a_softmax_output_is_read_before_its_softmax():
    logits = [0.0, 1.0, np.log(3.0), -1.0]
    assert sample_words(fixed_model(logits, "softmax"), VOCABULARY, "a", 20, seed=2) == (
        sample_words(fixed_model(logits), VOCABULARY, "a", 20, seed=2)
    )


def test_a_model_that_is_not_a_language_model_is_named():
    tokens = keras.Input((None,), dtype="int32")
    scores = keras.layers.Dense(4)(keras.layers.Embedding(4, 2)(tokens))
    with pytest.raises(ValueError, match="a language model must be Embedding -> recurrent"):
        sample_words(keras.Model(tokens, scores), VOCABULARY, "a", 2)


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
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
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


# ----------------------------------------------------------------------------- zoo generate


def save_run(model: keras.Model, run_dir: Path, vocabulary: list[str] = VOCABULARY) -> Path:
    """A `zoo train ptb`-shaped run directory: model.keras and vocab.txt."""
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    (run_dir / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return run_dir


def generate(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(["generate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_prints_the_prompt_and_the_words_sample_words_draws(tmp_path, capsys):
    model = fixed_model([0.0, 1.0, 0.5, 2.0])
    run_dir = save_run(model, tmp_path / "run")
    code, out, err = generate(
        [str(run_dir), "--prompt", "a b", "--words", "5", "--seed", "3"], capsys
    )
    assert code == 0, err
    expected = sample_words(model, VOCABULARY, "a b", 5, seed=3)
    assert out == " ".join(["a", "b", *expected]) + "\n"
    # a .keras file as SOURCE; the prompt's words are printed joined by single spaces
    argv = ["--prompt", " a\n b ", "--words", "5", "--seed", "3", "--temperature", "0.5"]
    code, out, err = generate([str(run_dir / "model.keras"), *argv], capsys)
    assert code == 0, err
    expected = sample_words(model, VOCABULARY, "a b", 5, temperature=0.5, seed=3)
    assert out == " ".join(["a", "b", *expected]) + "\n"


def test_cli_reads_the_vocabulary_given_by_vocab(tmp_path, capsys):
    model = fixed_model([0.0, 1.0, 0.5, 2.0])
    (tmp_path / "lm").mkdir()
    model.save(tmp_path / "lm" / "model.keras")  # no vocab.txt beside it
    words = ["<unk>", "x", "y", "z"]
    (tmp_path / "words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    argv = [str(tmp_path / "lm"), "--prompt", "y", "--words", "4", "--vocab"]
    code, out, err = generate([*argv, str(tmp_path / "words.txt")], capsys)
    assert code == 0, err
    assert out == " ".join(["y", *sample_words(model, words, "y", 4)]) + "\n"


def test_cli_keep_unk_lets_unk_be_drawn(tmp_path, capsys):
    model = fixed_model([10.0, 0.0, 0.0, 0.0])  # <unk> all but certain
    run_dir = save_run(model, tmp_path / "run")
    code, out, _ = generate([str(run_dir), "--prompt", "a", "--words", "10"], capsys)
    assert code == 0 and "<unk>" not in out and len(out.split()) == 11
    code, out, _ = generate([str(run_dir), "--prompt", "a", "--words", "10", "--keep-unk"], capsys)
    assert code == 0 and out.split()[1:].count("<unk>") >= 9


def test_cli_runs_the_zoo_lstm_inference_model(tmp_path, capsys):
    vocabulary = ["<unk>", *[f"w{i}" for i in range(11)]]
    keras.utils.set_random_seed(0)
    lm = models.language_model("lstm", "zoo", config="small", vocab_size=len(vocabulary))
    save_run(models.inference_model(lm), tmp_path / "run", vocabulary)
    code, out, err = generate([str(tmp_path / "run"), "--prompt", "w1 w2", "--words", "4"], capsys)
    assert code == 0, err
    words = out.split()
    assert words[:2] == ["w1", "w2"] and len(words) == 6
    assert set(words[2:]) <= set(vocabulary[1:])


def sentiment_shaped_model() -> keras.Model:
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(4, 2)(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(embedded)
    return keras.Model(tokens, keras.layers.Dense(1)(pooled))


def test_cli_reports_bad_inputs_in_one_line(tmp_path, capsys):
    run_dir = save_run(fixed_model([0.0] * 4), tmp_path / "run")
    missing = tmp_path / "missing"

    def error(*argv: str) -> str:
        code, out, err = generate([*argv], capsys)
        assert code == 1 and out == "" and err.count("\n") == 1, (code, out, err)
        assert err.startswith("zoo generate: ")
        return err.removeprefix("zoo generate: ").rstrip("\n")

    assert error(str(missing), "--prompt", "a") == (
        f"{missing}: no such file (expected a .keras file or a run directory holding model.keras)"
    )
    assert error(str(run_dir), "--prompt", "a", "--vocab", str(missing)) == (
        f"{missing}: no such vocabulary file (--vocab, or vocab.txt beside the model)"
    )
    assert error(str(run_dir), "--prompt", "a", "--words", "0") == (
        "--words: expected a positive integer, got 0"
    )
    assert error(str(run_dir), "--prompt", "a", "--temperature", "0") == (
        "--temperature: expected a positive number, got 0.0"
    )
    assert error(str(run_dir), "--prompt", "a", "--seed", "-1") == (
        "--seed: expected an integer >= 0, got -1"
    )
    assert error(str(run_dir), "--prompt", " ") == (
        "prompt: expected a string of at least one word, got ' '"
    )
    sentiment = tmp_path / "sentiment"
    sentiment.mkdir()
    sentiment_shaped_model().save(sentiment / "model.keras")  # and no vocab.txt
    assert error(str(sentiment), "--prompt", "a") == (
        f"{sentiment / 'model.keras'}: not a language model (its output has shape (None, 1); "
        "expected next-word logits (batch, time, vocabulary))"
    )
    (tmp_path / "three.txt").write_text("<unk>\na\nb\n", encoding="utf-8")
    assert error(str(run_dir), "--prompt", "a", "--vocab", str(tmp_path / "three.txt")) == (
        f"{tmp_path / 'three.txt'}: 3 words, but the model scores 4"
    )
    (tmp_path / "blank.txt").write_text("<unk>\na\n\nc\n", encoding="utf-8")
    assert error(str(run_dir), "--prompt", "a", "--vocab", str(tmp_path / "blank.txt")) == (
        f"{tmp_path / 'blank.txt'}: line 3 is empty (expected one token a line)"
    )
    (tmp_path / "spaced.txt").write_text("<unk>\na \nb\nc\n", encoding="utf-8")
    assert error(str(run_dir), "--prompt", "a", "--vocab", str(tmp_path / "spaced.txt")) == (
        f"{tmp_path / 'spaced.txt'}: line 2, 'a ', has spaces around its token"
    )
    (tmp_path / "twice.txt").write_text("<unk>\na\nb\na\n", encoding="utf-8")
    assert error(str(run_dir), "--prompt", "a", "--vocab", str(tmp_path / "twice.txt")) == (
        "vocabulary: expected distinct words (line i is the word of id i)"
    )
