"""What cutting the batch into slices does to the fused loops: two stacked zoo layers alone.

Times a training step (forward and backward, gradients of every weight) and a forward pass of
two stacked zoo LSTM and GRU layers, traced once with the fused loops over the whole batch
(`zoo.layers.fused.batch_slices(1)`) and once per slice count asked for (`--slices`), in one
process with the variants taking turns; wall-clock time with `--threads` TensorFlow threads
(intra- and inter-op), the median of `--rounds` rounds of 10 calls. The slices run
concurrently on the inter-op threads, so compare only at the same thread count.

Usage: `python3 benchmarks/batch_slices.py [--units 200] [--steps 20] [--batch 20]
[--threads 2] [--slices 2] [--rounds 11] [--out FILE.json]`.
"""

import argparse
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slices", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--out", type=Path, help="also write the samples and medians as JSON")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    from stacked_layers import stacked_layer_functions

    import zoo.layers
    from zoo.layers.fused import batch_slice_sizes, batch_slices
    from zoo.training.common import write_json

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    x = tf.constant(
        np.random.RandomState(0).randn(args.batch, args.steps, args.units).astype("float32")
    )

    def variant(layer_class, slices):
        functions = stacked_layer_functions(layer_class, x, args.units)
        with batch_slices(slices):  # traced here, so the functions keep this slicing
            for function in functions:
                function()
        return functions

    variants = {}
    for cell, layer_class in (("lstm", zoo.layers.LSTM), ("gru", zoo.layers.GRU)):
        for slices in (1, *args.slices):
            variants[f"{cell} slices={slices}"] = variant(layer_class, slices)
    samples = {name: {"train": [], "forward": []} for name in variants}
    for round_index in range(args.rounds):
        names = list(variants)
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            for kind, function in zip(("train", "forward"), variants[name]):
                start = time.perf_counter()
                for _ in range(10):
                    function()
                samples[name][kind].append((time.perf_counter() - start) / 10 * 1e3)
    medians = {
        name: {kind: statistics.median(values) for kind, values in times.items()}
        for name, times in samples.items()
    }
    print(
        f"2 layers x {args.units} units, batch {args.batch}, {args.steps} steps, "
        f"{args.threads} threads; wall ms per call, median of {args.rounds} rounds of 10"
    )
    print(f"{'variant':16s} {'rows':>12s} {'train step':>10s} {'forward':>8s}")
    for name, median in medians.items():
        with batch_slices(int(name.split("=")[1])):
            rows = "+".join(map(str, batch_slice_sizes(args.batch)))
        print(f"{name:16s} {rows:>12s} {median['train']:10.2f} {median['forward']:8.2f}")
    if args.out:
        report = {
            "arguments": vars(args) | {"out": str(args.out)},
            "ms": samples,
            "median_ms": medians,
        }
        write_json(args.out, report)


if __name__ == "__main__":
    main()
