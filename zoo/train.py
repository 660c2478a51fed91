"""`zoo train`: train a PTB language model or an IMDB / SST-2 sentiment classifier.

    zoo train ptb --cell lstm --impl zoo --config small --data-dir ../shared/data \\
        --out results/ptb_small_lstm_zoo.json
    zoo train ptb --cell gru --budget match:lstm --lr 0.5 --out results/ptb_small_gru_zoo_match.json
    zoo train imdb --cell gru --epochs 4 --data-dir ../shared/data --out results/imdb_gru_zoo.json
    zoo train imdb --cell lstm --pooling max --set max_len=600 --set dropout=0.5
    zoo train ptb ... --resume          # continue an interrupted run from its last epoch

The work is done by `zoo.training.ptb.train_ptb` and `zoo.training.sentiment.train_sentiment`;
this module parses the options and reports errors in one line. TensorFlow is imported only
inside `run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TASKS = ("ptb", "imdb", "sst2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `zoo train`."""
    parser.add_argument("task", choices=TASKS, help="ptb (language model), imdb or sst2")
    parser.add_argument("--cell", default="lstm", help="a name of zoo.layers.CELLS (lstm)")
    parser.add_argument("--impl", default="zoo", choices=("zoo", "keras"), help="(zoo)")
    parser.add_argument(
        "--config",
        default="small",
        help="ptb: small, medium or large (Zaremba et al. 2014) (small)",
    )
    parser.add_argument(
        "--budget",
        default="same_width",
        help="ptb: same_width, or match:lstm to size the cell to the LSTM's parameter count",
    )
    parser.add_argument(
        "--pooling",
        choices=("last", "mean", "max"),
        help="imdb, sst2: what the classifier reads, the last state or the mean or max over "
        "time of the recurrent outputs (the config's: last)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        type=config_override,
        action="append",
        default=[],
        help="override one key of the task's config (repeatable), e.g. --set max_len=600; "
        "VALUE is read as JSON when it parses, else as a string",
    )
    parser.add_argument("--epochs", type=int, help="number of epochs (the config's)")
    parser.add_argument("--lr", type=float, help="initial learning rate (the config's)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder holding ptb/, imdb/ or sst/ (or the dataset's own folder); a missing "
        "dataset is downloaded into its subfolder",
    )
    parser.add_argument("--out", type=Path, help="results JSON (default results/<run>.json)")
    parser.add_argument(
        "--checkpoint", type=Path, help="checkpoint file (default runs/<OUT name>.ckpt.npz)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out (without it, and without --resume, an existing results "
        "file is an error: the defaults are the names of committed results)",
    )
    parser.add_argument(
        "--log-dir", type=Path, help="TensorBoard log folder (default: runs/<out name>)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--strategy",
        default="default",
        choices=("default", "mirrored", "multiworker"),
        help="tf.distribute strategy; multiworker reads the cluster from $TF_CONFIG",
    )
    parser.add_argument(
        "--cpu-replicas",
        type=int,
        help="split the CPU into this many logical devices (to try --strategy mirrored on CPU)",
    )
    parser.add_argument(
        "--jit-compile",
        choices=("true", "false"),
        default="false",
        help="compile the train step with XLA (false: measured faster on CPU for PTB small)",
    )
    parser.add_argument("--max-batches", type=int, help="at most N batches per split (smoke)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def config_override(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` -> (KEY, VALUE read as JSON, or the string itself when it is not JSON)."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def default_out(args: argparse.Namespace) -> Path:
    """results/ptb_<config>_<cell>_<impl>[_<budget>].json or results/<task>_<cell>_<impl>.json"""
    if args.task == "ptb":
        variant = "" if args.budget == "same_width" else "_" + args.budget.replace(":", "_")
        return Path("results") / f"ptb_{args.config}_{args.cell}_{args.impl}{variant}.json"
    return Path("results") / f"{args.task}_{args.cell}_{args.impl}.json"


def run(args: argparse.Namespace) -> int:
    """Train as `args` says; 0 on success, 1 when training diverged or an input was wrong."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.training import common

    out = args.out or default_out(args)
    options = {
        "cell": args.cell,
        "impl": args.impl,
        "epochs": args.epochs,
        "lr": args.lr,
        "data_dir": args.data_dir,
        "out": out,
        "checkpoint": args.checkpoint or Path("runs") / f"{out.stem}.ckpt.npz",
        "resume": args.resume,
        "log_dir": args.log_dir or Path("runs") / out.stem,
        "seed": args.seed,
        "strategy": args.strategy,
        "jit_compile": args.jit_compile == "true",
        "max_batches": args.max_batches,
        "verbose": 0 if args.quiet else 1,
    }
    overrides = dict(args.overrides)
    config_label = args.config if args.task == "ptb" else "default"
    if overrides:
        config_label += " " + ",".join(f"{key}={value}" for key, value in sorted(overrides.items()))
    if out.is_file() and not (args.resume or args.overwrite):
        print(
            f"zoo train: error: --out: {out} exists; pass --overwrite to replace it, or --resume "
            "to continue the run that wrote it",
            file=sys.stderr,
        )
        return 1
    if out.is_file() and args.resume and not args.overwrite:
        checkpoint = Path(options["checkpoint"])
        if not checkpoint.is_file():
            print(
                f"zoo train: error: --resume: no checkpoint at {checkpoint}, so the run would "
                f"start over and replace {out}; pass --overwrite as well to do that",
                file=sys.stderr,
            )
            return 1
    try:
        if args.cpu_replicas is not None:
            common.split_cpu(args.cpu_replicas)
        if args.task == "ptb":
            from zoo.training.ptb import train_ptb

            if args.pooling is not None:
                raise ValueError("--pooling: applies to the imdb and sst2 classifiers, not ptb")
            config = {"base": args.config, **overrides} if overrides else args.config
            results = train_ptb(config=config, budget=args.budget, **options)
        else:
            from zoo.training.sentiment import train_sentiment

            for option, value, default in (
                ("--config", args.config, "small"),
                ("--budget", args.budget, "same_width"),
            ):
                if value != default:
                    raise ValueError(
                        f"{option}: applies to ptb; the {args.task} classifier is set with "
                        "--set KEY=VALUE"
                    )
            pooling = {} if args.pooling is None else {"pooling": args.pooling}
            results = train_sentiment(args.task, config={**overrides, **pooling}, **options)
    except common.NonFiniteLossError as error:
        print(f"zoo train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nzoo train: interrupted; --resume continues from the last checkpoint "
            f"({options['checkpoint']}, written after each finished epoch)",
            file=sys.stderr,
        )
        return 130
    except (ValueError, OSError) as error:  # OSError: FileNotFoundError, a failed write, ...
        print(f"zoo train: error: {error}", file=sys.stderr)
        return 1
    log_run_hparams(options["log_dir"], results, config_label)
    print(f"Results written to {options['out']}; TensorBoard logs in {options['log_dir']}")
    return 0


def log_run_hparams(log_dir: Path, results: dict, config: str) -> None:
    """The run's hyperparameters and final metrics, for TensorBoard's HParams dashboard.

    The same names for every task, so runs line up in one table: task, cell, impl, units (the
    recurrent widths, e.g. "241,227"), params, config, seed, lr; metrics: the final valid and
    test perplexity (PTB) or accuracy (sentiment). Sentiment runs add their pooling.
    `config` names the configuration and any `--set` overrides, e.g. "small units=650".
    """
    from zoo.callbacks import log_hparams

    settings = results["settings"]
    widths = results.get("widths") or [settings["units"]] * settings.get("layers", 1)
    hparams = {
        "task": results["task"],
        "cell": results["cell"],
        "impl": results["impl"],
        "units": ",".join(str(width) for width in widths),
        "params": results["params"],
        "config": config,
        "seed": results["seed"],
        "lr": settings["lr"],
    }
    if "pooling" in settings:
        hparams["pooling"] = settings["pooling"]
    metric_names = ("valid_perplexity", "test_perplexity", "valid_accuracy", "test_accuracy")
    metrics = {name: results[name] for name in metric_names if results.get(name) is not None}
    log_hparams(log_dir, hparams, metrics)
