"""Train a binary sentiment classifier on IMDB or SST-2 with `model.fit`.

Adam on the mean binary cross-entropy (from the logit), gradients clipped to global norm `clip`.
Accuracy thresholds the logit at 0 (probability 0.5). Each epoch visits the training examples in
a permutation drawn from (seed, epoch), so a resumed run sees the same batches as an
uninterrupted one. With `embedding_init="ppmi"` the embedding starts from word vectors computed
without labels (`zoo.data.word_vectors`) from the training texts, plus IMDB's 50,000 unlabelled
reviews; never from the validation or test texts. Examples/s counts training examples per
second of the training part of the epoch (validation excluded).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.checks import positive_int
from zoo.data.download import dataset_folder
from zoo.data.text import dataset_arrays, random_rows
from zoo.models import configs
from zoo.training import common

DATASETS = ("imdb", "sst2")
EMBEDDING_INITS = ("random", "ppmi")
DATA_FOLDERS = {"imdb": "imdb", "sst2": "sst"}
LOG_EVERY_N_STEPS = 20


def train_sentiment(
    dataset: str = "imdb",
    cell: str = "lstm",
    impl: str = "zoo",
    config: dict | None = None,
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
    """Train `cell` on `dataset` ("imdb" or "sst2") and return (and write) the results.

    Args:
        dataset: "imdb" (22,500 train / 2,500 validation carved from train / 25,000 test) or
            "sst2" (see `zoo.data.sst2.datasets`; test from the treebank when present).
        cell, impl: as in `zoo.models.sentiment_classifier`.
        config: overrides of `zoo.models.configs.SENTIMENT[dataset]` (vocab_size, max_len,
            embedding_dim, units, layers, bidirectional, dropout, pooling, embedding_init,
            embedding_window, embedding_trainable, batch_size, lr, epochs, clip).
        epochs, lr: shortcuts overriding the config's.
        data_dir: the dataset's folder, or its parent (`<data_dir>/imdb`, `<data_dir>/sst`).
        out, checkpoint, resume, log_dir, seed, strategy, jit_compile, max_batches, callbacks,
        verbose: as in `zoo.training.ptb.train_ptb` (`log_dir` gets the TensorBoard logs of
            `run_loggers` and, at the end, `model.keras` and `vectorizer.json` for
            `zoo export`).

    Returns:
        Results: settings, parameter count, per-epoch history (loss, accuracy, validation
        loss and accuracy, seconds, examples/s), `valid_accuracy`, `test_accuracy` (None when
        the source has no labelled test split), `embedding_seconds` (time spent computing the
        pretrained word vectors in this call; None when none were computed).

    Raises:
        NonFiniteLossError: the loss became NaN/Inf (the last good checkpoint is kept).
    """
    from zoo import export
    from zoo.models import sentiment_classifier
    from zoo.models.language_model import check_cell

    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    check_cell(cell, impl)
    settings = configs.resolve(configs.SENTIMENT, {"base": dataset, **(config or {})})
    settings = common.override_settings(settings, epochs, lr)
    if settings["embedding_init"] not in EMBEDDING_INITS:
        raise ValueError(
            f"config: embedding_init: expected one of {EMBEDDING_INITS}, "
            f"got {settings['embedding_init']!r}"
        )
    positive_int("config: embedding_window", settings["embedding_window"])
    if checkpoint is None and out is not None:
        checkpoint = str(out) + ".ckpt.npz"
    common.check_run_outputs(out, checkpoint, log_dir)
    if max_batches is not None:
        max_batches = positive_int("max_batches", max_batches)
    common.set_seed(seed)
    distribution = common.make_strategy(strategy)
    writes = common.is_chief(distribution)  # other workers read the chief's checkpoint only
    if not writes:
        out = None
    data_dir = dataset_dir(dataset, data_dir)
    data = load_data(dataset, data_dir, settings, seed)
    train_x, train_y = dataset_arrays(data.train)
    validation, test = data.validation, data.test
    if max_batches is not None:  # seeded random subsets (`random_rows`), not the first batches
        rows = max_batches * settings["batch_size"]
        train_x, train_y = random_rows(train_x, train_y, rows, seed)
        validation = _random_batches(validation, rows, settings["batch_size"], seed)
        test = None if test is None else _random_batches(test, rows, settings["batch_size"], seed)

    with distribution.scope():
        model = sentiment_classifier(
            cell,
            impl,
            vocab_size=settings["vocab_size"],
            embedding_dim=settings["embedding_dim"],
            units=settings["units"],
            layers=settings["layers"],
            bidirectional=settings["bidirectional"],
            dropout=settings["dropout"],
            pooling=settings["pooling"],
            embedding_trainable=settings["embedding_trainable"],
            summary=verbose > 0,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(settings["lr"], global_clipnorm=settings["clip"]),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
            jit_compile=jit_compile,
        )
        model.optimizer.build(model.trainable_variables)

    run_settings = {"dataset": dataset, "cell": cell, "impl": impl, "seed": seed, **settings}
    start_epoch, history = common.resume_point(
        checkpoint, resume, model, model.optimizer.variables, run_settings, verbose
    )
    embedding_seconds = None
    if start_epoch == 0 and settings["embedding_init"] == "ppmi":
        started = time.perf_counter()
        vectors = pretrained_vectors(dataset, data, data_dir, settings, seed)
        model.get_layer("embedding").set_weights([vectors])
        embedding_seconds = time.perf_counter() - started
        if verbose:
            print(f"Embedding: PPMI-SVD word vectors, {embedding_seconds:.0f} s")

    recorder = EpochRecorder(len(train_x), history, checkpoint if writes else None, run_settings)
    extra = run_loggers(log_dir, distribution.num_replicas_in_sync) if log_dir else []
    steps = math.ceil(len(train_x) / settings["batch_size"])
    if start_epoch < settings["epochs"]:
        model.fit(
            _epoch_batches(train_x, train_y, settings, seed, start_epoch),
            epochs=settings["epochs"],
            initial_epoch=start_epoch,
            steps_per_epoch=steps,
            validation_data=validation,
            callbacks=[recorder, *extra, *(callbacks or [])],
            shuffle=False,  # each epoch's permutation is in the data already
            verbose=verbose,
        )
    test_accuracy = None
    if test is not None:
        test_accuracy = float(model.evaluate(test, verbose=verbose, return_dict=True)["accuracy"])
    results = {
        "task": dataset,
        "cell": cell,
        "impl": impl,
        "settings": settings,
        "params": model.count_params(),
        "seed": seed,
        "strategy": strategy,
        "replicas": distribution.num_replicas_in_sync,
        "jit_compile": jit_compile,
        "max_batches": max_batches,
        "train_examples": len(train_x),
        "epochs": history,
        "epochs_run": len(history),
        "valid_accuracy": history[-1]["valid_accuracy"] if history else None,
        "test_accuracy": test_accuracy,
        "wall_seconds": sum(r["epoch_seconds"] for r in history),
        "examples_per_second": float(np.mean([r["examples_per_second"] for r in history]))
        if history
        else None,
        "embedding_seconds": embedding_seconds,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    if verbose:
        print(f"Test accuracy {test_accuracy} (valid {results['valid_accuracy']})")
    if log_dir is not None and writes:
        common.save_model(model, Path(log_dir) / export.MODEL_FILE)
        export.save_vectorizer(data.vectorizer, Path(log_dir) / export.VECTORIZER_FILE)
    if out is not None:
        common.write_json(out, results)
    return results


def run_loggers(log_dir: str | os.PathLike, replicas: int) -> list[keras.callbacks.Callback]:
    """The TensorBoard callbacks of a run with a log dir: Keras's (losses, accuracies), and on
    one replica `zoo.callbacks.GradientNormLogger` (norms before clipping, per layer) and
    `TimingLogger` (step time, examples/s, tokens/s), every `LOG_EVERY_N_STEPS` steps."""
    from zoo.callbacks import GradientNormLogger, TimingLogger

    loggers = [keras.callbacks.TensorBoard(str(log_dir))]
    if replicas == 1:  # the zoo loggers hook the single-replica train step only
        loggers += [
            GradientNormLogger(log_dir, every_n_steps=LOG_EVERY_N_STEPS),
            TimingLogger(log_dir, every_n_steps=LOG_EVERY_N_STEPS),
        ]
    return loggers


def dataset_dir(dataset: str, data_dir: str | os.PathLike | None) -> Path | None:
    """The dataset's own folder for `--data-dir` (`zoo.data.download.dataset_folder`)."""
    return dataset_folder(data_dir, DATA_FOLDERS[dataset])


