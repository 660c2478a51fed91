"""Where a step of a TensorFlow contender of `zoo bench` goes, op by op, from a profiler trace.

Builds the bench's language model for one zoo or Keras contender, runs a few warm-up steps,
traces `--steps` training (or inference) steps with `tf.profiler`, and reads the trace itself
(the XSpace protobuf that ships with TensorFlow; no TensorBoard plugin needed). It prints the
ops that took the most time, in milliseconds per step, each on its thread: TensorFlow's
executor threads (`tf_Compute`) run the graph's ops, the XLA loops' kernels run on the
intra-op threads (`tf_numa_..._Eigen`), where the names are those of XLA's fusions and dots
(for instance `MatMul.6`, a loop step's matmul). Times overlap: one op can contain others (an
executor `Process` event holds the ops it ran), and the threads run at the same time, so the
lines do not add up to the step; read them as where each thread spends its time. The profiler
slows the step down.

Usage: `python3 benchmarks/profile_ops.py [--contender zoo-lstm] [--config small]
[--mode train] [--steps 20] [--threads 2] [--top 40] [--out FILE.json]`.
"""

import argparse
import collections
import os
import tempfile
from pathlib import Path

WARM_UP_STEPS = 5


def op_times(directory: Path, steps: int) -> list[dict[str, object]]:
    """Per (thread, event name) in the trace under `directory`: milliseconds and calls per step,
    longest first."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    traces = sorted(directory.rglob("*.xplane.pb"))
    if not traces:
        raise SystemExit(f"no profiler trace (*.xplane.pb) was written under {directory}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(traces[-1].read_bytes())
    total = collections.Counter()
    calls = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                key = (line.name, names.get(event.metadata_id, "?"))
                total[key] += event.duration_ps / 1e9 / steps
                calls[key] += 1
    return [
        {"thread": thread, "op": op, "ms_per_step": ms, "calls_per_step": calls[thread, op] / steps}
        for (thread, op), ms in total.most_common()
    ]


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo import bench
    from zoo.training.common import write_json

    keras_contenders = [c.name for c in bench.CONTENDERS if c.is_keras]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", choices=keras_contenders, default="zoo-lstm")
    parser.add_argument("--config", choices=tuple(bench.CONFIGS), default="small")
    parser.add_argument("--mode", choices=("train", "infer"), default="train")
    parser.add_argument("--steps", type=bench.positive_int, default=20)
    parser.add_argument("--threads", type=bench.positive_int, default=2)
    parser.add_argument("--top", type=bench.positive_int, default=40)
    parser.add_argument("--out", type=Path, help="also write every op's times as JSON")
    args = parser.parse_args()
    entry = bench.Entry(bench.CONTENDERS_BY_NAME[args.contender], "auto")
    threads = bench.pin_threads(args.threads, [entry])
    runner = bench.build_runner(entry, bench.CONFIGS[args.config], fold=False)
    step = runner.train_step if args.mode == "train" else runner.infer_step
    for _ in range(WARM_UP_STEPS):
        step()
    with tempfile.TemporaryDirectory() as directory:
        bench.tensorflow_profiler(step, args.steps)(Path(directory))
        ops = op_times(Path(directory), args.steps)
    print(
        f"{args.contender} {args.mode}, config {args.config}, threads {threads}: ms per step "
        f"(profiled, {args.steps} steps), the {args.top} longest (thread, op)"
    )
    for op in ops[: args.top]:
        print(
            f"{op['ms_per_step']:9.3f} ms  x{op['calls_per_step']:6.1f}  "
            f"{op['thread'][:30]:30} {op['op'][:90]}"
        )
    if args.out:
        write_json(args.out, {"arguments": vars(args) | {"out": str(args.out)}, "ops": ops})


if __name__ == "__main__":
    main()
