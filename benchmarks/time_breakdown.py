"""Where a step of the PTB language model goes: the recurrent layers against the shared rest.

Times, in one process with the models taking turns (the rounds of `zoo bench`), the full model
of each contender and, per framework, the same model without recurrent layers: Embedding ->
Dense(10000), that is the embedding, the softmax projection, the loss, the global-norm
clipping and the SGD update, which every contender of a framework shares. The recurrent
layers' cost is the difference of the medians within a framework:

    recurrent ms per step = full model ms - shared part ms

so a zoo/PyTorch ratio of the whole model splits into what the recurrent layers cost and what
each framework's shared part costs. Wall-clock time; read it from a quiet machine.

The Keras models (zoo's layers and Keras's) are trained with `--loss` (as in `zoo bench`:
zoo's cross-entropy by default, `keras` for Keras's).

Usage: `python3 benchmarks/time_breakdown.py [--config small] [--repeats 7] [--steps 10]
[--threads 2] [--loss zoo] [--out FILE.json]`.
"""

import argparse
import dataclasses
import os
import statistics
from pathlib import Path

# The layer class only names the framework: the shared part is built with no recurrent layer.
SHARED_PART_IMPL = {"keras": "keras.layers.LSTM", "torch": "torch.nn.LSTM"}


def framework_of(contender) -> str:
    """ "keras" for the zoo and Keras contenders (TensorFlow), "torch" for PyTorch's."""
    return "keras" if contender.is_keras else "torch"


def milliseconds(words_per_second: float, words_per_step: int) -> float:
    """Milliseconds per batch of `words_per_step` words at `words_per_second`."""
    return 1000.0 * words_per_step / words_per_second


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo import bench
    from zoo.training.common import write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=tuple(bench.CONFIGS), default="small")
    parser.add_argument("--repeats", type=bench.positive_int, default=7)
    parser.add_argument("--steps", type=bench.positive_int, default=10)
    parser.add_argument("--threads", type=bench.positive_int, default=2)
    parser.add_argument("--loss", choices=sorted(bench.LOSSES), default="zoo")
    parser.add_argument("--out", type=Path, help="also write the samples and medians as JSON")
    args = parser.parse_args()
    config = bench.CONFIGS[args.config]
    shared_config = dataclasses.replace(config, name=f"{config.name}-shared", num_layers=0)
    entries, skipped = bench.runnable_entries(
        argparse.Namespace(contenders=bench.CONTENDERS, jit_compile="auto")
    )
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    shared_parts = {
        framework: bench.Contender(f"{framework}-shared", framework, "lstm", impl)
        for framework, impl in SHARED_PART_IMPL.items()
        if any(framework_of(entry.contender) == framework for entry in entries)
    }
    shared_entries = bench.plan_entries(shared_parts.values(), "auto")
    models = {entry.contender.name: (entry, config) for entry in entries}
    models.update({entry.contender.name: (entry, shared_config) for entry in shared_entries})

    bench.pin_threads(args.threads, [entry for entry, _ in models.values()])
    runners = {
        label: bench.build_runner(entry, cfg, args.loss, fold=False)
        for label, (entry, cfg) in models.items()
    }
    for runner in runners.values():
        bench.warm_up(runner)
    words_per_step = bench.BATCH_SIZE * config.unroll
    samples = {label: {"train": [], "infer": []} for label in runners}
    for round_index in range(args.repeats):
        measured = bench.run_round(runners, config, args.steps, round_index)
        for label, rates in measured.items():
            for mode, rate in rates.items():
                samples[label][mode].append(milliseconds(rate, words_per_step))
    medians = {
        label: {mode: statistics.median(values) for mode, values in modes.items()}
        for label, modes in samples.items()
    }

    print(
        f"{args.config}: batch {bench.BATCH_SIZE}, {config.unroll} steps, "
        f"{args.repeats} rounds x {args.steps} batches, {args.threads} threads; ms per batch"
    )
    onednn = bench.ONEDNN_STATES[bench.tensorflow_onednn()]
    print(f"loss of the Keras models: {bench.LOSSES[args.loss]}; TensorFlow oneDNN ops: {onednn}")
    print(f"{'model':16} {'train ms [min-max]':>24} {'infer ms [min-max]':>24}")
    for label, modes in samples.items():
        cells = [
            f"{medians[label][mode]:7.1f} [{min(v):6.1f}-{max(v):6.1f}]"
            for mode, v in modes.items()
        ]
        print(f"{label:16} {cells[0]:>24} {cells[1]:>24}")
    recurrent = {}
    print("\nrecurrent layers = full model - shared part of its framework (medians):")
    for entry in entries:
        label = entry.contender.name
        shared = medians[shared_parts[framework_of(entry.contender)].name]
        recurrent[label] = {mode: medians[label][mode] - shared[mode] for mode in shared}
        print(
            f"  {label:12} train {recurrent[label]['train']:6.1f} ms"
            f"  infer {recurrent[label]['infer']:6.1f} ms"
        )
    if "torch-shared" in medians:
        for mode in ("train", "infer"):
            ratio = medians["keras-shared"][mode] / medians["torch-shared"][mode]
            print(f"shared part, {mode}: TensorFlow/PyTorch time {ratio:.2f}")
    if args.out:
        payload = {
            "config": dataclasses.asdict(config),
            "repeats": args.repeats,
            "steps": args.steps,
            "threads": args.threads,
            "loss": bench.LOSSES[args.loss],
            "tensorflow_onednn": bench.tensorflow_onednn(),
            "ms_per_batch": samples,
            "medians": medians,
            "recurrent_ms": recurrent,
            "load_average_end": os.getloadavg(),
        }
        write_json(args.out, payload)


if __name__ == "__main__":
    main()
