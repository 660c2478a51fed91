"""Where datasets live, and how missing files are fetched: checksummed, atomic downloads.

One rule decides a dataset's directory (`resolve_data_dir`): the `data_dir` argument, which is
the dataset's own folder (the one holding its files); else `$ZOO_DATA_DIR/<name>`; else the
user cache `$XDG_CACHE_HOME/zoo/<name>` (default `~/.cache/zoo/<name>`).

Every download is written to a temporary name in the destination folder, its length checked
against Content-Length and its checksum against the known value, and only then renamed to its
final name, so an interrupted or corrupted transfer leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

CHUNK_BYTES = 1 << 20


class DataNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor obtainable; the message says where it looked."""


class ChecksumError(ValueError):
    """A file's digest differs from the expected one; the message names the file and both."""


class DownloadError(OSError):
    """A transfer failed or ended early; nothing was left at the destination."""


def cache_root() -> Path:
    """The user cache for datasets: `$XDG_CACHE_HOME/zoo`, else `~/.cache/zoo`."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "zoo"


def resolve_data_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds dataset `name`'s files.

    Args:
        name: dataset folder name, e.g. "ptb", "imdb", "sst".
        data_dir: the dataset's own folder; when None, `$ZOO_DATA_DIR/<name>` if that variable
            is set, else `cache_root() / name`.
    """
    if data_dir is not None:
        return _folder(Path(data_dir).expanduser(), "data_dir", name)
    root = os.environ.get("ZOO_DATA_DIR")
    if root:
        root_path = Path(root).expanduser()
        if root_path.exists() and not root_path.is_dir():
            raise ValueError(
                f"ZOO_DATA_DIR: {root_path} is a file; expected the folder holding {name}/"
            )
        return _folder(root_path / name, "ZOO_DATA_DIR", name)
    return cache_root() / name


# What shows that a folder holds a dataset itself (rather than the folders of several).
DATASET_MARKERS = {
    "ptb": ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    "imdb": ("train.jsonl.gz", "test.jsonl.gz", "unsup.jsonl.gz", "aclImdb"),
    "sst": ("trees", "SST-2"),
}


def dataset_folder(data_dir: str | os.PathLike | None, name: str) -> Path | None:
    """The folder of dataset `name` ("ptb", "imdb", "sst") for a `--data-dir` that may name it
    or the folder above it (`ptb/`, `imdb/`, `sst/`): `data_dir/<name>` when that exists;
    `data_dir` itself when it is called `<name>` or holds the dataset's files; else
    `data_dir/<name>`, where a download then puts them. None stays None; a file is refused."""
    if data_dir is None:
        return None
    data_dir = _folder(Path(data_dir).expanduser(), "data_dir", name)
    if (data_dir / name).is_dir():
        return data_dir / name
    if data_dir.name == name or any((data_dir / m).exists() for m in DATASET_MARKERS[name]):
        return data_dir
    return data_dir / name


