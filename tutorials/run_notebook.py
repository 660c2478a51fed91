"""Execute a tutorial notebook, as CI does (smoke) or for the committed outputs (full).

    python tutorials/run_notebook.py tutorials/03_ptb_language_model.ipynb --smoke
    python tutorials/run_notebook.py tutorials/03_ptb_language_model.ipynb --inplace

Papermill style without papermill: the code cell tagged "parameters" is followed by an
injected cell (tagged "injected-parameters") that sets `SMOKE` and, when given, `DATA_DIR`.
The notebook runs with the tutorials folder as its working directory. `--inplace` writes the
executed notebook back (to a temporary name, then renamed), without the injected cell, so the
committed file shows the parameters a reader sees; otherwise nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def parameters_index(notebook: nbformat.NotebookNode, path: Path) -> int:
    """The index of the code cell tagged "parameters"; a ValueError naming `path` if none."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.metadata.get("tags", []):
            return index
    raise ValueError(f"{path}: no code cell tagged {PARAMETERS_TAG!r}")


def execute(
    path: str | os.PathLike,
    smoke: bool,
    data_dir: str | os.PathLike | None = None,
    timeout: int = 3600,
) -> tuple[nbformat.NotebookNode, float]:
    """Run the notebook at `path` top to bottom; (executed notebook, seconds).

    Raises nbclient's CellExecutionError (with the failing cell's traceback) on any error.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    index = parameters_index(notebook, path)
    lines = [f"SMOKE = {smoke!r}"]
    if data_dir is not None:
        lines.append(f"DATA_DIR = {str(Path(data_dir).resolve())!r}")
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = [INJECTED_TAG]
    notebook.cells.insert(index + 1, injected)
    # the kernel imports this checkout's zoo (not another installed copy), with TensorFlow quiet
    root = str(Path(__file__).resolve().parents[1])
    path_entries = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    kernel_env = {
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **os.environ,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(path_entries)),
    }
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    started = time.perf_counter()
    client.execute(env=kernel_env)
    seconds = time.perf_counter() - started
    notebook.cells.pop(index + 1)
    return notebook, seconds


def write_atomically(notebook: nbformat.NotebookNode, path: Path) -> None:
    staging = path.with_name(path.name + ".tmp")
    nbformat.write(notebook, staging)
    staging.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--smoke", action="store_true", help="SMOKE = True (what CI runs)")
    parser.add_argument("--data-dir", type=Path, help="DATA_DIR (default: the notebook's)")
    parser.add_argument("--inplace", action="store_true", help="write the outputs back")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"run_notebook: {args.notebook}: no such notebook", file=sys.stderr)
        return 1
    notebook, seconds = execute(args.notebook, args.smoke, args.data_dir)
    if args.inplace:
        write_atomically(notebook, args.notebook)
    print(f"{args.notebook}: executed in {seconds:.0f} s ({'smoke' if args.smoke else 'full'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
