"""Train a word-level language model on Penn Treebank, as Zaremba et al. (2014).

Truncated backpropagation through time over Zaremba batches (`zoo.data.ptb.batches`): the
training stream is cut into `batch_size` contiguous rows and read in windows of `num_steps`
tokens, in order; the final states of each window are the initial states of the next, and they
start from zero at each epoch (and at each evaluation). The loss is the cross-entropy summed over
the window's timesteps and averaged over its rows (the paper's, which makes SGD with lr 1
work): Keras's mean over batch and time times `num_steps`. Plain SGD (no momentum, so no
optimizer state): gradients clipped to global norm `clip`, then `w -= lr * g`, with `lr`
divided by `lr_decay` after each epoch past `decay_after`.

Perplexity = exp(mean cross-entropy per token, in nats). Words/s counts training tokens
(targets) per second of the training loop alone.

Distribution: every step runs under a `tf.distribute` strategy (the default one, or
`MirroredStrategy`). Each replica takes a fixed slice of the batch's rows, so it carries the
states of its own rows; its loss is divided by the global batch size; the gradients are summed
across replicas (`strategy.reduce`), clipped and applied once, so a mirrored run computes the
same update as a single-device one.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from zoo.checks import positive_int
from zoo.data.download import dataset_folder
from zoo.models import configs
from zoo.training import common

PROGRESS_METRICS = ("perplexity", "grad_norm", "valid_perplexity")
GRADIENT_NORM_EVERY_N_STEPS = 20


def perplexity_of(nats_per_word: float) -> float:
    """exp(nats per word); infinite where that overflows a float (a diverging run, which the
    NaN guard then stops) rather than an OverflowError."""
    try:
        return math.exp(nats_per_word)
    except OverflowError:
        return math.inf


def train_ptb(
    cell: str = "lstm",
    impl: str = "zoo",
    config: str | dict = "small",
    budget: str = "same_width",
    epochs: int | None = None,
    lr: float | None = None,
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    log_dir: str | os.PathLike | None = None,
    seed: int = 0,
    strategy: str = "default",
    jit_compile: bool = False,
    max_batches: int | None = None,
    callbacks: list | None = None,
    verbose: int = 1,
) -> dict[str, Any]:
    """Train `cell` on PTB with a Zaremba configuration and return (and write) the results.

    Args:
        cell, impl, config, budget: as in `zoo.models.language_model`.
        epochs: number of epochs (default: the config's, 13 for small).
        lr: initial SGD learning rate (default: the config's, 1.0).
        data_dir: folder with ptb.{train,valid,test}.txt, or its parent holding ptb/ (see
            `zoo.data.ptb.load`).
        out: results JSON path (None: not written).
        checkpoint: checkpoint path, written at each epoch end (default: `out` + ".ckpt.npz";
            None when `out` is None too: no checkpoints).
        resume: continue from `checkpoint` if it exists (at the epoch after the saved one).
        log_dir: the run directory: TensorBoard scalars (per epoch: train and valid
            perplexity, lr, words/s; every `GRADIENT_NORM_EVERY_N_STEPS` steps:
            `gradient_norm/global`, the gradients' global norm before clipping, at the global
            step) and, at the end, the trained model for `zoo export` (`model.keras`, an
            `inference_model` copy, and `vocab.txt`, line i the word of id i). None: neither.
        seed: seed of weights, dropout masks and op determinism.
        strategy: "default", "mirrored" or "multiworker" (`zoo.training.common.make_strategy`;
            with "multiworker" only the chief writes `out` and the checkpoint).
        jit_compile: compile each replica's forward and backward pass with XLA.
        max_batches: use at most this many batches of each split (smoke tests).
        callbacks: `keras.callbacks.Callback`s; get on_epoch_begin/end and
            on_train_batch_end(step, {"perplexity": ...}) calls.
        verbose: 1 for the progress bar and summaries, 0 for silence.

    Returns:
        The results dict written to `out`: settings, parameter counts, per-epoch history
        (train/valid perplexity, lr, seconds, words/s), `valid_perplexity`, `test_perplexity`.

    Raises:
        NonFiniteLossError: the loss became NaN/Inf (the last good checkpoint is kept).
    """
    import keras
    import tensorflow as tf

    from zoo import export
    from zoo.data import ptb
    from zoo.losses import sparse_softmax_cross_entropy
    from zoo.models import language_model
    from zoo.models.language_model import check_cell, inference_model

    check_cell(cell, impl)
    settings = common.override_settings(configs.resolve(configs.PTB, config), epochs, lr)
    if checkpoint is None and out is not None:
        checkpoint = str(out) + ".ckpt.npz"
    common.check_run_outputs(out, checkpoint, log_dir)
    common.set_seed(seed)
    distribution = common.make_strategy(strategy)
    writes = common.is_chief(distribution)  # other workers read the chief's checkpoint only
    if not writes:
        out = None
    replicas = distribution.num_replicas_in_sync
    if jit_compile and replicas > 1:
        raise ValueError(
            f"jit_compile: not supported with {replicas} replicas (XLA compiled a replica's step "
            "against another replica's variables); use --jit-compile false with --strategy"
        )
    batch_size, num_steps = settings["batch_size"], settings["num_steps"]
    if batch_size % replicas:
        raise ValueError(f"batch_size: {batch_size} rows do not split over {replicas} replicas")
    local_rows = batch_size // replicas

    corpus = ptb.load(dataset_folder(data_dir, "ptb"))
    splits = {
        name: ptb.batches(getattr(corpus, name), batch_size, num_steps)
        for name in ("train", "valid", "test")
    }
    if max_batches is not None:
        limit = positive_int("max_batches", max_batches)
        splits = {name: (x[:limit], y[:limit]) for name, (x, y) in splits.items()}

    with distribution.scope():
        model = language_model(
            cell, impl, settings, len(corpus.vocab), budget, seed=seed, summary=verbose > 0
        )
    variables = model.trainable_variables

    def replica_train(x, y, states):
        with tf.GradientTape() as tape:
            logits, new_states = model(x, states, training=True)
            cross_entropy = sparse_softmax_cross_entropy(y, logits)
            # summed over time, averaged over the *global* batch (replicas' gradients add up)
            loss = tf.reduce_sum(cross_entropy) / batch_size
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
        return tf.reduce_sum(cross_entropy), grads, new_states

    def replica_eval(x, y, states):
        logits, new_states = model(x, states, training=False)
        cross_entropy = sparse_softmax_cross_entropy(y, logits)
        return tf.reduce_sum(cross_entropy), new_states

    if jit_compile:
        replica_train = tf.function(replica_train, jit_compile=True)
        replica_eval = tf.function(replica_eval, jit_compile=True)
    total = tf.distribute.ReduceOp.SUM

    @tf.function
    def train_step(x, y, states, learning_rate):
        nats, grads, new_states = distribution.run(replica_train, args=(x, y, states))
        grads = [distribution.reduce(total, g, axis=None) for g in grads]
        grads, norm = tf.clip_by_global_norm(grads, settings["clip"])
        for variable, grad in zip(variables, grads):
            variable.assign_sub(learning_rate * grad)
        return distribution.reduce(total, nats, axis=None), norm, new_states

    @tf.function
    def eval_step(x, y, states):
        nats, new_states = distribution.run(replica_eval, args=(x, y, states))
        return distribution.reduce(total, nats, axis=None), new_states

    def rows(array):
        """One (batch, T) array -> each replica's fixed slice of rows."""

        def replica_rows(context):
            start = context.replica_id_in_sync_group * local_rows
            return array[start : start + local_rows]

        return distribution.experimental_distribute_values_from_function(replica_rows)

    @tf.function
    def zero_states():
        return distribution.run(lambda: model.zero_states(local_rows))

    def evaluate(split: str) -> float:
        inputs, targets = splits[split]
        states, nats = zero_states(), 0.0
        for x, y in zip(inputs, targets):
            batch_nats, states = eval_step(rows(x), rows(y), states)
            nats += float(batch_nats)
        return perplexity_of(nats / targets.size)

    run_settings = {"cell": cell, "impl": impl, "budget": budget, "seed": seed, **settings}
    start_epoch, history = common.resume_point(checkpoint, resume, model, [], run_settings, verbose)

    writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None
    callback_list = keras.callbacks.CallbackList(callbacks or [], model=model)
    train_x, train_y = splits["train"]
    words_per_epoch = train_y.size
    callback_list.on_train_begin()
    for epoch in range(start_epoch, settings["epochs"]):
        learning_rate = configs.lr_at(settings, epoch)
        callback_list.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{settings['epochs']} (lr {learning_rate:.6g})")
        progress = keras.utils.Progbar(
            len(train_x),
            verbose=verbose,
            interval=0.05 if sys.stdout.isatty() else 30.0,  # a log file: a line per 30 s
            unit_name="batch",
            stateful_metrics=PROGRESS_METRICS,
        )
        states, nats, started = zero_states(), 0.0, time.perf_counter()
        rate = tf.constant(learning_rate, dtype="float32")
        for step, (x, y) in enumerate(zip(train_x, train_y)):
            batch_nats, norm, states = train_step(rows(x), rows(y), states, rate)
            batch_nats = float(batch_nats)
            common.check_finite(batch_nats, epoch + 1, step + 1, checkpoint)
            nats += batch_nats
            perplexity = perplexity_of(nats / ((step + 1) * y.size))
            progress.update(
                step + 1, [("perplexity", perplexity), ("grad_norm", float(norm))], finalize=False
            )
            if writer is not None and step % GRADIENT_NORM_EVERY_N_STEPS == 0:
                with writer.as_default(step=epoch * len(train_x) + step):
                    tf.summary.scalar("gradient_norm/global", norm)
            callback_list.on_train_batch_end(step, {"perplexity": perplexity})
        train_seconds = time.perf_counter() - started
        valid_perplexity = evaluate("valid")
        common.check_finite(valid_perplexity, epoch + 1, len(train_x), checkpoint)
        record = {
            "epoch": epoch + 1,
            "lr": learning_rate,
            "train_perplexity": perplexity,
            "valid_perplexity": valid_perplexity,
            "train_seconds": train_seconds,
            "epoch_seconds": time.perf_counter() - started,
            "words_per_second": words_per_epoch / train_seconds,
        }
        history.append(record)
        progress.update(len(train_x), [("valid_perplexity", valid_perplexity)], finalize=True)
        if writer is not None:
            with writer.as_default(step=epoch + 1):
                for key in ("train_perplexity", "valid_perplexity", "lr", "words_per_second"):
                    tf.summary.scalar(key, record[key])
        if checkpoint is not None and writes:
            meta = {"next_epoch": epoch + 1, "history": history, "settings": run_settings}
            common.save_checkpoint(checkpoint, model, [], meta)
        callback_list.on_epoch_end(epoch, record)
    callback_list.on_train_end()

    test_perplexity = evaluate("test")
    recurrent_params = sum(layer.count_params() for layer in model.recurrent)
    results = {
        "task": "ptb",
        "cell": cell,
        "impl": impl,
        "config": config if isinstance(config, str) else "custom",
        "settings": settings,
        "budget": budget,
        "widths": model.widths,
        "params": model.count_params(),
        "recurrent_params": recurrent_params,
        "seed": seed,
        "strategy": strategy,
        "replicas": replicas,
        "jit_compile": jit_compile,
        "max_batches": max_batches,
        "loss": "cross-entropy summed over num_steps timesteps, averaged over batch rows",
        "optimizer": "SGD without momentum, global-norm clipping",
        "epochs": history,
        "epochs_run": len(history),
        "valid_perplexity": history[-1]["valid_perplexity"] if history else None,
        "test_perplexity": test_perplexity,
        "wall_seconds": sum(r["epoch_seconds"] for r in history),
        "words_per_second": float(np.mean([r["words_per_second"] for r in history]))
        if history
        else None,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    if verbose:
        print(f"Test perplexity {test_perplexity:.2f} (valid {results['valid_perplexity']})")
    if log_dir is not None and writes:
        common.save_model(inference_model(model), Path(log_dir) / export.MODEL_FILE)
        common.write_text(Path(log_dir) / export.VOCAB_FILE, "\n".join(corpus.vocab) + "\n")
    if out is not None:
        common.write_json(out, results)
    return results
