"""Two stacked recurrent layers alone, as the layer benchmarks time them (no embedding, no
softmax): the training step and the forward pass on a fixed input, as `tf.function`s."""

from collections.abc import Callable


def stacked_layer_functions(layer_class: type, x, units: int) -> tuple[Callable, Callable]:
    """(train, forward) of two `layer_class(units, return_sequences=True)` layers on `x`: a
    training step (forward and backward, the gradients of every weight of a sum of squares)
    and a forward pass, as `tf.function`s, traced at their first call."""
    import tensorflow as tf

    first = layer_class(units, return_sequences=True)
    second = layer_class(units, return_sequences=True)
    weights = []
    for layer in (first, second):
        layer.build(x.shape)
        weights += layer.trainable_weights

    def forward():
        return second(first(x))

    def train():
        with tf.GradientTape() as tape:
            y = forward()
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, weights)

    return tf.function(train), tf.function(forward)
