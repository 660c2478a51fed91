"""`zoo bench`: throughput, FLOP efficiency and peak memory of a PTB-shaped language model.

The model is the PTB word-level language model of Zaremba et al. (2014): token ids ->
Embedding(10000, H) -> 2 recurrent layers of H units (all time steps returned) -> Dense(10000)
logits, batch 20. Each contender builds that model with one recurrent implementation:
`zoo.layers.LSTM` / `zoo.layers.GRU`, `keras.layers.LSTM` / `keras.layers.GRU`, and, when
PyTorch is importable, `torch.nn.LSTM` / `torch.nn.GRU`.

What is measured, all in one process, the contenders alternating round-robin:
- training throughput in words/s (one word = one token of one sequence): a compiled
  `keras.Model` with SGD(learning_rate=1.0, global_clipnorm=5) and softmax cross-entropy from
  logits, stepped with `train_on_batch`; for PyTorch the same model with `torch.optim.SGD`,
  `clip_grad_norm_(5)` and `cross_entropy`. The loss of every Keras model (zoo's layers and
  Keras's alike) is `--loss`: zoo's `zoo.losses.SparseSoftmaxCrossEntropy` (default) or
  Keras's `SparseCategoricalCrossentropy(from_logits=True)`; same values, zoo's is faster on
  TensorFlow (`benchmarks/cross_entropy.py`);
- inference throughput in words/s: the forward pass to the logits (a `tf.function` of the
  model with the model's jit_compile setting; `torch.inference_mode()` for PyTorch);
- for the zoo contenders, also the inference throughput of the same model with its embedding
  folded into the first layer's input projection (`zoo.models.fold_embedding`: the Embedding
  holds E W and the first layer takes `inputs_projected=True`), which Keras's layers cannot
  do. It is a separate row and a separate target ("infer (folded embedding)"), measured against
  the built-in's plain inference; the memory workers do not run it.
The first (tracing / compiling) step of each is timed and reported apart, then excluded; each
timed block of batches follows one untimed batch of the same contender.
Peak resident memory (RSS, MiB) is measured for each contender in a subprocess of its own.

TensorFlow's matmuls: TensorFlow runs its own ops through oneDNN only where it turns oneDNN on
by default (CPUs with AVX-512 VNNI and newer) or where `TF_ENABLE_ONEDNN_OPTS=1` is set before
TensorFlow is imported; on other CPUs its matmuls stay on Eigen (slower than oneDNN on the
AVX2 machine of the committed results). The setting applies to all TensorFlow contenders
alike (not to the layers' XLA loops) and is read back, printed and recorded
(`tensorflow_onednn`): compare runs only at the same setting.

FLOPs per token count matmuls only, 2*m*n*k FLOPs per (m x k) @ (k x n) product, per token:
    LSTM layer: 2 * 4h * (d + h)      GRU layer: 2 * 3h * (d + h)
    softmax projection: 2 * h * V     embedding lookup: 0
with d the layer's input width (= h here), h its units, V = 10000. Biases, gate nonlinearities,
the softmax and the other elementwise terms are not counted (under 1% of the total here).
forward = the sum over the layers and the projection; training = 3 * forward (the forward
product plus two backward products, for the input and for the weight gradient, per matmul).
The folded model's forward pass saves the first layer's input matmul, 2 * gates*h * d.
The fraction of peak is achieved FLOP/s (words/s * FLOPs per token) over the machine's matmul
peak, measured in the same run, before and after every round, as the best float32 1024 x 1024
matmul GFLOP/s of TensorFlow (and PyTorch, when importable) under the same thread settings.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

VOCAB_SIZE = 10_000
BATCH_SIZE = 20
LEARNING_RATE = 1.0
CLIP_NORM = 5.0
GATES = {"lstm": 4, "gru": 3}
ONEDNN_STATES = {True: "on", False: "off", None: "unknown"}
LOSSES = {
    "zoo": "zoo.losses.SparseSoftmaxCrossEntropy()",
    "keras": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
}
SYNTHETIC_BATCHES = 4
PROFILE_STEPS = 5
MEMORY_WORKERS_AT_ONCE = 2
MATMUL_SIZE = 1024
MATMUL_REPEATS = 5
DEFAULT_REPEATS = 5
DEFAULT_STEPS = 10
QUICK_REPEATS = 3
QUICK_STEPS = 1
KIB_PER_MIB = 1024


@dataclass(frozen=True)
class ModelConfig:
    """The language model's shape: `hidden` units everywhere, `unroll` time steps per row."""

    name: str
    hidden: int
    num_layers: int
    unroll: int


CONFIGS: dict[str, ModelConfig] = {
    "small": ModelConfig("small", hidden=200, num_layers=2, unroll=20),
    "medium": ModelConfig("medium", hidden=650, num_layers=2, unroll=35),
}


@dataclass(frozen=True)
class Contender:
    """One recurrent implementation: `impl` is the dotted path of its layer class."""

    name: str
    framework: str
    cell: str
    impl: str

    @property
    def is_keras(self) -> bool:
        return self.framework in ("zoo", "keras")


