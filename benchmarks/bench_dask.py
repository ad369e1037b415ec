"""Evaluation throughput, in this process and on a Dask LocalCluster: initial conditions per second.

    python benchmarks/bench_dask.py RUN_FOLDER [--n-ics 1000] [--n-intervals 300] [--workers 2] [--batch-size 250]

Evaluates the run's policy and the method's conventional default (the two methods every
evaluation has) on the first ``n-ics`` test initial conditions, once locally and once with
``--scheduler local``-style workers, checks that both give the same results, and prints
initial conditions per second (median of ``--repeats``, after a warm-up that compiles and loads).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents import evaluation
from agents.distributed import connect
from agents.seeds import TEST_SEEDS, seeds_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--n-ics", type=int, default=1000)
    parser.add_argument("--n-intervals", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    run = evaluation.load_run(args.run)
    settings = evaluation.evaluation_settings(run, n_intervals=args.n_intervals)
    specs = [s for s in evaluation.method_specs(run, settings, reference=False) if s.role in ("policy", "default")]
    seeds = seeds_from(TEST_SEEDS, args.n_ics)

    def timed(client=None) -> tuple[float, dict]:
        evaluation.evaluate(specs, seeds[: args.batch_size], settings, batch_size=args.batch_size, n_traces=0,
                            progress=False, client=client)  # warm-up: compile, load the model on every worker
        times, results = [], {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            results = evaluation.evaluate(specs, seeds, settings, batch_size=args.batch_size, n_traces=0,
                                          progress=False, client=client)
            times.append(time.perf_counter() - start)
        return float(np.median(times)), results

    local_time, local = timed()
    client = connect("local", n_workers=args.workers)
    try:
        dask_time, remote = timed(client)
    finally:
        client.close()
    same = all(np.array_equal(local[s.name].final_energy_error, remote[s.name].final_energy_error)
               and np.array_equal(local[s.name].force_evals, remote[s.name].force_evals) for s in specs)
    print(f"{args.n_ics} initial conditions x {args.n_intervals} intervals x {len(specs)} methods "
          f"({', '.join(s.name for s in specs)}), chunks of {args.batch_size}")
    print(f"  this process         {local_time:7.2f} s   {args.n_ics / local_time:8.1f} ICs/s")
    print(f"  LocalCluster({args.workers} workers) {dask_time:7.2f} s   {args.n_ics / dask_time:8.1f} ICs/s"
          f"   ratio {local_time / dask_time:.2f}")
    print(f"  identical results: {same}")


if __name__ == "__main__":
    main()
