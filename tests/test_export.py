"""Export tests: SavedModels that load without zoo or Keras and match the in-memory models.

Four tiny models are exported once (module fixture): a language model and a sentiment model,
each with zoo layers and with built-in Keras layers, LSTM and GRU in both. One fresh Python
process, in which importing zoo or keras fails, loads all four and writes its outputs to .npy
files that the tests compare with the in-memory models.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import cli, export, layers
from zoo.data.text import fit_vectorizer
from zoo.layers import engine

VOCAB = ["<unk>", "<eos>", *(f"w{i}" for i in range(10))]
V = len(VOCAB)
BATCH, STEPS, SPLIT = 3, 7, 4
PROMPT, NUM_WORDS = "w1 w2 nowhere w3", 5
TEXTS = ["A fine, moving film.", "Dull<br />and long", "not good at all", "great great fun"]
ATOL = 1e-5


def language_model(impl: str) -> keras.Model:
    """Embedding -> LSTM -> GRU -> Dense; "keras": built-in layers, a stateful LSTM (fixed
    batch, as a PTB training model) and a softmax Dense; "zoo": zoo layers, logits."""
    if impl == "zoo":
        rnns = [layers.LSTM(6, return_sequences=True), layers.GRU(5, return_sequences=True)]
        return keras.Sequential(
            [keras.Input((None,), dtype="int32"), keras.layers.Embedding(V, 8), *rnns]
            + [keras.layers.Dropout(0.5), keras.layers.Dense(V)]
        )
    rnns = [
        keras.layers.LSTM(6, return_sequences=True, stateful=True),
        keras.layers.GRU(5, return_sequences=True),
    ]
    return keras.Sequential(
        [keras.Input((None,), batch_size=BATCH, dtype="int32"), keras.layers.Embedding(V, 8)]
        + [*rnns, keras.layers.Dense(V, activation="softmax")]
    )


def sentiment_model(impl: str, vocab_size: int) -> keras.Model:
    """Embedding(mask_zero) -> recurrent -> Dense(1): "zoo" a bidirectional zoo LSTM and a
    logit; "keras" a built-in GRU and a sigmoid probability."""
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, 8, mask_zero=True)(tokens)
    if impl == "zoo":
        x = keras.layers.Bidirectional(layers.LSTM(4))(x)
        output = keras.layers.Dense(1)(x)
    else:
        x = keras.layers.GRU(4)(x)
        output = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(tokens, output)


def reset(model: keras.Model) -> None:
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def lm_log_probs(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """The in-memory model's next-token log-probabilities (B, T, V) from zero states."""
    reset(model)
    output = keras.ops.convert_to_numpy(model(ids))
    if model.layers[-1].activation is keras.activations.softmax:
        return np.log(output)
    return keras.ops.convert_to_numpy(tf.nn.log_softmax(output))


