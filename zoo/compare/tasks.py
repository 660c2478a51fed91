"""The study's tasks as plain data: how to load each one, its model head, loss and metric.

A `Task` says everything the training loop needs and nothing about a cell:

- `load(data_dir, batch_size, seed)` gives a `TaskData`: an endless, seeded stream of training
  batches (the data themselves are fixed per task; `seed` only changes the batch order), a
  fixed held-out batch for the metric, and the input shape.
- the head (outputs, loss) and the metric (name, direction, the target a cell must reach).

Synthetic tasks (no data, no network): the adding problem with T = 100 (regression, mean
squared error; the targets' variance, what predicting their mean scores, is 1/6 = 0.167 in
expectation) and the embedded Reber grammar
(classification of grammatical vs. not, accuracy; chance 0.5). Real tasks read
`zoo.data` (from `--data-dir`, `$ZOO_DATA_DIR` or a download) and never fall back to
synthetic data: a missing dataset is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data.download import dataset_folder

ADDING_LENGTH = 100  # time steps of the adding problem
REBER_MAX_LENGTH = 40  # symbols per embedded Reber string (right-padded)
TRAIN_EXAMPLES = 20_000  # synthetic training set size
HELDOUT_EXAMPLES = 512  # synthetic held-out batch size
TEXT_HELDOUT_ROWS = 512  # imdb, sst2: validation examples in the held-out batch
PTB_HELDOUT_BATCHES = 4  # ptb: validation batches (of 32 windows of 35 tokens)
DATA_SEED = 0  # synthetic training data; held-out data use DATA_SEED + 1


@dataclass(frozen=True)
class TaskData:
    """What a run trains and evaluates on.

    Attributes:
        batches: `seed -> endless tf.data.Dataset of (inputs, targets)` in a seeded order.
        heldout: (inputs, targets) NumPy arrays of the fixed held-out batch.
        input_shape: shape of one example's inputs, without the batch axis.
        train_examples: training examples per pass (for `--epochs`).
    """

    batches: Callable[[int], Any]
    heldout: tuple[np.ndarray, np.ndarray]
    input_shape: tuple[int | None, ...]
    train_examples: int


@dataclass(frozen=True)
class Task:
    """One task of the study.

    Attributes:
        name: the `--task` name.
        description: one line for the report.
        load: `(data_dir, batch_size) -> TaskData`.
        kind: "features" (float inputs (T, d), d = `input_dim`) or "tokens" (int ids embedded in
            `input_dim` dimensions, vocabulary `vocab_size`).
        input_dim: input size d of the recurrent layer (the budget counts its parameters).
        outputs: units of the Dense head (1 for regression / binary logits, V for a LM).
        sequence_output: the head reads every time step (language model) or the last state.
        loss: "mse", "binary_logits" or "sparse_logits".
        metric: "mse", "accuracy" or "perplexity" (on the held-out batch).
        higher_is_better: direction of the metric.
        target: the metric value a run must reach ("updates to reach target").
        steps: default number of updates.
        eval_every: default updates between held-out evaluations.
        batch_size: examples per update.
        budget: default parameter budget of the recurrent layer.
        learning_rate: Adam's learning rate.
        vocab_size: vocabulary of token tasks (0 for features).
        mask: mask all-zero input steps (right padding).
    """

    name: str
    description: str
    load: Callable[[Path | None, int], TaskData]
    kind: str
    input_dim: int
    outputs: int
    sequence_output: bool
    loss: str
    metric: str
    higher_is_better: bool
    target: float
    steps: int
    eval_every: int
    batch_size: int
    budget: int
    learning_rate: float
    vocab_size: int = 0
    mask: bool = False


def _array_stream(inputs: np.ndarray, targets: np.ndarray, batch_size: int):
    """`seed -> endless dataset` over the arrays, reshuffled every pass in a seeded order."""
    import tensorflow as tf

    def batches(seed: int):
        return (
            tf.data.Dataset.from_tensor_slices((inputs, targets))
            .shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(batch_size, drop_remainder=True)
            .prefetch(2)
        )

    return batches


def load_adding(data_dir: Path | None, batch_size: int) -> TaskData:
    """The adding problem, T = 100: float32 (T, 2) inputs, the sum of the marked values."""
    from zoo.data.synthetic import adding_problem

    train = adding_problem(TRAIN_EXAMPLES, ADDING_LENGTH, seed=DATA_SEED)
    heldout = adding_problem(HELDOUT_EXAMPLES, ADDING_LENGTH, seed=DATA_SEED + 1)
    return TaskData(_array_stream(*train, batch_size), heldout, (ADDING_LENGTH, 2), TRAIN_EXAMPLES)


def load_reber(data_dir: Path | None, batch_size: int) -> TaskData:
    """Embedded Reber grammar: one-hot (40, 7) inputs, right-padded; label 1 = grammatical."""
    from zoo.data.synthetic import SYMBOLS, embedded_reber

    inputs, labels = embedded_reber(TRAIN_EXAMPLES, REBER_MAX_LENGTH, seed=DATA_SEED)
    heldout = embedded_reber(HELDOUT_EXAMPLES, REBER_MAX_LENGTH, seed=DATA_SEED + 1)
    train = (inputs, labels.astype(np.float32))
    heldout = (heldout[0], heldout[1].astype(np.float32))
    shape = (REBER_MAX_LENGTH, len(SYMBOLS))
    return TaskData(_array_stream(*train, batch_size), heldout, shape, TRAIN_EXAMPLES)


def _text_task(module_name: str, folder: str, max_len: int, vocab_size: int):
    """A loader for a `zoo.data` sentiment dataset (imdb, sst2) with the given vectorization."""

    def load(data_dir: Path | None, batch_size: int) -> TaskData:
        import importlib

        from zoo.data.text import dataset_arrays, random_rows

        module = importlib.import_module(f"zoo.data.{module_name}")
        data = module.datasets(
            dataset_folder(data_dir, folder),
            vocab_size=vocab_size,
            max_len=max_len,
            batch_size=batch_size,
        )
        heldout = random_rows(*dataset_arrays(data.validation), TEXT_HELDOUT_ROWS, DATA_SEED)
        examples = int(data.train.cardinality()) * batch_size

        def batches(seed: int):
            return data.train.shuffle(64, seed=seed).repeat().map(_float_labels).prefetch(2)

        return TaskData(batches, (heldout[0], heldout[1].astype(np.float32)), (max_len,), examples)

    return load


def _float_labels(ids, labels):
    import tensorflow as tf

    return ids, tf.cast(labels, tf.float32)


PTB_STEPS = 35  # unrolled time steps per PTB window (Zaremba et al. 2014)


def load_ptb(data_dir: Path | None, batch_size: int) -> TaskData:
    """Penn Treebank windows of 35 tokens and their next tokens; each window starts from a
    zero state (no state carried between batches, unlike `zoo train ptb`)."""
    from zoo.data import ptb

    corpus = ptb.load(dataset_folder(data_dir, "ptb"))
    inputs, targets = ptb.batches(corpus.train, batch_size, PTB_STEPS)
    inputs, targets = inputs.reshape(-1, PTB_STEPS), targets.reshape(-1, PTB_STEPS)
    valid_x, valid_y = ptb.batches(corpus.valid, batch_size, PTB_STEPS)
    rows = PTB_HELDOUT_BATCHES * batch_size
    heldout = (valid_x.reshape(-1, PTB_STEPS)[:rows], valid_y.reshape(-1, PTB_STEPS)[:rows])
    return TaskData(_array_stream(inputs, targets, batch_size), heldout, (PTB_STEPS,), len(inputs))


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="adding",
            description=(
                f"adding problem, T={ADDING_LENGTH}: regress the sum of the two marked values "
                "(mean squared error; the targets' variance is 1/6 = 0.167 in expectation)"
            ),
            load=load_adding,
            kind="features",
            input_dim=2,
            outputs=1,
            sequence_output=False,
            loss="mse",
            metric="mse",
            higher_is_better=False,
            target=0.05,
            steps=300,
            eval_every=25,
            batch_size=64,
            budget=3_000,
            learning_rate=1e-2,
        ),
        Task(
            name="reber",
            description=(
                f"embedded Reber grammar, strings of at most {REBER_MAX_LENGTH} symbols: "
                "grammatical or not (accuracy; chance 0.5)"
            ),
            load=load_reber,
            kind="features",
            input_dim=7,
            outputs=1,
            sequence_output=False,
            loss="binary_logits",
            metric="accuracy",
            higher_is_better=True,
            target=0.9,
            steps=200,
            eval_every=20,
            batch_size=64,
            budget=3_000,
            learning_rate=1e-2,
            mask=True,
        ),
        Task(
            name="ptb",
            description=(
                "Penn Treebank word language model, windows of 35 tokens from a zero state "
                "(perplexity on 4 validation batches of 32 windows)"
            ),
            load=load_ptb,
            kind="tokens",
            input_dim=64,
            outputs=10_000,
            sequence_output=True,
            loss="sparse_logits",
            metric="perplexity",
            higher_is_better=False,
            target=400.0,
            steps=1_000,
            eval_every=50,
            batch_size=32,
            budget=50_000,
            learning_rate=3e-3,
            vocab_size=10_000,
        ),
        Task(
            name="imdb",
            description=(
                "IMDB review sentiment, first 200 tokens, vocabulary 10,000 "
                "(accuracy on 512 validation examples)"
            ),
            load=_text_task("imdb", "imdb", max_len=200, vocab_size=10_000),
            kind="tokens",
            input_dim=32,
            outputs=1,
            sequence_output=False,
            loss="binary_logits",
            metric="accuracy",
            higher_is_better=True,
            target=0.8,
            steps=1_000,
            eval_every=50,
            batch_size=32,
            budget=20_000,
            learning_rate=3e-3,
            vocab_size=10_000,
        ),
        Task(
            name="sst2",
            description=(
                "SST-2 sentence sentiment, first 64 tokens, vocabulary 10,000 "
                "(accuracy on 512 validation examples)"
            ),
            load=_text_task("sst2", "sst", max_len=64, vocab_size=10_000),
            kind="tokens",
            input_dim=32,
            outputs=1,
            sequence_output=False,
            loss="binary_logits",
            metric="accuracy",
            higher_is_better=True,
            target=0.75,
            steps=1_000,
            eval_every=50,
            batch_size=32,
            budget=20_000,
            learning_rate=3e-3,
            vocab_size=10_000,
        ),
    )
}


def steps_for_epochs(epochs: int, train_examples: int, batch_size: int) -> int:
    """Updates in `epochs` passes over `train_examples` (last partial batch dropped, >= 1)."""
    return max(1, epochs * math.floor(train_examples / batch_size))