def load_data(dataset: str, data_dir: str | os.PathLike | None, settings: dict, seed: int):
    """`zoo.data.<dataset>.datasets(...)` with the config's vocabulary, length and batch size."""
    from zoo.data import imdb, sst2

    module = imdb if dataset == "imdb" else sst2
    return module.datasets(
        data_dir,
        vocab_size=settings["vocab_size"],
        max_len=settings["max_len"],
        batch_size=settings["batch_size"],
        seed=seed,
    )


def pretrained_vectors(
    dataset: str, data, data_dir: str | os.PathLike | None, settings: dict, seed: int
) -> np.ndarray:
    """(vocab_size, embedding_dim) PPMI-SVD word vectors for the model's embedding.

    Computed from `data.train_texts` and, for IMDB, the unlabelled reviews. Ids beyond the
    fitted vocabulary (a corpus with fewer distinct words than vocab_size) get zeros.
    """
    from zoo.data import imdb, word_vectors

    texts = list(data.train_texts)
    if dataset == "imdb":
        texts += imdb.load_unlabelled_texts(data_dir)
    vocabulary = data.vocabulary
    vectors = np.zeros((settings["vocab_size"], settings["embedding_dim"]), dtype=np.float32)
    vectors[: len(vocabulary)] = word_vectors.ppmi_svd_vectors(
        texts, vocabulary, settings["embedding_dim"], settings["embedding_window"], seed
    )
    return vectors


