"""A speed change, measured side by side: the zoo layers of an older git revision against the
working tree's, in one process.

The package at `--old` (default HEAD~1) is exported with `git archive` into a temporary
directory and renamed `zoo_old` (its imports and Keras registration names rewritten to match),
so both versions load together; every measurement then alternates between them, round by
round, and each round's ratio old time / new time cancels what the machine's load does between
rounds. Two things are timed, per cell (LSTM, GRU):

- `layers`: two stacked layers alone (`stacked_layers.py`): a training step (gradients of a sum
  of squares) and a forward pass;
- `model`: the `zoo bench` language model of `--config` (Embedding, 2 layers, Dense(10000),
  zoo's cross-entropy, SGD with clipping): `train_on_batch` and the forward pass to the logits.

Prints milliseconds per call (median of `--rounds` rounds of `--calls` calls) and, per pair, the
speed-up new over old: the ratio of the medians and the per-round ratios' median [quartiles].
Wall-clock time with `--threads` TensorFlow threads; read it from a quiet machine.

Usage: `python3 benchmarks/revision_ab.py [--old HEAD~1] [--what layers model] [--config small]
[--rounds 25] [--calls 10] [--threads 2] [--out FILE.json]`.
"""

import argparse
import importlib
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from zoo import bench

REPOSITORY = Path(__file__).resolve().parents[1]
OLD_PACKAGE = "zoo_old"
# Imports of the package and its registered Keras names, rewritten in the old copy.
REWRITES = (
    (re.compile(r"\bfrom zoo([.\s])"), rf"from {OLD_PACKAGE}\1"),
    (re.compile(r"\bimport zoo([.\s])"), rf"import {OLD_PACKAGE}\1"),
    (re.compile(r"\bzoo\.(?=[a-z_]+\b)"), f"{OLD_PACKAGE}."),
    (re.compile(r'package="zoo"'), f'package="{OLD_PACKAGE}"'),
)
LEFT_OVER_IMPORT = re.compile(r"^\s*(from|import) zoo\b(?!_old)", re.MULTILINE)


def export_old_package(revision: str, directory: Path) -> str:
    """Write the `zoo` package of `revision` to directory/zoo_old, imports rewritten; returns
    the revision's commit id."""
    commit = subprocess.run(
        ["git", "-C", str(REPOSITORY), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if commit.returncode != 0:
        raise SystemExit(f"Argument --old: {revision!r} is not a commit of {REPOSITORY}.")
    archive = directory / "old.tar"
    subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", "-o", str(archive), revision, "zoo"], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(directory, filter="data")
    package = directory / "zoo"
    for source in package.rglob("*.py"):
        text = source.read_text()
        for pattern, replacement in REWRITES:
            text = pattern.sub(replacement, text)
        if LEFT_OVER_IMPORT.search(text):
            raise SystemExit(f"{source.name} of {revision} still imports `zoo` after rewriting.")
        source.write_text(text)
    package.rename(directory / OLD_PACKAGE)
    return commit.stdout.strip()


def layer_steps(layer_class: type, config) -> dict:
    """{"train", "forward"}: the stacked layers' two functions at the sizes of `config` (a
    `zoo.bench.ModelConfig`), batch 20."""
    import numpy as np
    import tensorflow as tf
    from stacked_layers import stacked_layer_functions

    x = tf.constant(
        np.random.RandomState(0).randn(20, config.unroll, config.hidden).astype("float32")
    )
    train, forward = stacked_layer_functions(layer_class, x, config.hidden)
    return {"train": train, "forward": forward}


def model_steps(layer_class: type, config) -> dict:
    """{"train", "forward"}: a training batch and a forward pass of the bench's model."""
    runner = bench.keras_runner(layer_class, config, "auto", "zoo", fold=False)
    return {"train": runner.train_step, "forward": runner.infer_step}


def milliseconds(step, calls: int) -> float:
    """Wall ms per call of `step`, after one untimed call."""
    step()
    return bench.seconds_for(step, calls) / calls * 1e3


def speed_up(old: list[float], new: list[float]) -> dict[str, float]:
    """New over old speed-up: of the medians, and the per-round ratios' median and quartiles."""
    per_round = bench.ratio_quartiles(old, new)
    return {
        "of_medians": statistics.median(old) / statistics.median(new),
        "per_round_median": per_round["median"],
        "per_round_q1": per_round["q1"],
        "per_round_q3": per_round["q3"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="HEAD~1", help="git revision to compare against")
    parser.add_argument("--what", nargs="+", choices=("layers", "model"), default=["layers"])
    parser.add_argument("--config", choices=tuple(bench.CONFIGS), default="small")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the samples and speed-ups as JSON")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("argument --rounds: expected at least 2 (quartiles of per-round ratios)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as directory:
        old_commit = export_old_package(args.old, Path(directory))
        sys.path.insert(0, directory)
        import tensorflow as tf

        import zoo.layers
        from zoo.training.common import write_json

        old_layers = importlib.import_module(f"{OLD_PACKAGE}.layers")

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        builders = {"layers": layer_steps, "model": model_steps}
        variants = {}
        for what in args.what:
            for cell in ("LSTM", "GRU"):
                for version, module in (("old", old_layers), ("new", zoo.layers)):
                    steps = builders[what](getattr(module, cell), bench.CONFIGS[args.config])
                    for step in steps.values():
                        step()  # trace and compile outside the timing
                    variants[(what, cell, version)] = steps
        samples = {key: {"train": [], "forward": []} for key in variants}
        for round_index in range(args.rounds):
            for key in bench.rotated(list(variants), round_index):
                for mode, step in variants[key].items():
                    samples[key][mode].append(milliseconds(step, args.calls))
    print(
        f"{args.old} ({old_commit[:10]}) against the working tree; config {args.config}, "
        f"{args.threads} threads, wall ms per call, median of {args.rounds} rounds"
    )
    results = []
    for (what, cell, version), modes in samples.items():
        if version == "new":
            continue
        new = samples[(what, cell, "new")]
        for mode in ("train", "forward"):
            gain = speed_up(modes[mode], new[mode])
            results.append({"what": what, "cell": cell, "mode": mode, **gain})
            print(
                f"{what:6} {cell:4} {mode:7} old {statistics.median(modes[mode]):8.2f} "
                f"new {statistics.median(new[mode]):8.2f}  speed-up {gain['of_medians']:.3f}, "
                f"per round {gain['per_round_median']:.3f} "
                f"[{gain['per_round_q1']:.3f}-{gain['per_round_q3']:.3f}]"
            )
    if args.out:
        write_json(
            args.out,
            {
                "command": " ".join(sys.argv),
                "old": {"revision": args.old, "commit": old_commit},
                "config": args.config,
                "threads": args.threads,
                "rounds": args.rounds,
                "calls": args.calls,
                "speed_ups": results,
                "samples_ms": {" ".join(key): value for key, value in samples.items()},
            },
        )


if __name__ == "__main__":
    main()
