"""zoo.callbacks: event files read back, values checked independently, a real TensorBoard."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from zoo.analysis import gradient_flow
from zoo.callbacks import (
    GradientFlowLogger,
    GradientNormLogger,
    HParamsLogger,
    TimingLogger,
    log_hparams,
)
from zoo.layers import recurrent

VOCAB, STEPS, BATCH = 20, 6, 4


def _read(log_dir) -> dict[str, list[tuple[int, np.ndarray]]]:
    """{tag: [(step, value), ...]} of the TF2 summaries in one directory (not its subfolders)."""
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0}, purge_orphaned_data=False)
    events.Reload()
    return {
        tag: [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def _steps(events, tag) -> list[int]:
    return [step for step, _ in events[tag]]


def _token_model(dropout: float = 0.0, impl: str = "keras") -> keras.Model:
    """Embedding (sparse gradients, repeated ids) -> LSTM -> Dense, on (B, T) integer ids."""
    lstm = keras.layers.LSTM if impl == "keras" else lambda *a, **kw: recurrent("lstm", *a, **kw)
    return keras.Sequential(
        [
            keras.Input((STEPS,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 4, name="embedding"),
            lstm(5, dropout=dropout, name="lstm"),
            keras.layers.Dense(1, name="dense"),
        ]
    )


def _token_data(batches: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, (batches * BATCH, STEPS)).astype("int32")
    y = rng.normal(size=(batches * BATCH, 1)).astype("float32")
    return x, y


@pytest.mark.parametrize(
    ("impl", "make_optimizer"),
    [
        ("keras", lambda: keras.optimizers.SGD(0.5, global_clipnorm=1e-3)),
        ("zoo", lambda: keras.optimizers.SGD(0.5, global_clipnorm=1e-3)),
        (
            "keras",
            lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.1, clipnorm=1e-3)),
        ),
    ],
    ids=["keras-sgd-global_clipnorm", "zoo-sgd-global_clipnorm", "keras-loss_scale-adam-clipnorm"],
)
def test_logged_norms_equal_the_batch_gradients_before_clipping(tmp_path, impl, make_optimizer):
    model = _token_model(impl=impl)
    model.compile(make_optimizer(), "mse")
    x, y = _token_data(batches=3)
    weights_before = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: weights_before.append(model.get_weights())
    )
    logger = GradientNormLogger(tmp_path, every_n_steps=1)
    model.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[record, logger])

    events = _read(tmp_path)
    clone = keras.models.clone_model(model)
    for step, weights in enumerate(weights_before):
        clone.set_weights(weights)
        batch = slice(step * BATCH, (step + 1) * BATCH)
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(y[batch], clone(x[batch], training=True))
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, clone.trainable_variables)]
        norms = {
            v.path.split("/", 1)[1]: float(tf.norm(g))
            for v, g in zip(clone.trainable_variables, grads, strict=True)
        }
        global_norm = float(tf.linalg.global_norm(grads))
        assert global_norm > 10 * 1e-3  # so clipping would have changed it

        assert events["gradient_norm/global"][step][0] == step
        np.testing.assert_allclose(events["gradient_norm/global"][step][1], global_norm, rtol=1e-4)
        for name, norm in norms.items():
            logged = events[f"gradient_norm_variable/{model.name}/{name}"][step][1]
            np.testing.assert_allclose(logged, norm, rtol=1e-4, atol=1e-7)
        lstm = [n for name, n in norms.items() if name.startswith("lstm/")]
        np.testing.assert_allclose(
            events["gradient_norm_layer/lstm"][step][1], np.sqrt(np.sum(np.square(lstm))), rtol=1e-4
        )
    assert _steps(events, "gradient_norm/global") == [0, 1, 2]


def _train_weights(tmp_path, callbacks_for) -> list[np.ndarray]:
    keras.utils.set_random_seed(7)
    model = _token_model(dropout=0.3)
    model.compile(keras.optimizers.Adam(0.05, global_clipnorm=0.1), "mse")
    x, y = _token_data(batches=4)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=callbacks_for(tmp_path))
    return model


def test_logging_does_not_change_training_and_is_removed_after(tmp_path):
    plain = _train_weights(tmp_path / "plain", lambda path: [])
    logged = _train_weights(
        tmp_path / "logged",
        lambda path: [
            GradientNormLogger(path, every_n_steps=1, histogram_every_n_steps=1),
            TimingLogger(path),
            GradientFlowLogger(path, _token_data(batches=1)[0]),
            HParamsLogger(path, {"cell": "lstm"}),
        ],
    )
    for a, b in zip(plain.get_weights(), logged.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "apply" not in vars(logged.optimizer) and "train_step" not in vars(logged)
    assert logged.train_function is None
    x, y = _token_data(batches=1)
    logged.fit(x, y, batch_size=BATCH, verbose=0)  # trains again without the callbacks
    assert int(logged.optimizer.iterations.numpy()) == 9


def test_cadence_with_steps_per_execution_and_histograms(tmp_path):
    model = _token_model()
    model.compile("sgd", "mse", steps_per_execution=2)
    x, y = _token_data(batches=5)
    logger = GradientNormLogger(tmp_path, every_n_steps=3, histogram_every_n_steps=4)
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[logger])

    events = _read(tmp_path)
    assert _steps(events, "gradient_norm/global") == [0, 3, 6, 9]
    assert _steps(events, "gradient_norm_layer/embedding") == [0, 3, 6, 9]
    histogram = events[f"gradient/{model.name}/embedding/embeddings"]
    assert [step for step, _ in histogram] == [0, 4, 8]
    for _, buckets in histogram:  # (bins, 3): left edge, right edge, count
        assert buckets[:, 2].sum() == VOCAB * 4

    too_slow = GradientNormLogger(tmp_path, every_n_steps=1)
    with pytest.raises(ValueError, match="every_n_steps=1 is smaller than"):
        model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[too_slow])


def test_timing_logger_tags_steps_and_rates(tmp_path):
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=3)
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[TimingLogger(tmp_path)])

    events = _read(tmp_path)
    assert _steps(events, "timing/first_step_s") == [1]
    assert _steps(events, "timing/step_s") == [2, 3, 4, 5, 6]
    assert _steps(events, "timing/epoch_s") == [0, 1]
    step_s = np.array([v for _, v in events["timing/step_s"]])
    examples = np.array([v for _, v in events["timing/examples_per_s"]])
    tokens = np.array([v for _, v in events["timing/tokens_per_s"]])
    np.testing.assert_allclose(examples * step_s, BATCH, rtol=1e-5)
    np.testing.assert_allclose(tokens * step_s, BATCH * STEPS, rtol=1e-5)
    assert events["timing/first_step_s"][0][1] > np.median(step_s)  # tracing and compiling


def test_timing_logger_counts_no_tokens_for_flat_inputs(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    model.fit(x, y, batch_size=2, verbose=0, callbacks=[TimingLogger(tmp_path, every_n_steps=2)])
    events = _read(tmp_path)
    assert _steps(events, "timing/step_s") == [3]
    assert "timing/tokens_per_s" not in events


def test_gradient_flow_logger_writes_curves_per_recurrent_layer(tmp_path):
    inputs = keras.Input((5, 3))
    hidden = keras.layers.LSTM(4, return_sequences=True, name="lstm")(inputs)
    hidden = recurrent("gru", 3, go_backwards=True, return_sequences=True, name="gru")(hidden)
    bidirectional = keras.layers.Bidirectional(recurrent("lstm", 2), name="bi")
    hidden = bidirectional(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile("sgd", "mse")
    probe = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    logger = GradientFlowLogger(tmp_path, probe, every_n_epochs=2)
    model.fit(probe, np.ones((2, 1)), epochs=4, verbose=0, callbacks=[logger])

    events = _read(tmp_path)
    assert _steps(events, "gradient_flow") == [1, 3]
    assert events["gradient_flow"][0][1][0] == b"700"  # width of the PNG (7 in at 100 dpi)
    for tag in ["gradient_flow_ratio/lstm/h", "gradient_flow_ratio/lstm/c"]:
        assert _steps(events, tag) == [1, 3]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "flow_epoch_0001",
        "flow_epoch_0003",
    ]
    curves = _read(tmp_path / "flow_epoch_0003")
    assert set(curves) == {
        f"gradient_flow/{layer}/{state}"
        for layer, states in [
            ("lstm", "hc"),
            ("gru", "h"),
            ("bi/forward", "hc"),
            ("bi/backward", "hc"),
        ]
        for state in states
    }
    assert _steps(curves, "gradient_flow/gru/h") == [1, 2, 3, 4, 5]

    lstm_out = model.get_layer("lstm")(probe)
    expected = gradient_flow(model.get_layer("gru").cell, tf.reverse(lstm_out, axis=[1]))["h"]
    logged = [float(v) for _, v in curves["gradient_flow/gru/h"]]
    np.testing.assert_allclose(logged, expected, rtol=1e-5)
    expected = gradient_flow(model.get_layer("lstm").cell, probe)["c"]
    logged = [float(v) for _, v in curves["gradient_flow/lstm/c"]]
    np.testing.assert_allclose(logged, expected, rtol=1e-5)
    gru_out = model.get_layer("gru")(lstm_out)
    backward = tf.reverse(gru_out, axis=[1])
    expected = gradient_flow(bidirectional.backward_layer.cell, backward)["h"]
    logged = [float(v) for _, v in curves["gradient_flow/bi/backward/h"]]
    np.testing.assert_allclose(logged, expected, rtol=1e-5)


def test_gradient_flow_logger_needs_a_recurrent_layer(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    logger = GradientFlowLogger(tmp_path, np.ones((2, 3)))
    with pytest.raises(ValueError, match="no recurrent layer"):
        model.fit(np.ones((2, 3)), np.ones((2, 1)), verbose=0, callbacks=[logger])


@pytest.mark.parametrize("every", [0, -3, 1.5, True, None])
def test_bad_cadence_is_refused_at_construction(tmp_path, every):
    logs = tmp_path / "logs"
    with pytest.raises(ValueError, match="every_n_steps"):
        GradientNormLogger(logs, every_n_steps=every)
    with pytest.raises(ValueError, match="every_n_steps"):
        TimingLogger(logs, every_n_steps=every)
    with pytest.raises(ValueError, match="every_n_epochs"):
        GradientFlowLogger(logs, np.ones((1, 2, 1)), every_n_epochs=every)
    if every is not None:
        with pytest.raises(ValueError, match="histogram_every_n_steps"):
            GradientNormLogger(logs, histogram_every_n_steps=every)
    assert not logs.exists()  # refused before the log directory is made


def test_unwritable_log_dir_is_refused_at_construction(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    bad = blocker / "logs"
    for make in [
        lambda: GradientNormLogger(bad),
        lambda: TimingLogger(bad),
        lambda: GradientFlowLogger(bad, np.ones((1, 2, 1))),
        lambda: HParamsLogger(bad, {"cell": "lstm"}),
        lambda: log_hparams(bad, {"cell": "lstm"}, {"loss": 1.0}),
    ]:
        with pytest.raises(ValueError, match="log_dir"):
            make()


def test_log_hparams_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="hparams"):
        log_hparams(tmp_path, {}, {"loss": 1.0})
    with pytest.raises(ValueError, match=r"metrics\['loss'\]"):
        log_hparams(tmp_path, {"cell": "lstm"}, {"loss": "low"})


# ---------------------------------------------------------------------------------------------
# A real TensorBoard over HTTP


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def tensorboard_url(tmp_path):
    """Start `tensorboard --logdir tmp_path/runs` on a free port; yield its URL; stop it."""
    logdir = tmp_path / "runs"
    logdir.mkdir()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir)]
        + ["--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"]
        + ["--reload_interval", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield logdir, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(fetch, ready, seconds: float = 120.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = fetch()
            if ready(value):
                return value
        except OSError:  # not listening yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("TensorBoard did not serve the expected data in time")
        time.sleep(0.5)


def test_real_tensorboard_serves_scalars_and_hparams(tensorboard_url):
    logdir, url = tensorboard_url
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=2)
    hparams = {"cell": "lstm", "impl": "keras", "units": 5, "seed": 0, "config": {"lr": 0.01}}
    callbacks = [
        GradientNormLogger(logdir / "lstm", every_n_steps=1),
        TimingLogger(logdir / "lstm"),
        HParamsLogger(logdir / "lstm", hparams),
    ]
    history = model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=callbacks)
    log_hparams(logdir / "gru", {**hparams, "cell": "gru", "params": 123}, {"loss": 9.5})

    tags = _wait_for(
        lambda: _get(f"{url}/data/plugin/scalars/tags"),
        lambda tags: {"lstm", "gru"} <= set(tags),
    )
    assert {"gradient_norm/global", "timing/step_s", "timing/first_step_s", "loss"} <= set(
        tags["lstm"]
    )

    experiment = _get(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert names == {"cell", "impl", "units", "seed", "config.lr", "params"}
    assert {info["name"]["tag"] for info in experiment["metricInfos"]} == {"loss"}

    request = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 10,
    }
    groups = _get(f"{url}/data/plugin/hparams/session_groups", request)["sessionGroups"]
    by_run = {group["sessions"][0]["name"]: group for group in groups}
    assert set(by_run) == {"lstm", "gru"}
    assert by_run["lstm"]["hparams"]["params"] == model.count_params()
    assert by_run["lstm"]["hparams"]["cell"] == "lstm"
    assert by_run["gru"]["hparams"]["config.lr"] == 0.01
    (loss,) = by_run["lstm"]["metricValues"]
    np.testing.assert_allclose(loss["value"], history.history["loss"][-1], rtol=1e-6)


def test_an_existing_instance_override_is_put_back(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    class_apply = model.optimizer.apply
    traced = []

    def user_apply(grads, trainable_variables=None):
        traced.append(len(grads))
        return class_apply(grads, trainable_variables)

    model.optimizer.apply = user_apply
    logger = GradientNormLogger(tmp_path, every_n_steps=1)
    model.fit(np.ones((4, 3)), np.ones((4, 1)), batch_size=2, verbose=0, callbacks=[logger])
    assert vars(model.optimizer)["apply"] is user_apply
    assert traced == [2]  # the user's override ran inside the hooked train step
    assert _steps(_read(tmp_path), "gradient_norm/global") == [0, 1]


class _RaiseAtBatch(keras.callbacks.Callback):
    """Makes `fit` raise after `batch` batches, as a bad input or an interrupt would."""

    def __init__(self, batch: int):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            raise RuntimeError("interrupted")


def test_hooks_left_by_a_fit_that_raised_are_replaced_by_the_next_fit(tmp_path):
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=3)
    first = [GradientNormLogger(tmp_path / "a", every_n_steps=1), TimingLogger(tmp_path / "a")]
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[*first, _RaiseAtBatch(1)])
    assert "apply" in vars(model.optimizer) and "train_step" in vars(model)  # on_train_end skipped

    second = [GradientNormLogger(tmp_path / "b", every_n_steps=1), TimingLogger(tmp_path / "b")]
    model.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=second)
    assert _steps(_read(tmp_path / "b"), "gradient_norm/global") == [2, 3, 4]
    assert "apply" not in vars(model.optimizer) and "train_step" not in vars(model)


def test_two_callbacks_of_one_kind_in_one_fit_are_refused(tmp_path):
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=1)
    twins = [GradientNormLogger(tmp_path / "a"), GradientNormLogger(tmp_path / "b")]
    with pytest.raises(RuntimeError, match="already hooked by another zoo callback"):
        model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=twins)


@pytest.mark.parametrize("scale", [1e-25, 1e25])
def test_norms_of_vanishing_and_exploding_gradients_do_not_underflow_or_overflow(tmp_path, scale):
    """Squares of 1e-25 (1e25) are below (above) float32's range; the norm itself is not."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    model.compile(keras.optimizers.SGD(0.0), lambda y, p: scale * keras.ops.sum(p - y))
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    with tf.GradientTape() as tape:
        loss = scale * tf.reduce_sum(model(x) - y)  # the loss above is a scalar already
    kernel_gradient = tape.gradient(loss, model.trainable_variables)[0]
    expected = np.linalg.norm(kernel_gradient.numpy().astype(np.float64))
    assert 0 < expected < np.inf
    model.fit(x, y, batch_size=4, verbose=0, callbacks=[GradientNormLogger(tmp_path)])
    events = _read(tmp_path)
    (_, logged), *_ = events[f"gradient_norm_variable/{model.name}/dense/kernel"]
    np.testing.assert_allclose(float(logged), expected, rtol=1e-5)


