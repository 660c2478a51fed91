"""`zoo compare`: the GRU vs LSTM study. Train cells at one parameter budget on the same tasks,
several seeds each, and compare what they reach, how fast (in updates and in seconds), and
which differences are within seed noise.

    zoo compare                                   # the default study (synthetic, ~1.5 min)
    zoo compare --task reber --cells lstm,gru,mgu --seeds 5 --steps 600
    zoo compare --task sst2 --data-dir ../shared/data --budget 20000 --steps 500
    zoo compare --impl keras --out runs/keras-study

The default study needs no data and no network: the adding problem (T = 100) and the embedded
Reber grammar, cells lstm, gru and rnn, 3 seeds, 300 and 200 updates, every recurrent layer sized
to 3,000 parameters. Outputs in `--out`: report.md, results.json, a PNG per task and
TensorBoard logs (see `zoo.compare.report`). The parts: `tasks` (the tasks as data),
`training` (one run), `stats` (seed noise), `report` (the files).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.training.common import check_output_folder

DEFAULT_TASKS = ("adding", "reber")
DEFAULT_CELLS = ("lstm", "gru", "rnn")
DEFAULT_SEEDS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `zoo compare`."""
    from zoo.compare.tasks import TASKS

    parser.add_argument(
        "--task",
        default=",".join(DEFAULT_TASKS),
        help=f"comma-separated tasks among {', '.join(TASKS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--cells",
        default=",".join(DEFAULT_CELLS),
        help="comma-separated names of zoo.layers.CELLS (default: %(default)s)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--budget",
        type=int,
        help="parameters of the recurrent layer; each cell gets the units closest to it "
        "(default: the task's, 3,000 for the synthetic tasks)",
    )
    size.add_argument("--units", type=int, help="the same units for every cell instead")
    parser.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help="seeds per cell (default: %(default)s)"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="updates per run (default: the task's)")
    length.add_argument("--epochs", type=int, help="passes over the training set per run")
    parser.add_argument(
        "--eval-every",
        type=int,
        help="updates between held-out evaluations (default: the task's, "
        + ", ".join(f"{task.eval_every} for {name}" for name, task in TASKS.items())
        + ")",
    )
    parser.add_argument(
        "--impl",
        choices=("zoo", "keras"),
        default="zoo",
        help="zoo layers, or Keras's LSTM/GRU/SimpleRNN (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder holding ptb/, imdb/, sst/ for the real tasks (default: $ZOO_DATA_DIR, "
        "else the cache, downloading when missing)",
    )
    parser.add_argument(
        "--out", type=Path, help="report directory (default: runs/compare-<UTC timestamp>)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the study in an --out that holds one (its report files and tensorboard/ "
        "are deleted first); without it a non-empty --out is refused",
    )


