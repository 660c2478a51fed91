"""The zoo layers' API: configs, serialization, parameter counts and argument errors."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from layer_pairs import KINDS, layer_pair

import zoo.layers


@pytest.mark.parametrize("kind", KINDS)
def test_config_covers_every_argument_and_matches_keras(kind):
    arguments = dict(
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        kernel_initializer="he_normal",
        recurrent_initializer="glorot_normal",
        bias_initializer="ones",
        kernel_regularizer="l2",
        recurrent_regularizer="l1",
        bias_regularizer=keras.regularizers.L1L2(0.01, 0.02),
        activity_regularizer="l2",
        kernel_constraint="max_norm",
        recurrent_constraint="non_neg",
        bias_constraint="unit_norm",
        dropout=0.1,
        recurrent_dropout=0.2,
        seed=5,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        stateful=True,
        unroll=True,
    )
    if kind == "lstm":
        arguments["unit_forget_bias"] = False
    reference, ours = layer_pair(kind, 3, name="layer", **arguments)
    ours_config = ours.get_config()
    assert ours_config == reference.get_config()
    restored = type(ours).from_config(ours_config)
    assert restored.get_config() == ours_config
    for name, value in arguments.items():
        if name not in ("activation", "recurrent_activation") and not name.endswith(
            ("initializer", "regularizer", "constraint")
        ):
            assert getattr(restored, name) == value, name


@pytest.mark.parametrize("kind", KINDS)
def test_keras_config_loads_into_zoo_layer(kind):
    """A built-in layer's config is a valid zoo config: a drop-in replacement."""
    reference, _ = layer_pair(kind, 4, return_sequences=True, dropout=0.2)
    ours = KINDS[kind][1].from_config(reference.get_config())
    assert ours.get_config() == reference.get_config()


@pytest.mark.parametrize(
    ("name", "kwargs", "layer"),
    [
        ("lstm", {}, lambda u: zoo.layers.LSTM(u)),
        ("lstm", {"use_bias": False}, lambda u: zoo.layers.LSTM(u, use_bias=False)),
        ("gru", {}, lambda u: zoo.layers.GRU(u)),
        ("gru", {"use_bias": False}, lambda u: zoo.layers.GRU(u, use_bias=False)),
        ("gru_v1", {}, lambda u: zoo.layers.GRU(u, reset_after=False)),
        ("gru", {"reset_after": False}, lambda u: zoo.layers.GRU(u, reset_after=False)),
    ],
)
@pytest.mark.parametrize(("input_dim", "units"), [(5, 7), (200, 200), (1, 1)])
def test_count_params_is_exact(name, kwargs, layer, input_dim, units):
    built = layer(units)
    built.build((None, 3, input_dim))
    assert zoo.layers.count_params(name, input_dim, units, **kwargs) == built.count_params()


def test_count_params_closed_forms():
    assert zoo.layers.count_params("lstm", 200, 200) == 4 * (200 * 200 + 200 * 200 + 200)
    assert zoo.layers.count_params("gru", 200, 200) == 3 * (200 * 200 + 200 * 200 + 2 * 200)
    assert zoo.layers.count_params("gru_v1", 200, 200) == 3 * (200 * 200 + 200 * 200 + 200)


def test_unknown_cell_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown cell name 'lstn'.*gru, gru_v1, lstm"):
        zoo.layers.get_cell("lstn", 4)
    with pytest.raises(ValueError, match="valid names"):
        zoo.layers.count_params("nope", 3, 4)
    with pytest.raises(ValueError, match=r"Unknown cell name \['lstm'\]"):
        zoo.layers.get_cell(["lstm"], 4)


