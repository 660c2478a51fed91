"""Training runs: tiny PTB-like and IMDB-like fixtures, determinism, resume after SIGKILL,
the NaN guard, MirroredStrategy on two logical CPUs, the CLI, and a real-PTB smoke run."""

import argparse
import gzip
import json
import math
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.cli import main
from zoo.data import ptb, word_vectors
from zoo.models import configs
from zoo.train import config_override
from zoo.training import common, sentiment
from zoo.training.ptb import perplexity_of, train_ptb
from zoo.training.sentiment import train_sentiment

ROOT = Path(__file__).resolve().parents[1]
TINY = {"base": "small", "units": 16, "num_steps": 5, "batch_size": 4, "decay_after": 2}
RUN = {"config": TINY, "epochs": 3, "jit_compile": False, "verbose": 0}
TINY_SETS = ["--set", "units=16", "--set", "num_steps=5", "--set", "batch_size=4"]


def write_tiny_ptb(folder: Path) -> Path:
    """ptb.{train,valid,test}.txt from a 3-word grammar with a little noise (vocab 12)."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(10)]
    folder.mkdir(parents=True, exist_ok=True)
    for split, lines in (("train", 600), ("valid", 40), ("test", 40)):
        sentences = []
        for _ in range(lines):
            start = int(rng.integers(0, 8))
            sentences.append(" " + " ".join(words[start : start + 3] + ["<unk>"]) + " ")
        (folder / f"ptb.{split}.txt").write_text("\n".join(sentences) + "\n")
    return folder


@pytest.fixture(scope="module")
def tiny_ptb(tmp_path_factory) -> Path:
    return write_tiny_ptb(tmp_path_factory.mktemp("ptb"))


@pytest.fixture(scope="module")
def reference(tiny_ptb, tmp_path_factory) -> dict:
    """An uninterrupted tiny run, seed 7."""
    out = tmp_path_factory.mktemp("reference") / "run.json"
    return train_ptb(data_dir=tiny_ptb, out=out, seed=7, **RUN)


def test_tiny_run_learns_and_writes_its_results(reference, tmp_path):
    perplexities = [epoch["valid_perplexity"] for epoch in reference["epochs"]]
    assert perplexities[-1] < perplexities[0] < 12  # 12 = the vocabulary: a uniform guess
    assert reference["test_perplexity"] < 6
    assert [e["lr"] for e in reference["epochs"]] == [1.0, 1.0, 0.5]  # halved after epoch 2
    assert all(e["words_per_second"] > 0 for e in reference["epochs"])


def test_run_dir_holds_the_model_and_vocabulary_for_zoo_export(tiny_ptb, reference, tmp_path):
    run_dir = tmp_path / "run"
    results = train_ptb(data_dir=tiny_ptb, seed=7, log_dir=run_dir, **RUN)
    assert results["test_perplexity"] == pytest.approx(reference["test_perplexity"], rel=1e-5)
    corpus = ptb.load(tiny_ptb)
    assert (run_dir / "vocab.txt").read_text().splitlines() == corpus.vocab
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    # each row of the test stream read whole from zero states = the carried-state evaluation
    inputs, targets = ptb.batches(corpus.test, 4, 5)
    rows, next_words = np.concatenate(list(inputs), axis=1), np.concatenate(list(targets), axis=1)
    logits = model.predict(rows, verbose=0)
    nats = keras.losses.sparse_categorical_crossentropy(next_words, logits, from_logits=True)
    assert math.exp(float(np.mean(nats))) == pytest.approx(results["test_perplexity"], rel=1e-4)
    code = main(["export", str(run_dir), "--out", str(tmp_path / "served")])
    assert code == 0 and (tmp_path / "served" / "saved_model.pb").is_file()
    # the global gradient norm every 20 steps, at the global step, for TensorBoard
    batches = len(ptb.batches(corpus.train, 4, 5)[0])
    norms = scalars_logged(run_dir, "gradient_norm/global")
    epoch_steps = list(range(0, batches, 20))
    assert sorted(norms) == [epoch * batches + s for epoch in range(3) for s in epoch_steps]
    assert all(0 < norm < 1e3 for norm in norms.values())


def scalars_logged(log_dir: Path, tag: str) -> dict[int, float]:
    """{step: value} of the scalar summaries `tag` in the event files of `log_dir` and its
    subfolders."""
    found = {}
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    found[event.step] = float(tf.make_ndarray(value.tensor))
    return found


def test_same_seed_gives_the_same_run(tiny_ptb, reference, tmp_path):
    again = train_ptb(data_dir=tiny_ptb, seed=7, **RUN)
    assert again["epochs"][-1]["valid_perplexity"] == reference["epochs"][-1]["valid_perplexity"]
    assert again["test_perplexity"] == reference["test_perplexity"]
    other = train_ptb(data_dir=tiny_ptb, seed=8, **{**RUN, "epochs": 1})
    assert other["epochs"][0]["valid_perplexity"] != reference["epochs"][0]["valid_perplexity"]


STALL = """
import sys, time, keras
from zoo.training.ptb import train_ptb

