"""TensorBoard callbacks for training recurrent models (TensorFlow backend).

- `GradientNormLogger`: global, per-layer and per-variable gradient norms of the training batch
  (before any clipping), and gradient histograms, at a step cadence.
- `GradientFlowLogger`: per-timestep ||dL/dh_t|| (and ||dL/dc_t||) of each recurrent layer on
  a fixed probe batch (`zoo.analysis.gradient_flow`), as an image and as scalars.
- `TimingLogger`: per-step wall time (first, tracing step apart), examples/s, tokens/s, epoch
  wall time.
- `log_hparams` / `HParamsLogger`: a run's hyperparameters and final metrics for the
  TensorBoard HParams dashboard.

All of them are plain `keras.callbacks.Callback`s for `model.fit` on any compiled Keras model
(Sequential, functional or subclassed; `GradientFlowLogger` needs symbolic inputs, so
Sequential or functional). Each writes its own event file into `log_dir` (GradientFlowLogger
also per-epoch curves into `log_dir/flow_epoch_<eeee>`), so one `log_dir` per run, shared by the
callbacks, shows them as one TensorBoard run; `keras.callbacks.TensorBoard` with the same
`log_dir` adds its runs `train` and `validation` beside it. TensorBoard reads a folder's event
files in order and, by default, follows only the newest while it grows: to watch a run live,
start it with `tensorboard --logdir <dir> --reload_multifile=true`.

Hooks. `GradientNormLogger` and `TimingLogger` must see tensors that only exist inside the
compiled train function, so for the duration of `fit` they shadow one method with an instance
attribute and rebuild the train function (`model.make_train_function(force=True)`) so the next
trace includes the hook:

- `GradientNormLogger` wraps `model.optimizer.apply(grads, variables)`, which every Keras train
  step calls (via `apply_gradients`) with the raw gradients; `clipnorm`/`global_clipnorm`
  clipping happens later, inside `apply`, so the logged norms are before clipping.
- `TimingLogger` wraps `model.train_step(data)` to count examples and tokens per batch.

The hooks only read tensors and write the callback's own `tf.Variable`s (the gradient copies
under a `tf.cond` on the step counter, the example counts every step): they change no weight, no
optimizer state and no random state (`GradientNormLogger` builds a not-yet-built optimizer at
the start of `fit`, as its first `apply` would). `on_train_end`
removes them and drops the compiled train function, so the model is left as it was (the next
`fit` builds a fresh one).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.analysis import gradient_flow, plot_gradient_flow, state_sizes
from zoo.checks import positive_int

_HOOK_MARK = "_zoo_callback_hook"


# ---------------------------------------------------------------------------------------------
# Argument checks and hook helpers


def _writable_log_dir(log_dir: str | os.PathLike) -> str:
    """Create `log_dir` if needed and check that a file can be written in it."""
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise ValueError(f"log_dir: expected a non-empty path, got {log_dir!r}")
    path = os.fspath(log_dir)
    if "://" in path:  # remote file systems (gs://, s3://): left to tf.summary to check
        return path
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(f"log_dir: cannot write to {path!r} ({error})") from error
    return path


def _check_tensorflow_backend(callback: keras.callbacks.Callback) -> None:
    """Refuse, at the start of `fit`, what the hooks cannot handle."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"{type(callback).__name__} needs the TensorFlow backend, "
            f"got KERAS_BACKEND={keras.backend.backend()!r}"
        )
    if callback.model.distribute_strategy.num_replicas_in_sync > 1:
        raise RuntimeError(f"{type(callback).__name__} supports single-replica training only")


def _install_hook(
    callback: keras.callbacks.Callback,
    owner: Any,
    name: str,
    make_wrapper: Callable[[Callable], Callable],
) -> None:
    """Shadow `owner.name` by `make_wrapper(original)` as an instance attribute, for the fit
    `callback` is in (identified by its `params`, the dict Keras gives every callback of one
    fit). A hook left by an earlier fit is replaced: Keras skips `on_train_end` when `fit`
    raises, so its callback could not remove it."""
    mark = getattr(getattr(owner, name), _HOOK_MARK, None)
    if mark is not None:
        if mark["fit"] is callback.params:
            raise RuntimeError(
                f"{type(owner).__name__}.{name} is already hooked by another zoo callback "
                "(use one callback of each kind per fit)"
            )
        _remove_hook(owner, name)
    wrapper = make_wrapper(getattr(owner, name))
    # What to put back: an instance attribute the owner already had, else nothing.
    setattr(wrapper, _HOOK_MARK, {"replaced": vars(owner).get(name), "fit": callback.params})
    setattr(owner, name, wrapper)


