"""Overhead of `zoo.callbacks.GradientNormLogger` on the PTB small configuration.

Trains one PTB-small-shaped model (Embedding 10000 -> 200, 2 x keras.layers.LSTM(200,
return_sequences=True), Dense 10000; batch 20, 20 steps of random token ids; SGD with
global_clipnorm=5) for `--steps` steps per run, alternately without and with
GradientNormLogger(every_n_steps=`--every`), `--repeats` times each (the order flips every
repeat). A run's time is measured from the end of its first step (tracing excluded) to the end
of its last step, both as wall time and as this process's CPU time (all threads; less disturbed
by other processes on a shared machine). Prints every run, the median time per step of each
variant, and the overhead = median over repeats of (time with logger / time without) - 1.
The logging cadence counts global steps, so any `--every` consecutive steps hold exactly one
logged step.

    python3 benchmarks/callback_overhead.py --steps 51 --repeats 10
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
        self.times: list[tuple[float, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append((time.perf_counter(), time.process_time()))


def time_run(model, x, y, callbacks) -> tuple[float, float]:
    """(wall, CPU) seconds per step, from the end of the first step to the end of the last."""
    clock = _BatchEndTimes()
    model.fit(x, y, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[clock, *callbacks])
    (wall_0, cpu_0), (wall_1, cpu_1) = clock.times[0], clock.times[-1]
    steps = len(clock.times) - 1
    return (wall_1 - wall_0) / steps, (cpu_1 - cpu_0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=51, help="steps per run (first excluded)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--every", type=int, default=50, help="GradientNormLogger every_n_steps")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (args.steps * BATCH, SEQ)).astype("int32")
    y = rng.integers(0, VOCAB, (args.steps * BATCH, SEQ)).astype("int32")
    model = ptb_small_model()
    times: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as log_dir:
        for repeat in range(args.repeats):
            order = ["without", "with"] if repeat % 2 == 0 else ["with", "without"]
            for variant in order:
                callbacks = [GradientNormLogger(log_dir, every_n_steps=args.every)]
                wall, cpu = time_run(model, x, y, callbacks if variant == "with" else [])
                times[variant].append((wall, cpu))
                print(
                    f"repeat {repeat} {variant:>7} logger: wall {1000 * wall:8.2f} ms/step, "
                    f"CPU {1000 * cpu:8.2f} ms/step",
                    flush=True,
                )
    for k, clock in enumerate(["wall", "CPU"]):
        without = [t[k] for t in times["without"]]
        with_logger = [t[k] for t in times["with"]]
        ratios = [w / wo for w, wo in zip(with_logger, without, strict=True)]
        print(
            f"{clock}: median without {1000 * statistics.median(without):.2f} ms/step, "
            f"with {1000 * statistics.median(with_logger):.2f} ms/step, "
            f"overhead (median of paired ratios - 1) {100 * (statistics.median(ratios) - 1):+.1f}%"
        )


if __name__ == "__main__":
    main()