class Stall(keras.callbacks.Callback):  # hangs in the middle of epoch 2
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, step, logs=None):
        if self.epoch == 1 and step == 2:
            print("STALLED", flush=True)
            time.sleep(600)

train_ptb(data_dir=sys.argv[1], out=sys.argv[2], seed=7, callbacks=[Stall()], **{run})
"""


def test_resume_after_kill_matches_the_uninterrupted_run(tiny_ptb, reference, tmp_path):
    out = tmp_path / "run.json"
    script = STALL.format(run=repr(RUN))
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(tiny_ptb), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    try:
        assert process.stdout.readline().strip() == "STALLED"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    checkpoint = Path(str(out) + ".ckpt.npz")
    assert checkpoint.is_file() and not out.exists()
    resumed = train_ptb(data_dir=tiny_ptb, out=out, seed=7, resume=True, **RUN)
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2, 3]
    for got, want in zip(resumed["epochs"], reference["epochs"]):
        assert got["valid_perplexity"] == pytest.approx(want["valid_perplexity"], rel=1e-6)
    assert resumed["test_perplexity"] == pytest.approx(reference["test_perplexity"], rel=1e-6)
    assert json.loads(out.read_text())["test_perplexity"] == resumed["test_perplexity"]


def test_resume_refuses_a_checkpoint_of_other_settings(tiny_ptb, tmp_path):
    out = tmp_path / "run.json"
    train_ptb(data_dir=tiny_ptb, out=out, seed=7, **{**RUN, "epochs": 1})
    with pytest.raises(ValueError, match="--resume with different settings.*cell"):
        train_ptb(data_dir=tiny_ptb, out=out, seed=7, resume=True, cell="gru", **RUN)


class PoisonEpoch2(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            weights = self.model.embedding.embeddings
            weights.assign(np.full(weights.shape, np.nan, "float32"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_ptb, tmp_path):
    out = tmp_path / "run.json"
    with pytest.raises(common.NonFiniteLossError, match="epoch 2, step 1.*last good checkpoint"):
        train_ptb(data_dir=tiny_ptb, out=out, seed=7, callbacks=[PoisonEpoch2()], **RUN)
    with np.load(str(out) + ".ckpt.npz") as saved:
        assert json.loads(str(saved["meta"]))["next_epoch"] == 1
        assert all(np.isfinite(saved[key]).all() for key in saved.files if key != "meta")
    assert not out.exists()


MIRRORED = """
import json, sys
from zoo.training import common, sentiment
common.split_cpu(2)
from zoo.training.ptb import train_ptb
runs = [train_ptb(data_dir=sys.argv[1], seed=7, strategy=s, **{run}) for s in sys.argv[2:]]
try:
    train_ptb(data_dir=sys.argv[1], strategy="mirrored", **{{**{run}, "jit_compile": True}})
    refused = None
except ValueError as error:
    refused = str(error)
