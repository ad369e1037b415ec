"""Time of one method's error statistics with their bootstrap intervals, against the number of episodes.

    python benchmarks/bench_bootstrap.py [--sizes 100 1000 10000] [--repeats 5]

Synthetic log-uniform errors in [1e-14, 1e-4]; prints the median of ``--repeats`` per size. An
evaluation pays this once per method (policy, fixed actions, default, reference).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.evaluation.metrics import BOOTSTRAP_RESAMPLES, error_statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{BOOTSTRAP_RESAMPLES} resamples")
    for n in args.sizes:
        errors = 10.0 ** np.random.default_rng(0).uniform(-14, -4, n)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            error_statistics(errors)
            times.append(time.perf_counter() - start)
        print(f"  {n:>8} episodes  {np.median(times):8.3f} s per method")


if __name__ == "__main__":
    main()