CONTENDERS: tuple[Contender, ...] = (
    Contender("zoo-lstm", "zoo", "lstm", "zoo.layers.LSTM"),
    Contender("zoo-gru", "zoo", "gru", "zoo.layers.GRU"),
    Contender("keras-lstm", "keras", "lstm", "keras.layers.LSTM"),
    Contender("keras-gru", "keras", "gru", "keras.layers.GRU"),
    Contender("torch-lstm", "torch", "lstm", "torch.nn.LSTM"),
    Contender("torch-gru", "torch", "gru", "torch.nn.GRU"),
)
CONTENDERS_BY_NAME = {contender.name: contender for contender in CONTENDERS}


@dataclass(frozen=True)
class Entry:
    """A contender run with one jit_compile request ("auto", "on", "off"; None for PyTorch)."""

    contender: Contender
    jit_request: str | None

    @property
    def label(self) -> str:
        """The contender's name, with the jit request when one was made explicitly."""
        if self.jit_request in (None, "auto"):
            return self.contender.name
        return f"{self.contender.name}.jit-{self.jit_request}"


@dataclass(frozen=True)
class Target:
    """An issue target: zoo's `metric` over the `baseline` contender's `baseline_metric` (by
    default the same metric) compared with `threshold`."""

    metric: str
    baseline: str
    at_least: bool
    threshold: float
    configs: tuple[str, ...]
    baseline_metric: str | None = None

    @property
    def compared_metric(self) -> str:
        return self.baseline_metric or self.metric

    def is_met(self, ratio: float) -> bool:
        return ratio >= self.threshold if self.at_least else ratio <= self.threshold

    def describe(self, cell: str) -> str:
        sign = ">=" if self.at_least else "<="
        label = METRIC_LABELS.get(self.metric, self.metric)
        return f"{label} {cell} zoo/{self.baseline} {sign} {self.threshold:g}"


# Throughput metrics are "train", "infer" and, for the zoo contenders only, "infer_folded" (see
# the module docstring).
METRIC_LABELS = {"infer_folded": "infer (folded embedding)"}


TARGETS: tuple[Target, ...] = (
    Target("train", "keras", True, 1.15, ("small", "medium")),
    Target("train", "torch", True, 1.0, ("small",)),
    Target("infer", "keras", True, 1.15, ("small", "medium")),
    Target("infer_folded", "keras", True, 1.15, ("small", "medium"), baseline_metric="infer"),
    Target("rss", "keras", False, 1.2, ("small", "medium")),
)


@dataclass
class Runner:
    """A built model: one call of `train_step` / `infer_step` processes one batch;
    `folded_infer_step`, the folded model's inference, only for the zoo contenders."""

    train_step: Callable[[], object]
    infer_step: Callable[[], object]
    jit_compile: bool | None
    profile: Callable[[Path], None]
    folded_infer_step: Callable[[], object] | None = None

    def steps(self) -> dict[str, Callable[[], object]]:
        """The throughput metric ("train", "infer", "infer_folded" if folded) -> its step."""
        steps = {"train": self.train_step, "infer": self.infer_step}
        if self.folded_infer_step is not None:
            steps["infer_folded"] = self.folded_infer_step
        return steps


# ----------------------------------------------------------------------------- FLOPs


def recurrent_flops_per_token(cell: str, input_dim: int, units: int) -> int:
    """Matmul FLOPs of one recurrent layer for one token: 2 * gates*h * (d + h)."""
    return 2 * GATES[cell] * units * (input_dim + units)


def forward_flops_per_token(cell: str, config: ModelConfig) -> int:
    """Matmul FLOPs of the model's forward pass per token (layers + softmax projection)."""
    layers = config.num_layers * recurrent_flops_per_token(cell, config.hidden, config.hidden)
    return layers + 2 * config.hidden * VOCAB_SIZE


def folded_forward_flops_per_token(cell: str, config: ModelConfig) -> int:
    """The forward FLOPs of the folded model (`zoo.models.fold_embedding`): without the first
    layer's input matmul, 2 * gates*h * d (d = h, the embedding width)."""
    saved = 2 * GATES[cell] * config.hidden * config.hidden if config.num_layers else 0
    return forward_flops_per_token(cell, config) - saved


def train_flops_per_token(cell: str, config: ModelConfig) -> int:
    """Matmul FLOPs of one training step per token: 3 x forward."""
    return 3 * forward_flops_per_token(cell, config)


def flops_table(config: ModelConfig) -> dict[str, dict[str, int]]:
    """FLOPs per token, forward, folded forward and train, for each cell type."""
    return {
        cell: {
            "forward": forward_flops_per_token(cell, config),
            "forward_folded": folded_forward_flops_per_token(cell, config),
            "train": train_flops_per_token(cell, config),
        }
        for cell in GATES
    }


