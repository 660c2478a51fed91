"""One run of the study: build a model for (task, cell, units), train it with `model.fit`, and
record the held-out metric, the update count and the training time.

Model: Input -> [Masking | Embedding] -> recurrent(cell, units) -> Dense(outputs). With
`impl="zoo"` the recurrent layer is `zoo.layers.recurrent(cell, units)`; with `impl="keras"`
it is Keras's own layer (`lstm`, `gru`, `gru_v1`, `rnn` only).

Timing: update i lasts from the start of its batch to its end as `fit` reports them to the
callbacks (`on_train_batch_begin` / `on_train_batch_end`), so it holds the fetch of the batch and
the train step, and leaves out the held-out evaluations and the logging callbacks' writes. Each
update is timed on two clocks: CPU seconds (`time.process_time`: the process's CPU time over all
its threads, which other load on the machine barely changes) and wall seconds
(`time.perf_counter`). The first update also traces and compiles the train function; it is
reported apart (`setup_seconds`), and the time axes count it as one median update.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.compare.tasks import Task, TaskData

KERAS_LAYERS: dict[str, tuple[str, dict]] = {
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {"reset_after": True}),
    "gru_v1": ("GRU", {"reset_after": False}),
    "rnn": ("SimpleRNN", {}),
}
IMPLS = ("zoo", "keras")
EVAL_CHUNK = 512  # rows of the held-out batch per forward pass


def training_seconds(durations: list[float], updates: list[int]) -> list[float] | None:
    """Training seconds after each count in `updates`, from the `durations` of all updates: the
    first update (tracing and compiling) counted as the median of the others. None with fewer
    than two updates (no steady update to measure)."""
    if len(durations) < 2:
        return None
    elapsed = np.cumsum([np.median(durations[1:]), *durations[1:]])
    return [float(elapsed[count - 1]) for count in updates]


@dataclass
class RunRecord:
    """The measurements of one (task, cell, seed) run.

    Attributes:
        updates: update counts at which the held-out metric was measured.
        metric: the held-out metric after each of those updates.
        update_seconds: the wall duration of every update, in order (the first includes
            tracing and compiling).
        update_cpu_seconds: the same updates' CPU durations.
    """

    task: str
    cell: str
    seed: int
    units: int
    params: int
    recurrent_params: int
    updates: list[int] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    update_seconds: list[float] = field(default_factory=list)
    update_cpu_seconds: list[float] = field(default_factory=list)

    def durations(self, clock: str = "wall") -> list[float]:
        """The duration of every update on `clock` ("wall" or "cpu")."""
        return self.update_cpu_seconds if clock == "cpu" else self.update_seconds

    def seconds(self, clock: str = "wall") -> list[float] | None:
        """Training seconds ("wall" or "cpu") at each of `updates` (`training_seconds`)."""
        return training_seconds(self.durations(clock), self.updates)

    def summary(self, task: Task) -> dict[str, Any]:
        """Final metric, first update and seconds at which the target was reached, timing;
        per-update and elapsed seconds are None for a run of one update."""
        reached = [
            index
            for index, value in enumerate(self.metric)
            if (value >= task.target if task.higher_is_better else value <= task.target)
        ]
        first = reached[0] if reached else None
        summary = {
            "final_metric": self.metric[-1],
            "updates_to_target": None if first is None else self.updates[first],
            "setup_seconds": self.update_seconds[0],
        }
        for clock, prefix in (("wall", ""), ("cpu", "cpu_")):
            durations = self.durations(clock)
            seconds = self.seconds(clock)
            summary[f"{prefix}seconds_to_target"] = (
                None if first is None or seconds is None else seconds[first]
            )
            summary[f"{prefix}seconds_per_update"] = (
                float(np.median(durations[1:])) if len(durations) > 1 else None
            )
            summary[f"train_{prefix}seconds"] = None if seconds is None else seconds[-1]
        return summary


def build_model(task: Task, cell: str, units: int, impl: str, input_shape: tuple) -> Any:
    """The run's model: float inputs (or token ids) -> recurrent -> Dense(task.outputs)."""
    import keras

    inputs = keras.Input(input_shape, dtype="float32" if task.kind == "features" else "int32")
    x = inputs
    if task.kind == "tokens":
        x = keras.layers.Embedding(task.vocab_size, task.input_dim, mask_zero=True)(x)
    elif task.mask:
        x = keras.layers.Masking(0.0)(x)
    x = recurrent_layer(cell, units, impl, return_sequences=task.sequence_output)(x)
    outputs = keras.layers.Dense(task.outputs, name="head")(x)
    return keras.Model(inputs, outputs, name=f"{task.name}_{cell}_{impl}")