def greedy_ids(model: keras.Model, prompt_ids: list[int], count: int) -> list[int]:
    """Greedy continuation by rerunning the in-memory model on the whole text (row 0 of a
    batch of copies, for the stateful model's fixed batch)."""
    ids = list(prompt_ids)
    for _ in range(count):
        batch = np.tile(np.asarray(ids, dtype="int32"), (BATCH, 1))
        ids.append(int(np.argmax(lm_log_probs(model, batch)[0, -1])))
    return ids[len(prompt_ids) :]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{name: (model, SavedModel path, extra)} for lm_zoo, lm_keras, sentiment_zoo/keras."""
    keras.utils.set_random_seed(7)
    root = tmp_path_factory.mktemp("exports")
    vectorizer = fit_vectorizer(TEXTS, vocab_size=12, max_len=6)
    result = {}
    for impl in ("zoo", "keras"):
        model = language_model(impl)
        path = export.export_saved_model(
            model, root / f"lm_{impl}", "language_model", vocabulary=VOCAB
        )
        result[f"lm_{impl}"] = (model, path, None)
        model = sentiment_model(impl, vocab_size=12)
        path = export.export_saved_model(
            model, root / f"sentiment_{impl}", "sentiment", vectorizer=vectorizer
        )
        result[f"sentiment_{impl}"] = (model, path, vectorizer)
    return result


FRESH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["zoo"] = None    # importing zoo or keras now raises ImportError
    sys.modules["keras"] = None
    import numpy as np
    import tensorflow as tf

    jobs, out = json.loads(sys.argv[1]), sys.argv[2]
    ids = np.load(f"{out}/ids.npy")
    for name, path in jobs.items():
        loaded = tf.saved_model.load(path)
        if name.startswith("sentiment"):
            texts = tf.constant(json.loads(sys.argv[3]))
            result = loaded.signatures["serving_default"](text=texts)
            np.save(f"{out}/{name}_probability.npy", result["probability"].numpy())
            continue
        full = loaded.signatures["serving_default"](token_ids=tf.constant(ids))
        np.save(f"{out}/{name}_log_probs.npy", full["log_probs"].numpy())
        head = loaded.signatures["serving_default"](token_ids=tf.constant(ids[:, :SPLIT]))
        states = {k: v for k, v in head.items() if k.startswith("state_")}
        tail = loaded.signatures["step"](token_ids=tf.constant(ids[:, SPLIT:]), **states)
        np.save(f"{out}/{name}_step_log_probs.npy", tail["log_probs"].numpy())
        text = loaded.signatures["generate"](
            prompt=tf.constant(PROMPT), num_words=tf.constant(NUM_WORDS)
        )
        np.save(f"{out}/{name}_generated.npy", text["token_ids"].numpy())
        np.save(f"{out}/{name}_text.npy", text["text"].numpy())
        errors = {}
        for label, bad in (("rank1", ids[0]), ("rank3", ids[None]), ("float", ids * 1.0)):
            try:
                loaded.signatures["serving_default"](token_ids=tf.constant(bad))
                errors[label] = None
            except tf.errors.InvalidArgumentError as error:
                errors[label] = error.message
        with open(f"{out}/{name}_errors.json", "w") as file:
            json.dump(errors, file)
    assert sys.modules["zoo"] is None and sys.modules["keras"] is None
    """
)


@pytest.fixture(scope="module")
def fresh_outputs(exported, tmp_path_factory):
    """The outputs of every export computed in a fresh process without zoo and keras."""
    out = tmp_path_factory.mktemp("fresh")
    ids = np.random.default_rng(0).integers(0, V, (BATCH, STEPS)).astype("int32")
    np.save(out / "ids.npy", ids)
    script = FRESH_SCRIPT.replace("SPLIT", str(SPLIT)).replace("NUM_WORDS", str(NUM_WORDS))
    script = script.replace("PROMPT", repr(PROMPT))
    jobs = {name: str(path) for name, (_, path, _) in exported.items()}
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(
        [sys.executable, "-c", script, json.dumps(jobs), str(out), json.dumps(TEXTS)],
        check=True,
        env=environment,
        timeout=300,
    )
    return out, ids


@pytest.mark.parametrize("impl", ["zoo", "keras"])
def test_language_model_loads_without_zoo_and_matches(exported, fresh_outputs, impl):
    model = exported[f"lm_{impl}"][0]
    out, ids = fresh_outputs
    expected = lm_log_probs(model, ids)
    np.testing.assert_allclose(np.load(out / f"lm_{impl}_log_probs.npy"), expected, atol=ATOL)
    # step from serving_default's states continues the sequence exactly
    np.testing.assert_allclose(
        np.load(out / f"lm_{impl}_step_log_probs.npy"), expected[:, SPLIT:], atol=ATOL
    )


@pytest.mark.parametrize("impl", ["zoo", "keras"])
def test_generate_is_greedy_over_the_vocabulary(exported, fresh_outputs, impl):
    model = exported[f"lm_{impl}"][0]
    out, _ = fresh_outputs
    prompt_ids = [VOCAB.index(w) if w in VOCAB else VOCAB.index("<unk>") for w in PROMPT.split()]
    expected = greedy_ids(model, prompt_ids, NUM_WORDS)
    generated = np.load(out / f"lm_{impl}_generated.npy")
    assert generated.tolist() == expected
    text = np.load(out / f"lm_{impl}_text.npy").item().decode()
    assert text == " ".join(VOCAB[i] for i in expected)


@pytest.mark.parametrize("impl", ["zoo", "keras"])
def test_fresh_process_rejects_wrong_rank_and_dtype(exported, fresh_outputs, impl):
    out, _ = fresh_outputs
    errors = json.loads((out / f"lm_{impl}_errors.json").read_text())
    assert "token_ids [7] is not compatible with expected shape [?,?]" in errors["rank1"]
    assert "token_ids [1,3,7] is not compatible with expected shape [?,?]" in errors["rank3"]
    assert "expected to be a int32 tensor but is a double tensor" in errors["float"]


