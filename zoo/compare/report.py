"""The study's outputs: the summary per (task, cell), `results.json`, `report.md`, the plots.

Everything the report prints is in `results.json` (the report is rendered from that dict).
Files are written to a temporary name in the output directory, then renamed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from zoo.compare import stats
from zoo.compare.tasks import Task
from zoo.compare.training import RunRecord
from zoo.training.common import replace_atomically

PLOT_DPI = 80
PLOT_SIZE = (10.0, 3.6)  # inches


def summarize_cell(task: Task, records: list[RunRecord]) -> dict[str, Any]:
    """One cell on one task over its seeds: sizes, final metric, target, timing, the runs."""
    summaries = [record.summary(task) for record in records]
    reached = [s for s in summaries if s["updates_to_target"] is not None]
    first = records[0]
    return {
        "units": first.units,
        "recurrent_params": first.recurrent_params,
        "params": first.params,
        "final_metric": stats.spread([s["final_metric"] for s in summaries]),
        "reached": len(reached),
        "seeds": len(records),
        "updates_to_target": _mean_or_none([s["updates_to_target"] for s in reached]),
        **{
            f"{prefix}seconds_to_target": _mean_or_none(
                [s[f"{prefix}seconds_to_target"] for s in reached]
            )
            for prefix in ("", "cpu_")
        },
        **{
            f"{prefix}seconds_per_update": _median_or_none(
                [s[f"{prefix}seconds_per_update"] for s in summaries]
            )
            for prefix in ("", "cpu_")
        },
        "setup_seconds": float(np.mean([s["setup_seconds"] for s in summaries])),
        "runs": [
            {
                "seed": record.seed,
                **summary,
                "updates": record.updates,
                "metric": record.metric,
                "seconds": record.seconds("wall"),
                "cpu_seconds": record.seconds("cpu"),
            }
            for record, summary in zip(records, summaries)
        ],
    }


def _mean_or_none(values: list[float | None]) -> float | None:
    """The mean of the values that are not None; None when there are none."""
    present = [value for value in values if value is not None]
    return float(np.mean(present)) if present else None


def _median_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return float(np.median(present)) if present else None


def constant_baseline(task: Task, heldout: tuple[np.ndarray, np.ndarray]) -> float | None:
    """The held-out metric of the best constant prediction, a model that learned nothing: the
    targets' variance (MSE) or the majority class's share (accuracy); None for perplexity."""
    targets = np.asarray(heldout[1], dtype=np.float64)
    if task.metric == "mse":
        return float(np.mean((targets - targets.mean()) ** 2))
    if task.metric == "accuracy":
        positive = float(np.mean(targets > 0.5))
        return max(positive, 1.0 - positive)
    return None


def summarize_task(
    task: Task,
    records: dict[str, list[RunRecord]],
    steps: int,
    eval_every: int,
    heldout: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """The task's settings, every cell's summary and the pairwise seed-noise verdicts;
    `heldout` is the batch the metric was measured on (for `constant_baseline`)."""
    cells = {cell: summarize_cell(task, runs) for cell, runs in records.items()}
    finals = {cell: [run["final_metric"] for run in c["runs"]] for cell, c in cells.items()}
    return {
        "description": task.description,
        "metric": task.metric,
        "higher_is_better": task.higher_is_better,
        "target": task.target,
        "constant_baseline": constant_baseline(task, heldout),
        "steps": steps,
        "eval_every": eval_every,
        "batch_size": task.batch_size,
        "learning_rate": task.learning_rate,
        "input_dim": task.input_dim,
        "cells": cells,
        "comparisons": stats.pairwise(finals),
    }


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory."""
    replace_atomically(path, lambda temporary: temporary.write_bytes(data))


def write_json(path: Path, results: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(results, indent=1) + "\n").encode())


def _metric(value: float, metric: str) -> str:
    return f"{value:.1f}" if metric == "perplexity" else f"{value:.3f}"


def _number(value: float | None, fmt: str, scale: float = 1.0) -> str:
    return "n/a" if value is None else format(scale * value, fmt)


def _target_cell(cell: dict[str, Any], keys: tuple[str, ...], fmt: str) -> str:
    """ "mean (k/n)" over the seeds that reached the target ("a / b" for two keys), or "not
    reached"."""
    if cell["reached"] == 0:
        return "not reached"
    value = " / ".join(_number(cell[key], fmt) for key in keys)
    return (
        value
        if cell["reached"] == cell["seeds"]
        else f"{value} ({cell['reached']}/{cell['seeds']})"
    )


