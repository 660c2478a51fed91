"""The zoo layers on Keras's JAX backend: the engine's generic loop (keras.ops.scan) against
Keras's built-in layers, in a subprocess with KERAS_BACKEND=jax; zoo.losses there; the GPU
check script, run here on the CPU; and .keras files saved on TensorFlow, loaded there."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    import zoo.layers
    import zoo.losses

    assert keras.backend.backend() == "jax"
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (4, 6, 5)).astype("float32")
    x[1, 4:] = 0.0
    x[2, 2:] = 0.0
    y = rng.uniform(-1, 1, (4, 3)).astype("float32")
    results = {}
    cases = {  # name: (keras layer, zoo layer, arguments, go_backwards)
        "lstm": (keras.layers.LSTM, zoo.layers.LSTM, {}, True),
        "gru": (keras.layers.GRU, zoo.layers.GRU, {}, False),
        "gru_v1": (keras.layers.GRU, zoo.layers.GRU, {"reset_after": False}, True),
    }
    for name, (keras_class, zoo_class, fixed, go_backwards) in cases.items():
        models = []
        for layer_class in (keras_class, zoo_class):
            keras.utils.set_random_seed(1)
            inputs = keras.Input((6, 5))
            h = keras.layers.Masking(0.0)(inputs)
            h = layer_class(7, return_sequences=True, go_backwards=go_backwards, **fixed)(h)
            h = layer_class(3, **fixed)(h)
            model = keras.Model(inputs, h)
            model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
            models.append(model)
        reference, ours = models
        ours.set_weights(reference.get_weights())
        forward = float(np.abs(ours.predict(x, verbose=0) - reference.predict(x, verbose=0)).max())
        for model in models:  # three SGD steps: equal weights after them need equal gradients
            for _ in range(3):
                model.train_on_batch(x, y)
        trained = max(
            float(np.abs(a - b).max())
            for a, b in zip(ours.get_weights(), reference.get_weights())
        )
        results[f"{name}-backwards={go_backwards}"] = [forward, trained]
    labels = rng.randint(0, 9, (4, 6))
    logits = rng.uniform(-3, 3, (4, 6, 9)).astype("float32")
    ours = zoo.losses.sparse_softmax_cross_entropy(labels, logits)
    theirs = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    loss = float(np.abs(np.asarray(ours) - np.asarray(theirs)).max())
    print(json.dumps({"layers": results, "loss": loss}))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_zoo_layers_equal_builtins_on_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    differences = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(differences["layers"]) == 3
    for case, (forward, trained) in differences["layers"].items():
        assert forward < 1e-5, case
        assert trained < 1e-5, case
    assert differences["loss"] < 1e-5


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_accelerator_equivalence_script_on_jax_cpu(tmp_path):
    """`benchmarks/accelerator_equivalence.py`, the GPU check, at tiny shapes on the CPU: every
    case compared with Keras's generic loop, within tolerance, and the report written."""
    script = Path(__file__).parent.parent / "benchmarks" / "accelerator_equivalence.py"
    out = tmp_path / "report.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, str(script), "--batch", "4", "--steps", "5", "--units", "8"]
    result = subprocess.run(
        [*command, "--rounds", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["backend"] == "jax" and report["passed"]
    assert sorted(report["cases"]) == ["gru", "gru_reset_before", "lstm", "lstm_masked"]
    for name, case in report["cases"].items():
        assert case["reference"] == "generic", name  # no GPU: Keras's generic loop
        assert case["forward"] < 1e-5, name
        assert 0 < case["update"] and case["trained_relative"] < 1e-4, name
        assert set(case["timings"]) == {"zoo", "keras"}, name


LOAD_SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import zoo

    assert keras.backend.backend() == "jax"
    folder, names = sys.argv[1], sys.argv[2:]
    ids = np.load(f"{folder}/ids.npy")
    for name in names:
        model = keras.saving.load_model(f"{folder}/{name}.keras", safe_mode=True)
        np.save(f"{folder}/{name}_jax.npy", keras.ops.convert_to_numpy(model(ids)))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_keras_files_saved_on_tensorflow_load_and_predict_on_jax(tmp_path):
    """Train on TensorFlow, serve on JAX: trained classifiers (a zoo LSTM with max pooling; two
    zoo GRUs) and a folded language model (its first LSTM on projected inputs) saved here load
    in a KERAS_BACKEND=jax process after `import zoo` and give the same outputs."""
    import keras
    import numpy as np

    from zoo.models import inference_model, language_model, sentiment_classifier

    sizes = {"vocab_size": 20, "embedding_dim": 6, "units": 5}
    classifiers = {
        "lstm": sentiment_classifier("lstm", pooling="max", **sizes),
        "gru": sentiment_classifier("gru", layers=2, **sizes),
    }
    ids = np.array([[3, 4, 5, 0, 0], [7, 8, 9, 10, 11]], dtype="int32")
    np.save(tmp_path / "ids.npy", ids)
    for classifier in classifiers.values():
        classifier.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
        classifier.train_on_batch(ids, np.array([1, 0]))
    tiny = {"base": "small", "units": 6, "num_steps": 5}
    models = {
        **classifiers,
        "folded_lm": inference_model(language_model("lstm", "zoo", tiny, 20), fold_embedding=True),
    }
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, str(tmp_path), *models],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name, model in models.items():
        expected = keras.ops.convert_to_numpy(model(ids))
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_jax.npy"), expected, atol=1e-6)
