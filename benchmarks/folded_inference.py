"""Inference with the embedding folded into the first layer's input projection, against the
plain zoo model and Keras's built-in layers.

`zoo.models.inference_model(model, fold_embedding=True)` stores E W (the embedding table times
the first recurrent layer's kernel) as its embedding, so the first layer's input matmul becomes a
row lookup (its layer has `inputs_projected=True`). This script times, in one process taking
turns, the forward pass (`training=False`, a `tf.function`, batch 20, 10,000 words) of three
inference models of one PTB language model: Keras's built-in layer (impl="keras"), the zoo's
layer, and the zoo's layer folded. All three have the same weights (the Keras model gets the zoo
model's), and the script prints the largest difference of their logits. It also prints each
model's FLOPs per token and its parameter count (the folded table is larger).

Usage: `python3 benchmarks/folded_inference.py [--config small|medium] [--cell lstm|gru]
[--rounds 9] [--threads 2]`.
"""

import os
import statistics

from inference_parts import milliseconds_in_turns, parse_arguments


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo import bench
    from zoo.models import inference_model, language_model

    tf.get_logger().setLevel("ERROR")
    threads = bench.pin_tensorflow_threads(args.threads)
    keras.utils.set_random_seed(0)
    zoo_lm = language_model(args.cell, "zoo", args.config, vocab_size=bench.VOCAB_SIZE)
    keras_lm = language_model(args.cell, "keras", args.config, vocab_size=bench.VOCAB_SIZE)
    keras_lm.set_weights(zoo_lm.get_weights())
    models = {
        "keras": inference_model(keras_lm),
        "zoo": inference_model(zoo_lm),
        "zoo folded": inference_model(zoo_lm, fold_embedding=True),
    }
    config = bench.CONFIGS[args.config]  # the shapes of the PTB config of the same name
    steps = config.unroll
    tokens = np.random.default_rng(0).integers(0, bench.VOCAB_SIZE, (bench.BATCH_SIZE, steps))
    inputs = tf.constant(tokens.astype("int32"))
    forwards = {
        name: tf.function(lambda ids, model=model: model(ids, training=False))
        for name, model in models.items()
    }
    logits = {name: forward(inputs).numpy() for name, forward in forwards.items()}
    samples = milliseconds_in_turns(forwards, inputs, args.rounds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    flops = bench.forward_flops_per_token(args.cell, config)
    folded_flops = bench.folded_forward_flops_per_token(args.cell, config)
    print(f"{args.config} {args.cell}, batch {bench.BATCH_SIZE} x {steps}, {threads}:")
    for name, values in samples.items():
        quartiles = np.percentile(values, [25, 75])
        per_token = folded_flops if name == "zoo folded" else flops
        print(
            f"  {name:10s} {medians[name]:7.1f} ms  [{quartiles[0]:.1f}-{quartiles[1]:.1f}]  "
            f"{bench.BATCH_SIZE * steps / medians[name] * 1e3:7.0f} words/s  "
            f"{per_token / 1e6:.2f} MFLOP/token  {models[name].count_params():,} parameters"
        )
    print(
        f"  Keras / zoo {medians['keras'] / medians['zoo']:.2f}, "
        f"Keras / zoo folded {medians['keras'] / medians['zoo folded']:.2f}, "
        f"zoo / zoo folded {medians['zoo'] / medians['zoo folded']:.2f}"
    )
    print(
        "  largest |logit difference| from zoo: "
        + ", ".join(
            f"{name} {np.abs(values - logits['zoo']).max():.1e}"
            for name, values in logits.items()
            if name != "zoo"
        )
    )
    print(f"  load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