def _random_batches(batches, rows: int, batch_size: int, seed: int):
    """`random_rows` of all of the batched dataset `batches` (the same every epoch), batched
    again."""
    sample = random_rows(*dataset_arrays(batches), rows, seed)
    return tf.data.Dataset.from_tensor_slices(sample).batch(batch_size)


def _epoch_batches(x: np.ndarray, y: np.ndarray, settings: dict, seed: int, start_epoch: int):
    """Batches of epochs start_epoch.. in a permutation drawn from (seed, epoch) each epoch."""
    orders = [
        np.random.default_rng([seed, epoch]).permutation(len(x))
        for epoch in range(start_epoch, settings["epochs"])
    ]
    ids, labels = tf.constant(x), tf.constant(y)
    batches = None
    for order in orders:
        epoch = tf.data.Dataset.from_tensor_slices(order).batch(settings["batch_size"])
        batches = epoch if batches is None else batches.concatenate(epoch)
    gather = lambda index: (tf.gather(ids, index), tf.gather(labels, index))  # noqa: E731
    return batches.map(gather).prefetch(2)


class EpochRecorder(keras.callbacks.Callback):
    """Per-epoch record into `history`, NaN guard on every batch, checkpoint at every epoch end.

    Args:
        examples: training examples per epoch (for examples/s).
        history: list the records are appended to (resumed runs pass the saved one).
        checkpoint: checkpoint path, or None.
        run_settings: saved with the checkpoint, checked on resume.
    """

    def __init__(self, examples: int, history: list, checkpoint, run_settings: dict):
        super().__init__()
        self.examples, self.history = examples, history
        self.checkpoint, self.run_settings = checkpoint, run_settings

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.started, self.validation_seconds = epoch, time.perf_counter(), 0.0

    def on_train_batch_end(self, batch, logs=None):
        common.check_finite(float(logs["loss"]), self.epoch + 1, batch + 1, self.checkpoint)

    def on_test_begin(self, logs=None):
        self.validation_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.validation_seconds += time.perf_counter() - self.validation_started

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        record = {
            "epoch": epoch + 1,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            "valid_loss": float(logs["val_loss"]),
            "valid_accuracy": float(logs["val_accuracy"]),
            "epoch_seconds": seconds,
            "examples_per_second": self.examples / (seconds - self.validation_seconds),
        }
        common.check_finite(record["valid_loss"], epoch + 1, 0, self.checkpoint)
        self.history.append(record)
        if self.checkpoint is not None:
            meta = {"next_epoch": epoch + 1, "history": self.history, "settings": self.run_settings}
            common.save_checkpoint(
                self.checkpoint, self.model, self.model.optimizer.variables, meta
            )