def test_gradient_flow_logger_checks_its_probe_and_layers_before_training(tmp_path):
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=2)
    wrong_length = np.zeros((2, STEPS + 3), "int32")
    with pytest.raises(ValueError, match="probe_batch: the model cannot read it"):
        model.fit(
            x,
            y,
            batch_size=BATCH,
            verbose=0,
            callbacks=[GradientFlowLogger(tmp_path, wrong_length)],
        )
    assert int(model.optimizer.iterations.numpy()) == 0

    stacked = keras.Sequential(
        [
            keras.Input((STEPS, 2)),
            keras.layers.RNN(
                keras.layers.StackedRNNCells([keras.layers.LSTMCell(3), keras.layers.LSTMCell(3)]),
                name="stacked",
            ),
            keras.layers.Dense(1),
        ]
    )
    stacked.compile("sgd", "mse")
    probe = np.ones((2, STEPS, 2), "float32")
    with pytest.raises(ValueError, match="layer 'stacked': cell: expected one state"):
        stacked.fit(
            probe, np.ones((2, 1)), verbose=0, callbacks=[GradientFlowLogger(tmp_path, probe)]
        )
    assert int(stacked.optimizer.iterations.numpy()) == 0


VALIDATION_SECONDS = 1000.0  # what each validation run costs on the logger's clock