def recurrent_layer(cell: str, units: int, impl: str, **kwargs) -> Any:
    """`zoo.layers.recurrent(cell, units)` or Keras's layer for the cell (impl "keras")."""
    import keras

    from zoo.layers import recurrent

    if impl == "zoo":
        return recurrent(cell, units, name=cell, **kwargs)
    if impl != "keras":
        raise ValueError(f"impl: expected one of {', '.join(IMPLS)}, got {impl!r}")
    if cell not in KERAS_LAYERS:
        raise ValueError(
            f"cells: {cell!r} has no Keras built-in layer; with --impl keras use "
            f"{', '.join(KERAS_LAYERS)}"
        )
    class_name, fixed = KERAS_LAYERS[cell]
    return getattr(keras.layers, class_name)(units, name=cell, **fixed, **kwargs)


def _loss(task: Task) -> Any:
    import keras

    if task.loss == "mse":
        return keras.losses.MeanSquaredError()
    if task.loss == "binary_logits":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def heldout_metric(task: Task, forward: Any, heldout: tuple[np.ndarray, np.ndarray]) -> float:
    """The task's metric on the held-out batch, `forward(inputs)` giving the model's outputs
    (called on chunks of `EVAL_CHUNK` rows)."""
    inputs, targets = heldout
    total, count = 0.0, 0
    for start in range(0, len(inputs), EVAL_CHUNK):
        outputs = np.asarray(forward(inputs[start : start + EVAL_CHUNK]))
        expected = targets[start : start + EVAL_CHUNK]
        if task.metric == "mse":
            total += float(np.sum((outputs[:, 0] - expected[:, 0]) ** 2))
        elif task.metric == "accuracy":
            total += float(np.sum((outputs[:, 0] > 0) == (expected > 0.5)))
        else:
            total += float(np.sum(_token_cross_entropy(outputs, expected)))
        count += expected.size
    mean = total / count
    return math.exp(mean) if task.metric == "perplexity" else mean


