"""Overhead of `zoo.callbacks.GradientNormLogger` on the PTB small configuration.

Trains one PTB-small-shaped model (Embedding 10000 -> 200, 2 x keras.layers.LSTM(200,
return_sequences=True), Dense 10000; batch 20, 20 steps of random token ids; SGD with
global_clipnorm=5) for `--steps` steps per run, alternately without and with
GradientNormLogger(every_n_steps=`--every`), `--repeats` times each (the order flips every
repeat). A run's time is the wall time from the end of its first step (tracing excluded) to the
end of its last step. Prints every run, the median time per step of each variant, and the
overhead = median over repeats of (time with logger / time without) - 1.

    python3 benchmarks/callback_overhead.py --steps 101 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from zoo.callbacks import GradientNormLogger  # noqa: E402

VOCAB, EMBED, UNITS, BATCH, SEQ = 10000, 200, 200, 20, 20


def ptb_small_model() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((SEQ,), dtype="int32"),
            keras.layers.Embedding(VOCAB, EMBED),
            keras.layers.LSTM(UNITS, return_sequences=True),
            keras.layers.LSTM(UNITS, return_sequences=True),
            keras.layers.Dense(VOCAB),
        ]
    )
    model.compile(
        keras.optimizers.SGD(1.0, global_clipnorm=5.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


class _BatchEndTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def time_run(model, x, y, callbacks) -> float:
    """Seconds per step, from the end of the first step to the end of the last."""
    clock = _BatchEndTimes()
    model.fit(
        x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[clock, *callbacks]
    )
    return (clock.times[-1] - clock.times[0]) / (len(clock.times) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=101, help="steps per run (first excluded)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--every", type=int, default=50, help="GradientNormLogger every_n_steps")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (args.steps * BATCH, SEQ)).astype("int32")
    y = rng.integers(0, VOCAB, (args.steps * BATCH, SEQ)).astype("int32")
    model = ptb_small_model()
    times: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as log_dir:
        for repeat in range(args.repeats):
            order = ["without", "with"] if repeat % 2 == 0 else ["with", "without"]
            for variant in order:
                callbacks = [GradientNormLogger(log_dir, every_n_steps=args.every)]
                seconds = time_run(model, x, y, callbacks if variant == "with" else [])
                times[variant].append(seconds)
                print(f"repeat {repeat} {variant:>7} logger: {1000 * seconds:8.2f} ms/step")
    ratios = [w / wo for w, wo in zip(times["with"], times["without"], strict=True)]
    print(f"median without: {1000 * statistics.median(times['without']):.2f} ms/step")
    print(f"median with:    {1000 * statistics.median(times['with']):.2f} ms/step")
    print(f"overhead (median of paired ratios - 1): {100 * (statistics.median(ratios) - 1):+.1f}%")


if __name__ == "__main__":
    main()