@pytest.mark.parametrize("impl", ["zoo", "keras"])
def test_sentiment_loads_without_zoo_and_matches(exported, fresh_outputs, impl):
    model, _, vectorizer = exported[f"sentiment_{impl}"]
    out, _ = fresh_outputs
    scores = keras.ops.convert_to_numpy(model(vectorizer(tf.constant(TEXTS))))[:, 0]
    expected = 1.0 / (1.0 + np.exp(-scores)) if impl == "zoo" else scores
    probability = np.load(out / f"sentiment_{impl}_probability.npy")
    assert probability.shape == (len(TEXTS),)
    np.testing.assert_allclose(probability, expected, atol=ATOL)


def test_exports_are_portable(exported):
    for _, path, _ in exported.values():
        assert export.portability_problems(path) == []


def test_portability_scan_finds_xla_and_cudnn(tmp_path):
    """Negative controls: the fused loop traced outside generic_loop, and a cuDNN op."""
    lstm = layers.LSTM(3)
    lstm.build((None, None, 2))
    module = tf.Module()
    module.lstm = lstm
    module.f = tf.function(lambda x: lstm(x), input_signature=[tf.TensorSpec([None, 4, 2])])
    tf.saved_model.save(
        module, str(tmp_path / "fused"), signatures=module.f.get_concrete_function()
    )
    assert any("XLA" in p for p in export.portability_problems(tmp_path / "fused"))

    cudnn = tf.Module()
    spec = [tf.TensorSpec([4, 1, 2]), tf.TensorSpec([1, 1, 3]), tf.TensorSpec([None])]
    cudnn.f = tf.function(
        lambda x, h, p: tf.raw_ops.CudnnRNN(input=x, input_h=h, input_c=h, params=p)[0],
        input_signature=spec,
    )
    tf.saved_model.save(cudnn, str(tmp_path / "cudnn"), signatures=cudnn.f.get_concrete_function())
    assert any("CudnnRNN" in p for p in export.portability_problems(tmp_path / "cudnn"))
    with pytest.raises(ValueError, match="not portable"):
        export.check_portable(tmp_path / "cudnn")


def test_portable_copies_never_use_cudnn():
    bidirectional = keras.layers.Bidirectional(keras.layers.LSTM(3, use_cudnn=True))
    export.without_cudnn(bidirectional)
    assert bidirectional.forward_layer.use_cudnn is False
    assert bidirectional.backward_layer.use_cudnn is False
    model = sentiment_model("keras", vocab_size=12)
    clone = export.portable_clone(model)
    grus = [layer for layer in clone.layers if isinstance(layer, keras.layers.GRU)]
    assert grus and all(layer.use_cudnn is False for layer in grus)
    assert [layer.use_cudnn for layer in model.layers if hasattr(layer, "use_cudnn")] == ["auto"]
    twin = export.stateless_twin(language_model("keras").layers[1])
    assert twin.use_cudnn is False and not twin.stateful and twin.return_state


@pytest.mark.parametrize("layer_class", [layers.LSTM, layers.GRU])
def test_generic_loop_switch_drops_xla_and_keeps_outputs(layer_class):
    layer = layer_class(4, return_sequences=True)
    x = tf.random.normal((2, 5, 3), seed=1)
    layer(x)

    def trace():
        function = tf.function(lambda x: layer(x))
        concrete = function.get_concrete_function(tf.TensorSpec([2, 5, 3]))
        graph = concrete.graph.as_graph_def()
        xla = any(export._must_compile(f.attr) for f in graph.library.function)
        return xla, concrete(x)

    fused_xla, fused = trace()
    with engine.generic_loop():
        generic_xla, generic = trace()
    assert fused_xla and not generic_xla
    assert not engine._GENERIC_LOOP_ONLY  # the switch resets on exit
    np.testing.assert_allclose(generic, fused, atol=ATOL)


