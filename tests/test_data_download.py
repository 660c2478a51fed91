"""Data directory resolution, and downloads against a local HTTP server started by the tests."""

from __future__ import annotations

import hashlib
import http.server
import io
import sys
import tarfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from zoo.data import imdb, ptb, sst2
from zoo.data.download import (
    ChecksumError,
    DataNotFoundError,
    DownloadError,
    download_file,
    extract_members,
    resolve_data_dir,
)

PAYLOAD = b"0123456789" * 5000


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.files` (path -> bytes); paths under /short/ stop halfway through."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        name = self.path.removeprefix("/short")
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.startswith("/short/"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1; set `server.files` and use `server.url`."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files = {"/payload.bin": PAYLOAD}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_resolve_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "root"))
    assert resolve_data_dir("ptb", tmp_path / "mine") == tmp_path / "mine"
    assert resolve_data_dir("ptb") == tmp_path / "root" / "ptb"
    monkeypatch.delenv("ZOO_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir("imdb") == tmp_path / "cache" / "zoo" / "imdb"


def test_download_success(server, tmp_path):
    target = tmp_path / "sub" / "payload.bin"
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    assert download_file(f"{server.url}/payload.bin", target, "md5", md5) == target
    assert target.read_bytes() == PAYLOAD
    assert _names_in(target.parent) == ["payload.bin"]


def test_download_checksum_mismatch_names_file_and_both_digests(server, tmp_path):
    target = tmp_path / "payload.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as caught:
        download_file(f"{server.url}/payload.bin", target, "sha256", wrong)
    message = str(caught.value)
    assert "payload.bin" in message
    assert wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert _names_in(tmp_path) == []


def test_interrupted_download_leaves_nothing(server, tmp_path):
    target = tmp_path / "payload.bin"
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    with pytest.raises(DownloadError, match="ended early"):
        download_file(f"{server.url}/short/payload.bin", target, "md5", md5)
    assert _names_in(tmp_path) == []
    # not even the folders it made for the file
    with pytest.raises(DownloadError, match="ended early"):
        download_file(f"{server.url}/short/payload.bin", tmp_path / "a" / "b" / "p.bin", "md5", md5)
    assert _names_in(tmp_path) == []


def test_missing_url_is_a_download_error(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download_file(f"{server.url}/absent.bin", tmp_path / "absent.bin", "md5", "0" * 32)
    assert _names_in(tmp_path) == []


def test_ptb_downloads_missing_files(server, tmp_path, monkeypatch):
    texts = {
        "train": " a b c \n b c \n",
        "valid": " c b \n",
        "test": " a \n",
    }
    files = {}
    for split, text in texts.items():
        name = ptb.FILES[split][0]
        body = text.encode()
        server.files[f"/data/{name}"] = body
        files[split] = (name, hashlib.md5(body).hexdigest())
    monkeypatch.setattr(ptb, "FILES", files)
    data = ptb.load(tmp_path, download=True, base_url=f"{server.url}/data/")
    assert len(data.train) == 7 and len(data.valid) == 3 and len(data.test) == 2
    assert _names_in(tmp_path) == sorted(name for name, _ in files.values())


def test_ptb_checksum_mismatch_on_download(server, tmp_path):
    for name, _ in ptb.FILES.values():
        server.files[f"/data/{name}"] = b" not the real file \n"
    with pytest.raises(ChecksumError, match="ptb.train.txt"):
        ptb.load(tmp_path, download=True, base_url=f"{server.url}/data")
    assert _names_in(tmp_path) == []


def test_ptb_unreachable_source_says_where_it_looked(server, tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        ptb.load(tmp_path, download=True, base_url=f"{server.url}/nowhere/")
    message = str(caught.value)
    assert str(tmp_path) in message and "ptb.train.txt" in message and "ZOO_DATA_DIR" in message


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_imdb_downloads_and_extracts_the_stanford_archive(server, tmp_path, monkeypatch):
    archive = _tar_gz(
        {
            "aclImdb/README": b"readme",
            "aclImdb/train/neg/10_2.txt": b"bad<br />film",
            "aclImdb/train/neg/2_1.txt": b"awful",
            "aclImdb/train/pos/0_9.txt": b"great",
            "aclImdb/train/unsup/0_0.txt": b"unlabelled",
            "aclImdb/test/neg/0_3.txt": b"dull",
            "aclImdb/test/pos/0_8.txt": b"fine",
        }
    )
    server.files["/aclImdb_v1.tar.gz"] = archive
    monkeypatch.setattr(imdb, "ACLIMDB_MD5", hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # TFDS absent
    texts, labels = imdb.load_texts("train", tmp_path, url=f"{server.url}/aclImdb_v1.tar.gz")
    assert texts == ["awful", "bad<br />film", "great"]
    assert labels.tolist() == [0, 0, 1]
    assert _names_in(tmp_path) == ["aclImdb"]
    assert not (tmp_path / "aclImdb" / "README").exists()
    assert imdb.load_unlabelled_texts(tmp_path, download=False) == ["unlabelled"]


def test_imdb_unlabelled_reviews_download_the_archive_when_absent(server, tmp_path, monkeypatch):
    archive = _tar_gz({"aclImdb/train/unsup/1_0.txt": b"one", "aclImdb/train/unsup/0_0.txt": b"0"})
    server.files["/aclImdb_v1.tar.gz"] = archive
    monkeypatch.setattr(imdb, "ACLIMDB_MD5", hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # TFDS absent
    texts = imdb.load_unlabelled_texts(tmp_path, url=f"{server.url}/aclImdb_v1.tar.gz")
    assert texts == ["0", "one"] and _names_in(tmp_path) == ["aclImdb"]


def test_extract_members_refuses_unsafe_names(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("trees/../../escape.txt", "x")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="unsafe"):
        extract_members(archive, tmp_path / "out", "trees", lambda path: True)
    assert _names_in(tmp_path / "out") == []


def test_extract_members_keeps_only_selected_files(tmp_path):
    archive = tmp_path / "sst.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("SST-2/train.tsv", "sentence\tlabel\n")
        zipped.writestr("SST-2/original/readme.txt", "x")
    (tmp_path / "out").mkdir()
    root = extract_members(
        archive, tmp_path / "out", "SST-2", lambda path: path == PurePosixPath("SST-2/train.tsv")
    )
    assert _names_in(root) == ["train.tsv"]
    assert _names_in(tmp_path / "out") == ["SST-2"]


def test_sst_downloads_and_extracts_the_trees_zip(server, tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("trees/train.txt", "(4 (2 Good) (3 fun))\n(1 (2 Bad) (2 .))\n")
        zipped.writestr("trees/dev.txt", "(3 (2 Fine) (2 .))\n")
        zipped.writestr("trees/test.txt", "(0 (2 Dull) (2 .))\n")
    body = buffer.getvalue()
    server.files["/trainDevTestTrees_PTB.zip"] = body
    url = f"{server.url}/trainDevTestTrees_PTB.zip"
    digest = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(sst2.ARCHIVES, "trees", ("trees", url, "sha256", digest))
    texts, labels = sst2.load_texts("train", tmp_path)
    assert texts == ["Good fun", "Bad ."] and labels.tolist() == [1, 0]
    assert _names_in(tmp_path) == ["trees"]
    assert _names_in(tmp_path / "trees") == ["dev.txt", "test.txt", "train.txt"]