def test_get_cell_fixes_the_gru_form():
    assert zoo.layers.get_cell("gru_v1", 3).reset_after is False
    assert zoo.layers.get_cell("gru", 3).reset_after is True
    assert isinstance(zoo.layers.get_cell("lstm", 3, dropout=0.1), zoo.layers.LSTMCell)


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
@pytest.mark.parametrize("units", [0, -3, 2.5, True])
def test_bad_units(layer_class, units):
    with pytest.raises(ValueError, match="argument `units`"):
        layer_class(units)


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_numpy_scalars_are_accepted_as_keras_does(layer_class):
    layer = layer_class(np.int64(4), dropout=np.float32(0.25))
    config = layer.get_config()
    assert type(config["units"]) is int and config["units"] == 4
    assert type(config["dropout"]) is float and config["dropout"] == 0.25
    assert zoo.layers.count_params("lstm", np.int64(3), np.int64(4)) == 4 * 4 * (3 + 4 + 1)


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_dropout(layer_class, argument, rate):
    with pytest.raises(ValueError, match=rf"argument `{argument}`.*\[0, 1\)"):
        layer_class(4, **{argument: rate})


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4, 5)])
def test_bad_rank(layer_class, shape):
    with pytest.raises(ValueError, match=r"rank 3, \(batch, timesteps, features\)"):
        layer_class(4)(np.zeros(shape, "float32"))


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_feature_size_differs_from_build(layer_class):
    layer = layer_class(4)
    layer(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match="built for inputs with 5 features"):
        layer(np.zeros((2, 3, 6), "float32"))


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_integer_input(layer_class):
    with pytest.raises(ValueError, match="expects float `sequences`, received dtype int32"):
        layer_class(4)(np.zeros((2, 3, 5), "int32"))


def tiny_model():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(zoo.layers.LSTM(6, return_sequences=True, dropout=0.1))(x)
    x = zoo.layers.GRU(5, reset_after=False)(x)
    x = zoo.layers.GRU(5)(keras.ops.expand_dims(x, 1))
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    model = tiny_model()
    tokens = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], dtype="int32")
    expected = model.predict(tokens, verbose=0)
    path = tmp_path / "tiny.keras"
    model.save(path)
    np.save(tmp_path / "tokens.npy", tokens)
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        import zoo  # registers the zoo layers; nothing else is needed
        model = keras.saving.load_model({str(path)!r})  # safe_mode stays on
        np.save({str(tmp_path / "got.npy")!r},
                model.predict(np.load({str(tmp_path / "tokens.npy")!r}), verbose=0))
        print(sorted({{type(l).__module__ for l in model._flatten_layers()}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "zoo.layers.lstm" in result.stdout and "zoo.layers.gru" in result.stdout
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), expected, atol=1e-6, rtol=0)


def test_training_is_the_same_with_and_without_xla():
    """The fused loops are XLA functions nested in the train step: compiling the whole step
    with XLA (jit_compile=True) must not change a thing."""
    rng = np.random.RandomState(0)
    tokens = rng.randint(1, 50, (8, 12)).astype("int32")
    tokens[:, 9:] = 0
    targets = rng.randint(0, 50, (8, 12)).astype("int32")
    runs = []
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((12,), dtype="int32"),
                keras.layers.Embedding(50, 16, mask_zero=True),
                zoo.layers.LSTM(16, return_sequences=True),
                zoo.layers.GRU(16, return_sequences=True),
                keras.layers.Dense(50),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.5, global_clipnorm=5),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        losses = [float(model.train_on_batch(tokens, targets)) for _ in range(4)]
        runs.append((losses, model.get_weights()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-5)
    assert runs[0][0][-1] < runs[0][0][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(zoo.layers.CELLS))
def test_mask_and_initial_state_shapes_are_checked_by_name(name):
    x = np.zeros((2, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"`mask` must have shape \(batch, timesteps\) = \(2, 5\)"):
        zoo.layers.recurrent(name, 4)(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="`initial_state` must be"):
        zoo.layers.recurrent(name, 4)(x, initial_state=[np.zeros((2, 7), "float32")] * 3)
    with pytest.raises(ValueError, match="expects at least one timestep"):
        zoo.layers.recurrent(name, 4)(np.zeros((2, 0, 3), "float32"))


@pytest.mark.parametrize(
    "name,kwargs", [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]
)
def test_second_order_gradients_equal_the_builtins(name, kwargs):
    """A gradient penalty, d/dW ||dL/dx||^2, through the fused path: its hand-written backward
    cannot be differentiated, so the layer falls back to autodiff (it used to give None)."""
    import tensorflow as tf

    x = tf.constant(np.random.RandomState(0).randn(3, 5, 6).astype("float32"))
    reference, ours = (
        getattr(keras.layers, name)(4, **kwargs),
        getattr(zoo.layers, name)(4, **kwargs),
    )
    reference(x), ours(x)
    ours.set_weights(reference.get_weights())
    penalties = []
    for layer in (reference, ours):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(tf.sin(layer(x)))
            penalty = tf.reduce_sum(inner.gradient(y, x) ** 2)
        penalties.append(outer.gradient(penalty, [*layer.trainable_variables, x]))
    for theirs, mine in zip(*penalties):
        assert mine is not None
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name,kwargs", [("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]
)
def test_forward_mode_jvps_equal_the_builtins(name, kwargs):
    """tf.autodiff.ForwardAccumulator through the fused path, with a mask: JVPs with respect to
    the inputs and to the recurrent kernel, and forward-over-backward (a Hessian-vector
    product). A custom gradient gives JVPs as None, so the loop then runs under autodiff."""
    import tensorflow as tf

    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(4, 5, 3).astype("float32"))
    tangent = tf.constant(rng.randn(4, 5, 3).astype("float32"))
    mask = tf.constant([[True] * 5, [True] * 3 + [False] * 2, [True] * 5, [True] + [False] * 4])
    reference, ours = (
        getattr(keras.layers, name)(6, return_sequences=True, **kwargs),
        getattr(zoo.layers, name)(6, return_sequences=True, **kwargs),
    )
    reference(x), ours(x)
    ours.set_weights(reference.get_weights())
    jvps = []
    for layer in (reference, ours):
        kernel = layer.cell.recurrent_kernel.value
        with tf.autodiff.ForwardAccumulator(x, tangent) as by_inputs:
            by_inputs_out = layer(x, mask=mask)
        with tf.autodiff.ForwardAccumulator(kernel, tf.ones_like(kernel)) as by_kernel:
            by_kernel_out = layer(x)
        with tf.autodiff.ForwardAccumulator(x, tangent) as over_backward:
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) ** 2)
            gradient = tape.gradient(loss, x)
        jvps.append(
            [
                by_inputs.jvp(by_inputs_out),
                by_kernel.jvp(by_kernel_out),
                over_backward.jvp(gradient),
            ]
        )
    for theirs, mine in zip(*jvps):
        assert mine is not None
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_the_hand_written_backward_serves_every_first_order_gradient(layer_class, monkeypatch):
    """The autodiff fallback only when a tape records the gradient itself: not for a persistent
    tape, nor inside a forward accumulator that watches something else."""
    import tensorflow as tf

    fused = zoo.layers.fused
    calls = []
    fallback = fused._autodiff_gradients
    monkeypatch.setattr(
        fused, "_autodiff_gradients", lambda *args: calls.append(1) or fallback(*args)
    )
    x = tf.constant(np.random.RandomState(0).randn(3, 5, 6).astype("float32"))
    layer = layer_class(4)
    layer(x)

    def gradient(persistent=False):
        with tf.GradientTape(persistent=persistent) as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        return tape.gradient(y, x)

    gradient(persistent=True)
    with tf.autodiff.ForwardAccumulator(tf.constant(1.0), tf.constant(1.0)):
        gradient()
    assert calls == []
    with tf.GradientTape() as outer:
        outer.watch(x)
        penalty = tf.reduce_sum(gradient() ** 2)
    assert outer.gradient(penalty, x) is not None and calls == [1]


