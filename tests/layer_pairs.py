"""Helpers for the equivalence tests: the same model built with Keras's layers and with ours."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

import zoo.layers

# name -> (keras layer class, zoo layer class, constructor arguments)
KINDS = {
    "lstm": (keras.layers.LSTM, zoo.layers.LSTM, {}),
    "gru": (keras.layers.GRU, zoo.layers.GRU, {"reset_after": True}),
    "gru_v1": (keras.layers.GRU, zoo.layers.GRU, {"reset_after": False}),
}


def layer_pair(kind: str, units: int = 6, **kwargs):
    """(keras layer, zoo layer) of the same kind and arguments, not yet built."""
    keras_class, zoo_class, fixed = KINDS[kind]
    arguments = {**fixed, **kwargs}
    return keras_class(units, **arguments), zoo_class(units, **arguments)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    target.set_weights(source.get_weights())


def outputs_and_gradients(model: keras.Model, inputs: list, seed: int = 0, training=False):
    """The model's outputs, and the gradients of a fixed random projection of all its outputs
    with respect to its float inputs and its trainable weights."""
    tensors = [tf.convert_to_tensor(x) for x in inputs]
    with tf.GradientTape(persistent=True) as tape:
        for t in tensors:
            if t.dtype.is_floating:
                tape.watch(t)
        outputs = model(tensors if len(tensors) > 1 else tensors[0], training=training)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        rng = np.random.RandomState(seed)
        loss = sum(
            tf.reduce_sum(o * rng.uniform(-1, 1, size=o.shape).astype("float32")) for o in outputs
        )
    float_inputs = [t for t in tensors if t.dtype.is_floating]
    grads = tape.gradient(loss, float_inputs + model.trainable_weights)
    # Embedding gradients come as IndexedSlices: densify them.
    return [np.asarray(o) for o in outputs], [np.asarray(tf.convert_to_tensor(g)) for g in grads]


def assert_models_equal(
    reference: keras.Model, ours: keras.Model, inputs: list, atol=1e-5, training=False
):
    """Same outputs and the same gradients (inputs and weights), within ``atol``."""
    ref_out, ref_grads = outputs_and_gradients(reference, inputs, training=training)
    our_out, our_grads = outputs_and_gradients(ours, inputs, training=training)
    assert len(ref_out) == len(our_out)
    for a, b in zip(ref_out, our_out):
        np.testing.assert_allclose(b, a, atol=atol, rtol=0)
    assert len(ref_grads) == len(our_grads)
    for a, b in zip(ref_grads, our_grads):
        np.testing.assert_allclose(b, a, atol=atol, rtol=0)