def _token_cross_entropy(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """-log softmax(logits)[id] per token, float64, for logits (..., V) and ids (...)."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1))
    return log_norm - np.take_along_axis(shifted, ids[..., None], axis=-1)[..., 0]


def make_recorder(
    task: Task,
    record: RunRecord,
    heldout: tuple[np.ndarray, np.ndarray],
    steps: int,
    eval_every: int,
    log_dir: Path,
    label: str,
) -> Any:
    """A `keras.callbacks.Callback` that fills `record` during `fit`: times every update (it
    must come first among the callbacks, so the others' per-batch work is not timed; see the
    module docstring), evaluates the held-out metric every `eval_every` updates and after the
    last, writes the metric and the training seconds to TensorBoard under `log_dir/heldout`,
    and draws the run's progress bar."""
    import keras
    import tensorflow as tf

    class _Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = ProgressBar(label, steps)
            self.forward = tf.function(lambda inputs: self.model(inputs, training=False))

        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            wall, cpu = self.started
            record.update_seconds.append(time.perf_counter() - wall)
            record.update_cpu_seconds.append(time.process_time() - cpu)
            done = batch + 1
            if done % eval_every == 0 or done == steps:
                record.updates.append(done)
                record.metric.append(heldout_metric(task, self.forward, heldout))
                self.bar.update(done, f"{task.metric} {record.metric[-1]:.4g}")

        def on_train_end(self, logs=None):
            self.bar.finish()
            seconds = {clock: record.seconds(clock) for clock in ("wall", "cpu")}
            writer = tf.summary.create_file_writer(str(log_dir / "heldout"))
            with writer.as_default():
                for index, (done, value) in enumerate(zip(record.updates, record.metric)):
                    tf.summary.scalar(f"heldout/{task.metric}", value, step=done)
                    for clock, tag in (("wall", "train_seconds"), ("cpu", "train_cpu_seconds")):
                        if seconds[clock] is not None:
                            tf.summary.scalar(f"heldout/{tag}", seconds[clock][index], step=done)
            writer.close()

    return _Recorder()


class ProgressBar:
    """One line per run on stderr: `label [=====>    ] done/total text`, redrawn in place on a
    terminal, printed once at the end otherwise."""

    WIDTH = 24

    def __init__(self, label: str, total: int):
        self.label, self.total = label, total
        self.started = time.perf_counter()
        self.interactive = sys.stderr.isatty()
        self.line = ""

    def update(self, done: int, text: str) -> None:
        filled = int(self.WIDTH * done / self.total)
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + " " * (self.WIDTH - filled - 1)
        elapsed = time.perf_counter() - self.started
        self.line = f"{self.label} [{bar[: self.WIDTH]}] {done}/{self.total} {text} {elapsed:.0f}s"
        if self.interactive:
            sys.stderr.write("\r" + self.line)
            sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write(("\r" if self.interactive else "") + self.line + "\n")
        sys.stderr.flush()


def train_run(
    task: Task,
    data: TaskData,
    cell: str,
    units: int,
    seed: int,
    steps: int,
    eval_every: int,
    impl: str,
    log_dir: Path,
) -> RunRecord:
    """Train one model from seed `seed` for `steps` updates and return its measurements.

    TensorBoard (under `log_dir`): `zoo.callbacks.TimingLogger` (step time) and
    `GradientNormLogger` (gradient norms, every `eval_every` updates), the held-out metric
    (`heldout/`), and the run's hyperparameters with its final metric (`log_hparams`).
    """
    import keras

    from zoo.callbacks import GradientNormLogger, TimingLogger, log_hparams
    from zoo.layers import count_params

    keras.utils.set_random_seed(seed)
    model = build_model(task, cell, units, impl, data.input_shape)
    model.compile(
        optimizer=keras.optimizers.Adam(task.learning_rate, global_clipnorm=1.0),
        loss=_loss(task),
    )
    record = RunRecord(
        task=task.name,
        cell=cell,
        seed=seed,
        units=units,
        params=model.count_params(),
        recurrent_params=count_params(cell, task.input_dim, units),
    )
    label = f"{task.name:>6} {cell:>8} seed {seed}"
    callbacks = [
        make_recorder(task, record, data.heldout, steps, eval_every, log_dir, label),
        TimingLogger(log_dir, every_n_steps=eval_every),
        GradientNormLogger(log_dir, every_n_steps=eval_every),
    ]
    model.fit(
        data.batches(seed),
        steps_per_epoch=steps,
        epochs=1,
        verbose=0,
        callbacks=callbacks,
        shuffle=False,
    )
    summary = record.summary(task)
    log_hparams(
        log_dir,
        {"task": task.name, "cell": cell, "impl": impl, "units": units, "seed": seed},
        {
            f"final_{task.metric}": summary["final_metric"],
            **{
                key: summary[key]
                for key in ("seconds_per_update", "cpu_seconds_per_update")
                if summary[key] is not None
            },
        },
    )
    return record
