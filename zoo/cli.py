"""The `zoo` command line: a thin layer over the package's functions.

Each subcommand lives in its own module, which provides two functions:
`add_arguments(parser: argparse.ArgumentParser) -> None` and `run(args) -> int`.
Subcommand modules keep their heavy imports inside functions, so that building the parser
imports no more than `import zoo` itself (which registers the layers with Keras, and so
imports Keras and TensorFlow).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("zoo.train", "Train a PTB language model or a sentiment classifier."),
    "compare": (
        "zoo.compare",
        "The GRU vs LSTM study: train cells at one parameter budget and compare.",
    ),
    "bench": ("zoo.bench", "Benchmark zoo layers against Keras built-ins and PyTorch."),
    "export": ("zoo.export", "Export a trained model as a TensorFlow SavedModel."),
    "generate": ("zoo.generate", "Sample text from a trained PTB language model."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="The GRU vs LSTM model zoo.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command, for the records
    if args.command is None:
        parser.print_help()
        return 2
    return importlib.import_module(args._module).run(args)


if __name__ == "__main__":
    sys.exit(main())