def _folder(path: Path, argument: str, name: str) -> Path:
    """`path`, unless it is a file (the dataset's folder is expected there)."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{argument}: {path} is a file; expected the folder of the {name} data")
    return path


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file's bytes with `algorithm` ("md5", "sha256", ...)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: str | os.PathLike, algorithm: str, expected: str, name: str = "") -> None:
    """Raise `ChecksumError` naming the file and both digests unless they agree.

    Args:
        path: file to check.
        algorithm: "md5" or "sha256".
        expected: expected hex digest.
        name: how to name the file in the message (default: `path`).
    """
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{name or path}: {algorithm} checksum mismatch: expected {expected.lower()}, "
            f"got {actual}"
        )


def download_file(
    url: str,
    destination: str | os.PathLike,
    algorithm: str,
    expected: str,
    timeout_s: float = 60.0,
) -> Path:
    """Download `url` to `destination`, verified and atomic.

    The bytes go to a temporary file beside `destination`; the transfer must deliver exactly
    Content-Length bytes (when the server sends one) and match the `algorithm` digest
    `expected`. Only then is the file renamed to `destination`. On any failure the temporary
    file is removed, and so are the folders this call created; nothing exists at `destination`.

    Raises:
        DownloadError: the connection failed, or the server closed before the announced length.
        ChecksumError: the downloaded bytes have another digest (names the URL and both digests).
    """
    if algorithm not in hashlib.algorithms_available:
        raise ValueError(
            f"algorithm: expected a hashlib algorithm such as 'md5' or 'sha256', got {algorithm!r}"
        )
    destination = Path(destination)
    created = _missing_folders(destination.parent)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            received, announced = _copy_response(url, stream, timeout_s)
        if announced is not None and received != announced:
            raise DownloadError(
                f"download of {url} ended early: got {received} of {announced} bytes"
            )
        verify_checksum(temp_name, algorithm, expected, name=f"{destination.name} (from {url})")
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        for folder in created:  # deepest first: the folders this call made, if still empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return destination


def _missing_folders(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _copy_response(url: str, stream: BinaryIO, timeout_s: float) -> tuple[int, int | None]:
    """Copy the body at `url` into `stream`; return (bytes received, Content-Length or None)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            announced = int(length) if length is not None else None
            received = 0
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                stream.write(chunk)
                received += len(chunk)
    except http.client.IncompleteRead as error:
        raise DownloadError(f"download of {url} ended early: {error!r}") from error
    except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError, timeouts
        raise DownloadError(f"download of {url} failed: {error}") from error
    return received, announced


def extract_members(
    archive: str | os.PathLike,
    destination_dir: str | os.PathLike,
    top_level: str,
    keep: Callable[[PurePosixPath], bool],
) -> Path:
    """Extract the archive's folder `top_level` (files for which `keep(path)` holds), atomically.

    Files are written under a temporary folder in `destination_dir`, which is renamed to
    `destination_dir / top_level` once complete. Supports .zip and tar (any compression).
    Member names that are absolute or contain ".." are refused.

    Returns:
        `destination_dir / top_level`.
    """
    destination_dir = Path(destination_dir)
    final = destination_dir / top_level
    staging = Path(tempfile.mkdtemp(dir=destination_dir, prefix=f".{top_level}.", suffix=".part"))
    try:
        count = 0
        for member_name, read in _archive_files(Path(archive)):
            path = PurePosixPath(member_name)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"{archive}: refusing unsafe member name {member_name!r}")
            if not path.parts or path.parts[0] != top_level or not keep(path):
                continue
            target = staging.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read())
            count += 1
        if count == 0:
            raise ValueError(f"{archive}: no files under {top_level}/ in the archive")
        os.replace(staging / top_level, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _archive_files(archive: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(member name, reader of its bytes) for each regular file of a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info: zipped.read(info)
        return
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.isfile():
                yield member.name, lambda member=member: tar.extractfile(member).read()


def missing_data_message(
    dataset: str,
    name: str,
    looked_in: Iterable[str | os.PathLike],
    how_to_supply: str,
    attempts: Iterable[str] = (),
) -> str:
    """The one error text for absent data: where it looked, what it tried, how to supply it.

    Args:
        dataset: display name, e.g. "PTB".
        name: the dataset's folder name under `$ZOO_DATA_DIR`, e.g. "ptb".
        looked_in: paths checked.
        how_to_supply: which files to put where.
        attempts: one line per source tried and why it failed.
    """
    lines = [f"{dataset} data not found.", "Looked in:"]
    lines += [f"  - {place}" for place in looked_in]
    attempts = list(attempts)
    if attempts:
        lines += ["Tried:"] + [f"  - {attempt}" for attempt in attempts]
    lines += [
        f"To supply it: {how_to_supply}",
        f"Or pass data_dir=<the dataset's folder>, or set ZOO_DATA_DIR to a folder with {name}/.",
    ]
    return "\n".join(lines)


def skipped_download(url: str) -> str:
    """The `attempts` line for a download that `download=False` forbade."""
    return f"download from {url}: skipped (download=False; pass download=True to allow it)"
