"""Where the inference time of the `zoo bench` language model goes: the recurrent layers and the
softmax head apart, and the ceiling that the machine's matmul peak puts on the zoo/Keras ratio.

In one process, taking turns, the forward pass (`training=False`, a `tf.function`, batch 20) of:
the whole model (Embedding, 2 recurrent layers, Dense over the 10,000 words) with zoo's and with
Keras's LSTM; the same without the Dense head; and Embedding + Dense alone (the part every
contender shares). Then TensorFlow's 1024^3 matmul rate (best of 5), and the time the whole
model's FLOPs would take at that rate: no implementation of the layers can make the model
faster than that, so `Keras's time / that floor` bounds the zoo/Keras inference ratio.

Usage: `python3 benchmarks/inference_parts.py [--config small|medium] [--cell lstm|gru]
[--rounds 9] [--threads 2]`.
"""

import argparse
import os
import statistics
import time

CALLS_PER_SAMPLE = 3


def parse_arguments(description: str) -> argparse.Namespace:
    """The options of the inference scripts (this one and `folded_inference.py`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", choices=("small", "medium"), default="medium")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def milliseconds_in_turns(functions: dict, inputs, rounds: int) -> dict[str, list[float]]:
    """Per function, `rounds` samples of its ms per call on `inputs` (the mean of
    CALLS_PER_SAMPLE calls, results fetched), the functions taking turns in every round."""
    samples = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(CALLS_PER_SAMPLE):
                function(inputs).numpy()
            samples[name].append((time.perf_counter() - started) / CALLS_PER_SAMPLE * 1e3)
    return samples


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import zoo.layers
    from zoo import bench

    tf.get_logger().setLevel("ERROR")  # one tf.function per model: retracing is expected
    threads = bench.pin_tensorflow_threads(args.threads)
    config = bench.CONFIGS[args.config]
    layer_classes = {
        "zoo": getattr(zoo.layers, args.cell.upper()),
        "keras": getattr(keras.layers, args.cell.upper()),
    }

    def forward(layer_class=None, head: bool = True):
        parts = [
            keras.Input(shape=(config.unroll,), batch_size=bench.BATCH_SIZE, dtype="int32"),
            keras.layers.Embedding(bench.VOCAB_SIZE, config.hidden),
        ]
        if layer_class is not None:
            parts += [
                layer_class(config.hidden, return_sequences=True) for _ in range(config.num_layers)
            ]
        if head:
            parts.append(keras.layers.Dense(bench.VOCAB_SIZE))
        model = keras.Sequential(parts)
        return tf.function(lambda inputs: model(inputs, training=False))

    cases = {}
    for name, layer_class in layer_classes.items():
        cases[f"{name} model"] = forward(layer_class)
        cases[f"{name} without head"] = forward(layer_class, head=False)
    cases["embedding + head"] = forward()
    tokens = np.random.default_rng(0).integers(
        0, bench.VOCAB_SIZE, (bench.BATCH_SIZE, config.unroll)
    )
    inputs = tf.constant(tokens.astype("int32"))
    for function in cases.values():
        function(inputs)
    samples = milliseconds_in_turns(cases, inputs, args.rounds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.config} {args.cell}, batch {bench.BATCH_SIZE} x {config.unroll}, {threads}:")
    for name, values in samples.items():
        quartiles = np.percentile(values, [25, 75])
        print(f"  {name:22s} {medians[name]:7.1f} ms  [{quartiles[0]:.1f}-{quartiles[1]:.1f}]")
    print(
        f"  zoo/Keras: model {medians['keras model'] / medians['zoo model']:.2f}, "
        f"without head {medians['keras without head'] / medians['zoo without head']:.2f}"
    )
    peak = max(bench.tensorflow_matmul_gflops(1024, 20) for _ in range(5))
    flops = bench.forward_flops_per_token(args.cell, config) * bench.BATCH_SIZE * config.unroll
    floor = flops / peak / 1e6
    print(
        f"  matmul peak {peak:.1f} GFLOP/s; the model's {flops / 1e9:.2f} GFLOP take at least "
        f"{floor:.1f} ms: zoo/Keras cannot exceed {medians['keras model'] / floor:.2f} here"
    )
    print(f"  load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