# ----------------------------------------------------------------------------- arguments


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_contenders(text: str) -> tuple[Contender, ...]:
    """argparse type: comma-separated contender names -> contenders, in the given order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONTENDERS_BY_NAME]
    if unknown or not names:
        known = ",".join(CONTENDERS_BY_NAME)
        raise argparse.ArgumentTypeError(f"unknown contender(s) {unknown}; choose from {known}")
    return tuple(CONTENDERS_BY_NAME[name] for name in dict.fromkeys(names))


def available_cpus() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `zoo bench` options."""
    parser.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        default="small",
        help="model size: small (2 x 200, 20 steps) or medium (2 x 650, 35 steps)",
    )
    parser.add_argument(
        "--contenders",
        type=parse_contenders,
        default=CONTENDERS,
        help="comma-separated, from: " + ",".join(CONTENDERS_BY_NAME),
    )
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "on", "off", "both"),
        default="auto",
        help="XLA for the Keras contenders; auto = Keras's default, which is "
        "off on CPU-only machines (the resolved value is printed)",
    )
    parser.add_argument(
        "--loss",
        choices=sorted(LOSSES),
        default="zoo",
        help="the loss of the Keras models (zoo's and Keras's layers alike): zoo = "
        f"{LOSSES['zoo']}, keras = {LOSSES['keras']}",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=None,
        help=f"rounds over all contenders (default {DEFAULT_REPEATS}, --quick {QUICK_REPEATS})",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help=f"batches timed per measurement (default {DEFAULT_STEPS}, "
        f"--quick {QUICK_STEPS}); the unroll length is the config's",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few rounds and batches: all contenders in under a minute",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=available_cpus(),
        help="intra- and inter-op threads for TensorFlow and PyTorch alike "
        "(default: the CPU cores available)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the results as JSON here (an existing file only with --overwrite)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"also trace {PROFILE_STEPS} training steps of each contender into "
        "DIR: TensorFlow profiler traces (TensorBoard, with "
        "tensorboard-plugin-profile) and PyTorch Chrome traces",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)


# ----------------------------------------------------------------------------- plan


def jit_requests(mode: str) -> tuple[str, ...]:
    """The jit_compile requests that `--jit-compile mode` runs for each Keras contender."""
    return ("on", "off") if mode == "both" else (mode,)


def plan_entries(contenders: Iterable[Contender], jit_mode: str) -> list[Entry]:
    """One entry per contender and jit request (PyTorch contenders have none)."""
    entries = []
    for contender in contenders:
        requests = jit_requests(jit_mode) if contender.is_keras else (None,)
        entries.extend(Entry(contender, request) for request in requests)
    return entries


def missing_reason(contender: Contender) -> str | None:
    """Why a contender cannot run here (its framework or layer class missing), else None."""
    module_name, _, class_name = contender.impl.rpartition(".")
    if importlib.util.find_spec(module_name.split(".")[0]) is None:
        return f"{module_name.split('.')[0]} is not installed"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        return f"cannot import {module_name}: {error}"
    if not hasattr(module, class_name):
        return f"{module_name} has no {class_name}"
    return None


def resolve_impl(contender: Contender) -> type:
    """The contender's layer class."""
    module_name, _, class_name = contender.impl.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


# ----------------------------------------------------------------------------- threads


def pin_tensorflow_threads(threads: int) -> dict[str, int]:
    """Set TensorFlow's intra/inter-op pools (before its runtime starts); returns the values."""
    import tensorflow as tf

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # runtime already started (e.g. a second run in one process): report what is set
    return {
        "intra_op": threading.get_intra_op_parallelism_threads(),
        "inter_op": threading.get_inter_op_parallelism_threads(),
    }


def pin_torch_threads(threads: int) -> dict[str, int]:
    """Set PyTorch's intra/inter-op pools (before its first parallel op); returns the values."""
    import torch

    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # pool already started: report what is set
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def pin_threads(threads: int, entries: Sequence[Entry]) -> dict[str, dict[str, int]]:
    """Pin the thread pools of every framework the entries use."""
    pinned = {}
    if any(entry.contender.is_keras for entry in entries):
        pinned["tensorflow"] = pin_tensorflow_threads(threads)
    if any(entry.contender.framework == "torch" for entry in entries):
        pinned["torch"] = pin_torch_threads(threads)
    return pinned


# ----------------------------------------------------------------------------- models


