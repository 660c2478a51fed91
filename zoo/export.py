"""Export trained models as TensorFlow SavedModels that run without `zoo` (or Keras).

`export_saved_model(model, path, task=...)` writes a SavedModel whose signatures are plain
TensorFlow graphs: a process that imports only tensorflow loads it with
`tf.saved_model.load(path)`, and so do TF Serving and the TFLite converter.

Signatures (B: batch, T: timesteps, V: vocabulary size):

- task "sentiment": `serving_default(text: string (B,))` -> `probability: float32 (B,)`, the
  positive-class probability. Standardization and vectorization run inside the graph (the
  fitted `TextVectorization` and its lookup table are saved with the model). The model maps
  token ids (B, L) to one value per example (B, 1): a sigmoid probability (last layer a Dense
  with sigmoid), or a logit (last layer a linear Dense, as `zoo.models.sentiment_classifier`);
  `from_logits` overrides that detection.
- task "language_model": the model maps token ids (B, T) to logits or softmax probabilities
  (B, T, V) through Embedding -> recurrent layers (zoo or Keras, stateful or not; Dropout
  layers are skipped) -> Dense. Signatures:
  - `serving_default(token_ids: int32 (B, T))` -> `log_probs: float32 (B, T, V)`, the
    next-token log-probabilities from zero states, and the final states `state_<i>_<j>`
    (layer i, state j in the layer's order: LSTM h then c; GRU h), each float32 (B, units_i);
  - `step(token_ids, state_<i>_<j>...)`: the same from given states (carry them across calls);
  - `generate(prompt: string (), num_words: int32 ())` -> `text: string ()`, the
    `num_words` next words joined by spaces, and `token_ids: int32 (num_words,)`. The prompt
    is split on whitespace and looked up in the vocabulary (exactly, no lowercasing; unknown
    words become `<unk>`); decoding is greedy (the most probable word at each step). The
    vocabulary is a constant and a lookup table inside the SavedModel.

Portability: the export traces a stateless copy of the model with the same weights, in which
built-in recurrent layers have `use_cudnn=False` (with a GPU visible they would otherwise trace
Keras's cuDNN-only kernels), inside `zoo.layers.engine.generic_loop()` (zoo layers trace a plain
`tf.while_loop`, not their XLA-compiled fused loop). It then refuses to publish a SavedModel in
which `portability_problems` finds a `Cudnn*` op or an XLA-must-compile function. The
SavedModel is written to a temporary folder next to `path` and renamed into place.

Command line: `zoo export SOURCE --out saved_models/NAME` where SOURCE is a `.keras` file or a
run directory holding `model.keras`; a language model needs the vocabulary (`--vocab`, default
`vocab.txt` next to the model: one token a line, line i is id i) and a sentiment model its
vectorizer (`--vectorizer`, default `vectorizer.json` next to the model, written by
`save_vectorizer`). `--fold-embedding` exports a language model's `zoo.models.fold_embedding`
copy (same outputs; the first zoo LSTM/GRU's input matmul becomes a row lookup).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from zoo.training.common import write_text

TASKS = ("sentiment", "language_model")
UNK_TOKEN = "<unk>"
MODEL_FILE = "model.keras"
VOCAB_FILE = "vocab.txt"
VECTORIZER_FILE = "vectorizer.json"


class ExportError(Exception):
    """An input the export cannot use; the message names the path or argument and what was
    expected."""


# ----------------------------------------------------------------------------- public API


def export_saved_model(
    model,
    path: str | Path,
    task: str,
    *,
    vectorizer=None,
    vocabulary: Sequence[str] | None = None,
    from_logits: bool | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` as a portable SavedModel at `path` (see the module docstring).

    Args:
        model: a Keras model; for "sentiment" int ids (B, L) -> (B, 1), for "language_model"
            int ids (B, T) -> (B, T, V) (Embedding -> recurrent layers -> Dense).
        path: the SavedModel folder to create.
        task: "sentiment" or "language_model".
        vectorizer: "sentiment" only: the fitted `keras.layers.TextVectorization`.
        vocabulary: "language_model" only: the V tokens, id order, including `<unk>`.
        from_logits: "sentiment" only: whether the model outputs a logit; None detects it from
            the last layer's activation.
        overwrite: replace an existing non-empty `path`.

    Returns:
        `path` as a Path.

    Raises:
        FileExistsError: `path` exists, is not an empty folder and `overwrite` is False.
        ValueError: an unknown task, a model or vocabulary the task cannot use.
    """
    import tensorflow as tf

    from zoo.layers.engine import generic_loop

    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    target = Path(path)
    check_target(target, overwrite)
    with generic_loop():
        if task == "sentiment":
            module, signatures = sentiment_module(model, vectorizer, from_logits)
        else:
            module, signatures = language_model_module(model, vocabulary)

        def write(folder: Path) -> None:
            tf.saved_model.save(module, str(folder), signatures=signatures)
            check_portable(folder)

        write_atomically(target, write, overwrite)
    return target


