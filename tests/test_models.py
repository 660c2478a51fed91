"""The language model and the sentiment classifier: shapes, state carry, initialization,
parameter budgets, impl parity and argument errors."""

import keras
import numpy as np
import pytest

import zoo.layers
from zoo.models import (
    SequencePooling,
    configs,
    inference_model,
    language_model,
    layer_widths,
    sentiment_classifier,
)
from zoo.models.language_model import KERAS_EQUIVALENTS

TINY = {"base": "small", "units": 12, "layers": 2, "num_steps": 6, "batch_size": 3}


def tokens(batch=3, steps=6, vocab=50, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, (batch, steps)).astype("int32")


@pytest.mark.parametrize("cell", sorted(zoo.layers.CELLS))
def test_every_cell_builds_and_carries_state(cell):
    model = language_model(cell, "zoo", TINY, vocab_size=50)
    x = tokens()
    logits, states = model(x)
    assert logits.shape == (3, 6, 50)
    assert len(states) == 2 and all(s.shape == (3, 12) for layer in states for s in layer)
    first, carried = model(x[:, :4])
    second, _ = model(x[:, 4:], carried)
    np.testing.assert_allclose(np.concatenate([first, second], 1), logits, atol=1e-5)
    restarted, _ = model(x[:, 4:])  # zero states: a different prediction
    assert not np.allclose(restarted, second, atol=1e-4)


def test_paper_initialization_uniform_everywhere_and_no_forget_bias():
    model = language_model("lstm", "zoo", TINY, vocab_size=50)
    for weight in model.trainable_weights:
        values = np.asarray(weight)
        assert np.abs(values).max() <= 0.1 and values.std() > 0.03, weight.path
    assert model.recurrent[0].cell.unit_forget_bias is False


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1", "rnn"])
def test_zoo_and_keras_impls_compute_the_same(cell):
    zoo_model = language_model(cell, "zoo", TINY, vocab_size=50)
    keras_model = language_model(cell, "keras", TINY, vocab_size=50)
    assert isinstance(keras_model.recurrent[0], getattr(keras.layers, KERAS_EQUIVALENTS[cell][0]))
    keras_model.set_weights(zoo_model.get_weights())
    np.testing.assert_allclose(zoo_model(tokens())[0], keras_model(tokens())[0], atol=1e-5)


def test_budget_matching_sizes_gru_to_lstm_parameters():
    lstm = language_model("lstm", "zoo", "small")
    gru = language_model("gru", "zoo", "small", budget="match:lstm")
    assert layer_widths("gru", 200, 2) == [200, 200]
    for units, layers, argument in ((0, 2, "units"), (200, 0, "layers"), (200, 1.5, "layers")):
        with pytest.raises(ValueError, match=f"{argument}: expected a positive integer"):
            layer_widths("gru", units, layers, budget="match:lstm")
    assert gru.widths[0] > 200  # a GRU layer has ~3/4 of an LSTM layer's parameters
    for layer, reference in zip(gru.recurrent, lstm.recurrent):
        miss = abs(layer.count_params() - reference.count_params())
        for other in (layer.cell.units - 1, layer.cell.units + 1):  # the closest width
            count = zoo.layers.count_params("gru", layer.cell.input_dim, other)
            assert miss <= abs(count - reference.count_params())


def test_summary_prints_parameter_counts(capsys):
    model = language_model("gru", "zoo", TINY, vocab_size=50, summary=True)
    assert f"Total params: {model.count_params():,}" in capsys.readouterr().out


def test_dropout_draws_a_fresh_mask_every_timestep():
    model = language_model("lstm", "zoo", {**TINY, "dropout": 0.5}, vocab_size=50)
    dropped = np.asarray(model.dropouts[0](np.ones((4, 6, 12)), training=True)) == 0
    assert 0.3 < dropped.mean() < 0.7
    assert any((dropped[:, t] != dropped[:, 0]).any() for t in range(1, 6))