def task_table(name: str, task: dict[str, Any]) -> list[str]:
    """The Markdown table of one task: a row per cell."""
    arrow = "higher is better" if task["higher_is_better"] else "lower is better"
    lines = [
        f"| cell | units | params (recurrent / model) | final {task['metric']} ({arrow}) "
        f"| updates to {task['metric']} {task['target']:g} | s to target, CPU / wall "
        f"| ms per update, CPU / wall | setup s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cell, c in task["cells"].items():
        final = c["final_metric"]
        std = "n/a" if final["std"] is None else _metric(final["std"], task["metric"])
        per_update = " / ".join(
            _number(c[key], ".1f", 1000) for key in ("cpu_seconds_per_update", "seconds_per_update")
        )
        lines.append(
            f"| {cell} | {c['units']} | {c['recurrent_params']:,} / {c['params']:,} "
            f"| {_metric(final['mean'], task['metric'])} +- {std} "
            f"| {_target_cell(c, ('updates_to_target',), '.0f')} "
            f"| {_target_cell(c, ('cpu_seconds_to_target', 'seconds_to_target'), '.1f')} "
            f"| {per_update} | {c['setup_seconds']:.1f} |"
        )
    return lines


def baseline_line(task: dict[str, Any]) -> str:
    """What a model that learned nothing scores on the held-out batch (empty for perplexity)."""
    if task["constant_baseline"] is None:
        return ""
    return (
        f"A model that learned nothing (the best constant prediction) scores "
        f"{task['metric']} {_metric(task['constant_baseline'], task['metric'])} on the held-out "
        "batch."
    )


def comparison_lines(task: dict[str, Any]) -> list[str]:
    """One bullet per pair of cells: the difference of final metrics and the verdict."""
    lines = []
    for pair in task["comparisons"]:
        test = "" if pair["test"] == "none" else f" ({pair['test']}"
        if test:
            test += "" if pair["p_value"] is None else f", p = {pair['p_value']:.3f}"
            test += ")"
        difference = "n/a" if pair["difference"] is None else f"{pair['difference']:+.4g}"
        lines.append(f"- {pair['a']} - {pair['b']}: {difference}{test}: **{pair['verdict']}**")
    return lines


def render_report(results: dict[str, Any]) -> str:
    """report.md from the results dict."""
    settings, run = results["settings"], results["run"]
    lines = [
        "# zoo compare: GRU vs LSTM at one parameter budget",
        "",
        f"Command: `{run['command']}`",
        "",
        f"Wall time {run['wall_seconds']:.0f} s (the study, after Python and TensorFlow "
        f"start-up) on {run['cpus']} CPUs; process CPU time {run['cpu_seconds']:.0f} s (start-up "
        "included); load average "
        f"(1, 5, 15 min) {_load(run['load_start'])} at the start, {_load(run['load_end'])} at "
        f"the end. TensorFlow {run['versions']['tensorflow']}, Keras {run['versions']['keras']}.",
        "",
        f"Cells: {', '.join(settings['cells'])} ({settings['impl']} layers); seeds "
        f"{', '.join(map(str, settings['seeds']))}; {_size(settings)}.",
        "",
        "Each model is Input -> recurrent layer -> Dense, trained with Adam (global gradient norm "
        "clipped to 1). Seeds change the initialization and the batch order; the data are "
        "fixed per task. The metric is measured on a fixed held-out batch every few "
        "updates. Final metric: mean +- sample std over seeds (n/a for one seed). "
        "Updates and seconds to target: mean over the seeds that reached it (k/n when not all "
        "did). Seconds count training only: each update from the start of its batch to its "
        "end (the batch's fetch and the train step; held-out evaluations and the logging "
        "callbacks' writes left out), and the first update (tracing and compiling, column "
        "`setup s`, wall) counts as one median update. CPU seconds are the process's CPU time "
        "over all its threads, which other load on the machine barely changes; wall seconds "
        "depend on it. ms per update: median over the updates after the first.",
        "",
    ]
    for name, task in results["tasks"].items():
        lines += [
            f"## {name}",
            "",
            f"{task['description']}. {task['steps']} updates of {task['batch_size']} examples, "
            f"learning rate {task['learning_rate']:g}; held-out {task['metric']} every "
            f"{task['eval_every']} updates; target {task['metric']} {task['target']:g}. "
            f"{baseline_line(task)}".rstrip(),
            "",
            *task_table(name, task),
            "",
            f"Differences of final {task['metric']} between cells, and whether they are "
            f"beyond seed noise ({_noise_rule()}):",
            "",
            *comparison_lines(task),
            "",
            f"![{name}]({name}.png)",
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `results.json`: every number above, and every run's curve (updates, wall and CPU "
        "seconds, metric).",
        "- `<task>.png`: the held-out metric against updates and against training CPU seconds, "
        "mean over seeds with a band from the lowest to the highest seed.",
        "- `tensorboard/<task>/<cell>/seed<k>/`: TensorBoard logs of each run "
        "(`zoo.callbacks.TimingLogger`, `GradientNormLogger`, the held-out metric under "
        "`heldout/`, hyperparameters and final metric for the HParams dashboard): "
        "`tensorboard --logdir tensorboard`.",
        "",
    ]
    return "\n".join(lines)


def _noise_rule() -> str:
    return (
        f"Welch's t-test on the per-seed final metrics, p < {stats.ALPHA}, or "
        f"{stats.NOISE_FACTOR:g} standard errors without SciPy; with 3 seeds the test has low "
        "power, so 'within seed noise' means the seeds could not separate the cells, not that "
        "they are equal"
    )


def _load(load: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in load)


def _size(settings: dict[str, Any]) -> str:
    if settings["units"] is not None:
        return f"{settings['units']} units for every cell"
    budgets = ", ".join(f"{task} {budget:,}" for task, budget in settings["budgets"].items())
    return (
        "one parameter budget per task for the recurrent layer (the units of each cell are "
        f"those whose count is closest to it): {budgets}"
    )


def plot_task(path: Path, name: str, task: dict[str, Any]) -> None:
    """metric vs updates and vs training CPU seconds, a curve per cell with its seed band (no
    CPU-seconds curve for runs of one update).

    Drawn on a bare `matplotlib.figure.Figure`: no pyplot, so the caller's backend (a
    notebook's inline one, say) is left alone and no display is needed.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_SIZE, dpi=PLOT_DPI)
    by_updates, by_seconds = figure.subplots(1, 2)
    for cell, c in task["cells"].items():
        updates = np.asarray(c["runs"][0]["updates"])
        metric = np.asarray([run["metric"] for run in c["runs"]])
        axes = [(by_updates, updates)]
        if all(run["cpu_seconds"] is not None for run in c["runs"]):
            axes.append((by_seconds, np.mean([run["cpu_seconds"] for run in c["runs"]], axis=0)))
        for axis, x in axes:
            (line,) = axis.plot(x, metric.mean(axis=0), label=f"{cell} ({c['units']} units)")
            axis.fill_between(
                x, metric.min(axis=0), metric.max(axis=0), alpha=0.2, color=line.get_color()
            )
    for axis, label in ((by_updates, "updates"), (by_seconds, "training CPU seconds")):
        axis.axhline(task["target"], color="grey", linestyle="--", linewidth=1)
        axis.set_xlabel(label)
        axis.set_ylabel(f"held-out {task['metric']}")
        if task["metric"] in ("mse", "perplexity"):
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
    by_updates.legend(fontsize="small")
    figure.suptitle(f"{name}: mean over seeds, band = min to max; dashed: target")
    figure.tight_layout()
    replace_atomically(path, lambda temporary: figure.savefig(temporary, dpi=PLOT_DPI), ".tmp.png")


def write_report(out: Path, results: dict[str, Any]) -> None:
    """results.json, report.md and one PNG per task in `out`."""
    for name, task in results["tasks"].items():
        plot_task(out / f"{name}.png", name, task)
    write_json(out / "results.json", results)
    write_atomic(out / "report.md", render_report(results).encode())


def print_summary(results: dict[str, Any]) -> None:
    """The tables and verdicts on stdout."""
    for name, task in results["tasks"].items():
        print(f"\n{name}: {task['description']}")
        print("\n".join(task_table(name, task)))
        print("\n".join(comparison_lines(task)))