def _remove_hook(owner: Any, name: str) -> None:
    mark = getattr(vars(owner).get(name), _HOOK_MARK, None)
    if mark is None:
        return
    delattr(owner, name)
    if mark["replaced"] is not None:
        setattr(owner, name, mark["replaced"])


def _rebuild_train_function(model: keras.Model) -> None:
    """Make `fit` trace a fresh train function, which picks up (or drops) the hooks."""
    model.make_train_function(force=True)


# ---------------------------------------------------------------------------------------------
# Gradient norms


def _dense_gradient(gradient, variable) -> tf.Tensor:
    """A dense gradient; `tf.IndexedSlices` (e.g. Embedding) with repeated rows are summed."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.math.unsorted_segment_sum(
            gradient.values, gradient.indices, num_segments=variable.shape[0]
        )
    return tf.convert_to_tensor(gradient)


def _variable_tags(variables: list) -> list[str]:
    """One unique tag per variable from its Keras path, e.g. 'sequential/lstm/lstm_cell/kernel'."""
    tags: list[str] = []
    for variable in variables:
        tag = str(getattr(variable, "path", variable.name)).replace(":", "_")
        while tag in tags:
            tag += "_"
        tags.append(tag)
    return tags


def _layer_groups(model: keras.Model, variables: list) -> dict[str, list[int]]:
    """Indices of `variables` per top-level layer name (the model's own weights: model name)."""
    owner = {}
    for layer in model.layers:
        for variable in layer.trainable_variables:
            owner.setdefault(id(variable), layer.name)
    groups: dict[str, list[int]] = {}
    for index, variable in enumerate(variables):
        groups.setdefault(owner.get(id(variable), model.name), []).append(index)
    return groups


class GradientNormLogger(keras.callbacks.Callback):
    """Log gradient norms of the training batch to TensorBoard, before any clipping.

    For the batch of global step s (s = number of optimizer steps before this batch, so the
    first batch of training is s = 0), with g_v = dL_batch/dv the gradient the optimizer receives
    for trainable variable v (unscaled if the optimizer scales the loss):

        gradient_norm/global             ||g||   = sqrt(sum_v ||g_v||_F^2)
        gradient_norm_layer/<layer>      sqrt(sum_{v in layer} ||g_v||_F^2)   (top-level layers)
        gradient_norm_variable/<path>    ||g_v||_F                            (Keras variable path)

    as scalars at step s whenever s % every_n_steps == 0, and the histogram of every g_v as
    `gradient/<path>` whenever s % histogram_every_n_steps == 0. Norms are unitless (units of
    the loss per unit of the weight). `clipnorm` / `global_clipnorm` do not affect them.

    Cost: the norms are computed inside the train function only on logged steps (a `tf.cond`
    on the step counter); the histograms copy the gradients into variables of the same shapes
    (one extra copy of the trainable weights in memory) on histogram steps only. Like any
    callback with `on_train_batch_end`, it turns off Keras's asynchronous batch-end dispatch.
    Single-replica TensorFlow training only (refused otherwise at the start of `fit`).

    Args:
        log_dir: directory for the event files; created if missing, must be writable.
        every_n_steps: cadence of the scalars, in optimizer steps (must be at least the model's
            `steps_per_execution`).
        histogram_every_n_steps: cadence of the histograms, or None for no histograms.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        every_n_steps: int = 50,
        histogram_every_n_steps: int | None = None,
    ):
        super().__init__()
        self.every_n_steps = positive_int("every_n_steps", every_n_steps)
        self.histogram_every_n_steps = (
            None
            if histogram_every_n_steps is None
            else positive_int("histogram_every_n_steps", histogram_every_n_steps)
        )
        self.log_dir = _writable_log_dir(log_dir)
        self._writer = None

    # -- in-graph part ------------------------------------------------------------------------

    def _make_apply_hook(self, original_apply: Callable) -> Callable:
        def apply(grads, trainable_variables=None):
            self._record(list(grads), trainable_variables)
            return original_apply(grads, trainable_variables)

        return apply

    def _unscale(self, gradient):
        optimizer = self.model.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return gradient / tf.cast(optimizer.dynamic_scale, gradient.dtype)
        if optimizer.loss_scale_factor is not None:
            return gradient / optimizer.loss_scale_factor
        return gradient

    def _record(self, grads: list, trainable_variables) -> None:
        """Traced into the train step: copy norms (and gradients) into this callback's variables."""
        variables = self._variables if trainable_variables is None else list(trainable_variables)
        by_index = {}
        for gradient, variable in zip(grads, variables, strict=True):
            index = self._index.get(id(variable))
            if gradient is not None and index is not None:
                by_index[index] = (gradient, variable)
        step = tf.cast(self.model.optimizer.iterations, tf.int64)

        def dense_gradients(dtype) -> dict[int, tf.Tensor]:
            return {
                i: self._unscale(tf.cast(_dense_gradient(g, v), dtype))
                for i, (g, v) in by_index.items()
            }

        def capture_norms():
            # In float64: a float32 sum of squares underflows below ~1e-19 and overflows above
            # ~1e19 (the norms of vanishing and exploding gradients), as zoo.analysis does.
            dense = dense_gradients(tf.float64)
            norms = [
                tf.norm(dense[i]) if i in dense else tf.zeros((), tf.float64)
                for i in range(len(self._variables))
            ]
            self._norms.assign(tf.stack(norms))
            self._norm_step.assign(step)
            return tf.constant(True)

        tf.cond(step % self.every_n_steps == 0, capture_norms, lambda: tf.constant(False))
        if self.histogram_every_n_steps is not None:

            def capture_gradients():
                for i, gradient in dense_gradients(tf.float32).items():
                    self._gradients[i].assign(gradient)
                self._histogram_step.assign(step)
                return tf.constant(True)

            tf.cond(
                step % self.histogram_every_n_steps == 0,
                capture_gradients,
                lambda: tf.constant(False),
            )

    # -- callback part ------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        _check_tensorflow_backend(self)
        execution = int(getattr(self.model, "steps_per_execution", 1) or 1)
        for name, cadence in [
            ("every_n_steps", self.every_n_steps),
            ("histogram_every_n_steps", self.histogram_every_n_steps),
        ]:
            if cadence is not None and cadence < execution:
                raise ValueError(
                    f"{name}={cadence} is smaller than the model's steps_per_execution="
                    f"{execution}; steps would be lost (use {name} >= {execution})"
                )
        self._variables = list(self.model.trainable_variables)
        if not self.model.optimizer.built:
            # What the first `apply` would do; done now so that the loss scale variable exists.
            self.model.optimizer.build(self._variables)
        self._index = {id(v): i for i, v in enumerate(self._variables)}
        self._tags = _variable_tags(self._variables)
        self._groups = _layer_groups(self.model, self._variables)
        with tf.init_scope():
            self._norms = tf.Variable(tf.zeros(len(self._variables), tf.float64), trainable=False)
            self._norm_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
            self._histogram_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
            self._gradients = (
                [tf.Variable(tf.zeros(v.shape), trainable=False) for v in self._variables]
                if self.histogram_every_n_steps is not None
                else []
            )
        self._written = {"norms": -1, "histograms": -1}
        self._writer = tf.summary.create_file_writer(self.log_dir)
        _install_hook(self, self.model.optimizer, "apply", self._make_apply_hook)
        _rebuild_train_function(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._next_step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_train_batch_end(self, batch, logs=None):
        # Steps [first, first + count) ran in this call of the train function. Read the captured
        # values only when one of them was due; `_written` guards against a short last call.
        first, count = self._next_step, batch - self._batch_begin + 1
        self._next_step += count
        if self._due(first, count, self.every_n_steps):
            self._write_norms()
        if self.histogram_every_n_steps and self._due(first, count, self.histogram_every_n_steps):
            self._write_histograms()

    @staticmethod
    def _due(first: int, count: int, every: int) -> bool:
        return -(-first // every) * every < first + count

    def _write_norms(self) -> None:
        step = int(self._norm_step.numpy())
        if step <= self._written["norms"]:
            return
        norms = self._norms.numpy()
        with self._writer.as_default(step=step):
            tf.summary.scalar("gradient_norm/global", math.sqrt(float(np.sum(norms**2))))
            for layer, indices in self._groups.items():
                value = math.sqrt(float(np.sum(norms[indices] ** 2)))
                tf.summary.scalar(f"gradient_norm_layer/{layer}", value)
            for tag, value in zip(self._tags, norms, strict=True):
                tf.summary.scalar(f"gradient_norm_variable/{tag}", float(value))
        self._written["norms"] = step

    def _write_histograms(self) -> None:
        step = int(self._histogram_step.numpy())
        if step <= self._written["histograms"]:
            return
        with self._writer.as_default(step=step):
            for tag, gradient in zip(self._tags, self._gradients, strict=True):
                tf.summary.histogram(f"gradient/{tag}", gradient)
        self._written["histograms"] = step

    def on_train_end(self, logs=None):
        _remove_hook(self.model.optimizer, "apply")
        self.model.train_function = None
        self._writer.close()
        self._gradients = []


# ---------------------------------------------------------------------------------------------
# Gradient flow through time


def _recurrent_layers(model: keras.Model) -> list[tuple[str, Any, Any]]:
    """(name, layer with a `.cell`, top-level layer whose input it reads) for each top-level
    recurrent layer, and for both directions of a `keras.layers.Bidirectional`."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found.append((f"{layer.name}/forward", layer.forward_layer, layer))
            found.append((f"{layer.name}/backward", layer.backward_layer, layer))
        elif hasattr(getattr(layer, "cell", None), "state_size"):
            found.append((layer.name, layer, layer))
    return found


def _figure_png(figure) -> tf.Tensor:
    """The figure as a (1, height, width, 4) uint8 image tensor."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return tf.expand_dims(tf.image.decode_png(buffer.getvalue(), channels=4), 0)


class GradientFlowLogger(keras.callbacks.Callback):
    """Log the gradient flow through time of each recurrent layer on a fixed probe batch.

    At the end of every `every_n_epochs`-th epoch (0-based epoch e is logged when
    (e + 1) % every_n_epochs == 0), for each top-level recurrent layer (a layer with a `.cell`,
    e.g. `keras.layers.LSTM`, `keras.layers.GRU` and zoo's layers; both directions of a
    `keras.layers.Bidirectional`, named `<name>/forward` and `<name>/backward`): its input for the
    probe batch (B, T, d) is computed with the current weights, and
    `zoo.analysis.gradient_flow(layer.cell, inputs)` gives G^h_t = mean_b ||dL/dh_t|| (and
    G^c_t) for t = 1..T, with L = sum(h_T) and zero initial state (see `zoo.analysis`; masks and
    dropout are not applied; `go_backwards` layers get their input reversed in time). Written:

        log_dir:                      image  `gradient_flow` (all layers, log scale), step e
                                      scalar `gradient_flow_ratio/<layer>/h` = G^h_1 / G^h_T,
                                      (and `.../c`), step e
        log_dir/flow_epoch_<eeee>:    scalar `gradient_flow/<layer>/h` = G^h_t at step t
                                      (and `.../c`), so the epochs overlay as runs in one chart

    Needs a model with symbolic inputs (Sequential or functional), to read a layer's input.

    Args:
        log_dir: directory for the event files; created if missing, must be writable.
        probe_batch: model inputs x for a fixed batch (arrays, as `model(x)` accepts them).
        every_n_epochs: cadence in epochs.
    """

    def __init__(self, log_dir: str | os.PathLike, probe_batch: Any, every_n_epochs: int = 1):
        super().__init__()
        if probe_batch is None:
            raise ValueError("probe_batch: expected model inputs for a fixed batch, got None")
        self.every_n_epochs = positive_int("every_n_epochs", every_n_epochs)
        self.probe_batch = probe_batch
        self.log_dir = _writable_log_dir(log_dir)

    def on_train_begin(self, logs=None):
        _check_tensorflow_backend(self)
        self._layers = _recurrent_layers(self.model)
        if not self._layers:
            raise ValueError("GradientFlowLogger: the model has no recurrent layer (with `.cell`)")
        try:
            inputs = self.model.inputs
        except AttributeError:
            inputs = None
        if not inputs:
            raise ValueError(
                "GradientFlowLogger needs a Sequential or functional model (symbolic inputs) "
                "to read each recurrent layer's input"
            )
        for name, layer, _ in self._layers:
            try:
                state_sizes(layer.cell)
            except ValueError as error:
                raise ValueError(f"GradientFlowLogger: layer '{name}': {error}") from None
        readers = list({id(top): top for _, _, top in self._layers}.values())
        self._input_index = [readers.index(top) for _, _, top in self._layers]
        self._layer_inputs = keras.Model(
            inputs[0] if len(inputs) == 1 else inputs, [top.input for top in readers]
        )
        try:  # now, rather than at the first epoch's end
            self._layer_inputs(self.probe_batch, training=False)
        except (ValueError, TypeError) as error:
            raise ValueError(f"probe_batch: the model cannot read it ({error})") from error

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            self._log_flow(epoch)

    def _log_flow(self, step: int) -> None:
        """Compute the curves with the current weights and write them, labelled `step`."""
        layer_inputs = self._layer_inputs(self.probe_batch, training=False)
        if not isinstance(layer_inputs, (list, tuple)):
            layer_inputs = [layer_inputs]
        results = {}
        for (name, layer, _), index in zip(self._layers, self._input_index, strict=True):
            sequence = layer_inputs[index]
            if getattr(layer, "go_backwards", False):
                sequence = tf.reverse(sequence, axis=[1])
            results[name] = gradient_flow(layer.cell, sequence)

        figure = plot_gradient_flow(results, title=f"Gradient flow, epoch {step}")
        with tf.summary.create_file_writer(self.log_dir).as_default(step=step):
            tf.summary.image("gradient_flow", _figure_png(figure))
            for name, result in results.items():
                for state, curve in result.items():
                    ratio = curve[0] / curve[-1] if curve[-1] > 0 else 0.0
                    tf.summary.scalar(f"gradient_flow_ratio/{name}/{state}", ratio)
        curve_dir = os.path.join(self.log_dir, f"flow_epoch_{step:04d}")
        with tf.summary.create_file_writer(curve_dir).as_default():
            for name, result in results.items():
                for state, curve in result.items():
                    for t, value in enumerate(curve, start=1):
                        tf.summary.scalar(f"gradient_flow/{name}/{state}", value, step=t)


# ---------------------------------------------------------------------------------------------
# Timing


def _batch_counts(data) -> tuple[tf.Tensor, tf.Tensor]:
    """(examples, tokens) in one batch, from the first input array x of shape (B, ...).

    tokens = B * T when x holds sequences: integer ids of shape (B, T, ...) or float features
    of shape (B, T, d, ...); otherwise 0. Padding counts as tokens.
    """
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    first = tf.nest.flatten(x)[0]
    shape = tf.shape(first, out_type=tf.int64)
    rank = first.shape.rank
    is_sequence = rank >= 3 or (rank == 2 and first.dtype.is_integer)
    return shape[0], shape[0] * shape[1] if is_sequence else tf.constant(0, tf.int64)


class TimingLogger(keras.callbacks.Callback):
    """Log training speed to TensorBoard.

    Scalars (wall-clock seconds from `time.perf_counter`, x axis: global step s = optimizer
    steps done, or epoch):

        timing/first_step_s     the first train step of each `fit` (tracing and compiling)
        timing/step_s           mean wall time per step over the last `every_n_steps` steps,
                                from the end of one batch to the end of the next (data
                                pipeline and callbacks included, validation runs excluded),
                                first step excluded
        timing/examples_per_s   examples / second over the same window
        timing/tokens_per_s     tokens / second (B * T per batch, when inputs are sequences)
        timing/epoch_s          wall time of the epoch (validation included), step = epoch

    Examples and tokens are counted inside the train step (a hook on `model.train_step`), from
    the first input array: B examples, and B * T tokens for integer ids (B, T) or features
    (B, T, d).

    Args:
        log_dir: directory for the event files; created if missing, must be writable.
        every_n_steps: steps per `step_s` / `*_per_s` point.
    """

    def __init__(self, log_dir: str | os.PathLike, every_n_steps: int = 1):
        super().__init__()
        self.every_n_steps = positive_int("every_n_steps", every_n_steps)
        self.log_dir = _writable_log_dir(log_dir)
        self._writer = None
        self._window_start = self._test_start = None

    def _make_train_step_hook(self, original_train_step: Callable) -> Callable:
        def train_step(data):
            examples, tokens = _batch_counts(data)
            self._counts.assign_add(tf.stack([examples, tokens]))
            return original_train_step(data)

        return train_step

    def on_train_begin(self, logs=None):
        _check_tensorflow_backend(self)
        with tf.init_scope():
            self._counts = tf.Variable(tf.zeros(2, tf.int64), trainable=False)
        self._writer = tf.summary.create_file_writer(self.log_dir)
        self._first_step = True
        _install_hook(self, self.model, "train_step", self._make_train_step_hook)
        _rebuild_train_function(self.model)

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self._first_step:
            self._window_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._first_step:
            self._first_step = False
            with self._writer.as_default(step=self._step()):
                tf.summary.scalar("timing/first_step_s", now - self._window_start)
            self._start_window(now)
            return
        steps = self._step() - self._window_step
        if steps >= self.every_n_steps:
            seconds = now - self._window_start
            examples, tokens = self._counts.numpy() - self._window_counts
            with self._writer.as_default(step=self._window_step + steps):
                tf.summary.scalar("timing/step_s", seconds / steps)
                tf.summary.scalar("timing/examples_per_s", examples / seconds)
                if tokens:
                    tf.summary.scalar("timing/tokens_per_s", tokens / seconds)
            self._start_window(now)

    def _start_window(self, now: float) -> None:
        self._window_start = now
        self._window_step = self._step()
        self._window_counts = self._counts.numpy()

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        # A validation run inside `fit` (between two training batches) is left out of the
        # step window; an `evaluate` outside `fit` finds no window open.
        if self._window_start is not None and self._test_start is not None:
            self._window_start += time.perf_counter() - self._test_start
        self._test_start = None

    def on_epoch_end(self, epoch, logs=None):
        with self._writer.as_default(step=epoch):
            tf.summary.scalar("timing/epoch_s", time.perf_counter() - self._epoch_start)

    def on_train_end(self, logs=None):
        _remove_hook(self.model, "train_step")
        self.model.train_function = None
        self._writer.close()
        self._window_start = None


# ---------------------------------------------------------------------------------------------
# HParams


def _flat_hparams(
    hparams: Mapping[str, Any], prefix: str = ""
) -> dict[str, bool | int | float | str]:
    """Nested dicts flattened to dotted keys; values bool, int, float or str (others: str())."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in hparams.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_hparams(value, prefix=f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        elif isinstance(value, np.generic):
            flat[name] = value.item()
        else:
            flat[name] = str(value)
    return flat


def log_hparams(
    log_dir: str | os.PathLike, hparams: Mapping[str, Any], metrics: Mapping[str, float]
) -> None:
    """Write one run's hyperparameters and final metrics for the TensorBoard HParams dashboard.

    Writes into `log_dir` (the run's directory): the HParams session (`hparams`, nested dicts
    flattened to dotted keys such as `config.lr`; values other than bool/int/float/str are
    written as their str()), each metric as a scalar with its name as tag at step 0, and an
    experiment config naming exactly these hparams and metrics as the dashboard's columns.
    TensorBoard reads one experiment config per log root (the first it finds), so runs under
    one root should log the same hparam and metric names, e.g. cell, impl, units, params,
    config, seed.

    Args:
        log_dir: the run's directory; created if missing, must be writable.
        hparams: {name: value}, non-empty.
        metrics: {name: final value}, e.g. {"loss": 4.1, "val_perplexity": 120.0}.
    """
    from tensorboard.plugins.hparams import api as hp

    log_dir = _writable_log_dir(log_dir)
    if not isinstance(hparams, Mapping) or not hparams:
        raise ValueError(f"hparams: expected a non-empty dict, got {hparams!r}")
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics: expected a dict of name: value, got {metrics!r}")
    flat = _flat_hparams(hparams)
    values = {}
    for name, value in metrics.items():
        try:
            values[str(name)] = float(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"metrics[{name!r}]: expected a number, got {value!r}") from error
    with tf.summary.create_file_writer(log_dir).as_default():
        hp.hparams_config(
            hparams=[hp.HParam(name) for name in flat],
            metrics=[hp.Metric(name) for name in values],
        )
        hp.hparams(flat)
        for name, value in values.items():
            tf.summary.scalar(name, value, step=0)


class HParamsLogger(keras.callbacks.Callback):
    """Call `log_hparams` at the end of `fit` with the last epoch's logs as final metrics.

    The model's parameter count is added as hparam `params` (unless `hparams` has it).

    Args:
        log_dir: the run's directory; created if missing, must be writable.
        hparams: {name: value}, non-empty (see `log_hparams`).
    """

    def __init__(self, log_dir: str | os.PathLike, hparams: Mapping[str, Any]):
        super().__init__()
        if not isinstance(hparams, Mapping) or not hparams:
            raise ValueError(f"hparams: expected a non-empty dict, got {hparams!r}")
        self.log_dir = _writable_log_dir(log_dir)
        self.hparams = dict(hparams)

    def on_train_end(self, logs=None):
        hparams = {"params": self.model.count_params(), **self.hparams}
        log_hparams(self.log_dir, hparams, dict(logs or {}))
