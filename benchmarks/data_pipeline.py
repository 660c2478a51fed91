"""Speed figures for the data pipelines (a benchmark, not a test).

Usage, from the repository root: `ZOO_DATA_DIR=../shared/data python3 benchmarks/data_pipeline.py`.
Targets on a 2-core machine: PTB load + vocabulary + batching under 5 s; IMDB read, standardize
and vectorize of all 50,000 reviews under 60 s.
"""

import os
import time


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = os.environ.get("ZOO_DATA_DIR", "../shared/data")
    start = time.perf_counter()
    from zoo.data import imdb, ptb, sst2

    print(f"import zoo.data (TensorFlow, Keras): {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    data = ptb.load(f"{root}/ptb", download=False)
    inputs, _ = ptb.batches(data.train, 20, 35)
    ptb.batches(data.valid, 20, 35), ptb.batches(data.test, 20, 35)
    seconds = time.perf_counter() - start
    print(f"PTB load + vocab + batching (20 x 35): {seconds:.2f} s; train batches {inputs.shape}")

    start = time.perf_counter()
    sets = imdb.datasets(f"{root}/imdb", download=False)
    parts = (sets.train, sets.validation, sets.test)
    count = sum(int(y.shape[0]) for part in parts for _, y in part)
    seconds = time.perf_counter() - start
    print(f"IMDB read + fit + standardize and vectorize all {count} reviews: {seconds:.1f} s")

    start = time.perf_counter()
    for _ in sets.train:
        pass
    print(f"IMDB second train epoch (cached ids): {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    sst = sst2.datasets(f"{root}/sst", download=False)
    count = sum(int(y.shape[0]) for part in (sst.train, sst.validation, sst.test) for _, y in part)
    print(f"SST-2 (trees) pipeline, {count} sentences: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