print(json.dumps([[r["replicas"], r["epochs"], r["test_perplexity"]] for r in runs] + [refused]))
"""


def test_mirrored_strategy_on_two_cpus_equals_one_device(tiny_ptb):
    script = MIRRORED.format(run=repr({**RUN, "epochs": 2}))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tiny_ptb), "default", "mirrored"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (one, one_epochs, one_test), (two, two_epochs, two_test), refused = json.loads(
        done.stdout.strip().splitlines()[-1]
    )
    assert (one, two) == (1, 2)
    assert refused.startswith("jit_compile: not supported with 2 replicas")
    # The replicas' gradients are summed in another order than one device sums them: equal to
    # float32 rounding after epoch 1 (measured: 4e-9 relative), and that rounding grows as
    # training goes on (1e-4 relative after epoch 2); a wrong reduction (a mean over replicas
    # instead of their sum) moves the perplexities by percents.
    tolerances = (1e-6, 5e-4)
    for a, b, tolerance in zip(one_epochs, two_epochs, tolerances):
        assert a["valid_perplexity"] == pytest.approx(b["valid_perplexity"], rel=tolerance)
        assert a["train_perplexity"] == pytest.approx(b["train_perplexity"], rel=tolerance)
    assert one_test == pytest.approx(two_test, rel=tolerances[-1])


def test_cli_reports_bad_input_in_one_line(tiny_ptb, tmp_path, capsys):
    code = main(["train", "ptb", "--cell", "tcn", "--data-dir", str(tiny_ptb), "--quiet",
                 "--out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 1
    assert "zoo train: error: cell: expected one of" in capsys.readouterr().err
    code = main(["train", "ptb", "--data-dir", str(tmp_path / "none"), "--quiet",
                 "--out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 1
    code = main(["train", "ptb", "--pooling", "max", "--data-dir", str(tiny_ptb), "--quiet",
                 "--out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 1
    assert "--pooling: applies to the imdb and sst2 classifiers" in capsys.readouterr().err
    for option, value in (("--config", "large"), ("--budget", "match:lstm")):
        code = main(["train", "imdb", option, value, "--quiet", "--out", str(tmp_path / "x.json")])
        assert code == 1
        assert f"{option}: applies to ptb" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli_set_overrides_config_keys(tiny_ptb, tmp_path, capsys):
    out = tmp_path / "set.json"
    code = main(["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet", "--out", str(out),
                 "--set", "units=7", "--set", "num_steps=5", "--epochs", "1",
                 "--max-batches", "2", "--checkpoint", str(tmp_path / "set.ckpt.npz"),
                 "--log-dir", str(tmp_path / "logs")])  # fmt: skip
    assert code == 0
    settings = json.loads(out.read_text())["settings"]
    assert (settings["units"], settings["num_steps"], settings["batch_size"]) == (7, 5, 20)
    assert hparams_logged(tmp_path / "logs")["config"] == "small num_steps=5,units=7"
    code = main(["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet", "--set", "unit=7",
                 "--out", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 1
    assert "config: unknown keys ['unit']" in capsys.readouterr().err
    assert config_override("max_len=600") == ("max_len", 600)
    assert config_override("pooling=max") == ("pooling", "max")
    with pytest.raises(argparse.ArgumentTypeError, match="expected KEY=VALUE, got 'max_len'"):
        config_override("max_len")


def hparams_logged(log_dir: Path) -> dict:
    """{hparam name: value} of the HParams session summary in `log_dir`'s event files."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    found = {}
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(
                    value.metadata.plugin_data.content
                )
                for name, hparam in data.session_start_info.hparams.items():
                    found[name] = hparam.WhichOneof("kind") and getattr(
                        hparam, hparam.WhichOneof("kind")
                    )
    return found


def test_cli_run_logs_its_hparams_for_tensorboard(data_dir, tmp_path):
    log_dir = tmp_path / "logs"
    code = main(["train", "ptb", "--data-dir", str(data_dir), "--epochs", "1",
                 "--max-batches", "2", "--quiet", "--seed", "3",
                 "--out", str(tmp_path / "r.json"), "--checkpoint", str(tmp_path / "r.ckpt.npz"),
                 "--log-dir", str(log_dir)])  # fmt: skip
    assert code == 0
    hparams = hparams_logged(log_dir)
    assert hparams["cell"] == "lstm" and hparams["impl"] == "zoo" and hparams["config"] == "small"
    assert hparams["units"] == "200,200" and hparams["params"] == 4_651_600
    assert hparams["seed"] == 3 and hparams["task"] == "ptb"