def portability_problems(saved_model_dir: str | Path) -> list[str]:
    """What would keep the SavedModel from running on a CPU-only machine or without XLA.

    Scans every graph and function of `saved_model.pb` for `Cudnn*` ops (GPU-only kernels)
    and for functions or calls marked `_XlaMustCompile`. Returns one line per problem (sorted,
    empty when the SavedModel is portable).
    """
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    problems = set()
    for meta_graph in saved.meta_graphs:
        graph = meta_graph.graph_def
        for function in graph.library.function:
            if _must_compile(function.attr):
                problems.add(f"function {function.signature.name} must be compiled with XLA")
        nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
        for node in nodes:
            if node.op.startswith("Cudnn"):
                problems.add(f"op {node.op} runs only on a GPU with cuDNN")
            if _must_compile(node.attr):
                problems.add(f"node {node.name} ({node.op}) must be compiled with XLA")
    return sorted(problems)


def _must_compile(attributes) -> bool:
    """Whether an attribute map (of a FunctionDef or NodeDef) sets `_XlaMustCompile`."""
    return "_XlaMustCompile" in attributes and attributes["_XlaMustCompile"].b


def check_portable(saved_model_dir: str | Path) -> None:
    """Raise a ValueError listing `portability_problems(saved_model_dir)`, if any."""
    problems = portability_problems(saved_model_dir)
    if problems:
        raise ValueError(f"{saved_model_dir}: not portable: " + "; ".join(problems))


def save_vectorizer(vectorizer, path: str | Path) -> None:
    """Write a fitted `TextVectorization` as JSON: its Keras config and its vocabulary.

    `load_vectorizer` reads it back (importing `zoo.data.text`, which registers the
    standardization).
    """
    import keras

    data = {
        "layer": keras.saving.serialize_keras_object(vectorizer),
        "vocabulary": [str(token) for token in vectorizer.get_vocabulary()],
    }
    write_text(path, json.dumps(data) + "\n")