def synthetic_batches(config: ModelConfig, seed: int = 0) -> list[tuple[object, object]]:
    """A fixed set of (inputs, targets) batches of random int32 token ids, BATCH_SIZE x unroll
    each, cycled through by the runners (the words are random: only their count matters)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = (BATCH_SIZE, config.unroll)
    return [
        tuple(rng.integers(0, VOCAB_SIZE, shape, dtype=np.int32) for _ in range(2))
        for _ in range(SYNTHETIC_BATCHES)
    ]


def keras_jit_argument(request: str) -> bool | str:
    """`--jit-compile` request -> `Model.compile(jit_compile=...)`."""
    return {"auto": "auto", "on": True, "off": False}[request]


def keras_loss(name: str) -> object:
    """The loss called `name` in LOSSES."""
    import keras

    import zoo.losses

    if name == "zoo":
        return zoo.losses.SparseSoftmaxCrossEntropy()
    if name == "keras":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    raise ValueError(f"Unknown loss {name!r} for argument `loss`; valid: {', '.join(LOSSES)}.")


def build_keras_model(
    layer_class: type, config: ModelConfig, jit_request: str, loss: str = "zoo"
) -> object:
    """The compiled Keras language model with `layer_class` as its recurrent layers (none when
    `config.num_layers` is 0: Embedding -> Dense, the part every contender shares), trained
    with the loss called `loss` in LOSSES."""
    import keras

    layers = [
        keras.Input(shape=(config.unroll,), batch_size=BATCH_SIZE, dtype="int32"),
        keras.layers.Embedding(VOCAB_SIZE, config.hidden),
        *(layer_class(config.hidden, return_sequences=True) for _ in range(config.num_layers)),
        keras.layers.Dense(VOCAB_SIZE),
    ]
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE, global_clipnorm=CLIP_NORM),
        loss=keras_loss(loss),
        jit_compile=keras_jit_argument(jit_request),
    )
    return model


def tensorflow_profiler(
    step: Callable[[], object], steps: int = PROFILE_STEPS
) -> Callable[[Path], None]:
    """A function tracing `steps` calls of `step` into a TensorFlow profiler log dir."""

    def profile(directory: Path) -> None:
        import tensorflow as tf

        tf.profiler.experimental.start(str(directory))
        for _ in range(steps):
            step()
        tf.profiler.experimental.stop()

    return profile


def build_keras_runner(entry: Entry, config: ModelConfig, loss: str, fold: bool = True) -> Runner:
    """Train and inference steps of the Keras model of a zoo or Keras contender."""
    return keras_runner(resolve_impl(entry.contender), config, entry.jit_request, loss, fold)


def keras_runner(
    layer_class: type, config: ModelConfig, jit_request: str, loss: str, fold: bool = True
) -> Runner:
    """Train and inference steps of the Keras model with `layer_class` as its recurrent layers
    (`build_keras_model`), on the synthetic batches in turn; with `fold`, for a zoo layer that
    takes projected inputs, also the folded model's inference step."""
    import tensorflow as tf

    model = build_keras_model(layer_class, config, jit_request, loss)
    tensors = [tuple(tf.constant(array) for array in pair) for pair in synthetic_batches(config)]
    next_batch = itertools.cycle(tensors).__next__
    forward = tf.function(
        lambda inputs: model(inputs, training=False), jit_compile=model.jit_compile
    )

    def train_step() -> object:
        inputs, targets = next_batch()
        return model.train_on_batch(inputs, targets)

    def infer_step() -> object:
        return forward(next_batch()[0])

    folded_infer_step = None
    cell_class = getattr(layer_class, "cell_class", None)
    if fold and config.num_layers and getattr(cell_class, "supports_inputs_projected", False):
        from zoo.models import fold_embedding

        folded = fold_embedding(model)
        folded_forward = tf.function(
            lambda inputs: folded(inputs, training=False), jit_compile=model.jit_compile
        )

        def folded_infer_step() -> object:
            return folded_forward(next_batch()[0])

    return Runner(
        train_step,
        infer_step,
        bool(model.jit_compile),
        tensorflow_profiler(train_step),
        folded_infer_step,
    )


def torch_language_model(layer_class: type, config: ModelConfig) -> object:
    """The PyTorch language model: Embedding -> `layer_class`(num_layers) -> Linear; with
    `num_layers` 0, Embedding -> Linear (as `build_keras_model` builds it)."""
    import torch

    class LanguageModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB_SIZE, config.hidden)
            self.recurrent = (
                layer_class(
                    config.hidden, config.hidden, num_layers=config.num_layers, batch_first=True
                )
                if config.num_layers
                else None
            )
            self.projection = torch.nn.Linear(config.hidden, VOCAB_SIZE)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            outputs = self.embedding(inputs)
            if self.recurrent is not None:
                outputs, _ = self.recurrent(outputs)
            return self.projection(outputs)

    return LanguageModel()


def torch_profiler(step: Callable[[], object]) -> Callable[[Path], None]:
    """A function tracing PROFILE_STEPS calls of `step` into DIR/trace.json (Chrome trace,
    chrome://tracing or Perfetto) and DIR/top_ops.txt (the ops by self CPU time)."""

    def profile(directory: Path) -> None:
        import torch

        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(PROFILE_STEPS):
                step()
        directory.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(directory / "trace.json"))
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        (directory / "top_ops.txt").write_text(table + "\n")

    return profile


def build_torch_runner(entry: Entry, config: ModelConfig) -> Runner:
    """Train and inference steps of the PyTorch model of a torch contender."""
    import torch

    model = torch_language_model(resolve_impl(entry.contender), config)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    pairs = synthetic_batches(config)
    tensors = [tuple(torch.from_numpy(array).long() for array in pair) for pair in pairs]
    next_batch = itertools.cycle(tensors).__next__

    def train_step() -> object:
        inputs, targets = next_batch()
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        return loss.item()

    def infer_step() -> object:
        with torch.inference_mode():
            return model(next_batch()[0])

    return Runner(train_step, infer_step, None, torch_profiler(train_step))


def build_runner(entry: Entry, config: ModelConfig, loss: str = "zoo", fold: bool = True) -> Runner:
    """The runner of an entry, by framework; `loss` (a key of LOSSES) is the Keras models';
    `fold`: build the zoo contenders' folded models too (the memory workers do not)."""
    if entry.contender.is_keras:
        return build_keras_runner(entry, config, loss, fold)
    return build_torch_runner(entry, config)


# ----------------------------------------------------------------------------- timing


def seconds_for(step: Callable[[], object], calls: int) -> float:
    """Wall-clock seconds of `calls` consecutive calls of `step`."""
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return time.perf_counter() - start


def words_per_second(step: Callable[[], object], calls: int, config: ModelConfig) -> float:
    """Throughput of `calls` batches in words (tokens) per second."""
    return calls * BATCH_SIZE * config.unroll / seconds_for(step, calls)


def warm_up(runner: Runner) -> dict[str, float]:
    """Time the first (tracing / compiling) call of each step, then make one more of each."""
    first = {
        f"{metric}_first_step_s": seconds_for(step, 1) for metric, step in runner.steps().items()
    }
    for step in runner.steps().values():
        step()
    return first