class _Clock:
    """`time` for zoo.callbacks: the real perf_counter plus what `_SlowValidation` adds, so a
    validation run lasts VALIDATION_SECONDS whatever the machine's load."""

    def __init__(self):
        self.extra = 0.0

    def perf_counter(self) -> float:
        return time.perf_counter() + self.extra


class _SlowValidation(keras.callbacks.Callback):
    def __init__(self, clock: _Clock):
        super().__init__()
        self.clock = clock

    def on_test_batch_end(self, batch, logs=None):
        self.clock.extra += VALIDATION_SECONDS


def test_timing_logger_leaves_validation_out_of_the_step_time(tmp_path, monkeypatch):
    import zoo.callbacks

    clock = _Clock()
    monkeypatch.setattr(zoo.callbacks, "time", clock)
    model = _token_model()
    model.compile("sgd", "mse")
    x, y = _token_data(batches=3)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        validation_data=(x[:BATCH], y[:BATCH]),
        verbose=0,
        callbacks=[TimingLogger(tmp_path), _SlowValidation(clock)],
    )
    events = _read(tmp_path)
    assert _steps(events, "timing/step_s") == [2, 3, 4, 5, 6]  # 4 spans the validation run
    # Without the validation run left out, the step-4 window would last VALIDATION_SECONDS.
    assert max(float(v) for _, v in events["timing/step_s"]) < VALIDATION_SECONDS / 10
    assert all(float(v) > VALIDATION_SECONDS for _, v in events["timing/epoch_s"])