def load_vectorizer(path: str | Path):
    """The `TextVectorization` written by `save_vectorizer` (deserialized in safe mode)."""
    import keras

    from zoo.data import text  # noqa: F401  (registers zoo>standardize)

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        vectorizer = keras.saving.deserialize_keras_object(data["layer"], safe_mode=True)
        vectorizer.set_vocabulary(data["vocabulary"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ExportError(
            f"{path}: expected a vectorizer written by zoo.export.save_vectorizer ({error})"
        ) from error
    return vectorizer


def read_vocabulary(path: str | Path) -> list[str]:
    """The tokens of a vocabulary file: one token a line, line i is id i; an ExportError for an
    unreadable file, an empty line or spaces around a token (which no word would match)."""
    try:
        tokens = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ExportError(f"{path}: expected a vocabulary file, one token a line") from error
    for line, token in enumerate(tokens, start=1):
        if not token:
            raise ExportError(f"{path}: line {line} is empty (expected one token a line)")
        if token != token.strip():
            raise ExportError(f"{path}: line {line}, {token!r}, has spaces around its token")
    return tokens


# ----------------------------------------------------------------------------- portable copies


def without_cudnn(layer):
    """`layer`, with `use_cudnn = False` on it and on every layer it nests (Bidirectional).

    Keras's built-in LSTM and GRU choose their cuDNN kernel at trace time when a GPU is
    visible (`use_cudnn="auto"`, not part of their config); False makes them trace their
    generic loop on any machine. Zoo layers never use cuDNN and have no such attribute.
    """
    for nested in layer._flatten_layers(include_self=True, recursive=True):
        if hasattr(nested, "use_cudnn"):
            nested.use_cudnn = False
    return layer


def portable_clone(model):
    """A copy of a Functional or Sequential `model` with the same weights whose layers never
    use cuDNN."""
    import keras

    try:
        clone = keras.models.clone_model(model)
    except ValueError as error:
        raise ValueError(
            f"model {model.name!r}: expected a Functional or Sequential Keras model ({error})"
        ) from error
    clone.set_weights(model.get_weights())
    for layer in clone.layers:
        without_cudnn(layer)
    return clone


def stateless_twin(layer):
    """The recurrent `layer` rebuilt stateless, cuDNN-free, returning its sequence and final
    states, with the same weights: input (B, T, d) -> [(B, T, units), *states (B, n)]."""
    config = layer.get_config()
    config.update(stateful=False, return_state=True, return_sequences=True)
    twin = without_cudnn(layer.__class__.from_config(config))
    twin.build((None, None, getattr(layer.cell, "input_dim", None) or layer.cell.kernel.shape[0]))
    twin.cell.set_weights(layer.cell.get_weights())
    return twin


# ----------------------------------------------------------------------------- sentiment


def sentiment_module(model, vectorizer, from_logits: bool | None):
    """(tf.Module, signatures) of a sentiment export: text (B,) -> probability (B,)."""
    import keras
    import tensorflow as tf

    if not isinstance(vectorizer, keras.layers.TextVectorization):
        raise ValueError(
            "vectorizer: the sentiment export needs the fitted keras.layers.TextVectorization "
            f"that made the model's token ids, got {type(vectorizer).__name__}"
        )
    check_sentiment_output(model)
    check_vectorizer_fits(vectorizer, model)
    logits = output_is_logit(model) if from_logits is None else from_logits
    classifier = portable_clone(model)
    module = tf.Module()
    module.vectorizer = vectorizer
    # The layers, not the model: a clone of a compiled model is compiled too, and its optimizer
    # (Adam: two slots a weight) would triple the SavedModel's variables.
    module.classifier_layers = classifier.layers

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(text):
        text = checked(text, "text")
        scores = classifier(vectorizer(text), training=False)
        probability = tf.sigmoid(scores) if logits else scores
        return {"probability": tf.reshape(probability, [-1])}

    module.serve = serve
    return module, {"serving_default": serve.get_concrete_function()}


def checked(tensor, name: str):
    """`tensor`, checked at run time against the shape it was traced with.

    A loaded signature checks the dtype of its inputs but not always their shape; without this,
    a token_ids vector would reach the embedding and fail deep inside (or broadcast). The check
    fails with TensorFlow's InvalidArgumentError naming the input and both shapes.
    """
    import tensorflow as tf

    return tf.ensure_shape(tensor, tensor.shape, name=f"check_{name}")


def check_vectorizer_fits(vectorizer, model) -> None:
    """Raise a ValueError when `vectorizer` makes ids the model's first Embedding cannot read
    (a vectorizer of another run): served, they would fail inside the graph."""
    import keras

    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    size = vectorizer.vocabulary_size()
    if embeddings and size > embeddings[0].input_dim:
        raise ValueError(
            f"vectorizer: makes token ids up to {size - 1}, but the model's embedding "
            f"{embeddings[0].name!r} reads ids below {embeddings[0].input_dim}; is it the "
            "vectorizer of the run that trained this model?"
        )


def checked_ids(token_ids, vocabulary_size: int):
    """`token_ids`, checked like `checked` and, at run time, to lie in [0, vocabulary_size):
    the embedding would read a negative id as counted from the end."""
    import tensorflow as tf

    token_ids = checked(token_ids, "token_ids")
    in_range = tf.reduce_all((token_ids >= 0) & (token_ids < vocabulary_size))
    message = f"token_ids: expected ids in [0, {vocabulary_size})"
    with tf.control_dependencies([tf.debugging.Assert(in_range, [message])]):
        return tf.identity(token_ids)


def check_sentiment_output(model) -> None:
    """Raise a ValueError unless `model` outputs one value per example, (B, 1)."""
    shape = output_shape(model)
    if len(shape) != 2 or shape[-1] != 1:
        raise ValueError(
            f"model {model.name!r}: a sentiment model must output (batch, 1) (a probability or "
            f"a logit), got shape {shape}"
        )


def output_is_logit(model) -> bool:
    """Whether the last layer (a Dense) is linear (a logit) rather than a sigmoid."""
    import keras

    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if activation is keras.activations.linear:
        return True
    if activation is keras.activations.sigmoid:
        return False
    raise ValueError(
        f"model {model.name!r}: cannot tell a probability from a logit (last layer "
        f"{last.name!r} is not a linear or sigmoid Dense); pass from_logits"
    )


def output_shape(model) -> tuple:
    """The shape of the model's (first) output for token ids: (B, 1) or (B, T, V)."""
    try:
        shape = model.output_shape
    except (AttributeError, ValueError):  # subclassed models have no symbolic output
        import numpy as np

        outputs = model(np.ones((1, 2), dtype="int32"))
        shape = (outputs[0] if isinstance(outputs, (list, tuple)) else outputs).shape
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(shape)


# ----------------------------------------------------------------------------- language model


def language_model_parts(model):
    """(embedding, recurrent layers, dense) of an Embedding -> RNN... -> Dense model, skipping
    Input and Dropout layers; a ValueError naming the first layer that does not fit."""
    import keras

    skipped = (keras.layers.InputLayer, keras.layers.Dropout)
    layers = [layer for layer in model.layers if not isinstance(layer, skipped)]
    expected = "Embedding -> recurrent layers (keras.layers.RNN) -> Dense"
    if len(layers) < 3 or not isinstance(layers[0], keras.layers.Embedding):
        raise ValueError(f"model {model.name!r}: a language model must be {expected}")
    if not isinstance(layers[-1], keras.layers.Dense):
        raise ValueError(
            f"model {model.name!r}: last layer {layers[-1].name!r} is not a Dense ({expected})"
        )
    for layer in layers[1:-1]:
        if not isinstance(layer, keras.layers.RNN):
            raise ValueError(
                f"model {model.name!r}: layer {layer.name!r} ({type(layer).__name__}) is not a "
                f"recurrent layer ({expected})"
            )
    dense = layers[-1]
    if dense.activation not in (keras.activations.linear, keras.activations.softmax):
        raise ValueError(
            f"model {model.name!r}: the Dense {dense.name!r} must output logits (linear) or "
            "probabilities (softmax)"
        )
    return layers[0], layers[1:-1], dense


def check_vocabulary(vocabulary: Sequence[str] | None, size: int) -> list[str]:
    """`vocabulary` as a list of `size` distinct tokens holding `<unk>`, else a ValueError."""
    if vocabulary is None:
        raise ValueError("vocabulary: the language-model export needs the vocabulary (id order)")
    tokens = [str(token) for token in vocabulary]
    if len(tokens) != size:
        raise ValueError(f"vocabulary: the model predicts {size} tokens, got {len(tokens)}")
    first_line: dict[str, int] = {}
    for line, token in enumerate(tokens, start=1):
        if token in first_line:
            raise ValueError(
                f"vocabulary: holds {token!r} twice, as ids {first_line[token] - 1} and "
                f"{line - 1} (lines {first_line[token]} and {line})"
            )
        first_line[token] = line
    if UNK_TOKEN not in tokens:
        raise ValueError(f"vocabulary: needs {UNK_TOKEN!r} for words it does not hold")
    return tokens


def state_names(twins) -> list[list[str]]:
    """`state_<i>_<j>` for state j of recurrent layer i."""
    names = []
    for i, twin in enumerate(twins):
        sizes = twin.cell.state_size
        count = len(sizes) if isinstance(sizes, (list, tuple)) else 1
        names.append([f"state_{i}_{j}" for j in range(count)])
    return names


def state_sizes(twin) -> list[int]:
    sizes = twin.cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def language_model_module(model, vocabulary: Sequence[str] | None):
    """(tf.Module, signatures) of a language-model export: serving_default, step, generate."""
    import tensorflow as tf

    embedding, recurrent, dense = language_model_parts(model)
    tokens = check_vocabulary(vocabulary, dense.units)
    module = tf.Module()
    module.embedding, module.dense = embedding, dense
    module.twins = [stateless_twin(layer) for layer in recurrent]
    module.vocabulary = tf.constant(tokens)
    module.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(tokens), tf.range(len(tokens), dtype=tf.int64)
        ),
        default_value=tokens.index(UNK_TOKEN),
    )
    names = state_names(module.twins)
    sizes = [state_sizes(twin) for twin in module.twins]
    forward = make_forward(module)

    def zero_states(batch):
        return [[tf.zeros([batch, n]) for n in layer_sizes] for layer_sizes in sizes]

    def result(log_probs, states) -> dict:
        flat = {name: s for layer in zip(names, states) for name, s in zip(*layer)}
        return {"log_probs": log_probs, **flat}

    ids_spec = tf.TensorSpec([None, None], tf.int32, name="token_ids")

    @tf.function(autograph=False, input_signature=[ids_spec])
    def serve(token_ids):
        token_ids = checked_ids(token_ids, len(tokens))
        return result(*forward(token_ids, zero_states(tf.shape(token_ids)[0])))

    state_specs = [
        tf.TensorSpec([None, n], tf.float32, name=name)
        for layer_names, layer_sizes in zip(names, sizes)
        for name, n in zip(layer_names, layer_sizes)
    ]

    @tf.function(autograph=False, input_signature=[ids_spec, *state_specs])
    def step(token_ids, *flat_states):
        token_ids = checked_ids(token_ids, len(tokens))
        flat_states = [checked(state, spec.name) for state, spec in zip(flat_states, state_specs)]
        batch = tf.shape(token_ids)[0]
        checks = [
            tf.debugging.assert_equal(
                tf.shape(state)[0],
                batch,
                message=f"step: {spec.name} must have one row per row of token_ids",
            )
            for state, spec in zip(flat_states, state_specs)
        ]
        with tf.control_dependencies(checks):  # the checks run before the model
            token_ids = tf.identity(token_ids)
            flat_states = [tf.identity(state) for state in flat_states]
        return result(*forward(token_ids, nest_states(flat_states, [len(n) for n in sizes])))

    @tf.function(
        autograph=False,
        input_signature=[
            tf.TensorSpec([], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="num_words"),
        ],
    )
    def generate(prompt, num_words):
        prompt, num_words = checked(prompt, "prompt"), checked(num_words, "num_words")
        return greedy_continuation(module, forward, zero_states(1), prompt, num_words)

    module.serve, module.step, module.generate = serve, step, generate
    signatures = {
        "serving_default": serve.get_concrete_function(),
        "step": step.get_concrete_function(),
        "generate": generate.get_concrete_function(),
    }
    return module, signatures