def test_cli_smoke_on_real_ptb(data_dir, tmp_path):
    """A few dozen SGD steps of the small config: perplexity far below the 10,000 words."""
    out = tmp_path / "smoke.json"
    code = main(["train", "ptb", "--data-dir", str(data_dir), "--epochs", "1",
                 "--max-batches", "40", "--quiet", "--out", str(out),
                 "--checkpoint", str(tmp_path / "smoke.ckpt.npz"),
                 "--log-dir", str(tmp_path / "logs")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "smoke.ckpt.npz").is_file()
    results = json.loads(out.read_text())
    assert results["params"] == 4_651_600 and results["settings"]["num_steps"] == 20
    assert results["epochs"][0]["valid_perplexity"] < 1500
    assert results["test_perplexity"] < 1500


def write_tiny_imdb(folder: Path) -> Path:
    """train/test.jsonl.gz: 'good'/'bad' reviews with filler words, 80 / 40 examples."""
    rng = np.random.default_rng(0)
    filler = ["the", "film", "was", "plot", "actor", "scene", "and", "a"]
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 80), ("test", 40)):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as stream:
            for index in range(count):
                label = index % 2
                words = list(rng.choice(filler, 6)) + [("bad", "good")[label]]
                rng.shuffle(words)
                stream.write(json.dumps({"text": " ".join(words), "label": label}) + "\n")
    return folder


SENTIMENT = {
    "config": {
        "vocab_size": 20,
        "max_len": 8,
        "embedding_dim": 8,
        "units": 8,
        "batch_size": 8,
        "lr": 0.02,
    },  # fmt: skip
    "jit_compile": False,
    "verbose": 0,
}


