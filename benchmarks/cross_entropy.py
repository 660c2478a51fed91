"""What zoo's softmax cross-entropy saves against Keras's, on the PTB language model's shapes.

Side by side in one process, taking turns, with the thread settings of `zoo bench`:
- the loss alone: forward and gradient of the mean cross-entropy of (batch x steps, 10,000)
  logits, `zoo.losses.sparse_softmax_cross_entropy` against
  `keras.losses.sparse_categorical_crossentropy(from_logits=True)` (and PyTorch's
  `cross_entropy`, when importable, for reference);
- a training step (`train_on_batch`, SGD with global-norm clipping) of the `zoo bench` model
  with each loss: the shared part alone (Embedding -> Dense, no recurrent layer) and the full
  model with two zoo LSTM layers.
Median wall-clock ms per call over the rounds; read it from a quiet machine.

Usage: `python3 benchmarks/cross_entropy.py [--config small] [--repeats 7] [--steps 10]
[--threads 2] [--out FILE.json]`.
"""

import argparse
import dataclasses
import os
import statistics
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo import bench
    from zoo.training.common import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=tuple(bench.CONFIGS), default="small")
    parser.add_argument("--repeats", type=bench.positive_int, default=7)
    parser.add_argument("--steps", type=bench.positive_int, default=10)
    parser.add_argument("--threads", type=bench.positive_int, default=2)
    parser.add_argument("--out", type=Path, help="also write the samples and medians as JSON")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    config = bench.CONFIGS[args.config]
    shared = dataclasses.replace(config, num_layers=0)
    zoo_lstm = bench.Entry(bench.CONTENDERS_BY_NAME["zoo-lstm"], "auto")
    torch_lstm = bench.Entry(bench.CONTENDERS_BY_NAME["torch-lstm"], None)
    with_torch = bench.missing_reason(torch_lstm.contender) is None
    bench.pin_threads(args.threads, [zoo_lstm, torch_lstm] if with_torch else [zoo_lstm])

    import keras
    import numpy as np
    import tensorflow as tf

    import zoo.losses

    rows = bench.BATCH_SIZE * config.unroll
    rng = np.random.default_rng(0)
    labels = rng.integers(0, bench.VOCAB_SIZE, rows).astype("int32")
    logits = rng.standard_normal((rows, bench.VOCAB_SIZE)).astype("float32")

    def tensorflow_loss_step(function):
        @tf.function
        def step(labels, logits):
            with tf.GradientTape() as tape:
                tape.watch(logits)
                loss = tf.reduce_mean(function(labels, logits))
            return loss, tape.gradient(loss, logits)

        arguments = tf.constant(labels), tf.constant(logits)
        return lambda: step(*arguments)

    calls = {
        "loss+gradient, keras": tensorflow_loss_step(
            lambda y, z: keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True)
        ),
        "loss+gradient, zoo": tensorflow_loss_step(zoo.losses.sparse_softmax_cross_entropy),
    }
    if with_torch:
        import torch

        torch_labels = torch.from_numpy(labels).long()
        torch_logits = torch.from_numpy(logits).requires_grad_()

        def torch_loss_step():
            loss = torch.nn.functional.cross_entropy(torch_logits, torch_labels)
            return torch.autograd.grad(loss, torch_logits)

        calls["loss+gradient, torch"] = torch_loss_step
    for name, model_config in (("shared part", shared), ("zoo-lstm model", config)):
        for loss in ("keras", "zoo"):
            runner = bench.build_runner(zoo_lstm, model_config, loss, fold=False)
            calls[f"{name} train step, {loss}"] = runner.train_step

    for call in calls.values():
        call()
        call()
    samples = {name: [] for name in calls}
    for round_index in range(args.repeats):
        for name in bench.rotated(list(calls), round_index):
            calls[name]()
            seconds = bench.seconds_for(calls[name], args.steps)
            samples[name].append(1000.0 * seconds / args.steps)

    print(
        f"{args.config}: {rows} x {bench.VOCAB_SIZE} logits, {args.repeats} rounds x "
        f"{args.steps} calls, {args.threads} threads; median ms per call [min-max]; "
        f"TensorFlow oneDNN ops: {bench.ONEDNN_STATES[bench.tensorflow_onednn()]}"
    )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        print(f"{name:36} {medians[name]:7.2f} [{min(values):6.2f}-{max(values):6.2f}]")
    for name in ("loss+gradient", "shared part train step", "zoo-lstm model train step"):
        saved = medians[f"{name}, keras"] - medians[f"{name}, zoo"]
        print(f"{name}: zoo's loss saves {saved:.1f} ms per call")
    if args.out:
        payload = {
            "command": " ".join(["python3", *sys.argv]),
            "config": dataclasses.asdict(config),
            "repeats": args.repeats,
            "steps": args.steps,
            "threads": args.threads,
            "tensorflow_onednn": bench.tensorflow_onednn(),
            "load_average_start": load_at_start,
            "load_average_end": os.getloadavg(),
            "ms_per_call": samples,
            "medians": medians,
        }
        write_json(args.out, payload)


if __name__ == "__main__":
    main()