@pytest.mark.parametrize("layer_class", [zoo.layers.LSTM, zoo.layers.GRU])
def test_recurrent_dropout_with_a_differentiated_initial_state_in_eager_mode(layer_class):
    """The recurrent dropout masks come from ones_like(state): they used to tie a watched
    initial state to the compiled loop, which TensorFlow could not differentiate."""
    import tensorflow as tf

    x = tf.constant(np.random.RandomState(0).randn(3, 5, 6).astype("float32"))
    layer = layer_class(4, recurrent_dropout=0.2)
    states = [tf.zeros((3, 4))] * (2 if layer_class is zoo.layers.LSTM else 1)
    with tf.GradientTape() as tape:
        tape.watch(states)
        out = layer(x, initial_state=states, training=True)
    grads = tape.gradient(out, states)
    assert all(g is not None and g.shape == (3, 4) and np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_every_builtin_constructor_argument_is_accepted(name):
    import inspect

    builtin, ours = getattr(keras.layers, name), getattr(zoo.layers, name)
    theirs = set(inspect.signature(builtin.__init__).parameters)
    assert theirs <= set(inspect.signature(ours.__init__).parameters)
    assert "use_cudnn" not in ours(4, use_cudnn=False).get_config()  # as the built-in's
    with pytest.raises(ValueError, match="`use_cudnn`: zoo layers never run cuDNN"):
        ours(4, use_cudnn=True)
