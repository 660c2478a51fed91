"""Tests of `zoo compare`: a reduced study end to end, the bad inputs, the seed statistics."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zoo.cli import main
from zoo.compare import stats
from zoo.compare.tasks import TASKS
from zoo.compare.training import RunRecord, build_model, heldout_metric, recurrent_layer


def _numbers(cell: dict) -> list[float]:
    return [
        cell["final_metric"]["mean"],
        cell["seconds_per_update"],
        cell["cpu_seconds_per_update"],
        cell["setup_seconds"],
        *cell["runs"][0]["metric"],
        *cell["runs"][0]["seconds"],
        *cell["runs"][0]["cpu_seconds"],
    ]


def test_reduced_default_study_writes_the_report(tmp_path: Path, capsys) -> None:
    """CI's reduced default study: default tasks and cells, one seed, a few updates."""
    out = tmp_path / "study"
    code = main(["compare", "--seeds", "1", "--steps", "4", "--eval-every", "2", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["tasks"]) == ["adding", "reber"]
    for task in results["tasks"].values():
        assert list(task["cells"]) == ["lstm", "gru", "rnn"]
        for cell in task["cells"].values():
            assert cell["recurrent_params"] == pytest.approx(3000, rel=0.05)
            assert cell["runs"][0]["updates"] == [2, 4]
            assert all(math.isfinite(value) and value >= 0 for value in _numbers(cell))
        assert {pair["verdict"] for pair in task["comparisons"]} == {"cannot tell (one seed)"}
        assert all(cell["final_metric"]["std"] is None for cell in task["cells"].values())
    heldout_targets = TASKS["adding"].load(None, 64).heldout[1]
    assert results["tasks"]["adding"]["constant_baseline"] == pytest.approx(np.var(heldout_targets))
    assert results["run"]["command"] == (
        f"zoo compare --seeds 1 --steps 4 --eval-every 2 --out {out}"
    )  # as given to main(), not the test runner's argv
    report = (out / "report.md").read_text()
    for text in ("## adding", "## reber", "| lstm | 26 |", "| gru |", "| rnn |", "wall time"):
        assert text.lower() in report.lower()
    assert "+- n/a |" in report and "the best constant prediction) scores mse 0.1" in report
    for name in ("adding.png", "reber.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logs = out / "tensorboard" / "reber" / "gru" / "seed0"
    assert list(logs.glob("events.out.tfevents.*")) and list((logs / "heldout").iterdir())
    printed = capsys.readouterr().out
    assert "| lstm | 26 | 3,016 / 3,043 |" in printed and "report.md" in printed


def test_plots_leave_the_callers_matplotlib_backend_alone(tmp_path: Path) -> None:
    """A notebook's inline backend must survive a study: the report draws without pyplot."""
    import matplotlib

    from zoo.compare.report import plot_task

    run = {"updates": [1, 2], "metric": [0.2, 0.1], "seconds": [0.5, 1.0], "cpu_seconds": [1, 2]}
    task = {"cells": {"lstm": {"units": 4, "runs": [run]}}, "target": 0.05, "metric": "mse"}
    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plot_task(tmp_path / "adding.png", "adding", task)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(previous)
    assert (tmp_path / "adding.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _error(capsys, *argv: str) -> tuple[int, str]:
    code = main(["compare", *argv])
    return code, capsys.readouterr().err


def test_unknown_task_and_cell_list_the_valid_names(tmp_path: Path, capsys) -> None:
    code, err = _error(capsys, "--task", "adding,copy", "--out", str(tmp_path))
    assert code == 2 and "--task" in err and "'copy'" in err and "reber, ptb, imdb, sst2" in err
    code, err = _error(capsys, "--cells", "lstm,lsmt", "--out", str(tmp_path))
    assert code == 2 and "--cells" in err and "'lsmt'" in err and "peephole_lstm" in err


def test_budget_too_small_names_the_cell(tmp_path: Path, capsys) -> None:
    code, err = _error(capsys, "--budget", "30", "--out", str(tmp_path))
    assert code == 2 and "--budget" in err and "too small" in err and "'lstm'" in err


def test_unwritable_out_fails_before_training(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, err = _error(capsys, "--out", str(blocker / "report"))
    assert code == 2 and f"--out: {blocker / 'report'} cannot be a folder: {blocker} is" in err


def test_a_study_that_fails_on_its_data_leaves_no_out_folder(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = tmp_path / "study"
    code, err = _error(capsys, "--task", "ptb", "--data-dir", str(blocker), "--out", str(out))
    assert code == 1 and "is a file; expected the folder of the ptb data" in err
    assert not out.exists()


def test_keras_impl_refuses_cells_without_a_builtin(tmp_path: Path, capsys) -> None:
    code, err = _error(capsys, "--impl", "keras", "--cells", "lstm,mgu", "--out", str(tmp_path))
    assert code == 2 and "mgu" in err and "lstm, gru, gru_v1, rnn" in err


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--steps", "-1"], ["--units", "0"]])
def test_nonpositive_numbers_are_refused(tmp_path: Path, capsys, argv: list[str]) -> None:
    code, err = _error(capsys, *argv, "--out", str(tmp_path))
    assert code == 2 and argv[0] in err


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1", "rnn"])
def test_keras_and_zoo_models_have_the_same_size(cell: str) -> None:
    task = TASKS["reber"]
    sizes = [build_model(task, cell, 9, impl, (40, 7)).count_params() for impl in ("zoo", "keras")]
    assert sizes[0] == sizes[1]
    assert type(recurrent_layer(cell, 9, "keras")).__module__.startswith("keras")


def test_summary_reads_the_target_in_the_metric_direction() -> None:
    record = RunRecord("adding", "lstm", 0, 4, 100, 90)
    record.updates, record.metric = [10, 20, 30], [0.2, 0.04, 0.03]
    record.update_seconds = [5.0] + [0.1] * 29
    record.update_cpu_seconds = [9.0] + [0.2] * 29
    summary = record.summary(TASKS["adding"])  # mse <= 0.05
    assert summary["updates_to_target"] == 20
    assert summary["seconds_to_target"] == pytest.approx(2.0)  # the first counts as a median one
    assert summary["cpu_seconds_to_target"] == pytest.approx(4.0)
    assert summary["setup_seconds"] == 5.0 and summary["seconds_per_update"] == 0.1
    assert summary["cpu_seconds_per_update"] == 0.2
    assert record.seconds("cpu") == pytest.approx([2.0, 4.0, 6.0])
    reber = RunRecord("reber", "lstm", 0, 4, 100, 90, [10, 20], [0.5, 0.8], [0.1] * 20, [0.1] * 20)
    assert reber.summary(TASKS["reber"])["updates_to_target"] is None  # accuracy >= 0.9


def test_a_run_of_one_update_has_no_time_per_update() -> None:
    record = RunRecord("adding", "lstm", 0, 4, 100, 90, [1], [0.01], [5.0], [9.0])
    summary = record.summary(TASKS["adding"])
    assert summary["updates_to_target"] == 1 and summary["setup_seconds"] == 5.0
    for key in ("seconds_per_update", "cpu_seconds_to_target", "train_seconds"):
        assert summary[key] is None


def test_update_times_leave_out_the_other_callbacks_and_evaluations(
    tmp_path: Path, monkeypatch
) -> None:
    """The recorder times each update from its batch's start to its end: a callback that writes
    slowly after it, and the held-out evaluations, are not training time. The slow writer
    costs 1000 s on the recorder's clocks, so a busy machine cannot blur the test."""
    import keras

    import zoo.compare.training
    from zoo.compare.training import make_recorder

    class Clocks:
        extra = 0.0

        def perf_counter(self) -> float:
            return time.perf_counter() + self.extra

        def process_time(self) -> float:
            return time.process_time() + self.extra

    clocks = Clocks()
    monkeypatch.setattr(zoo.compare.training, "time", clocks)

    class SlowWriter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            clocks.extra += 1000.0

    task = TASKS["adding"]
    record = RunRecord("adding", "lstm", 0, 4, 100, 90)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3, 2), "float32"), np.ones((8, 1), "float32")
    recorder = make_recorder(task, record, (x, y), 4, 1, tmp_path, "test")
    model.fit(x, y, batch_size=2, verbose=0, callbacks=[recorder, SlowWriter()])
    assert record.updates == [1, 2, 3, 4] and len(record.update_seconds) == 4
    assert max(record.update_seconds[1:]) < 100 and max(record.update_cpu_seconds[1:]) < 100


def test_perplexity_of_uniform_logits_is_the_vocabulary_size() -> None:
    def uniform(inputs: np.ndarray) -> np.ndarray:
        return np.zeros((*inputs.shape, 50), dtype=np.float32)

    ids = np.arange(600 * 3).reshape(600, 3) % 50
    assert heldout_metric(TASKS["ptb"], uniform, (ids, ids)) == pytest.approx(50.0)


def test_one_seed_has_no_spread_and_a_diverged_run_no_verdict() -> None:
    assert stats.spread([0.5]) == {"mean": 0.5, "std": None, "min": 0.5, "max": 0.5, "n": 1}
    diverged = stats.compare_pair([math.nan, 0.1, 0.1], [0.16, 0.16, 0.17])
    assert diverged["verdict"] == "cannot tell (a run diverged)"
    assert diverged["difference"] is None and diverged["p_value"] is None


def test_an_existing_study_is_replaced_only_with_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "study"
    argv = ["--task", "reber", "--cells", "rnn", "--seeds", "1", "--steps", "2", "--out", str(out)]
    assert main(["compare", *argv]) == 0
    old_logs = sorted((out / "tensorboard").rglob("events.out.tfevents.*"))
    (out / "notes.txt").write_text("mine")
    code, err = _error(capsys, *argv)
    assert code == 2 and f"--out: {out} is not empty; pass --overwrite" in err
    assert main(["compare", *argv, "--overwrite"]) == 0
    new_logs = sorted((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(new_logs) == len(old_logs) and not set(new_logs) & set(old_logs)
    assert (out / "notes.txt").read_text() == "mine"  # only the study's own files are replaced


def test_one_update_is_refused_and_help_states_the_tasks_defaults(capsys) -> None:
    code, err = _error(capsys, "--steps", "1")
    assert code == 2 and "--steps: expected at least 2" in err
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "25 for adding, 20 for reber" in " ".join(capsys.readouterr().out.split())


def test_seed_noise_verdicts() -> None:
    assert stats.compare_pair([0.10, 0.11, 0.12], [0.50, 0.51, 0.49])["verdict"] == "differs"
    assert stats.compare_pair([0.1, 0.3, 0.2], [0.25, 0.1, 0.3])["verdict"] == "within seed noise"
    assert stats.compare_pair([0.1], [0.3])["verdict"] == "cannot tell (one seed)"
    assert stats.compare_pair([0.1, 0.1], [0.2, 0.2])["verdict"] == "differs"
    assert stats.compare_pair([0.1, 0.1], [0.1, 0.1])["verdict"] == "within seed noise"
    pairs = stats.pairwise({"lstm": [1.0, 2.0], "gru": [1.5, 2.5], "rnn": [9.0, 9.1]})
    assert [(p["a"], p["b"]) for p in pairs] == [("lstm", "gru"), ("lstm", "rnn"), ("gru", "rnn")]


def test_seed_noise_rule_without_scipy(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # import raises ImportError
    close = stats.compare_pair([0.1, 0.3, 0.2], [0.25, 0.1, 0.3])
    far = stats.compare_pair([0.10, 0.11, 0.12], [0.50, 0.51, 0.49])
    assert close["test"] == far["test"] == "2 standard errors"
    assert (close["verdict"], far["verdict"]) == ("within seed noise", "differs")


def test_sst2_reduced_study(tmp_path: Path, data_dir: Path) -> None:
    """A real task: two updates of each cell on SST-2 from the data directory."""
    out = tmp_path / "sst2"
    argv = ["--task", "sst2", "--cells", "gru", "--seeds", "1", "--steps", "2"]
    assert main(["compare", *argv, "--data-dir", str(data_dir), "--out", str(out)]) == 0
    cell = json.loads((out / "results.json").read_text())["tasks"]["sst2"]["cells"]["gru"]
    assert 0.0 <= cell["final_metric"]["mean"] <= 1.0
    labels = TASKS["sst2"].load(data_dir, 32).heldout[1]
    assert len(labels) == 512 and 0.3 < labels.mean() < 0.7  # both classes held out


def test_units_override_the_budget_and_epochs_count_updates(tmp_path: Path) -> None:
    from zoo.cli import build_parser
    from zoo.compare import make_plan
    from zoo.compare.tasks import steps_for_epochs

    args = build_parser().parse_args(["compare", "--units", "8", "--out", str(tmp_path)])
    plan = make_plan(args)
    assert plan["units"] == {task: {"lstm": 8, "gru": 8, "rnn": 8} for task in plan["tasks"]}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--units", "8", "--budget", "900"])
    assert steps_for_epochs(2, 20_000, 64) == 2 * 312
    assert steps_for_epochs(1, 10, 64) == 1
