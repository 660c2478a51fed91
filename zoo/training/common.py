"""What every training run shares: seeds, strategies, checkpoints, result files, the NaN guard.

A checkpoint is one `.npz` file written at each epoch end (to a temporary name, then
`os.replace`, so a kill leaves either the previous or the new file, never half of one). It holds
every model variable (weights and the dropout layers' seed-generator states), every optimizer
variable (iterations, moments) and a JSON `meta` entry: the index of the next epoch, the
per-epoch history and the run's settings. Resuming assigns them all back, so the resumed run
draws the same dropout masks and makes the same updates as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from zoo.checks import is_integer, positive_int

STRATEGIES = ("default", "mirrored", "multiworker")


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def check_finite(loss: float, epoch: int, step: int, checkpoint: str | os.PathLike | None) -> None:
    """Raise NonFiniteLossError naming the epoch (1-based), step and kept checkpoint (None: a
    run without checkpoints)."""
    if not math.isfinite(loss):
        if checkpoint is None:
            kept = "this run writes no checkpoint"
        elif Path(checkpoint).is_file():
            kept = f"the last good checkpoint {checkpoint} is kept"
        else:
            kept = f"no checkpoint was written yet ({checkpoint})"
        raise NonFiniteLossError(
            f"training loss is {loss} at epoch {epoch}, step {step}: stopping; {kept}. "
            "Lower the learning rate (--lr) or the clipping norm."
        )


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend, and make TensorFlow's ops deterministic; `seed`
    must be an integer in [0, 2**32), else a ValueError naming it."""
    import keras
    import tensorflow as tf

    if not is_integer(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected an integer in [0, 2**32), got {seed!r}")
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def split_cpu(replicas: int) -> None:
    """Split the CPU into `replicas` logical devices (before TensorFlow initializes), so
    MirroredStrategy can be tried on a machine without accelerators."""
    import tensorflow as tf

    if replicas < 1:
        raise ValueError(f"cpu_replicas: expected a positive integer, got {replicas!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
    )


def make_strategy(name: str):
    """`tf.distribute` strategy `name`: "default" (one device), "mirrored" (every local GPU,
    else every logical CPU; see `split_cpu`) or "multiworker" (`MultiWorkerMirroredStrategy`:
    every worker of the cluster in `$TF_CONFIG`, each with its local GPUs or its CPU)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy: expected one of {STRATEGIES}, got {name!r}")


def is_chief(distribution) -> bool:
    """Whether this process writes results and checkpoints: always, except on the workers of a
    multi-worker cluster other than the chief (task "chief", else "worker" 0)."""
    resolver = getattr(distribution, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def _arrays(variables: Iterable, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}/{index}": np.asarray(v.numpy()) for index, v in enumerate(variables)}


def save_checkpoint(path: str | os.PathLike, model, optimizer_variables: list, meta: dict) -> None:
    """Write model variables, optimizer variables and `meta` (JSON) to `path` atomically."""
    arrays = {**_arrays(model.variables, "model"), **_arrays(optimizer_variables, "optimizer")}
    replace_atomically(
        path,
        lambda temporary: np.savez(temporary, meta=np.asarray(json.dumps(meta)), **arrays),
        ".tmp.npz",
    )


def load_checkpoint(
    path: str | os.PathLike, model, optimizer_variables: list, settings: dict
) -> dict:
    """Assign the variables saved by `save_checkpoint` and return its `meta`.

    Raises ValueError naming `path` when the checkpoint's settings differ from `settings`
    (`epochs` may differ: a run can be extended) or its variables do not fit the model.
    """
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise _unreadable_checkpoint(path, error) from error
    with data:
        try:
            meta = json.loads(str(data["meta"]))
        except (KeyError, ValueError, zipfile.BadZipFile) as error:
            raise _unreadable_checkpoint(path, error) from error
        check_resume(meta, settings, path)
        for prefix, variables in (("model", model.variables), ("optimizer", optimizer_variables)):
            saved = sorted((k for k in data.files if k.startswith(prefix + "/")), key=_index)
            if len(saved) != len(variables):
                raise ValueError(
                    f"{path}: holds {len(saved)} {prefix} variables, the run has "
                    f"{len(variables)}; was it written by another model or config?"
                )
            for key, variable in zip(saved, variables):
                if tuple(data[key].shape) != tuple(variable.shape):
                    raise ValueError(
                        f"{path}: {prefix} variable {variable.path} has shape "
                        f"{tuple(variable.shape)}, the checkpoint {data[key].shape}"
                    )
                variable.assign(data[key])
    return meta


def _unreadable_checkpoint(path: str | os.PathLike, error: Exception) -> ValueError:
    return ValueError(
        f"{path}: expected a checkpoint written by zoo train (an .npz file with a meta entry); "
        f"cannot read it ({type(error).__name__}: {error})"
    )


def resume_point(
    checkpoint: str | os.PathLike | None,
    resume: bool,
    model,
    optimizer_variables: list,
    settings: dict,
    verbose: int,
) -> tuple[int, list[dict]]:
    """(index of the first epoch to run, history so far): the checkpoint's when `resume` and it
    exists (its variables assigned, see `load_checkpoint`), else (0, [])."""
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        meta = load_checkpoint(checkpoint, model, optimizer_variables, settings)
        if verbose:
            print(f"Resuming from {checkpoint} at epoch {meta['next_epoch'] + 1}")
        return meta["next_epoch"], meta["history"]
    if resume and verbose:
        print(f"No checkpoint at {checkpoint}: starting from epoch 1")
    return 0, []


def override_settings(settings: dict, epochs: int | None, lr: float | None) -> dict:
    """`settings` with `epochs` and `lr` replaced where given (checked: a positive integer, a
    positive learning rate); a ValueError naming the argument otherwise."""
    if epochs is not None:
        settings["epochs"] = positive_int("epochs", epochs)
    if lr is not None:
        if not lr > 0:
            raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
        settings["lr"] = float(lr)
    return settings


def _index(key: str) -> int:
    return int(key.rsplit("/", 1)[1])


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write `data` as indented JSON to `path` atomically (temporary file, then os.replace)."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (`replace_atomically`)."""
    replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def save_model(model, path: str | os.PathLike) -> None:
    """`model.save` as a `.keras` file at `path`, atomically (`replace_atomically`)."""
    replace_atomically(path, model.save, ".partial.keras")


def replace_atomically(
    path: str | os.PathLike, write: Callable[[Path], object], suffix: str = ".tmp"
) -> None:
    """Call `write(temporary)` on a temporary file next to `path` (its name plus `suffix`),
    then rename it to `path`: readers see the old file or the new one, never half of one.
    If anything fails the temporary file is removed and the error raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}{suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_run_outputs(
    out: str | os.PathLike | None,
    checkpoint: str | os.PathLike | None,
    log_dir: str | os.PathLike | None,
) -> None:
    """Before training: the results file `out`, the `checkpoint` file and the `log_dir`
    folder (each None or a path) can be written (`check_output_file`, `check_output_folder`)."""
    for argument, path in (("out", out), ("checkpoint", checkpoint)):
        if path is not None:
            check_output_file(path, argument)
    if log_dir is not None:
        check_output_folder(log_dir, "log_dir")


def check_output_file(path: str | os.PathLike, argument: str) -> Path:
    """`path` as a Path, if a file can be written there: not a folder, under a folder that
    exists or can be created, and writable. Else a ValueError naming `argument` and `path`.
    Nothing is created (check before a long run rather than fail after it)."""
    path = Path(path)
    if not path.name or path.is_dir():
        raise ValueError(f"{argument}: expected a file path, got the folder {str(path)!r}")
    check_output_folder(path.parent, argument)
    if path.exists():
        try:  # opened for appending, not written: the file is left as it was
            open(path, "ab").close()
        except OSError as error:
            raise ValueError(f"{argument}: {path} exists and is not writable ({error})") from None
    return path


def check_output_folder(path: str | os.PathLike, argument: str) -> Path:
    """`path` as a Path, if it is a writable folder or one that can be created (its nearest
    existing ancestor is a writable folder). Else a ValueError naming `argument` and `path`."""
    path = Path(path)
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{argument}: {path} cannot be a folder: {ancestor} is a file")
    try:  # a trial file, rather than os.access, which says yes to root everywhere
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        what = "is a folder" if ancestor == path else "would be created in"
        raise ValueError(
            f"{argument}: {path} {what} {ancestor}, which is not writable ({error})"
        ) from None
    return path


def check_resume(meta: dict, settings: dict, path: str | os.PathLike) -> None:
    """Raise ValueError when a checkpoint's settings differ from the run being resumed."""
    changed = {
        key: (meta["settings"].get(key), value)
        for key, value in settings.items()
        if key not in ("epochs",) and meta["settings"].get(key) != value
    }
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(f"{path}: --resume with different settings ({details})")
