"""The zoo layers against Keras's built-in layers on Keras's JAX or PyTorch backend, on a GPU
when there is one (where Keras's layers run on cuDNN), else on the CPU.

For each case (LSTM; LSTM on trailing-padded sequences behind a Masking layer; GRU in the
cuDNN form, reset_after=True; the original GRU form), two stacked layers of each kind get the
same initial weights, then:

- forward: max |zoo - Keras| of the outputs;
- trained: max |zoo - Keras| of the weights after three SGD steps (lr 0.5, mse), which
  differ unless the gradients agree, relative to the largest change the steps made to
  Keras's weights (`update`);
- ms per forward pass and per training step (median of `--rounds` rounds of 10 calls,
  after warm-up), zoo's layers and Keras's side by side.

The Keras reference asks for cuDNN (`use_cudnn=True`) when a GPU is present and records
what it got (`reference`): "cudnn"; "scan" where Keras accepts `use_cudnn=True` but runs its
own `lax.scan` (the GRU on JAX: `jax.experimental.rnn` has no GRU); or "generic", Keras's
generic loop (no GPU, a mask, or the original GRU form, which cuDNN lacks).

`--precision highest` turns off TF32 in matrix products (JAX's default matmul precision,
PyTorch's cuDNN and CUDA matmul flags) so that both sides compute in float32; `default` keeps
each framework's default.

Usage: `KERAS_BACKEND=jax python3 benchmarks/accelerator_equivalence.py [--precision highest]
[--batch 20] [--steps 20] [--units 200] [--rounds 5] [--tolerance 1e-4] [--out FILE.json]`.
Exits 1 when `forward` or the relative `trained` exceeds `--tolerance`.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

import zoo.layers
from zoo.training.common import write_json

CASES = {  # name: (Keras class, zoo class, arguments, masked)
    "lstm": (keras.layers.LSTM, zoo.layers.LSTM, {}, False),
    "lstm_masked": (keras.layers.LSTM, zoo.layers.LSTM, {}, True),
    "gru": (keras.layers.GRU, zoo.layers.GRU, {}, False),
    "gru_reset_before": (keras.layers.GRU, zoo.layers.GRU, {"reset_after": False}, False),
}
# The layers that Keras 3.15 runs on cuDNN when asked, per backend (keras/src/backend/*/rnn.py).
CUDNN_LAYERS = {"jax": {keras.layers.LSTM}, "torch": {keras.layers.LSTM, keras.layers.GRU}}
SGD_STEPS = 3


def set_precision(precision: str) -> None:
    """Float32 matrix products without TF32 (`highest`), or the framework's default."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update(
            "jax_default_matmul_precision", None if precision == "default" else precision
        )
    elif backend == "torch":
        import torch

        exact = precision == "highest"
        torch.backends.cuda.matmul.allow_tf32 = not exact and torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = not exact


def accelerator() -> str:
    """The device Keras's backend computes on, in words."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "cpu"


def has_gpu() -> bool:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def build(layer_class, arguments: dict, shape: tuple[int, int, int], units: int, masked: bool):
    """Two stacked layers, compiled with SGD(0.5) and mse, on (batch, steps, features); behind
    a Masking(0.0) layer when `masked`."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input(shape[1:], batch_size=shape[0]),
            *([keras.layers.Masking(0.0)] if masked else []),
            layer_class(units, return_sequences=True, **arguments),
            layer_class(units, return_sequences=True, **arguments),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    return model


def keras_reference(keras_class, arguments, shape, units, masked):
    """(model, "cudnn", "scan" or "generic"): Keras's layers, on cuDNN where Keras offers it."""
    if has_gpu():
        try:
            model = build(keras_class, {**arguments, "use_cudnn": True}, shape, units, masked)
            model.predict(np.zeros(shape, "float32"), verbose=0)
        except ValueError:  # Keras: use_cudnn=True, but no cuDNN form for this configuration
            pass
        else:
            cudnn = keras_class in CUDNN_LAYERS.get(keras.backend.backend(), ())
            return model, "cudnn" if cudnn else "scan"
    return build(keras_class, arguments, shape, units, masked), "generic"


def median_ms(function, rounds: int) -> float:
    function()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(10):
            result = function()
        np.asarray(result)  # waits for the device
        samples.append((time.perf_counter() - start) / 10 * 1e3)
    return statistics.median(samples)


def forward_and_train(model, x, y):
    """(forward function, training-step function) of a compiled model."""
    return (lambda: model.predict_on_batch(x)), (lambda: model.train_on_batch(x, y))


def compare(name: str, args: argparse.Namespace) -> dict:
    keras_class, zoo_class, arguments, masked = CASES[name]
    shape = (args.batch, args.steps, args.units)
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, shape).astype("float32")
    y = rng.uniform(-1, 1, shape).astype("float32")
    if masked:  # every other sequence ends early: trailing padding of 1 to steps - 1 steps
        for row in range(1, args.batch, 2):
            x[row, rng.randint(1, args.steps) :] = 0.0
    reference, kind = keras_reference(keras_class, arguments, shape, args.units, masked)
    ours = build(zoo_class, arguments, shape, args.units, masked)
    ours.set_weights(reference.get_weights())
    forward = float(np.abs(ours.predict_on_batch(x) - reference.predict_on_batch(x)).max())
    initial = reference.get_weights()
    for model in (reference, ours):
        for _ in range(SGD_STEPS):
            model.train_on_batch(x, y)
    trained = max(
        float(np.abs(a - b).max()) for a, b in zip(ours.get_weights(), reference.get_weights())
    )
    update = max(float(np.abs(a - b).max()) for a, b in zip(reference.get_weights(), initial))
    timings = {}
    for label, model in (("zoo", ours), ("keras", reference)):
        infer, train = forward_and_train(model, x, y)
        timings[label] = {
            "forward_ms": median_ms(infer, args.rounds),
            "train_step_ms": median_ms(train, args.rounds),
        }
    return {
        "reference": kind,
        "forward": forward,
        "trained": trained,
        "update": update,
        "trained_relative": trained / update,
        "timings": timings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("highest", "default"), default="highest")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    set_precision(args.precision)
    report = {
        "command": " ".join([f"KERAS_BACKEND={keras.backend.backend()}", "python3", *sys.argv]),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "device": accelerator(),
        "precision": args.precision,
        "shape": {"batch": args.batch, "steps": args.steps, "units": args.units},
        "tolerance": args.tolerance,
        "cases": {name: compare(name, args) for name in CASES},
    }
    print(f"{report['backend']} on {report['device']}, precision {args.precision}")
    print(
        f"{'case':18s} {'reference':9s} {'forward':>9s} {'trained':>9s} {'relative':>9s}  "
        "ms forward/train zoo | keras"
    )
    failed = False
    for name, case in report["cases"].items():
        zoo_t, keras_t = case["timings"]["zoo"], case["timings"]["keras"]
        failed |= max(case["forward"], case["trained_relative"]) > args.tolerance
        print(
            f"{name:18s} {case['reference']:9s} {case['forward']:9.2e} {case['trained']:9.2e} "
            f"{case['trained_relative']:9.2e}  "
            f"{zoo_t['forward_ms']:.2f}/{zoo_t['train_step_ms']:.2f} | "
            f"{keras_t['forward_ms']:.2f}/{keras_t['train_step_ms']:.2f}"
        )
    report["passed"] = not failed
    if args.out:
        write_json(args.out, report)
    print("passed" if not failed else f"FAILED: a difference above {args.tolerance}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