def run(args: argparse.Namespace) -> int:
    """Run the study that `args` describes; 0 on success, 2 on bad input, 1 on missing data."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started, load_start = time.perf_counter(), list(os.getloadavg())
    try:
        plan = make_plan(args)
    except ValueError as error:
        print(f"zoo compare: error: {error}", file=sys.stderr)
        return 2
    try:
        data = load_data(plan)
    except (OSError, ValueError) as error:  # zoo.data: missing files, failed downloads
        print(f"zoo compare: error: data for --task {args.task}: {error}", file=sys.stderr)
        return 1
    if plan["overwrite"]:
        remove_study(plan["out"])
    results = run_study(plan, data)
    results["run"] = {
        "command": shlex.join(["zoo", *args.argv]),
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time(),
        "load_start": load_start,
        "load_end": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "versions": _versions(),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    from zoo.compare.report import print_summary, write_report

    write_report(plan["out"], results)
    print_summary(results)
    print(
        f"\nReport in {plan['out']}/report.md ({results['run']['wall_seconds']:.0f} s); "
        f"TensorBoard: tensorboard --logdir {plan['out']}/tensorboard"
    )
    return 0


def _names(argument: str, text: str, valid: Any) -> list[str]:
    """Comma-separated names, each in `valid`, without repeats; else a ValueError naming them."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if not names or unknown:
        raise ValueError(
            f"{argument}: unknown name(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"valid names: {', '.join(valid)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{argument}: a name is repeated in {text!r}")
    return names


def _positive(argument: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{argument}: expected a positive integer, got {value}")


def make_plan(args: argparse.Namespace) -> dict[str, Any]:
    """Check every input before any training: names, sizes, the output directory.

    Returns the plan: tasks, cells, seeds, steps per task (None: from --epochs once the data
    are loaded), units per task and cell, impl, eval_every (None: the task's), data_dir, out.
    """
    from zoo.compare.tasks import TASKS
    from zoo.compare.training import KERAS_LAYERS
    from zoo.layers import CELLS

    tasks = _names("--task", args.task, TASKS)
    cells = _names("--cells", args.cells, CELLS)
    for argument in ("budget", "units", "seeds", "steps", "epochs", "eval_every"):
        _positive(f"--{argument.replace('_', '-')}", getattr(args, argument))
    if args.steps == 1:
        raise ValueError(
            "--steps: expected at least 2 (the first update traces and compiles; the time per "
            "update is measured on the others)"
        )
    if args.impl == "keras":
        missing = [cell for cell in cells if cell not in KERAS_LAYERS]
        if missing:
            raise ValueError(
                f"--cells: {', '.join(missing)} have no Keras built-in layer; with --impl keras "
                f"the cells are {', '.join(KERAS_LAYERS)}"
            )
    units = {task: _units(TASKS[task], cells, args.budget, args.units) for task in tasks}
    out = args.out or Path("runs") / f"compare-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    check_output_folder(out, "--out")  # created when the study writes, not before
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(
            f"--out: {out} is not empty; pass --overwrite to replace the study in it, or choose "
            "another folder"
        )
    return {
        "tasks": tasks,
        "cells": cells,
        "seeds": list(range(args.seeds)),
        "steps": args.steps,
        "epochs": args.epochs,
        "eval_every": args.eval_every,
        "impl": args.impl,
        "units": units,
        "fixed_units": args.units,
        "budgets": {task: args.budget or TASKS[task].budget for task in tasks},
        "data_dir": args.data_dir,
        "out": out,
        "overwrite": args.overwrite,
    }


def _units(task: Any, cells: list[str], budget: int | None, units: int | None) -> dict[str, int]:
    """{cell: units} for one task: `units` for all, or each cell's fit to the budget."""
    from zoo.layers import units_for_budget

    if units is not None:
        return {cell: units for cell in cells}
    budget = budget or task.budget
    sizes = {}
    for cell in cells:
        try:
            sizes[cell] = units_for_budget(cell, task.input_dim, budget)
        except ValueError as error:
            raise ValueError(
                f"--budget: {budget} is too small for task {task.name}: {error}"
            ) from None
    return sizes


STUDY_FILES = ("report.md", "results.json")


def remove_study(out: Path) -> None:
    """Delete what a study wrote in `out` (report.md, results.json, the PNGs of the tasks and
    tensorboard/), so a new one does not mix its logs with the old; other files stay."""
    from zoo.compare.tasks import TASKS

    for name in (*STUDY_FILES, *(f"{task}.png" for task in TASKS)):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)


def load_data(plan: dict[str, Any]) -> dict[str, Any]:
    """Every task's `TaskData`, loaded before any training; a missing dataset raises
    (FileNotFoundError / OSError / ValueError from `zoo.data`), never a synthetic fallback."""
    from zoo.compare.tasks import TASKS

    return {
        name: TASKS[name].load(plan["data_dir"], TASKS[name].batch_size) for name in plan["tasks"]
    }


def run_study(plan: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Train every (task, cell, seed) of `plan` on `data` (from `load_data`) and return the
    results (the settings and `zoo.compare.report.summarize_task` per task)."""
    from zoo.compare.report import summarize_task
    from zoo.compare.tasks import TASKS, steps_for_epochs
    from zoo.compare.training import train_run

    summaries = {}
    for name in plan["tasks"]:
        task = TASKS[name]
        steps = plan["steps"] or task.steps
        if plan["epochs"]:
            steps = steps_for_epochs(plan["epochs"], data[name].train_examples, task.batch_size)
        eval_every = min(plan["eval_every"] or task.eval_every, steps)
        records = {
            cell: [
                train_run(
                    task,
                    data[name],
                    cell,
                    plan["units"][name][cell],
                    seed,
                    steps,
                    eval_every,
                    plan["impl"],
                    plan["out"] / "tensorboard" / name / cell / f"seed{seed}",
                )
                for seed in plan["seeds"]
            ]
            for cell in plan["cells"]
        }
        summaries[name] = summarize_task(task, records, steps, eval_every, data[name].heldout)
    settings = {key: plan[key] for key in ("tasks", "cells", "seeds", "impl", "budgets")}
    settings["units"] = plan["fixed_units"]
    return {"settings": settings, "tasks": summaries}


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}