def test_sentiment_learns_and_resumes_exactly(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Your input ran out of data")
        full = train_sentiment("imdb", "gru", data_dir=data, seed=3, epochs=3, **SENTIMENT)
    assert full["test_accuracy"] > 0.9 and full["epochs_run"] == 3
    assert full["train_examples"] == 72 and full["examples_per_second"] > 0
    out = tmp_path / "imdb.json"
    train_sentiment("imdb", "gru", data_dir=data, seed=3, epochs=1, out=out, **SENTIMENT)
    resumed = train_sentiment(
        "imdb", "gru", data_dir=data, seed=3, epochs=3, out=out, resume=True, **SENTIMENT
    )
    for got, want in zip(resumed["epochs"], full["epochs"]):
        assert got["valid_loss"] == pytest.approx(want["valid_loss"], rel=1e-5)
    assert resumed["test_accuracy"] == full["test_accuracy"]
    assert math.isfinite(json.loads(out.read_text())["epochs"][-1]["loss"])


def test_sentiment_run_dir_exports_a_model_that_reads_raw_text(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    run_dir = tmp_path / "run"
    options = {**SENTIMENT, "config": {**SENTIMENT["config"], "pooling": "max"}}
    results = train_sentiment(
        "imdb", "lstm", data_dir=data, seed=3, epochs=3, log_dir=run_dir, **options
    )
    assert results["settings"]["pooling"] == "max"
    assert (run_dir / "model.keras").is_file() and (run_dir / "vectorizer.json").is_file()
    # 72 examples, batches of 8: 9 steps an epoch; the zoo loggers every 20 steps
    assert sorted(scalars_logged(run_dir, "gradient_norm/global")) == [0, 20]
    assert sorted(scalars_logged(run_dir, "gradient_norm_layer/bi_lstm_0")) == [0, 20]
    assert len(scalars_logged(run_dir, "timing/epoch_s")) == 3
    assert main(["export", str(run_dir), "--out", str(tmp_path / "served")]) == 0
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    probability = served(text=tf.constant(["a good film", "a bad film"]))["probability"].numpy()
    assert probability[0] > 0.5 > probability[1]


def test_only_the_chief_writes_in_a_multi_worker_cluster():
    import tensorflow as tf

    def strategy(cluster, task_type, task_id):
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
        )
        return type("Strategy", (), {"cluster_resolver": resolver})()

    workers = {"worker": ["host0:2222", "host1:2222"]}
    assert common.is_chief(strategy(workers, "worker", 0))
    assert not common.is_chief(strategy(workers, "worker", 1))
    with_chief = {"chief": ["host9:2222"], **workers}
    assert common.is_chief(strategy(with_chief, "chief", 0))
    assert not common.is_chief(strategy(with_chief, "worker", 0))
    assert common.is_chief(tf.distribute.get_strategy())


class EmbeddingAtStart(keras.callbacks.Callback):
    """Records the embedding's weights when training begins and ends."""

    def on_train_begin(self, logs=None):
        self.weights = self.model.get_layer("embedding").get_weights()[0]

    def on_train_end(self, logs=None):
        self.final = self.model.get_layer("embedding").get_weights()[0]


def test_sentiment_embedding_starts_from_ppmi_vectors_and_resumes_exactly(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    with gzip.open(data / "unsup.jsonl.gz", "wt", encoding="utf-8") as stream:
        for text in ("a good film", "the bad plot", "an unseen word"):
            stream.write(json.dumps({"text": text, "label": -1}) + "\n")
    options = {**SENTIMENT, "config": {**SENTIMENT["config"], "embedding_init": "ppmi"}}
    start = EmbeddingAtStart()
    full = train_sentiment(
        "imdb", "lstm", data_dir=data, seed=3, epochs=2, callbacks=[start], **options
    )
    assert full["settings"]["embedding_init"] == "ppmi" and full["embedding_seconds"] > 0
    assert full["test_accuracy"] > 0.9
    assert start.weights.shape == (20, 8)  # vocabulary: padding, [UNK], the fixture's 10 words
    norms = np.linalg.norm(start.weights, axis=1)
    assert norms[0] == 0.0 and np.allclose(norms[2:12], 1.0, rtol=1e-5)
    np.testing.assert_array_equal(start.weights[12:], 0.0)
    assert not np.array_equal(start.final, start.weights)  # fine-tuned

    out = tmp_path / "ppmi.json"
    train_sentiment("imdb", "lstm", data_dir=data, seed=3, epochs=1, out=out, **options)
    resumed = train_sentiment(
        "imdb", "lstm", data_dir=data, seed=3, epochs=2, out=out, resume=True, **options
    )
    assert resumed["embedding_seconds"] is None  # the weights came from the checkpoint
    for got, want in zip(resumed["epochs"], full["epochs"]):
        assert got["valid_loss"] == pytest.approx(want["valid_loss"], rel=1e-5)


def test_sentiment_ppmi_vectors_are_the_word_vectors_of_its_texts(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    with gzip.open(data / "unsup.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({"text": "a good film", "label": -1}) + "\n")
    settings = {"vocab_size": 20, "max_len": 8, "batch_size": 8, "embedding_dim": 4}
    settings["embedding_window"] = 2
    loaded = sentiment.load_data("imdb", data, settings, seed=3)
    got = sentiment.pretrained_vectors("imdb", loaded, data, settings, seed=3)
    want = word_vectors.ppmi_svd_vectors(
        [*loaded.train_texts, "a good film"], loaded.vocabulary, dim=4, window=2, seed=3
    )
    assert len(loaded.train_texts) == 72
    np.testing.assert_array_equal(got[: len(want)], want)
    np.testing.assert_array_equal(got[len(want) :], 0.0)


def test_sentiment_can_keep_the_pretrained_vectors_fixed(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    with gzip.open(data / "unsup.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({"text": "a good film", "label": -1}) + "\n")
    config = {**SENTIMENT["config"], "embedding_init": "ppmi", "embedding_trainable": False}
    options = {**SENTIMENT, "config": config}
    record = EmbeddingAtStart()
    results = train_sentiment("imdb", "gru", data_dir=data, seed=3, callbacks=[record], **options)
    assert results["settings"]["embedding_trainable"] is False
    np.testing.assert_array_equal(record.final, record.weights)
    assert np.linalg.norm(record.weights[2]) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"embedding_init": "glove"}, r"config: embedding_init: expected one of \('random'"),
        ({"embedding_window": 0}, "config: embedding_window: expected a positive integer"),
    ],
)
def test_sentiment_names_a_bad_embedding_setting(config, message):
    with pytest.raises(ValueError, match=message):
        train_sentiment("imdb", "lstm", config=config, verbose=0)


@pytest.mark.parametrize(
    "kwargs,message",
    [({"epochs": 0}, "epochs: expected a positive integer"), ({"lr": -1.0}, "lr: expected")],
)
def test_sentiment_names_a_bad_epochs_or_lr(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_sentiment("imdb", "lstm", verbose=0, **kwargs)


def test_cli_keeps_an_existing_results_file_unless_told(tiny_ptb, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text('{"committed": true}')
    arguments = ["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet", "--out", str(out)]
    arguments += [*TINY_SETS, "--max-batches", "2", "--epochs", "1"]
    arguments += ["--checkpoint", str(tmp_path / "r.ckpt.npz")]  # not runs/ under the cwd
    assert main(arguments) == 1
    assert f"--out: {out} exists; pass --overwrite" in capsys.readouterr().err
    assert json.loads(out.read_text()) == {"committed": True}
    checkpoint = ["--checkpoint", str(tmp_path / "none.ckpt.npz")]
    assert main([*arguments, *checkpoint, "--resume"]) == 1  # nothing to resume: it would restart
    assert f"--resume: no checkpoint at {tmp_path / 'none.ckpt.npz'}, so the run would" in (
        capsys.readouterr().err
    )
    assert json.loads(out.read_text()) == {"committed": True}
    assert main([*arguments, "--log-dir", str(tmp_path / "logs"), "--overwrite"]) == 0
    assert json.loads(out.read_text())["epochs_run"] == 1


def test_cli_interrupted_says_how_to_resume(tiny_ptb, tmp_path, capsys, monkeypatch):
    import zoo.training.ptb

    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo.training.ptb, "train_ptb", interrupted)
    checkpoint = tmp_path / "r.ckpt.npz"
    arguments = ["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet"]
    assert (
        main([*arguments, "--out", str(tmp_path / "r.json"), "--checkpoint", str(checkpoint)])
        == 130
    )
    assert f"interrupted; --resume continues from the last checkpoint ({checkpoint}" in (
        capsys.readouterr().err
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_unwritable_folder_is_found_by_trying_not_by_os_access(tmp_path):
    """As root os.access says yes everywhere; /proc refuses new files even to root."""
    from zoo.training.common import check_output_file, check_output_folder

    with pytest.raises(
        ValueError,
        match="out: /proc/zoo-test would be created in /proc, which is not writable",
    ):
        check_output_file("/proc/zoo-test/r.json", "out")
    with pytest.raises(ValueError, match="log_dir: /proc is a folder /proc, which is not writable"):
        check_output_folder("/proc", "log_dir")
    assert check_output_folder(tmp_path / "new" / "logs", "log_dir") == tmp_path / "new" / "logs"
    assert not (tmp_path / "new").exists() and not list(tmp_path.iterdir())


def test_cli_checks_its_output_paths_before_training(tiny_ptb, tmp_path, capsys):
    folder, a_file = tmp_path / "a_folder", tmp_path / "a_file"
    folder.mkdir()
    a_file.write_text("")
    out = ["--out", str(tmp_path / "r.json")]
    under_file = a_file / "r.json"
    cases = [
        (["--out", str(folder)], f"out: expected a file path, got the folder '{folder}'"),
        (["--out", str(under_file)], f"out: {a_file} cannot be a folder: {a_file} is a file"),
        ([*out, "--checkpoint", str(folder)], "checkpoint: expected a file path, got the folder"),
        ([*out, "--log-dir", str(under_file)], f"log_dir: {under_file} cannot be a folder"),
    ]
    for arguments, message in cases:
        code = main(["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet", *arguments])
        assert code == 1 and message in capsys.readouterr().err, arguments
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_file", "a_folder"]
    assert not list(folder.iterdir())


def test_cli_rejects_bad_config_values_and_unreadable_checkpoints(tiny_ptb, tmp_path, capsys):
    common_arguments = ["train", "ptb", "--data-dir", str(tiny_ptb), "--quiet"]
    out = ["--out", str(tmp_path / "r.json")]
    for override, message in [
        ("epochs=0", "config: epochs: expected a positive integer, got 0"),
        ("layers=1.5", "config: layers: expected a positive integer, got 1.5"),
        ("dropout=1.5", "config: dropout: expected a rate in [0, 1), got 1.5"),
        ("lr=-1", "config: lr: expected a positive number, got -1"),
        ("lr_decay=0", "config: lr_decay: expected a number >= 1"),
        ("lr_decay=0.5", "config: lr_decay: expected a number >= 1 (the learning rate is divided"),
        ("init_scale=-0.1", "config: init_scale: expected a positive number, or null"),
    ]:
        assert main([*common_arguments, *out, "--set", override]) == 1
        assert message in capsys.readouterr().err, override
    assert main([*common_arguments, *out, "--seed", "-1"]) == 1
    assert "seed: expected an integer in [0, 2**32), got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="config: bidirectional: expected true or false, got 'no'"):
        configs.resolve(configs.SENTIMENT, {"base": "imdb", "bidirectional": "no"})
    for name, content in (("garbage.npz", b"garbage"), ("meta-less.npz", None)):
        checkpoint = tmp_path / name
        if content is None:
            np.savez(checkpoint, weights=np.zeros(3))
        else:
            checkpoint.write_bytes(content)
        arguments = [*common_arguments, *out, *TINY_SETS, "--checkpoint", str(checkpoint)]
        arguments.append("--resume")
        assert main(arguments) == 1
        err = capsys.readouterr().err
        assert f"{checkpoint}: expected a checkpoint written by zoo train" in err, name
    assert not (tmp_path / "r.json").exists()


def test_a_diverging_run_stops_with_the_nan_guard(tiny_ptb):
    config = {**TINY, "lr": 1e30, "clip": 1e30}
    with pytest.raises(common.NonFiniteLossError, match="epoch 1"):
        train_ptb(data_dir=tiny_ptb, config=config, epochs=1, jit_compile=False, verbose=0)
    assert math.isinf(perplexity_of(1e6)) and perplexity_of(0.0) == 1.0


def test_sentiment_max_batches_draws_both_classes_from_label_sorted_data():
    """The data files list examples by label: the first batches would hold one class."""
    from zoo.training.sentiment import _random_batches

    sorted_by_label = tf.data.Dataset.from_tensor_slices(
        (np.arange(200, dtype=np.int32)[:, None], np.repeat([0, 1], 100).astype(np.int32))
    ).batch(10)
    first = [_random_batches(sorted_by_label, 30, 10, seed=3) for _ in range(2)]
    (x, y), (x_again, _) = ([np.concatenate(part) for part in zip(*batches)] for batches in first)
    assert len(y) == 30 and 0 < y.sum() < 30  # both classes
    np.testing.assert_array_equal(x, x_again)  # seeded: the same rows every time
    np.testing.assert_array_equal(y, (x[:, 0] >= 100).astype(np.int32))  # rows kept whole


def test_sentiment_max_batches_must_be_positive(tmp_path):
    data = write_tiny_imdb(tmp_path / "imdb")
    with pytest.raises(ValueError, match="max_batches: expected a positive integer, got 0"):
        train_sentiment("imdb", "gru", data_dir=data, max_batches=0, **SENTIMENT)


def test_atomic_writes_leave_no_temporary_file_when_they_fail(tmp_path):
    target = tmp_path / "results.json"
    common.write_json(target, {"kept": True})

    def half_write(temporary):
        temporary.write_text("{half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        common.replace_atomically(target, half_write)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]
    assert json.loads(target.read_text()) == {"kept": True}