def nest_states(flat: list, counts: list[int]) -> list[list]:
    """Regroup a flat list of states into one list per layer, layer i holding `counts[i]`."""
    nested = []
    for count in counts:
        nested.append(flat[:count])
        flat = flat[count:]
    return nested


def make_forward(module) -> Callable:
    """`forward(token_ids (B, T), states) -> (log_probs (B, T, V), new_states)` over the
    module's embedding, stateless twins and Dense (its pre-activation, log-softmaxed)."""
    import tensorflow as tf

    def forward(token_ids, states):
        x = module.embedding(token_ids)
        mask = module.embedding.compute_mask(token_ids)
        new_states = []
        for twin, state in zip(module.twins, states):
            x, *final = twin(x, initial_state=list(state), mask=mask, training=False)
            new_states.append(final)
        logits = tf.tensordot(x, module.dense.kernel, axes=1)
        if module.dense.use_bias:
            logits = logits + module.dense.bias
        return tf.nn.log_softmax(logits), new_states

    return forward


def greedy_continuation(module, forward: Callable, states, prompt, num_words) -> dict:
    """The `num_words` most probable next words after `prompt`, one at a time (in-graph).

    Returns {"text": string scalar, the words joined by spaces; "token_ids": int32
    (num_words,)}.
    """
    import tensorflow as tf

    words = tf.strings.split(prompt)
    checks = [
        tf.debugging.assert_positive(tf.size(words), message="generate: the prompt has no words"),
        tf.debugging.assert_non_negative(num_words, message="generate: num_words must be >= 0"),
    ]
    with tf.control_dependencies(checks):  # in a graph, nothing else orders the checks first
        prompt_ids = tf.cast(module.table.lookup(words), tf.int32)[None]
        num_words = tf.identity(num_words)
    log_probs, states = forward(prompt_ids, states)
    counts = [len(layer) for layer in states]

    def body(i, token, generated, *flat):
        generated = generated.write(i, token)
        log_probs, new = forward(tf.reshape(token, [1, 1]), nest_states(list(flat), counts))
        next_token = tf.argmax(log_probs[0, -1], output_type=tf.int32)
        return (i + 1, next_token, generated, *[s for layer in new for s in layer])

    first = tf.argmax(log_probs[0, -1], output_type=tf.int32)
    generated = tf.TensorArray(tf.int32, size=num_words, element_shape=[])
    flat_states = [s for layer in states for s in layer]
    loop = tf.while_loop(
        lambda i, *_: i < num_words,
        body,
        (tf.constant(0), first, generated, *flat_states),
        maximum_iterations=num_words,
    )
    ids = loop[2].stack()
    text = tf.strings.reduce_join(tf.gather(module.vocabulary, ids), separator=" ")
    return {"text": text, "token_ids": ids}