def test_saved_model_cli_lists_the_signatures(exported):
    path = exported["lm_zoo"][1]
    shown = subprocess.run(
        ["saved_model_cli", "show", "--dir", str(path), "--all"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=120,
    ).stdout
    for name in ("serving_default", "step", "generate"):
        assert f"signature_def['{name}']" in shown
    for tensor in ("token_ids", "log_probs", "state_0_1", "prompt", "num_words", "text"):
        assert f"['{tensor}']" in shown


@pytest.mark.parametrize("name", ["lm_zoo", "lm_keras", "sentiment_zoo", "sentiment_keras"])
def test_keras_files_load_in_safe_mode_and_predict_identically(exported, tmp_path, name):
    model = exported[name][0]
    ids = np.random.default_rng(1).integers(1, 12, (BATCH, STEPS)).astype("int32")
    reset(model)
    expected = keras.ops.convert_to_numpy(model(ids))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    reset(loaded)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(ids)), expected, atol=ATOL)


@pytest.fixture(scope="module")
def lm_signatures(exported):
    return tf.saved_model.load(str(exported["lm_zoo"][1])).signatures


@pytest.mark.parametrize(
    "token_ids",
    [
        tf.zeros((2, 3), tf.float32),  # wrong dtype
        tf.zeros((2, 3), tf.int64),  # wrong integer width
        tf.zeros((3,), tf.int32),  # rank 1: not broadcast to (1, 3)
        tf.zeros((1, 2, 3), tf.int32),  # rank 3
    ],
)
def test_signature_rejects_wrong_dtype_or_rank(lm_signatures, token_ids):
    rejected = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(rejected, match=r"(?i)int32|shape|rank|compatible"):
        lm_signatures["serving_default"](token_ids=token_ids)


@pytest.mark.parametrize("bad_id", [-1, V])
def test_signatures_reject_ids_outside_the_vocabulary(lm_signatures, bad_id):
    token_ids = tf.constant([[1, bad_id, 2]], tf.int32)
    message = rf"token_ids: expected ids in \[0, {V}\)"
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        lm_signatures["serving_default"](token_ids=token_ids)
    states = lm_signatures["serving_default"](token_ids=tf.constant([[1]], tf.int32))
    states = {k: v for k, v in states.items() if k.startswith("state_")}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        lm_signatures["step"](token_ids=token_ids, **states)


def test_step_rejects_states_of_another_batch(lm_signatures):
    ids = tf.zeros((2, 3), tf.int32)
    states = {k: v[:1] for k, v in lm_signatures["serving_default"](token_ids=ids).items()}
    del states["log_probs"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="one row per row"):
        lm_signatures["step"](token_ids=ids, **states)
    states["state_0_0"] = tf.zeros((2, 7))  # wrong width
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"state_0_0 \[2,7\] is not compatible"
    ):
        lm_signatures["step"](token_ids=ids, **states)


def test_sentiment_rejects_a_matrix_of_texts(exported):
    serve = tf.saved_model.load(str(exported["sentiment_keras"][1])).signatures["serving_default"]
    rejected = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(rejected, match=r"(?i)shape|rank|compatible"):
        serve(text=tf.constant([["a", "b"]]))
    with pytest.raises(rejected, match=r"(?i)string"):
        serve(text=tf.constant([1.0]))


def test_generate_rejects_an_empty_prompt(lm_signatures):
    with pytest.raises(tf.errors.InvalidArgumentError, match="no words"):
        lm_signatures["generate"](prompt=tf.constant("  "), num_words=tf.constant(2))


