"""PTB: reading, vocabulary, Zaremba batching arithmetic, and the real files' exact counts."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data import ptb
from zoo.data.download import DataNotFoundError


def _write_ptb(folder, train=" b a b \n c b \n", valid=" a c \n", test=" b \n"):
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / ptb.FILES[split][0]).write_text(text)
    return folder


def test_read_words_appends_eos_per_line(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(" the cat \n sat \n")
    assert ptb.read_words(path) == ["the", "cat", "<eos>", "sat", "<eos>"]


def test_vocab_orders_by_count_then_alphabetically():
    words = ["b", "c", "a", "b", "c", "d", "b"]
    assert ptb.build_vocab(words) == ["b", "c", "a", "d"]


def test_load_tiny_files(tmp_path):
    data = ptb.load(_write_ptb(tmp_path), download=False)
    # train words: b a b <eos> c b <eos> -> counts b:3, <eos>:2, a:1, c:1
    assert data.vocab == ["b", "<eos>", "a", "c"]
    assert data.train.dtype == np.int32
    assert data.train.tolist() == [0, 2, 0, 1, 3, 0, 1]
    assert data.valid.tolist() == [2, 3, 1]
    assert data.test.tolist() == [0, 1]
    assert data.word_to_id["c"] == 3


def test_word_missing_from_training_vocab_names_file(tmp_path):
    _write_ptb(tmp_path, valid=" zebra \n")
    with pytest.raises(ValueError, match=r"ptb\.valid\.txt.*'zebra'"):
        ptb.load(tmp_path, download=False)


def test_missing_files_without_download_say_where_and_how(tmp_path):
    with pytest.raises(DataNotFoundError) as caught:
        ptb.load(tmp_path / "nothing", download=False)
    message = str(caught.value)
    assert str(tmp_path / "nothing") in message
    assert "ptb.train.txt" in message and "download=True" in message


@pytest.mark.parametrize(
    ("length", "batch_size", "num_steps"), [(1000, 4, 7), (1001, 5, 10), (50, 3, 15), (37, 1, 36)]
)
def test_batches_shift_targets_and_keep_every_token(length, batch_size, num_steps):
    ids = np.arange(length, dtype=np.int64)  # token value == its stream position
    inputs, targets = ptb.batches(ids, batch_size, num_steps)
    batch_len = length // batch_size
    num_batches = (batch_len - 1) // num_steps
    assert inputs.shape == targets.shape == (num_batches, batch_size, num_steps)
    assert inputs.dtype == np.int32
    # every target is the next input of the stream, inside and across windows
    np.testing.assert_array_equal(targets, inputs + 1)
    # rows are contiguous segments of the stream, carried on from one batch to the next
    rows = inputs.transpose(1, 0, 2).reshape(batch_size, num_batches * num_steps)
    np.testing.assert_array_equal(
        rows, ids[: batch_size * batch_len].reshape(batch_size, -1)[:, : rows.shape[1]]
    )
    np.testing.assert_array_equal(inputs[1:, :, 0], inputs[:-1, :, -1] + 1)
    # nothing dropped but the documented remainder: the stream tail, and each row's last columns
    used = set(inputs.ravel()) | set(targets.ravel())
    expected = {
        row * batch_len + column
        for row in range(batch_size)
        for column in range(num_batches * num_steps + 1)
    }
    assert used == expected


def test_batches_reject_too_short_stream_and_bad_arguments():
    with pytest.raises(ValueError, match="too few"):
        ptb.batches(np.arange(10), batch_size=5, num_steps=2)
    with pytest.raises(ValueError, match="num_steps"):
        ptb.batches(np.arange(100), batch_size=2, num_steps=0)
    with pytest.raises(ValueError, match="ids"):
        ptb.batches(np.zeros((4, 4), dtype=np.int32), batch_size=2, num_steps=1)


def test_dataset_yields_the_numpy_batches_in_order():
    ids = np.arange(500)
    inputs, targets = ptb.batches(ids, 4, 6)
    elements = list(ptb.dataset(ids, 4, 6).as_numpy_iterator())
    assert len(elements) == len(inputs)
    for index, (x, y) in enumerate(elements):
        assert x.shape == (4, 6) and x.dtype == np.int32
        np.testing.assert_array_equal(x, inputs[index])
        np.testing.assert_array_equal(y, targets[index])


def test_real_ptb_counts_and_vocab(data_dir):
    folder = data_dir / "ptb"
    if not folder.is_dir():
        pytest.skip(f"PTB not found at {folder}")
    data = ptb.load(folder, download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (929_589, 73_760, 82_430)
    assert len(data.vocab) == 10_000 and len(set(data.vocab)) == 10_000
    assert {"<eos>", "<unk>", "N"} <= set(data.vocab)
    inputs, _ = ptb.batches(data.train, 20, 35)
    assert inputs.shape == (1327, 20, 35)  # (929589 // 20 - 1) // 35


def test_unreadable_or_empty_split_files_are_named(tmp_path):
    binary, empty = tmp_path / "binary.txt", tmp_path / "empty.txt"
    binary.write_bytes(b"\xcc\xff not utf-8")
    empty.write_text("")
    with pytest.raises(ValueError, match=rf"{binary}: expected UTF-8 text"):
        ptb.read_words(binary)
    with pytest.raises(ValueError, match=rf"{empty}: expected text, .* the file is empty"):
        ptb.read_words(empty)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path, monkeypatch):
    a_file = tmp_path / "ptb.train.txt"
    a_file.write_text("a b c\n")
    with pytest.raises(ValueError, match=rf"data_dir: {a_file} is a file; expected the folder"):
        ptb.load(a_file)
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    (tmp_path / "ptb").write_text("")
    with pytest.raises(ValueError, match="ZOO_DATA_DIR: .* is a file; expected the folder of"):
        ptb.load()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ptb", "ptb.train.txt"]
