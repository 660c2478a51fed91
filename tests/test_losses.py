"""zoo.losses: the compiled softmax cross-entropy against Keras's, values and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.losses import SparseSoftmaxCrossEntropy, sparse_softmax_cross_entropy


def keras_cross_entropy(labels, logits):
    return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def case(shape, classes, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, shape).astype("int32")
    logits = (scale * rng.standard_normal((*shape, classes))).astype("float32")
    return labels, logits


def loss_and_gradient(function, labels, logits):
    logits = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        # a weighted sum, so that each element's upstream gradient differs
        weights = tf.reshape(tf.range(1, tf.size(labels) + 1, dtype=tf.float32), labels.shape)
        total = tf.reduce_sum(function(labels, logits) * weights)
    return function(labels, logits).numpy(), tape.gradient(total, logits).numpy()


@pytest.mark.parametrize(
    "shape, classes", [((7,), 5), ((4, 6), 11), ((2, 3, 4), 9), ((20, 20), 10_000)]
)
def test_values_and_gradients_equal_keras(shape, classes):
    labels, logits = case(shape, classes)
    ours, our_grad = loss_and_gradient(sparse_softmax_cross_entropy, labels, logits)
    theirs, their_grad = loss_and_gradient(keras_cross_entropy, labels, logits)
    assert ours.shape == shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    # float32 rounding of either softmax, scaled by the upstream weights (up to labels.size)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-5, atol=2e-7 * labels.size)


def test_large_logits_stay_finite():
    labels, logits = case((3, 4), 6, scale=1e4)
    ours, grad = loss_and_gradient(sparse_softmax_cross_entropy, labels, logits)
    theirs, _ = loss_and_gradient(keras_cross_entropy, labels, logits)
    assert np.isfinite(ours).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize("offset", [1e4, 1e5, -1e6])
def test_gradients_of_large_logits_keep_their_digits(offset):
    """The softmax of the backward pass comes from the shifted logits: exp(z - lse(z)) with a
    rounded lse(z) of 1e5 loses about 1e-3 (Keras's kernel keeps 4e-8)."""
    labels, logits = case((4, 6), 9)
    logits = logits + np.float32(offset)
    _, ours = loss_and_gradient(sparse_softmax_cross_entropy, labels, logits)
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
    weights = np.arange(1, labels.size + 1, dtype=np.float64).reshape(labels.shape)[..., None]
    expected = (softmax - np.eye(9)[labels]) * weights
    np.testing.assert_allclose(ours, expected, atol=1e-5 * weights.max())
    np.testing.assert_allclose(ours.sum(axis=-1), 0.0, atol=1e-4)


def test_out_of_range_labels_are_nan_inside_an_xla_function():
    """XLA drops the assertions and would clamp the gather: the loss is NaN, as Keras's."""
    labels, logits = case((3,), 7)
    labels = np.array([7, 2, -1], dtype="int32")
    compiled = tf.function(sparse_softmax_cross_entropy, jit_compile=True)
    losses = compiled(labels, logits).numpy()
    assert np.isnan(losses[0]) and np.isnan(losses[2])
    np.testing.assert_allclose(
        losses[1], keras_cross_entropy(labels[1:2], logits[1:2])[0], rtol=1e-5
    )

    @tf.function(jit_compile=True)
    def gradient(logits):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            total = tf.reduce_sum(sparse_softmax_cross_entropy(labels, logits))
        return tape.gradient(total, logits)

    rows = gradient(tf.constant(logits)).numpy()
    assert np.isnan(rows[[0, 2]]).all() and np.isfinite(rows[1]).all()


def test_scalars_and_partly_known_shapes():
    with pytest.raises(ValueError, match=r"`labels` and `logits`.*logits.shape=\(\)"):
        sparse_softmax_cross_entropy(np.int32(1), np.float32(2.0))
    labels, logits = case((2, 3), 5)
    graph = tf.function(
        sparse_softmax_cross_entropy,
        input_signature=[
            tf.TensorSpec((None, 3), tf.int32),
            tf.TensorSpec((2, 3, 5), tf.float32),
        ],
    )
    np.testing.assert_allclose(
        graph(labels, logits), keras_cross_entropy(labels, logits), rtol=1e-5
    )


def test_trailing_label_axis_of_one_and_float_labels():
    labels, logits = case((4, 5), 7)
    expected = keras_cross_entropy(labels, logits).numpy()
    squeezed = sparse_softmax_cross_entropy(labels[..., None], logits).numpy()
    as_floats = sparse_softmax_cross_entropy(labels.astype("float32"), logits).numpy()
    np.testing.assert_allclose(squeezed, expected, rtol=1e-5)
    np.testing.assert_allclose(as_floats, expected, rtol=1e-5)


def test_mismatched_shapes_name_both_arguments():
    labels, logits = case((4, 5), 7)
    with pytest.raises(ValueError, match=r"`labels` and `logits`.*labels.shape=\(4, 4\)"):
        sparse_softmax_cross_entropy(labels[:, :4], logits)


@pytest.mark.parametrize("bad, message", [(7, "labels must be < the class count"), (-1, ">= 0")])
def test_out_of_range_labels_fail_instead_of_clamping(bad, message):
    labels, logits = case((4,), 7)
    labels[2] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        sparse_softmax_cross_entropy(labels, logits)
    graph = tf.function(sparse_softmax_cross_entropy)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        graph(labels, logits)


def test_inside_an_xla_function():
    labels, logits = case((4, 6), 11)
    compiled = tf.function(sparse_softmax_cross_entropy, jit_compile=True)
    np.testing.assert_allclose(
        compiled(labels, logits), keras_cross_entropy(labels, logits), rtol=1e-5
    )


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
def test_loss_class_reduces_as_keras(reduction):
    labels, logits = case((6, 5), 8, seed=1)
    weights = np.linspace(0.0, 1.0, 30).reshape(6, 5).astype("float32")
    ours = SparseSoftmaxCrossEntropy(reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
    for sample_weight in (None, weights):
        np.testing.assert_allclose(
            ours(labels, logits, sample_weight=sample_weight),
            theirs(labels, logits, sample_weight=sample_weight),
            rtol=1e-5,
            atol=1e-6,
        )


def test_config_round_trip_and_saved_model_file(tmp_path):
    loss = SparseSoftmaxCrossEntropy(reduction="sum", name="xent")
    restored = SparseSoftmaxCrossEntropy.from_config(loss.get_config())
    assert (restored.reduction, restored.name) == ("sum", "xent")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    model.compile("sgd", loss=loss)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss, SparseSoftmaxCrossEntropy) and loaded.loss.reduction == "sum"


def test_training_steps_equal_those_with_keras_loss():
    """Same weights after three SGD steps of a small language model whose padding (id 0) is
    masked: equal gradients, the mask applied alike."""
    labels, _ = case((4, 6), 50, seed=2)
    inputs = np.roll(labels, 1, axis=1)
    inputs[1, 3:] = inputs[3, 1:] = 0
    models = []
    for loss in (SparseSoftmaxCrossEntropy(), keras.losses.SparseCategoricalCrossentropy(True)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((6,), dtype="int32"),
                keras.layers.Embedding(50, 8, mask_zero=True),
                keras.layers.Dense(50),
            ]
        )
        model.compile(keras.optimizers.SGD(1.0, global_clipnorm=5.0), loss=loss)
        for _ in range(3):
            model.train_on_batch(inputs, labels)
        models.append(model)
    for ours, theirs in zip(*(model.get_weights() for model in models)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