def rotated(items: Sequence[object], shift: int) -> list[object]:
    """The items, starting at index `shift` (mod length), so no entry always runs first."""
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def summarize(samples: Sequence[float]) -> dict[str, object]:
    """Median, min, max and the samples of a throughput series (words/s)."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": list(samples),
    }


def settled_words_per_second(step: Callable[[], object], calls: int, config: ModelConfig) -> float:
    """Words/s of `calls` batches after one untimed batch, which lets the previous contender's
    thread pools go idle and refills this model's caches."""
    step()
    return words_per_second(step, calls, config)


def run_round(
    runners: dict[Entry, Runner], config: ModelConfig, steps: int, shift: int
) -> dict[Entry, dict[str, float]]:
    """One pass over the entries (starting at `shift`): the words/s of each step of each
    (training, inference, and folded inference where there is one)."""
    samples = {}
    for entry in rotated(list(runners), shift):
        samples[entry] = {
            metric: settled_words_per_second(step, steps, config)
            for metric, step in runners[entry].steps().items()
        }
    return samples


def measure_rounds(
    runners: dict[Entry, Runner], config: ModelConfig, repeats: int, steps: int
) -> tuple[dict[Entry, dict[str, dict[str, object]]], dict[str, float]]:
    """`repeats` round-robin rounds, the matmul peak measured before and after each: the
    words/s summaries of every entry and the best matmul GFLOP/s seen."""
    frameworks = sorted({"tensorflow" if e.contender.is_keras else "torch" for e in runners})
    peaks = [matmul_peak(frameworks)]
    rounds = []
    for round_index in range(repeats):
        rounds.append(run_round(runners, config, steps, round_index))
        peaks.append(matmul_peak(frameworks))
    throughput = {
        entry: {
            metric: summarize([r[entry][metric] for r in rounds]) for metric in rounds[0][entry]
        }
        for entry in runners
    }
    return throughput, {key: max(peak[key] for peak in peaks) for key in peaks[0]}


