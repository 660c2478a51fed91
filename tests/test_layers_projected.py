"""Layers with `inputs_projected=True` (inputs that are x_t W already) and the language model's
folded inference copy: the same outputs, states and gradients as the unfolded forms."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_pairs import KINDS, outputs_and_gradients

import zoo.layers
from zoo import export
from zoo.layers import engine
from zoo.models import fold_embedding, inference_model, language_model

UNITS, DIM = 5, 4
TINY = {"base": "small", "units": 12, "num_steps": 6, "dropout": 0.5}


def pair(kind: str, **kwargs):
    """(layer on x, the same layer on x W with inputs_projected): same recurrent kernel and
    bias, both returning sequences and states, built."""
    layer_class, fixed = KINDS[kind][1], KINDS[kind][2]
    arguments = {**fixed, "return_sequences": True, "return_state": True, **kwargs}
    plain = layer_class(UNITS, **arguments)
    plain.build((None, None, DIM))
    projected = layer_class(UNITS, inputs_projected=True, **arguments)
    projected.build((None, None, plain.cell.kernel.shape[1]))
    kernel, *rest = plain.get_weights()
    projected.set_weights(rest)
    return plain, projected, kernel


def float_inputs(seed=0, batch=3, steps=6):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, steps, DIM)).astype("float32")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("generic", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_projected_layer_equals_the_layer_on_x_w(kind, generic, use_bias):
    plain, projected, kernel = pair(kind, use_bias=use_bias, recurrent_dropout=0.0)
    x = float_inputs()
    with engine.generic_loop() if generic else np.errstate():
        want, want_grads = outputs_and_gradients(plain, [x])
        got, got_grads = outputs_and_gradients(projected, [x @ kernel])
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    # gradients: the inputs' (x W's times W^T is x's), then the recurrent kernel and the bias
    np.testing.assert_allclose(got_grads[0] @ kernel.T, want_grads[0], atol=1e-5, rtol=0)
    assert len(got_grads) == len(want_grads) - 1  # no kernel
    for a, b in zip(want_grads[2:], got_grads[1:]):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_projected_layer_with_mask_initial_state_and_recurrent_dropout(kind):
    plain, projected, kernel = pair(kind, recurrent_dropout=0.3, seed=2)
    x = float_inputs(1)
    mask = np.array([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5])
    states = [np.full((3, UNITS), 0.1, "float32") for _ in plain.cell.get_initial_state(3)]
    want = plain(x, mask=mask, initial_state=states, training=False)
    got = projected(x @ kernel, mask=mask, initial_state=states, training=False)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    keras.utils.set_random_seed(3)
    trained = projected(x @ kernel, training=True)  # recurrent dropout still allowed
    assert all(np.isfinite(np.asarray(t)).all() for t in trained)


@pytest.mark.parametrize("kind", KINDS)
def test_weights_count_and_config(kind):
    _, projected, _ = pair(kind)
    assert [w.name for w in projected.weights] == ["recurrent_kernel", "bias"]
    assert projected.cell.kernel is None and projected.inputs_projected is True
    fixed = KINDS[kind][2]
    cell = "gru_v1" if fixed.get("reset_after") is False else kind.split("_")[0]
    expected = zoo.layers.count_params(cell, DIM, UNITS, inputs_projected=True)
    assert projected.count_params() == expected
    assert (
        expected == zoo.layers.count_params(cell, DIM, UNITS) - DIM * projected.cell.blocks * UNITS
    )
    config = projected.get_config()
    assert config["inputs_projected"] is True
    assert type(projected).from_config(config).get_config() == config
    assert "inputs_projected" not in pair(kind)[0].get_config()  # default: Keras's config


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_projected_inputs_are_checked(layer_class):
    blocks = layer_class.cell_class.blocks
    layer = layer_class(UNITS, inputs_projected=True, name="rnn")
    with pytest.raises(ValueError, match=rf"last axis must be {blocks} x units = {blocks * UNITS}"):
        layer(np.zeros((2, 3, DIM), "float32"))
    with pytest.raises(ValueError, match="dropout: expected 0 with inputs_projected=True"):
        layer_class(UNITS, inputs_projected=True, dropout=0.1)
    with pytest.raises(ValueError, match="inputs_projected: expected True or False, got 1"):
        layer_class(UNITS, inputs_projected=1)


@pytest.mark.parametrize("cell_class", [zoo.layers.PeepholeLSTMCell, zoo.layers.LayerNormLSTMCell])
def test_cells_without_projected_inputs_refuse_them(cell_class):
    name = cell_class.__name__
    with pytest.raises(ValueError, match=f"inputs_projected: {name} does not take projected"):
        cell_class(UNITS, inputs_projected=True)
    key = "peephole_lstm" if "Peephole" in name else "layernorm_lstm"
    with pytest.raises(ValueError, match="Unknown argument"):
        zoo.layers.count_params(key, DIM, UNITS, inputs_projected=True)
    layer_class = getattr(zoo.layers, name.removesuffix("Cell"))
    with pytest.raises(ValueError, match="inputs_projected"):
        layer_class(UNITS, inputs_projected=True)


def tokens(vocab=30):
    return np.random.default_rng(0).integers(0, vocab, (3, 9)).astype("int32")


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1"])
def test_folded_inference_model_computes_the_same(cell, tmp_path):
    model = language_model(cell, "zoo", TINY, vocab_size=30)
    plain, folded = inference_model(model), inference_model(model, fold_embedding=True)
    want = plain.predict(tokens(), verbose=0)
    np.testing.assert_allclose(folded.predict(tokens(), verbose=0), want, atol=1e-6, rtol=0)
    gates = model.recurrent[0].cell.blocks * 12
    assert folded.layers[0].embeddings.shape == (30, gates)
    assert folded.layers[1].inputs_projected and folded.layers[1].cell.kernel is None
    assert not folded.layers[2].inputs_projected
    assert folded.count_params() == plain.count_params() + 30 * (gates - 12) - 12 * gates
    folded.save(tmp_path / "folded.keras")
    loaded = keras.saving.load_model(tmp_path / "folded.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(tokens(), verbose=0), want, atol=1e-6, rtol=0)


def test_folded_inference_model_exports_and_serves(tmp_path):
    model = language_model("lstm", "zoo", TINY, vocab_size=30)
    folded = inference_model(model, fold_embedding=True)
    vocabulary = ["<unk>", *(f"w{i}" for i in range(29))]
    path = export.export_saved_model(
        folded, tmp_path / "lm", "language_model", vocabulary=vocabulary
    )
    assert export.portability_problems(path) == []
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    log_probs = served(token_ids=tf.constant(tokens()))["log_probs"].numpy()
    want = tf.nn.log_softmax(inference_model(model).predict(tokens(), verbose=0)).numpy()
    np.testing.assert_allclose(log_probs, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "cell,impl,message",
    [
        ("lstm", "keras", "cell 'lstm', impl 'keras'"),
        ("peephole_lstm", "zoo", "cell 'peephole_lstm', impl 'zoo'"),
    ],
)
def test_fold_embedding_needs_a_zoo_layer_that_takes_projected_inputs(cell, impl, message):
    model = language_model(cell, impl, TINY, vocab_size=30)
    with pytest.raises(ValueError, match=f"fold_embedding: needs a zoo layer.*{message}"):
        inference_model(model, fold_embedding=True)
    with pytest.raises(ValueError, match="fold_embedding: expected True or False, got 'yes'"):
        inference_model(model, fold_embedding="yes")


def test_fold_embedding_of_a_sequential_keeps_the_other_layers_and_the_input():
    model = keras.Sequential(
        [
            keras.Input((7,), batch_size=3, dtype="int32", name="ids"),
            keras.layers.Embedding(30, 6, mask_zero=True),
            zoo.layers.GRU(5, return_sequences=True, go_backwards=True, dropout=0.2),
            zoo.layers.LSTM(4),
            keras.layers.Dense(2),
        ]
    )
    ids = np.random.default_rng(1).integers(0, 30, (3, 7)).astype("int32")
    ids[1, 4:] = 0  # padding: the folded Embedding masks it the same way
    folded = fold_embedding(model)
    assert folded.inputs[0].shape == (3, 7) and folded.inputs[0].name == "ids"
    assert folded.layers[1].go_backwards and folded.layers[1].dropout == 0.0
    np.testing.assert_allclose(folded(ids), model(ids), atol=1e-6, rtol=0)


def functional():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


@pytest.mark.parametrize(
    "build,message",
    [
        (functional, "model: expected a keras.Sequential, got Functional"),
        (
            lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
            "expected an Embedding followed by a recurrent layer, got layers \\['Dense'\\]",
        ),
        (
            lambda: keras.Sequential(
                [
                    keras.Input((3,), dtype="int32"),
                    keras.layers.Embedding(9, 4),
                    keras.layers.LSTM(2),
                ]
            ),
            "its layer 'lstm.*' \\(LSTM\\) does not take projected inputs",
        ),
    ],
)
def test_fold_embedding_names_what_the_model_lacks(build, message):
    with pytest.raises(ValueError, match=message):
        fold_embedding(build())


def test_fold_embedding_copies_states_and_merges_lora():
    ids = np.random.default_rng(1).integers(0, 30, (3, 7)).astype("int32")
    stateful = keras.Sequential(
        [
            keras.Input((7,), batch_size=3, dtype="int32"),
            keras.layers.Embedding(30, 6),
            zoo.layers.LSTM(5, stateful=True, return_sequences=True),
            keras.layers.Dense(2),
        ]
    )
    stateful(ids)  # the states now hold the end of this batch
    folded = fold_embedding(stateful)
    np.testing.assert_allclose(folded(ids), stateful(ids), atol=1e-6, rtol=0)
    lora = keras.Sequential(
        [keras.Input((7,), dtype="int32"), keras.layers.Embedding(30, 6), zoo.layers.GRU(5)]
    )
    lora.layers[0].enable_lora(2)
    lora.layers[0].lora_embeddings_b.assign(np.ones((2, 6), "float32"))  # a non-zero update
    np.testing.assert_allclose(fold_embedding(lora)(ids), lora(ids), atol=1e-6, rtol=0)


def test_fold_embedding_refuses_a_folded_model_and_counts_check_the_option():
    folded = inference_model(language_model("lstm", "zoo", TINY, 30), fold_embedding=True)
    with pytest.raises(ValueError, match="has inputs_projected=True already: the model is folded"):
        fold_embedding(folded)
    with pytest.raises(ValueError, match="inputs_projected: expected True or False, got 'no'"):
        zoo.layers.count_params("lstm", DIM, UNITS, inputs_projected="no")
