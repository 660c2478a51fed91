"""Softmax cross-entropy over a large vocabulary, from logits, compiled on TensorFlow.

For labels ``y`` and logits ``z`` over ``V`` classes, per element::

    loss = logsumexp(z) - z_y = log sum_k exp(z_k - m) + m - z_y,    m = max_k z_k
    dloss/dz_k = softmax(z)_k - [k == y]

The values are those of ``keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True)``
(tested to float32 precision). On the TensorFlow backend the forward and the backward pass each
run as one XLA-compiled function with the gradient above written out: TensorFlow's own kernel
(``tf.nn.sparse_softmax_cross_entropy_with_logits``, what Keras calls) computes the gradient in
every forward call and takes more than twice as long at a language model's shapes (400 x
10,000 logits: ``benchmarks/cross_entropy.py``). Other backends compute it with ``keras.ops``.
"""

from __future__ import annotations

import functools

import keras


@functools.cache
def _tensorflow_functions():
    """(forward, backward): the compiled halves, built once on first use."""
    import tensorflow as tf

    def out_of_range(labels, classes):
        """(rows,) True where a label is not a class id: its loss and gradient are NaN, as
        Keras's (XLA would clamp the gather index instead)."""
        return (labels < 0) | (labels >= classes)

    @tf.function(jit_compile=True, autograph=False)
    def forward(labels, logits):
        """(loss per row, max per row, sum exp(logits - max) per row) of 2-D ``logits``
        (rows, classes)."""
        peak = tf.reduce_max(logits, axis=1)
        shifted = logits - peak[:, None]
        total = tf.reduce_sum(tf.exp(shifted), axis=1)
        picked = tf.gather(shifted, labels, axis=1, batch_dims=1)
        invalid = out_of_range(labels, tf.shape(logits)[1])
        losses = tf.where(
            invalid, tf.constant(float("nan"), logits.dtype), tf.math.log(total) - picked
        )
        return losses, peak, total

    @tf.function(jit_compile=True, autograph=False)
    def backward(labels, logits, peak, total, upstream):
        """upstream * (softmax(logits) - one_hot(labels)), row by row; the softmax from the
        shifted logits, exp(logits - max) / total (subtracting a rounded logsumexp of large
        logits instead would lose digits)."""
        probabilities = tf.exp(logits - peak[:, None]) / total[:, None]
        one_hot = tf.one_hot(labels, tf.shape(logits)[1], dtype=logits.dtype)
        gradient = (probabilities - one_hot) * upstream[:, None]
        invalid = out_of_range(labels, tf.shape(logits)[1])
        return tf.where(invalid[:, None], tf.constant(float("nan"), logits.dtype), gradient)

    return forward, backward


def _tensorflow_cross_entropy(labels, logits):
    import tensorflow as tf

    forward, backward = _tensorflow_functions()
    classes = logits.shape[-1] if logits.shape[-1] is not None else tf.shape(logits)[-1]
    flat_labels = tf.reshape(tf.cast(labels, tf.int32), (-1,))
    # XLA clamps an out-of-range gather index instead of failing: check the labels here (an
    # error where assertions run; in an XLA-compiled caller they are dropped, and the loss is
    # NaN instead, see `forward`).
    checks = [
        tf.debugging.assert_non_negative(flat_labels, message="labels must be >= 0"),
        tf.debugging.assert_less(
            flat_labels, tf.cast(classes, tf.int32), message="labels must be < the class count"
        ),
    ]

    @tf.custom_gradient
    def cross_entropy(flat_logits):
        with tf.control_dependencies(checks):
            losses, peak, total = forward(flat_labels, flat_logits)

        def grad(upstream):
            return backward(flat_labels, flat_logits, peak, total, upstream)

        return losses, grad

    losses = cross_entropy(tf.reshape(logits, (-1, classes)))
    return tf.reshape(losses, tf.shape(labels))


def sparse_softmax_cross_entropy(labels, logits):
    """Per-element cross-entropy ``logsumexp(logits) - logits[labels]`` (natural log).

    Args:
        labels: integer class ids, shape ``S`` (any rank), each in ``[0, classes)``; a
            trailing axis of size 1 is dropped when ``labels`` has the rank of ``logits``.
        logits: unnormalized scores, shape ``S + (classes,)``.

    Returns:
        The losses, shape ``S``, in the dtype of ``logits``. A label outside ``[0, classes)``
        is an error where TensorFlow's assertions run (eager, ``tf.function``); inside an
        XLA-compiled caller its loss and gradient are NaN, as Keras's are.
    """
    labels = keras.ops.convert_to_tensor(labels)
    logits = keras.ops.convert_to_tensor(logits)
    if len(logits.shape) >= 1 and len(labels.shape) == len(logits.shape) and labels.shape[-1] == 1:
        labels = keras.ops.squeeze(labels, axis=-1)
    if (
        len(logits.shape) < 1
        or len(labels.shape) != len(logits.shape) - 1
        or any(
            a is not None and b is not None and a != b
            for a, b in zip(labels.shape, logits.shape[:-1])
        )
    ):
        raise ValueError(
            "Arguments `labels` and `logits`: expected labels of shape logits.shape[:-1]; "
            f"received labels.shape={tuple(labels.shape)}, logits.shape={tuple(logits.shape)}."
        )
    if not keras.backend.is_int_dtype(labels.dtype):
        labels = keras.ops.cast(labels, "int32")
    if keras.backend.backend() == "tensorflow":
        return _tensorflow_cross_entropy(labels, logits)
    return keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


@keras.saving.register_keras_serializable(package="zoo")
class SparseSoftmaxCrossEntropy(keras.losses.Loss):
    """``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``, faster on TensorFlow.

    The loss of ``sparse_softmax_cross_entropy`` (see there and the module docstring), reduced
    by Keras's rules: ``sample_weight``, the mask of ``y_pred`` (from ``mask_zero`` embeddings,
    ``Masking``) and ``reduction`` act as in any Keras loss. Keras's ``ignore_class`` is not
    offered: a zero ``sample_weight`` or a mask leaves elements out the same way.

    Args:
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``,
            ``"mean_with_sample_weight"`` or None.
        name: the loss's name.
        dtype: the dtype of the computation (default: ``keras.backend.floatx()``).
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_softmax_cross_entropy",
        dtype: str | None = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return sparse_softmax_cross_entropy(y_true, y_pred)