def tensorflow_matmul_gflops(size: int, repeats: int) -> float:
    """Best float32 (size x size) @ (size x size) GFLOP/s of TensorFlow."""
    import tensorflow as tf

    matrix = tf.random.normal((size, size))
    matmul = tf.function(tf.matmul)
    matmul(matrix, matrix)
    best = min(seconds_for(lambda: matmul(matrix, matrix), 1) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def torch_matmul_gflops(size: int, repeats: int) -> float:
    """Best float32 (size x size) @ (size x size) GFLOP/s of PyTorch."""
    import torch

    matrix = torch.randn(size, size)
    torch.mm(matrix, matrix)
    best = min(seconds_for(lambda: torch.mm(matrix, matrix), 1) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def matmul_peak(frameworks: Iterable[str]) -> dict[str, float]:
    """GFLOP/s per framework and their best ("peak"): the machine's measured matmul peak."""
    measures = {"tensorflow": tensorflow_matmul_gflops, "torch": torch_matmul_gflops}
    gflops = {name: measures[name](MATMUL_SIZE, MATMUL_REPEATS) for name in frameworks}
    return {**gflops, "peak": max(gflops.values())}


# ----------------------------------------------------------------------------- memory


WORKER_BOOTSTRAP = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def worker_command(
    entry: Entry, config: ModelConfig, threads: int, steps: int, loss: str = "zoo"
) -> list[str]:
    """The command of a memory worker. It runs this file as a script, not `-m zoo.bench`, so
    that a PyTorch worker does not import the `zoo` package (and with it TensorFlow)."""
    payload = {
        "contender": entry.contender.name,
        "jit_request": entry.jit_request,
        "config": asdict(config),
        "threads": threads,
        "steps": steps,
        "loss": loss,
    }
    script = str(Path(__file__).resolve())
    return [sys.executable, "-c", WORKER_BOOTSTRAP, script, "--worker", json.dumps(payload)]


def worker_environment() -> dict[str, str]:
    """The environment of a memory worker: quiet TensorFlow, and the `zoo` package importable."""
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB: VmHWM of /proc/self/status.

    Not `ru_maxrss`: on Linux that survives exec, so a worker started by a big parent process
    reports the parent's peak when its own is lower. Falls back to `ru_maxrss` (KiB on Linux)
    where /proc is missing."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / KIB_PER_MIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


def framework_module(entry: Entry) -> str:
    """The module a worker imports before measuring its baseline memory."""
    return "keras" if entry.contender.is_keras else "torch"


def run_worker(payload: dict[str, object]) -> dict[str, float | bool | None]:
    """Build one entry, run warm-up plus `steps` train and inference batches; report memory."""
    contender = CONTENDERS_BY_NAME[payload["contender"]]
    entry = Entry(contender, payload["jit_request"])
    config = ModelConfig(**payload["config"])
    importlib.import_module(framework_module(entry))
    pin_threads(payload["threads"], [entry])
    after_import = peak_rss_mib()
    runner = build_runner(entry, config, payload["loss"], fold=False)
    warm_up(runner)
    seconds_for(runner.train_step, payload["steps"])
    seconds_for(runner.infer_step, payload["steps"])
    return {
        "rss_peak_mib": peak_rss_mib(),
        "rss_after_import_mib": after_import,
        "jit_compile": runner.jit_compile,
    }


def measure_memory_of(
    entry: Entry, config: ModelConfig, threads: int, steps: int, loss: str = "zoo"
) -> dict:
    """Run the memory worker of one entry; its result, or {"error": ...} when it failed."""
    command = worker_command(entry, config, threads, steps, loss)
    done = subprocess.run(command, capture_output=True, text=True, env=worker_environment())
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return {"error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_memory_workers(
    pool: ThreadPoolExecutor,
    entries: Sequence[Entry],
    config: ModelConfig,
    threads: int,
    steps: int,
    loss: str,
) -> dict[Entry, Future]:
    """Submit the memory worker of every entry to `pool`; concurrent workers change each
    other's wall time, not their memory."""
    return {
        entry: pool.submit(measure_memory_of, entry, config, threads, steps, loss)
        for entry in entries
    }


# ----------------------------------------------------------------------------- ratios


def entry_metric(result: dict, metric: str) -> float | None:
    """The median words/s ("train", "infer", "infer_folded") or peak RSS MiB ("rss") of an
    entry's result; None where it has none (no folded model)."""
    if metric == "rss":
        return result["memory"].get("rss_peak_mib")
    return (result.get(metric) or {}).get("median")


def find_result(results: Sequence[dict], framework: str, cell: str, jit: str | None) -> dict | None:
    """The result of the given framework and cell; for Keras frameworks, at jit request `jit`."""
    for result in results:
        if result["framework"] == framework and result["cell"] == cell:
            if framework == "torch" or result["jit_request"] == jit:
                return result
    return None


def evaluate_targets(results: Sequence[dict], config_name: str) -> list[dict]:
    """Each target that applies to this config, per cell and zoo entry: ratio and verdict."""
    verdicts = []
    for target in TARGETS:
        if config_name not in target.configs:
            continue
        for zoo in (result for result in results if result["framework"] == "zoo"):
            if entry_metric(zoo, target.metric) is None and target.metric != "rss":
                continue  # e.g. no folded model (a JSON from before it was measured)
            baseline = find_result(results, target.baseline, zoo["cell"], zoo["jit_request"])
            verdicts.append(verdict(target, zoo, baseline))
    return verdicts


def paired_ratios(
    zoo: dict, baseline: dict, metric: str, baseline_metric: str | None = None
) -> dict[str, float] | None:
    """The per-round ratios of zoo's throughput `metric` over the baseline's `baseline_metric`
    (by default the same): the two were timed in the same round, so a change of the machine's
    load between rounds cancels. Their median and quartiles (q1, q3: the middle half of the
    rounds); None for peak RSS (one sample each) or when the sample series differ in length."""
    if metric == "rss":
        return None
    numerators = zoo[metric].get("samples") or []
    denominators = baseline[baseline_metric or metric].get("samples") or []
    if not numerators or len(numerators) != len(denominators):
        return None
    return ratio_quartiles(numerators, denominators)


def ratio_quartiles(numerators: Sequence[float], denominators: Sequence[float]) -> dict:
    """Median and quartiles (q1, q3) of the pairwise ratios numerator / denominator, and how
    many pairs ("rounds")."""
    ratios = [n / d for n, d in zip(numerators, denominators)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return {"median": statistics.median(ratios), "q1": q1, "q3": q3, "rounds": len(ratios)}


def verdict(target: Target, zoo: dict, baseline: dict | None) -> dict:
    """Ratio zoo / baseline of the target's metric (of the medians) and whether it meets the
    target; with the per-round ratios' median and quartiles (`paired_ratios`) beside it."""
    numerator = entry_metric(zoo, target.metric)
    denominator = entry_metric(baseline, target.compared_metric) if baseline else None
    ratio = numerator / denominator if numerator and denominator else None
    per_round = None
    if ratio is not None:
        per_round = paired_ratios(zoo, baseline, target.metric, target.compared_metric)
    return {
        "target": target.describe(zoo["cell"]),
        "zoo": zoo["label"],
        "baseline": baseline["label"] if baseline else None,
        "ratio": ratio,
        "met": None if ratio is None else target.is_met(ratio),
        "per_round": per_round,
    }


# ----------------------------------------------------------------------------- report


def entry_result(
    entry: Entry,
    throughput: dict,
    first_steps: dict,
    memory: dict,
    jit_compile: bool | None,
    config: ModelConfig,
    peak_gflops: float,
) -> dict:
    """The JSON record of one entry: throughput, fraction of peak, warm-up, memory
    ("infer_folded" only for an entry with a folded model)."""
    flops = flops_table(config)[entry.contender.cell]
    flops_key = {"train": "train", "infer": "forward", "infer_folded": "forward_folded"}
    fraction = {
        metric: throughput[metric]["median"] * flops[flops_key[metric]] / (peak_gflops * 1e9)
        for metric in throughput
    }
    return {
        "label": entry.label,
        "contender": entry.contender.name,
        "framework": entry.contender.framework,
        "cell": entry.contender.cell,
        "impl": entry.contender.impl,
        "jit_request": entry.jit_request,
        "jit_compile": jit_compile,
        **throughput,
        "fraction_of_peak": fraction,
        "warmup": first_steps,
        "memory": memory,
    }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def tensorflow_onednn() -> bool | None:
    """Whether TensorFlow runs its ops through oneDNN (None: TensorFlow not imported, or the
    build does not tell)."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def versions() -> dict[str, str | None]:
    """Versions of Python and of the frameworks that are imported."""
    found = {"python": platform.python_version()}
    for name in ("numpy", "tensorflow", "keras", "torch"):
        module = sys.modules.get(name)
        found[name] = getattr(module, "__version__", None) if module else None
    return found


def command_line() -> str:
    """The command that is running, as typed: `zoo bench ...` or `python -m zoo.bench ...`."""
    program = "zoo" if Path(sys.argv[0]).name == "zoo" else "python -m zoo.bench"
    return " ".join([program, shlex.join(sys.argv[1:])]).strip()


def machine_state() -> dict[str, object]:
    """Time (UTC, and perf_counter seconds) and load average (1, 5, 15 min): load means noise."""
    return {
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "perf_counter_s": time.perf_counter(),
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],
    }


def run_metadata(
    args: argparse.Namespace, repeats: int, steps: int, threads: dict, started: dict
) -> dict:
    """What produced the results: command, versions, machine, settings, time and load."""
    return {
        "command": command_line(),
        "argv": sys.argv,
        "started": started,
        "finished": machine_state(),
        "elapsed_s": round(time.perf_counter() - started["perf_counter_s"], 1),
        "versions": versions(),
        "cpu_model": cpu_model(),
        "cpus_available": available_cpus(),
        "config": args.config,
        "batch_size": BATCH_SIZE,
        "vocab_size": VOCAB_SIZE,
        "repeats": repeats,
        "steps_per_measurement": steps,
        "jit_compile_mode": args.jit_compile,
        "loss": LOSSES[args.loss],
        "tensorflow_onednn": tensorflow_onednn(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "threads_requested": args.threads,
        "threads": threads,
        "quick": args.quick,
        "memory_workers_overlap_warmup": args.quick,
    }


def format_rate(summary: dict) -> str:
    """ "median [min-max]" of a words/s summary."""
    return f"{summary['median']:8.0f} [{summary['min']:.0f}-{summary['max']:.0f}]"


def format_memory(memory: dict) -> str:
    """Peak RSS MiB, or the worker's error."""
    if "error" in memory:
        return "error"
    return f"{memory['rss_peak_mib']:7.0f}"


def table_rows(results: Sequence[dict]) -> list[str]:
    """One line per entry."""
    header = (
        f"{'contender':28} {'jit':>5} {'train words/s [min-max]':>26} "
        f"{'infer words/s [min-max]':>26} {'train%pk':>8} {'infer%pk':>8} "
        f"{'1st train s':>11} {'RSS MiB':>8}"
    )
    rows = [header, "-" * len(header)]
    for result in results:
        jit = "-" if result["jit_compile"] is None else str(result["jit_compile"]).lower()
        rows.append(
            f"{result['label']:28} {jit:>5} {format_rate(result['train']):>26} "
            f"{format_rate(result['infer']):>26} "
            f"{100 * result['fraction_of_peak']['train']:7.1f}% "
            f"{100 * result['fraction_of_peak']['infer']:7.1f}% "
            f"{result['warmup']['train_first_step_s']:11.2f} {format_memory(result['memory']):>8}"
        )
    return rows


def folded_rows(results: Sequence[dict]) -> list[str]:
    """One line per entry with a folded model: its inference words/s and fraction of peak."""
    folded = [result for result in results if "infer_folded" in result]
    if not folded:
        return []
    rows = ["", "inference with the embedding folded (zoo.models.fold_embedding):"]
    for result in folded:
        rows.append(
            f"{result['label']:28} {'':>5} {'':>26} {format_rate(result['infer_folded']):>26} "
            f"{'':>8} {100 * result['fraction_of_peak']['infer_folded']:7.1f}%"
        )
    return rows


def verdict_rows(verdicts: Sequence[dict]) -> list[str]:
    """One line per target verdict. The ratio that decides is printed to three decimals, so that
    a ratio just under its target (1.146 against 1.15) does not read as equal to it."""
    rows = []
    for item in verdicts:
        if item["ratio"] is None:
            rows.append(f"  n/a      {item['target']} ({item['zoo']}: no baseline result)")
            continue
        status = "met" if item["met"] else "NOT met"
        per_round = item.get("per_round")
        spread = (
            f"; per round {per_round['median']:.2f} [{per_round['q1']:.2f}-{per_round['q3']:.2f}]"
            if per_round
            else ""
        )
        rows.append(
            f"  {status:8} {item['target']}: {item['ratio']:.3f} "
            f"({item['zoo']} / {item['baseline']}{spread})"
        )
    return rows


def load_warning(meta: dict) -> list[str]:
    """A warning line when, as the run started, other processes kept every core busy (the
    load at the end includes this run's own threads, so it is not used)."""
    load = meta["started"]["load_average_1_5_15"][0]
    if load <= meta["cpus_available"]:
        return []
    return [
        f"WARNING: load average {load} > {meta['cpus_available']} CPUs at the start: other "
        "processes compete for the cores, timings (PyTorch's most) are unreliable; rerun idle"
    ]


def report_lines(report: dict) -> list[str]:
    """The printed report: settings, the table, memory errors, skipped contenders, targets."""
    meta = report["meta"]
    config = ModelConfig(**report["model"])
    flops = report["flops_per_token"]
    lines = [
        f"zoo bench: config {meta['config']} ({config.num_layers} x {config.hidden}, "
        f"{config.unroll} steps, batch {BATCH_SIZE}, vocab {VOCAB_SIZE}), "
        f"{meta['repeats']} rounds x {meta['steps_per_measurement']} timed batch(es)",
        f"threads: {meta['threads']}  jit_compile (Keras): {meta['jit_compile_mode']}",
        f"loss of the Keras models: {meta['loss']}; TensorFlow oneDNN ops: "
        f"{ONEDNN_STATES[meta['tensorflow_onednn']]} "
        f"(TF_ENABLE_ONEDNN_OPTS={meta['TF_ENABLE_ONEDNN_OPTS'] or 'unset'})",
        f"load average (1, 5, 15 min) at start {meta['started']['load_average_1_5_15']}, "
        f"at end {meta['finished']['load_average_1_5_15']} on {meta['cpus_available']} CPUs; "
        f"{meta['elapsed_s']} s in all",
        f"matmul peak GFLOP/s: {report['matmul_gflops']}",
        "FLOPs/token (matmuls): "
        + ", ".join(
            f"{cell} fwd {v['forward']:,}"
            + (f" (folded {v['forward_folded']:,})" if "forward_folded" in v else "")
            + f" train {v['train']:,}"
            for cell, v in flops.items()
        ),
        "",
        *table_rows(report["results"]),
        *folded_rows(report["results"]),
    ]
    for result in report["results"]:
        if "error" in result["memory"]:
            lines.append(f"memory worker of {result['label']} failed: {result['memory']['error']}")
    lines.extend(f"skipped {name}: {reason}" for name, reason in report["skipped"].items())
    lines.extend(load_warning(meta))
    verdicts = verdict_rows(report["targets"]) or ["  none: no zoo contender ran"]
    lines.extend(["", "targets (ratios of medians from this run):", *verdicts])
    return lines


# ----------------------------------------------------------------------------- run


def runnable_entries(args: argparse.Namespace) -> tuple[list[Entry], dict[str, str]]:
    """The entries to run, and the reason for each contender that cannot run here."""
    skipped = {}
    available = []
    for contender in args.contenders:
        reason = missing_reason(contender)
        if reason:
            skipped[contender.name] = reason
        else:
            available.append(contender)
    return plan_entries(available, args.jit_compile), skipped


def benchmark(
    entries: Sequence[Entry],
    config: ModelConfig,
    repeats: int,
    steps: int,
    threads: int,
    overlap_memory: bool,
    loss: str = "zoo",
) -> dict:
    """The raw results: memory from subprocess workers; warm-up, then the timed rounds (with
    the matmul peak between them) in this process. With `overlap_memory` the workers run while
    this process builds and warms up its models (faster; the first-step times are then taken
    under load); they always finish before the rounds start."""
    with ThreadPoolExecutor(max_workers=MEMORY_WORKERS_AT_ONCE) as pool:
        workers = start_memory_workers(pool, entries, config, threads, steps, loss)
        if not overlap_memory:
            wait(workers.values())
        pinned = pin_threads(threads, entries)
        runners = {entry: build_runner(entry, config, loss) for entry in entries}
        first_steps = {entry: warm_up(runner) for entry, runner in runners.items()}
        memory = {entry: worker.result() for entry, worker in workers.items()}
    throughput, peak = measure_rounds(runners, config, repeats, steps)
    results = [
        entry_result(
            entry,
            throughput[entry],
            first_steps[entry],
            memory[entry],
            runners[entry].jit_compile,
            config,
            peak["peak"],
        )
        for entry in entries
    ]
    return {"threads": pinned, "matmul_gflops": peak, "results": results, "runners": runners}


def profile_entries(runners: dict[Entry, Runner], directory: Path) -> None:
    """Trace PROFILE_STEPS training steps of every entry into DIR/<label>."""
    for entry, runner in runners.items():
        runner.profile(directory / entry.label)


def run(args: argparse.Namespace) -> int:
    """`zoo bench`: measure, print the table and targets, optionally write JSON / traces."""
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.out:
        from zoo.training.common import check_output_file

        try:
            check_output_file(args.out, "--out")
            if args.out.is_file() and not args.overwrite:
                raise ValueError(
                    f"--out: {args.out} exists; pass --overwrite to replace it (committed "
                    "results are kept otherwise)"
                )
        except ValueError as error:
            print(f"zoo bench: {error}", file=sys.stderr)
            return 2
    started = machine_state()
    config = CONFIGS[args.config]
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    steps = args.steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    entries, skipped = runnable_entries(args)
    if not entries:
        print(f"zoo bench: no contender can run here: {skipped}", file=sys.stderr)
        return 2
    raw = benchmark(
        entries, config, repeats, steps, args.threads, overlap_memory=args.quick, loss=args.loss
    )
    report = {
        "meta": run_metadata(args, repeats, steps, raw["threads"], started),
        "model": asdict(config),
        "flops_per_token": flops_table(config),
        "matmul_gflops": raw["matmul_gflops"],
        "results": raw["results"],
        "skipped": skipped,
        "targets": evaluate_targets(raw["results"], config.name),
    }
    print("\n".join(report_lines(report)))
    if args.profile:
        profile_entries(raw["runners"], args.profile)
        print(f"profiles written under {args.profile}")
    if args.out:
        from zoo.training.common import write_json

        try:
            write_json(args.out, report)
        except OSError as error:
            print(f"zoo bench: error: --out: cannot write {args.out} ({error})", file=sys.stderr)
            return 1
        print(f"results written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m zoo.bench`."""
    parser = argparse.ArgumentParser(prog="python -m zoo.bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
