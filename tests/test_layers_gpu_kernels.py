"""No op without a GPU kernel: the TensorFlow graph of a training step through the zoo layers'
fused path and zoo's loss, checked op by op against TensorFlow's kernel registry.

There is no GPU here, and the GPU machine lent to this project has no TensorFlow, so the check
is static: an op in an XLA-compiled function (the fused loops, the loss) needs an XLA kernel for
GPUs (`XLA_GPU_JIT`), any other op a GPU kernel or a device-independent one (`DEFAULT`). The
TensorFlow wheel for Linux is built with CUDA and registers its GPU kernels even without a GPU.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import kernels

import zoo.layers
import zoo.losses

pytestmark = pytest.mark.skipif(
    not tf.test.is_built_with_cuda(), reason="this TensorFlow build registers no GPU kernels"
)


def kernel_devices(op: str) -> set[str]:
    return {kernel.device_type for kernel in kernels.get_registered_kernels_for_op(op).kernel}


def called_functions(node, function_names: set[str]) -> set[str]:
    """The library functions a node calls: as its op, or through function-valued attributes
    (a while loop's cond and body, a PartitionedCall's f)."""
    called = {node.op} & function_names
    for value in node.attr.values():
        called |= {value.func.name} & function_names
        called |= {f.name for f in value.list.func} & function_names
    return called


def ops_without_gpu_kernel(graph_def) -> dict[str, set[str]]:
    """{op type: where}: the ops of `graph_def` and its function library that would have no
    kernel on a GPU, "xla" for those in XLA-compiled functions, "graph" for the others."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    compiled = {name for name, f in functions.items() if f.attr["_XlaMustCompile"].b}
    pending = list(compiled)
    while pending:  # what an XLA-compiled function calls is compiled with it
        for node in functions[pending.pop()].node_def:
            for name in called_functions(node, set(functions)) - compiled:
                compiled.add(name)
                pending.append(name)
    bodies = [("graph", graph_def.node)]
    bodies += [
        ("xla" if name in compiled else "graph", f.node_def) for name, f in functions.items()
    ]
    missing: dict[str, set[str]] = {}
    for where, nodes in bodies:
        needed = {"XLA_GPU_JIT"} if where == "xla" else {"GPU", "DEFAULT"}
        for node in nodes:
            if node.op not in functions and not kernel_devices(node.op) & needed:
                missing.setdefault(node.op, set()).add(where)
    return missing


def training_step_graph(layers: list, masked: bool):
    """GraphDef of loss and gradients for Embedding -> `layers` -> Dense(20), zoo's loss."""
    model = keras.Sequential(
        [
            keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(20, 8, mask_zero=masked),
            *layers,
            keras.layers.Dense(20),
        ]
    )
    loss_function = zoo.losses.SparseSoftmaxCrossEntropy()

    @tf.function
    def step(tokens, labels):
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(tokens, training=True))
        return loss, tape.gradient(loss, model.trainable_variables)

    tokens = tf.constant(np.random.RandomState(0).randint(1, 20, (3, 5)), tf.int32)
    return step.get_concrete_function(tokens, tokens).graph.as_graph_def()


@pytest.mark.parametrize("masked", [False, True])
def test_fused_training_step_has_gpu_kernels_for_every_op(masked):
    graph_def = training_step_graph(
        [
            zoo.layers.LSTM(8, return_sequences=True),
            zoo.layers.LSTM(8, return_sequences=True, recurrent_dropout=0.25, go_backwards=True),
            zoo.layers.GRU(8, return_sequences=True),
            zoo.layers.GRU(8, return_sequences=True, reset_after=False, recurrent_dropout=0.25),
        ],
        masked,
    )
    compiled = [f for f in graph_def.library.function if f.attr["_XlaMustCompile"].b]
    compiled_ops = {node.op for f in compiled for node in f.node_def}
    # The fused loops were traced: forward and backward of LSTM and GRU, and the loss.
    assert len(compiled) >= 5 and {"StatelessWhile", "MatMul"} <= compiled_ops
    assert ops_without_gpu_kernel(graph_def) == {}


def test_check_finds_an_op_without_gpu_kernel():
    @tf.function
    def uses_a_cpu_only_op(text):
        return tf.strings.length(text)

    graph_def = uses_a_cpu_only_op.get_concrete_function(tf.constant(["ab"])).graph.as_graph_def()
    assert ops_without_gpu_kernel(graph_def) == {"StringLength": {"graph"}}
