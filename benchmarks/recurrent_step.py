"""Where the training time of the recurrent layers goes: two stacked layers alone, no softmax.

Times, in process CPU time with one TensorFlow thread (less sensitive to other load on a shared
machine than wall time), a training step (forward and backward, gradients of every weight) and
a forward pass of two stacked layers on PTB-small shapes (batch 20, 20 steps, 200 units), for:
the zoo layers on their fused TensorFlow path, the zoo layers on the engine's generic loop
(`zoo.layers.engine.generic_loop()`), and Keras's built-in layers.

Usage: `python3 benchmarks/recurrent_step.py [--units 200] [--steps 20] [--batch 20]`.
"""

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    from stacked_layers import stacked_layer_functions

    import zoo.layers
    from zoo.layers.engine import generic_loop

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    x = tf.constant(
        np.random.RandomState(0).randn(args.batch, args.steps, args.units).astype("float32")
    )

    def contender(layer_class, generic=False):
        functions = stacked_layer_functions(layer_class, x, args.units)
        if generic:
            with generic_loop():  # traced here, so the functions keep the generic loop
                for function in functions:
                    function()
        return functions

    contenders = {
        "zoo-lstm fused": contender(zoo.layers.LSTM),
        "zoo-lstm generic": contender(zoo.layers.LSTM, generic=True),
        "keras-lstm": contender(keras.layers.LSTM),
        "zoo-gru fused": contender(zoo.layers.GRU),
        "zoo-gru generic": contender(zoo.layers.GRU, generic=True),
        "keras-gru": contender(keras.layers.GRU),
    }
    samples = {name: ([], []) for name in contenders}
    for functions in contenders.values():
        for function in functions:
            function()
    for _ in range(args.rounds):
        for name, functions in contenders.items():
            for function, times in zip(functions, samples[name]):
                start = time.process_time()
                for _ in range(10):
                    function()
                times.append((time.process_time() - start) / 10 * 1e3)
    shape = f"2 layers x {args.units} units, batch {args.batch}, {args.steps} steps"
    print(f"{shape}; CPU ms per call, median of {args.rounds} rounds of 10 (1 TensorFlow thread)")
    print(f"{'contender':18s} {'train step':>10s} {'forward':>8s}")
    for name, (train, forward) in samples.items():
        print(f"{name:18s} {np.median(train):10.2f} {np.median(forward):8.2f}")


if __name__ == "__main__":
    main()
