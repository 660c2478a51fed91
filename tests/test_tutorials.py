"""Every tutorial notebook runs top to bottom in smoke mode, and the committed files are
complete: executed (outputs of a full run), with a parameters cell, small."""

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from conftest import SHARED_DATA

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
NEEDS_DATA = {"03_ptb_language_model", "04_sentiment"}
MAX_BYTES = 1_500_000


def load_runner():
    spec = importlib.util.spec_from_file_location("run_notebook", TUTORIALS / "run_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_six_tutorials_are_there():
    names = [path.stem for path in NOTEBOOKS]
    assert names == [
        "01_cells_from_scratch",
        "02_linear_carousel",
        "03_ptb_language_model",
        "04_sentiment",
        "05_fixed_budget_convergence",
        "06_tensorboard_and_export",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_is_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    parameters = notebook.cells[load_runner().parameters_index(notebook, path)]
    assert "SMOKE = False" in parameters.source, "committed outputs must come from a full run"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "not executed top to bottom"
    assert not any(output.get("output_type") == "error" for cell in code for output in cell.outputs)
    counts = [cell.execution_count for cell in code]
    assert counts == sorted(counts), "cells were not run in order"
    assert path.stat().st_size < MAX_BYTES
    assert notebook.cells[0].cell_type == "markdown", "opens with what the reader will learn"
    assert notebook.cells[-1].cell_type == "markdown", "closes with what we found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_in_smoke_mode(path):
    data_dir = None
    if path.stem in NEEDS_DATA:
        data_dir = Path(os.environ.get("ZOO_DATA_DIR", SHARED_DATA))
        if not data_dir.is_dir():
            pytest.skip(f"real data not found at {data_dir} (set ZOO_DATA_DIR)")
    notebook, _ = load_runner().execute(path, smoke=True, data_dir=data_dir, timeout=600)
    assert all(
        cell.execution_count is not None for cell in notebook.cells if cell.cell_type == "code"
    )


def test_a_notebook_without_a_parameters_cell_is_refused_by_name(tmp_path):
    path = tmp_path / "untagged.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("SMOKE = False")]), path
    )
    with pytest.raises(ValueError, match=r"untagged\.ipynb: no code cell tagged 'parameters'"):
        load_runner().execute(path, smoke=True)