# ----------------------------------------------------------------------------- files


def is_empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def check_target(target: Path, overwrite: bool) -> None:
    """Raise FileExistsError when `target` exists, is not an empty folder, and not
    `overwrite`; a ValueError when no folder can be made there (`check_output_folder`)."""
    from zoo.training.common import check_output_folder

    check_output_folder(target.parent, "out")
    if target.exists() and not is_empty_folder(target) and not overwrite:
        raise FileExistsError(
            f"{target}: already exists and is not an empty folder; pass overwrite=True "
            "(zoo export: --overwrite) to replace it"
        )


def write_atomically(target: Path, write: Callable[[Path], None], overwrite: bool) -> None:
    """Run `write(folder)` on a fresh folder next to `target`, then rename it to `target`
    (replacing it only with `overwrite`); on failure `target` is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        write(staging)
        check_target(target, overwrite)
        replace(target, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace(target: Path, staging: Path) -> None:
    """Move `staging` to `target`; an existing `target` is moved aside first, then deleted."""
    if not target.exists():
        staging.rename(target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old = aside / target.name
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(aside)


# ----------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", help=f"a .keras file, or a run directory holding {MODEL_FILE}", type=Path
    )
    parser.add_argument("--out", required=True, type=Path, help="the SavedModel folder to write")
    parser.add_argument(
        "--task", choices=("auto", *TASKS), default="auto", help="default: from the output shape"
    )
    parser.add_argument(
        "--vocab",
        type=Path,
        help=f"language model: one token a line, line i is id i (default: {VOCAB_FILE} next "
        "to the model)",
    )
    parser.add_argument(
        "--vectorizer",
        type=Path,
        help="sentiment: the fitted vectorizer written by zoo.export.save_vectorizer "
        f"(default: {VECTORIZER_FILE} next to the model)",
    )
    parser.add_argument(
        "--from-logits",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sentiment: whether the model outputs a logit (default: from the last layer)",
    )
    parser.add_argument(
        "--fold-embedding",
        action="store_true",
        help="language model: export zoo.models.fold_embedding's copy (the embedding holds E W, "
        "the first zoo LSTM/GRU takes projected inputs: its input matmul becomes a lookup)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def run(args: argparse.Namespace) -> int:
    try:
        check_target(args.out, args.overwrite)
        model_file = resolve_model_file(args.source)
        model = load_keras_model(model_file)
        task = detect_task(model) if args.task == "auto" else args.task
        extras = task_inputs(task, model_file, args)
        if args.fold_embedding:
            model = folded(model, task)
        export_saved_model(
            model, args.out, task, from_logits=args.from_logits, overwrite=args.overwrite, **extras
        )
    except (ExportError, OSError, ValueError) as error:  # OSError: FileExistsError, a write
        print(f"zoo export: {error}", file=sys.stderr)
        return 1
    print(f"zoo export: wrote the {task} SavedModel of {model_file} to {args.out}")
    return 0


def folded(model, task: str):
    """The folded copy of a language model (`zoo.models.inference_model(model,
    fold_embedding=True)` for a whole `LanguageModel`, `zoo.models.fold_embedding(model)`
    for a Sequential); an ExportError otherwise."""
    from zoo.models import LanguageModel, fold_embedding, inference_model

    if task != "language_model":
        raise ExportError(f"--fold-embedding: only for a language model, not a {task} model")
    try:
        if isinstance(model, LanguageModel):
            return inference_model(model, fold_embedding=True)
        return fold_embedding(model)
    except ValueError as error:
        raise ExportError(f"--fold-embedding: {error}") from None


def resolve_model_file(source: Path) -> Path:
    """The .keras file named by `source` (itself, or `source/model.keras` for a run dir)."""
    if source.is_dir():
        source = source / MODEL_FILE
    if not source.is_file():
        raise ExportError(
            f"{source}: no such file (expected a .keras file or a run directory holding "
            f"{MODEL_FILE})"
        )
    if source.suffix != ".keras":
        raise ExportError(f"{source}: expected a .keras file")
    return source


def load_keras_model(path: Path):
    """The model of a .keras file, loaded in safe mode with the zoo's layers registered."""
    import keras

    import zoo  # noqa: F401  (registers the zoo's layers)

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # a corrupt or foreign file fails in many ways
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(
            f"{path}: cannot load a Keras model ({type(error).__name__}: {reason})"
        ) from error


def detect_task(model) -> str:
    """ "sentiment" for a (B, 1) output, "language_model" for (B, T, V)."""
    rank = len(output_shape(model))
    if rank == 2:
        return "sentiment"
    if rank == 3:
        return "language_model"
    raise ExportError(
        f"model {model.name!r}: cannot tell the task from an output of rank {rank}; pass --task"
    )


def task_inputs(task: str, model_file: Path, args: argparse.Namespace) -> dict:
    """The vocabulary or the vectorizer the task needs, from the arguments or beside the model."""
    if task == "language_model":
        path = args.vocab or model_file.parent / VOCAB_FILE
        if not Path(path).is_file():
            raise ExportError(f"{path}: no such vocabulary file (--vocab, or vocab.txt beside it)")
        return {"vocabulary": read_vocabulary(path)}
    path = args.vectorizer or model_file.parent / VECTORIZER_FILE
    return {"vectorizer": load_vectorizer(path)}