def test_learning_rate_schedules_of_the_paper():
    small = [configs.lr_at(configs.PTB["small"], e) for e in range(7)]
    assert small == [1, 1, 1, 1, 0.5, 0.25, 0.125]
    medium = [configs.lr_at(configs.PTB["medium"], e) for e in range(7)]
    assert medium[:6] == [1] * 6 and medium[6] == pytest.approx(1 / 1.2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cell": "tcn"}, "cell: expected one of"),
        ({"impl": "torch"}, "impl: expected one of"),
        ({"config": "huge"}, "config: expected one of"),
        ({"config": {"base": "small", "width": 3}}, "config: unknown keys \\['width'\\]"),
        ({"budget": "match:tcn"}, "budget: unknown cell"),
        ({"budget": "half"}, "budget: expected"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        language_model(**{"config": TINY, "vocab_size": 50, **kwargs})


def test_keras_impl_of_a_cell_without_builtin_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(zoo.layers.CELLS, "mystery", zoo.layers.LSTMCell)
    assert "mystery" not in KERAS_EQUIVALENTS
    with pytest.raises(ValueError, match="no built-in Keras layer"):
        language_model("mystery", "keras", TINY, vocab_size=50)


@pytest.mark.parametrize("impl", ["zoo", "keras"])
def test_classifier_ignores_padding(impl):
    model = sentiment_classifier("gru", impl, vocab_size=30, embedding_dim=8, units=6, layers=2)
    short = model(np.array([[5, 6, 7, 0, 0]]))
    long = model(np.array([[5, 6, 7, 0, 0, 0, 0, 0]]))
    np.testing.assert_allclose(short, long, atol=1e-6)
    assert short.shape == (1, 1)


@pytest.mark.parametrize("impl", ["zoo", "keras"])
@pytest.mark.parametrize("pooling,reduce", [("mean", np.mean), ("max", np.max)])
def test_classifier_pools_over_the_real_tokens_only(impl, pooling, reduce, tmp_path):
    model = sentiment_classifier("lstm", impl, vocab_size=30, embedding_dim=8, units=6,
                                 pooling=pooling)  # fmt: skip
    ids = np.array([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
    recurrent, pooled = model.get_layer("bi_lstm_0"), model.get_layer(f"{pooling}_pooling")
    features = keras.Model(model.inputs, [recurrent.output, pooled.output])
    sequences, got = (keras.ops.convert_to_numpy(t) for t in features(ids))
    assert sequences.shape == (2, 5, 12) and got.shape == (2, 12)
    for row, length in enumerate((3, 2)):
        np.testing.assert_allclose(got[row], reduce(sequences[row, :length], axis=0), atol=1e-6)
    longer = np.pad(ids, ((0, 0), (0, 4)))
    np.testing.assert_allclose(model(ids), model(longer), atol=1e-6)
    model.save(tmp_path / "pooled.keras")
    loaded = keras.saving.load_model(tmp_path / "pooled.keras")
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_sequence_pooling_gives_zeros_for_an_all_padding_row(mode):
    x = np.arange(12, dtype="float32").reshape(2, 3, 2) - 20.0
    mask = np.array([[True, False, True], [False, False, False]])
    got = keras.ops.convert_to_numpy(SequencePooling(mode)(x, mask=mask))
    want = {"mean": np.mean, "max": np.max}[mode](x[0, [0, 2]], axis=0)
    np.testing.assert_allclose(got, [want, [0.0, 0.0]])
    with pytest.raises(ValueError, match="mode: expected 'mean' or 'max', got 'sum'"):
        SequencePooling("sum")
    with pytest.raises(ValueError, match="pooling: expected one of"):
        sentiment_classifier("lstm", vocab_size=30, pooling="sum")


def test_classifier_bidirectional_doubles_the_recurrent_parameters():
    one_way = sentiment_classifier(
        "lstm", vocab_size=30, embedding_dim=8, units=6, bidirectional=False
    )
    both = sentiment_classifier("lstm", vocab_size=30, embedding_dim=8, units=6)
    recurrent = zoo.layers.count_params("lstm", 8, 6)
    assert both.count_params() - one_way.count_params() == recurrent + 6  # + Dense weights
    with pytest.raises(ValueError, match="units: expected a positive integer"):
        sentiment_classifier("lstm", units=0)


def test_classifier_can_freeze_its_embedding(tmp_path):
    frozen = sentiment_classifier("gru", vocab_size=30, embedding_dim=8, embedding_trainable=False)
    embedding = frozen.get_layer("embedding")
    assert all(weight is not embedding.embeddings for weight in frozen.trainable_weights)
    assert sum(int(np.prod(w.shape)) for w in frozen.non_trainable_weights) == 30 * 8
    frozen.save(tmp_path / "frozen.keras")
    loaded = keras.saving.load_model(tmp_path / "frozen.keras", safe_mode=True)
    assert not loaded.get_layer("embedding").trainable
    with pytest.raises(ValueError, match="embedding_trainable: expected True or False, got 0"):
        sentiment_classifier("lstm", vocab_size=30, embedding_trainable=0)


@pytest.mark.parametrize("cell,impl", [("lstm", "zoo"), ("gru", "zoo"), ("lstm", "keras")])
def test_inference_model_computes_the_same_and_round_trips(cell, impl, tmp_path):
    config = {"base": "small", "units": 12, "num_steps": 6, "dropout": 0.5}
    model = language_model(cell, impl, config, vocab_size=30, budget="same_width")
    tokens = np.random.default_rng(0).integers(0, 30, (3, 9)).astype("int32")
    want = keras.ops.convert_to_numpy(model(tokens)[0])
    copy = inference_model(model)
    assert [layer.__class__.__name__ for layer in copy.layers][0] == "Embedding"
    assert copy.count_params() == model.count_params()
    np.testing.assert_allclose(copy.predict(tokens, verbose=0), want, atol=1e-6)
    copy.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0), want, atol=1e-6)


@pytest.mark.parametrize(
    "cell,impl,budget",
    [("lstm", "zoo", "same_width"), ("gru", "zoo", "match:lstm"), ("gru", "keras", "same_width")],
)
def test_language_model_saves_and_loads_whole(cell, impl, budget, tmp_path):
    config = {"base": "small", "units": 12, "num_steps": 6, "dropout": 0.5}
    model = language_model(cell, impl, config, vocab_size=30, budget=budget, seed=4)
    x = tokens(vocab=30)
    first, carried = model(x[:, :4])
    model.save(tmp_path / "lm.keras")
    loaded = keras.saving.load_model(tmp_path / "lm.keras", safe_mode=True)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    assert (loaded.cell_name, loaded.impl, loaded.widths) == (cell, impl, model.widths)
    for copy, original in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(copy, original, err_msg=original.path)
    loaded_first, loaded_carried = loaded(x[:, :4])
    np.testing.assert_array_equal(loaded_first, first)
    np.testing.assert_array_equal(loaded(x[:, 4:], loaded_carried)[0], model(x[:, 4:], carried)[0])
    # the dropout (rate and seed) came back too: same masks in training mode
    keras.utils.set_random_seed(1)
    dropped = keras.ops.convert_to_numpy(model(x, training=True)[0])
    keras.utils.set_random_seed(1)
    assert loaded.dropouts[0].rate == 0.5
    np.testing.assert_array_equal(loaded(x, training=True)[0], dropped)


def test_language_model_refuses_a_bad_cell_when_built_from_a_config():
    config = language_model("lstm", "zoo", TINY, vocab_size=50).get_config()
    with pytest.raises(ValueError, match="cell: expected one of"):
        zoo.models.LanguageModel.from_config({**config, "cell": "lstmm"})


def test_a_mixed_precision_language_model_reloads_in_mixed_precision(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = language_model("lstm", "zoo", TINY, vocab_size=50)
        model.save(tmp_path / "lm.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    loaded = keras.saving.load_model(tmp_path / "lm.keras", safe_mode=True)
    policies = {layer.dtype_policy.name for layer in [loaded.embedding, *loaded.recurrent]}
    assert policies | {loaded.decoder.dtype_policy.name} == {"mixed_float16"}
    np.testing.assert_array_equal(loaded(tokens())[0], model(tokens())[0])
