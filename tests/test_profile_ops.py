"""`benchmarks/profile_ops.py`: reading a TensorFlow profiler trace into per-op times."""

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
profile_ops = importlib.import_module("profile_ops")


def test_a_traced_matmul_is_found_with_its_calls(tmp_path):
    import tensorflow as tf

    matrix = tf.ones((64, 64))
    product = tf.function(lambda: tf.matmul(matrix, matrix))
    product()
    tf.profiler.experimental.start(str(tmp_path))
    for _ in range(4):
        product()
    tf.profiler.experimental.stop()
    ops = profile_ops.op_times(tmp_path, steps=4)
    # name:type; with oneDNN on (TensorFlow's default on AVX-512 CPUs) the type is _MklMatMul
    matmuls = [op for op in ops if op["op"].rsplit(":", 1)[-1] in {"MatMul", "_MklMatMul"}]
    assert matmuls, [op["op"] for op in ops][:20]
    assert sum(op["calls_per_step"] for op in matmuls) == pytest.approx(1.0)
    assert all(op["ms_per_step"] >= 0 for op in ops)
    times = [op["ms_per_step"] for op in ops]
    assert times == sorted(times, reverse=True)


def test_no_trace_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no profiler trace"):
        profile_ops.op_times(tmp_path, steps=1)