def test_refuses_a_non_empty_target_unless_overwrite(exported, tmp_path):
    model = exported["lm_zoo"][0]
    target = tmp_path / "lm"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_saved_model(model, target, "language_model", vocabulary=VOCAB)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    export.export_saved_model(model, target, "language_model", vocabulary=VOCAB, overwrite=True)
    assert (target / "saved_model.pb").is_file() and not (target / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm"]  # no staging folder left


def test_invalid_inputs_raise_clear_errors(exported):
    model = exported["lm_zoo"][0]
    with pytest.raises(ValueError, match="'<unk>'"):
        export.language_model_module(model, [f"t{i}" for i in range(V)])
    with pytest.raises(ValueError, match="predicts 12 tokens, got 3"):
        export.language_model_module(model, VOCAB[:3])
    with pytest.raises(ValueError, match="task"):
        export.export_saved_model(model, "/nonexistent/never", "translation")
    with pytest.raises(ValueError, match="TextVectorization"):
        export.sentiment_module(exported["sentiment_zoo"][0], None, None)
    with pytest.raises(ValueError, match="sentiment model must output"):
        export.sentiment_module(model, exported["sentiment_zoo"][2], None)
    classifier = exported["sentiment_zoo"][0]
    with pytest.raises(ValueError, match="Embedding"):
        export.language_model_module(classifier, VOCAB)
    twice = [*VOCAB[:5], "w1", *VOCAB[6:]]  # "w1" is VOCAB[3]
    with pytest.raises(ValueError, match=r"holds 'w1' twice, as ids 3 and 5 \(lines 4 and 6\)"):
        export.language_model_module(model, twice)
    wider = fit_vectorizer([*TEXTS, "many more different words here"], vocab_size=20, max_len=6)
    with pytest.raises(ValueError, match="vectorizer: makes token ids up to 1[0-9], but the model"):
        export.sentiment_module(classifier, wider, None)


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(["export", *argv])
    return code, capsys.readouterr().err


def test_cli_exports_a_run_directory(exported, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    exported["lm_zoo"][0].save(run_dir / export.MODEL_FILE)
    (run_dir / export.VOCAB_FILE).write_text("\n".join(VOCAB) + "\n")
    code, err = run_cli([str(run_dir), "--out", str(tmp_path / "out")], capsys)
    assert code == 0, err
    signatures = tf.saved_model.load(str(tmp_path / "out")).signatures
    assert sorted(signatures) == ["generate", "serving_default", "step"]


def test_cli_exports_a_folded_language_model(exported, tmp_path, capsys):
    model, path, _ = exported["lm_zoo"]
    model.save(tmp_path / export.MODEL_FILE)
    (tmp_path / export.VOCAB_FILE).write_text("\n".join(VOCAB) + "\n")
    argv = [str(tmp_path), "--out", str(tmp_path / "folded"), "--fold-embedding"]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    ids = tf.constant(np.random.default_rng(2).integers(0, V, (BATCH, STEPS)).astype("int32"))
    folded = tf.saved_model.load(str(tmp_path / "folded")).signatures["serving_default"]
    plain = tf.saved_model.load(str(path)).signatures["serving_default"]
    np.testing.assert_allclose(
        folded(token_ids=ids)["log_probs"], plain(token_ids=ids)["log_probs"], atol=1e-5
    )
    assert export.portability_problems(tmp_path / "folded") == []


def test_cli_folds_a_whole_language_model_file(tmp_path, capsys):
    from zoo.models import inference_model, language_model

    model = language_model("gru", "zoo", {"base": "small", "units": 6, "dropout": 0.3}, V)
    model.save(tmp_path / export.MODEL_FILE)
    (tmp_path / export.VOCAB_FILE).write_text("\n".join(VOCAB) + "\n")
    argv = [str(tmp_path), "--out", str(tmp_path / "folded"), "--fold-embedding"]
    code, err = run_cli(argv, capsys)
    assert code == 0, err
    ids = np.random.default_rng(3).integers(0, V, (BATCH, STEPS)).astype("int32")
    served = tf.saved_model.load(str(tmp_path / "folded")).signatures["serving_default"]
    want = tf.nn.log_softmax(inference_model(model)(ids)).numpy()
    np.testing.assert_allclose(served(token_ids=tf.constant(ids))["log_probs"], want, atol=1e-5)


@pytest.mark.parametrize(
    "name,message",
    [
        ("lm_keras", "--fold-embedding: model .* its layer 'lstm.*' \\(LSTM\\) does not take"),
        ("sentiment_zoo", "--fold-embedding: only for a language model, not a sentiment model"),
    ],
)
def test_cli_fold_embedding_needs_a_zoo_language_model(exported, tmp_path, capsys, name, message):
    model, _, vectorizer = exported[name]
    model.save(tmp_path / export.MODEL_FILE)
    (tmp_path / export.VOCAB_FILE).write_text("\n".join(VOCAB) + "\n")
    if vectorizer is not None:
        export.save_vectorizer(vectorizer, tmp_path / export.VECTORIZER_FILE)
    code, err = run_cli([str(tmp_path), "--out", str(tmp_path / "o"), "--fold-embedding"], capsys)
    assert code == 1 and re.search(message, err), err
    assert not (tmp_path / "o").exists()


RUN_DIRECTORY_SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import zoo
    from zoo import cli

    run_dir, out = sys.argv[1], sys.argv[2]
    code = cli.main(["export", run_dir, "--out", f"{out}/exported"])
    model = keras.saving.load_model(f"{run_dir}/model.keras", safe_mode=True)
    ids = np.load(f"{out}/ids.npy")
    np.save(f"{out}/logits.npy", keras.ops.convert_to_numpy(model(ids)))
    sys.exit(code)
    """
)


def test_a_pooled_classifier_run_loads_and_exports_after_import_zoo(tmp_path):
    """A `zoo train imdb --pooling max` run directory, in a process that imported only `zoo`:
    its model.keras loads (SequencePooling registered by `import zoo`) and `zoo export` ships
    it, with the model's weights and nothing of its optimizer."""
    from zoo.models import sentiment_classifier

    keras.utils.set_random_seed(3)
    vectorizer = fit_vectorizer(TEXTS, vocab_size=12, max_len=6)
    model = sentiment_classifier("gru", vocab_size=12, embedding_dim=8, units=4, pooling="max")
    model.compile(keras.optimizers.Adam(), keras.losses.BinaryCrossentropy(from_logits=True))
    model.train_on_batch(vectorizer(tf.constant(TEXTS)), np.array([1, 0, 0, 1]))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model.save(run_dir / export.MODEL_FILE)
    export.save_vectorizer(vectorizer, run_dir / export.VECTORIZER_FILE)
    ids = keras.ops.convert_to_numpy(vectorizer(tf.constant(TEXTS)))
    np.save(tmp_path / "ids.npy", ids)
    subprocess.run(
        [sys.executable, "-c", RUN_DIRECTORY_SCRIPT, str(run_dir), str(tmp_path)],
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=300,
    )
    logits = keras.ops.convert_to_numpy(model(ids))
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), logits, atol=ATOL)
    served = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    probability = served(text=tf.constant(TEXTS))["probability"].numpy()
    np.testing.assert_allclose(probability, 1.0 / (1.0 + np.exp(-logits[:, 0])), atol=ATOL)
    listed = tf.train.list_variables(str(tmp_path / "exported" / "variables" / "variables"))
    saved = {name: shape for name, shape in listed if name.endswith("VARIABLE_VALUE")}
    assert not [name for name in saved if "optimizer" in name]
    assert sum(int(np.prod(shape)) for shape in saved.values()) == model.count_params()


