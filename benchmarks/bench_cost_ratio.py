"""CPU nanoseconds per force evaluation of Hermite and IAS15 at N = 3, and their ratio (not a test).

The meta environment (``ThreeBodyMeta-v0``) charges force evaluations of both methods; this measures
whether one IAS15 force evaluation costs the same as one of Hermite. Each repeat integrates the same
20 paper triples over 30 environment intervals (0.1 yr each, every interval from the state the last
one left, as the environment does) with each method at its grid's middle and default parameters,
timed with the thread's CPU time (``time.thread_time``: other processes on a shared machine inflate
both methods alike, and the methods alternate within a repeat). Reports the median over repeats of
ns per force evaluation for each and the median of the per-repeat ratios, all from one run.

Usage: python benchmarks/bench_cost_ratio.py [--repeats 7] [--systems 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import integrators
from threebody_env.initial_conditions import natural_interval, paper_triple

INTERVALS = 30
#: (method, parameter): each method's default and the geometric middle of its environment range.
CASES = (("hermite", 1e-2), ("hermite", 0.03), ("ias15", 1e-7), ("ias15", 1e-9))


def ns_per_force_eval(method: str, param: float, systems: list, interval: float) -> float:
    """CPU ns per force evaluation over ``INTERVALS`` consecutive intervals of every system."""
    method_id = integrators.METHODS[method].method_id
    evals = 0
    elapsed = 0.0
    for pos0, vel0, mass in systems:
        pos, vel = pos0.copy(), vel0.copy()
        state = np.zeros(integrators.state_size(3))
        start = time.thread_time()
        for _ in range(INTERVALS):
            _, n, _ = integrators.advance_kernel(method_id, pos, vel, mass, interval, param, 0.0, 500_000, state)
            evals += n
        elapsed += time.thread_time() - start
    return 1e9 * elapsed / evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--systems", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    systems = [paper_triple(rng) for _ in range(args.systems)]
    interval = natural_interval(paper_triple)
    for method, param in CASES:  # compile (or load from the cache) outside the timing
        ns_per_force_eval(method, param, systems[:1], interval)
    times: dict[tuple[str, float], list[float]] = {case: [] for case in CASES}
    for _ in range(args.repeats):
        for case in CASES:
            times[case].append(ns_per_force_eval(*case, systems, interval))
    for case in CASES:
        print(f"{case[0]:8s} {case[1]:8.0e}  {statistics.median(times[case]):7.1f} ns per force evaluation")
    hermite = np.array([times[c] for c in CASES if c[0] == "hermite"]).mean(axis=0)
    ias15 = np.array([times[c] for c in CASES if c[0] == "ias15"]).mean(axis=0)
    print(f"ratio IAS15 / Hermite (median over repeats): {statistics.median(ias15 / hermite):.2f}")


if __name__ == "__main__":
    main()
