"""Recurrent dropout's cost: training words per CPU second with and without it.

The PTB-small language model (Embedding 10000 -> 2 x 200 units -> Dense 10000, batch 20,
20 steps, SGD with global-norm clipping) trained with `recurrent_dropout` 0 and 0.25, for the
zoo LSTM and GRU and for Keras's LSTM (which loses its cuDNN path with recurrent dropout).
Process CPU time with one TensorFlow thread, so that other load on a shared machine matters
less. Target: the zoo layers keep >= 0.8x of their own speed with recurrent dropout.

Usage: `python3 benchmarks/recurrent_dropout.py [--rounds 5]`.
"""

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import zoo.layers

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    units, batch, steps, vocab = 200, 20, 20, 10_000

    def model(layer_class, rate):
        inputs = keras.Input((steps,), batch_size=batch, dtype="int32")
        x = keras.layers.Embedding(vocab, units)(inputs)
        for _ in range(2):
            x = layer_class(units, return_sequences=True, recurrent_dropout=rate)(x)
        built = keras.Model(inputs, keras.layers.Dense(vocab)(x))
        built.compile(
            optimizer=keras.optimizers.SGD(1.0, global_clipnorm=5),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
        return built

    rng = np.random.RandomState(0)
    x = rng.randint(0, vocab, (batch, steps)).astype("int32")
    y = rng.randint(0, vocab, (batch, steps)).astype("int32")
    contenders = {
        "zoo-lstm": model(zoo.layers.LSTM, 0.0),
        "zoo-lstm rd 0.25": model(zoo.layers.LSTM, 0.25),
        "zoo-gru": model(zoo.layers.GRU, 0.0),
        "zoo-gru rd 0.25": model(zoo.layers.GRU, 0.25),
        "keras-lstm rd 0.25": model(keras.layers.LSTM, 0.25),
    }
    for built in contenders.values():
        for _ in range(3):
            built.train_on_batch(x, y)
    samples = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, built in contenders.items():
            start = time.process_time()
            for _ in range(8):
                built.train_on_batch(x, y)
            samples[name].append(batch * steps * 8 / (time.process_time() - start))
    medians = {name: float(np.median(values)) for name, values in samples.items()}
    print(f"training words per CPU second, median of {args.rounds} rounds (1 TensorFlow thread)")
    for name, values in samples.items():
        print(f"{name:20s} {medians[name]:7.0f}  [{min(values):.0f}-{max(values):.0f}]")
    for cell in ("lstm", "gru"):
        ratio = medians[f"zoo-{cell} rd 0.25"] / medians[f"zoo-{cell}"]
        print(f"zoo-{cell}: with / without recurrent dropout = {ratio:.2f} (target >= 0.8)")
    ratio = medians["keras-lstm rd 0.25"] / medians["zoo-lstm rd 0.25"]
    print(f"keras-lstm / zoo-lstm, both with recurrent dropout = {ratio:.2f}")


if __name__ == "__main__":
    main()