def test_cli_reports_bad_paths(exported, tmp_path, capsys):
    code, err = run_cli([str(tmp_path / "missing"), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "missing: no such file" in err
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip archive")
    code, err = run_cli([str(corrupt), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "corrupt.keras: cannot load a Keras model" in err
    other = tmp_path / "model.h5"
    other.write_bytes(b"")
    code, err = run_cli([str(other), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "expected a .keras file" in err
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("")
    code, err = run_cli([str(corrupt), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "not an empty folder" in err and "--overwrite" in err
    assert not (tmp_path / "o" / "saved_model.pb").exists()
    code, err = run_cli([str(corrupt), "--out", str(tmp_path / "o" / "x" / "served")], capsys)
    assert code == 1 and f"out: {tmp_path / 'o' / 'x'} cannot be a folder" in err


def test_cli_language_model_needs_its_vocabulary(exported, tmp_path, capsys):
    exported["lm_zoo"][0].save(tmp_path / "model.keras")
    code, err = run_cli([str(tmp_path / "model.keras"), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and f"{tmp_path / 'vocab.txt'}: no such vocabulary file" in err


def test_cli_sentiment_needs_its_vectorizer(exported, tmp_path, capsys):
    model, _, vectorizer = exported["sentiment_keras"]
    model.save(tmp_path / "model.keras")
    code, err = run_cli([str(tmp_path / "model.keras"), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "vectorizer.json: expected a vectorizer" in err
    export.save_vectorizer(vectorizer, tmp_path / export.VECTORIZER_FILE)
    restored = export.load_vectorizer(tmp_path / export.VECTORIZER_FILE)
    np.testing.assert_array_equal(restored(tf.constant(TEXTS)), vectorizer(tf.constant(TEXTS)))
    assert export.detect_task(model) == "sentiment"
    assert export.detect_task(exported["lm_zoo"][0]) == "language_model"
