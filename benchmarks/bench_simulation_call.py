"""What one ``Simulation.integrate`` call from Python costs over the compiled work it starts (not a test).

The same episode (a paper initial condition, 300 intervals of 0.1 yr) is run three ways, alternately
and ``--repeats`` times: ``Simulation.integrate`` once per interval from Python; the same calls of
the compiled entry point ``integrators._evolve._advance`` from one compiled loop (the same work bit
for bit, no Python in between); and ``integrators.evolve`` once per interval (every call afresh,
validated, new arrays). The per-call overhead is the difference over the 300 calls (the median of
the differences, and the difference of the fastest episodes: on a loaded machine the median carries
the other processes' share),
and also the time of ``integrate`` to the current time, a call that starts no work at all.

Usage: python benchmarks/bench_simulation_call.py [--method ias15] [--param 1e-9] [--repeats 21]
"""

from __future__ import annotations

import argparse
import time
import timeit

import numpy as np
from numba import njit

import integrators
from integrators._evolve import _advance
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple

SEED = 2_000_000  # the first test initial condition (agents.seeds.TEST_SEEDS)


@njit(cache=True)
def compiled_loop(method_id, pos, vel, mass, param, intervals, interval, max_steps, state):
    """The work of ``intervals`` ``Simulation.integrate`` calls, from compiled code: (steps, evals)."""
    t = 0.0
    steps = evals = 0
    for k in range(1, intervals + 1):
        target = k * interval
        _, s, e, _ = _advance(method_id, pos, vel, mass, target - t, param, 0.0, max_steps, state)
        t = target
        steps += s
        evals += e
    return steps, evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ias15")
    parser.add_argument("--param", type=float, default=1e-9)
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    pos, vel, mass = paper_triple(np.random.default_rng(SEED))
    method_id = integrators.METHODS[args.method].method_id
    n = args.intervals

    def python_calls() -> tuple[float, np.ndarray, int]:
        sim = integrators.Simulation(pos, vel, mass, args.method, args.param)
        start = time.perf_counter()
        for k in range(1, n + 1):
            sim.integrate(k * PAPER_INTERVAL)
        return time.perf_counter() - start, sim.pos, sim.n_force_evals

    def compiled_calls() -> tuple[float, np.ndarray, int]:
        p, v = pos.copy(), vel.copy()
        state = np.zeros(integrators.state_size(len(mass)))
        start = time.perf_counter()
        _, evals = compiled_loop(method_id, p, v, mass, args.param, n, PAPER_INTERVAL, 1_000_000, state)
        return time.perf_counter() - start, p, evals

    def evolve_calls() -> tuple[float, np.ndarray, int]:
        p, v, evals = pos, vel, 0
        start = time.perf_counter()
        for _ in range(n):
            r = integrators.evolve(args.method, p, v, mass, PAPER_INTERVAL, args.param)
            p, v, evals = r.pos, r.vel, evals + r.n_force_evals
        return time.perf_counter() - start, p, evals

    ways = {"Simulation.integrate": python_calls, "compiled loop": compiled_calls, "evolve (afresh)": evolve_calls}
    for way in ways.values():
        way()  # compile
    times: dict[str, list[float]] = {name: [] for name in ways}
    results = {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            wall, final, evals = way()
            times[name].append(wall)
            results[name] = (final, evals)
    same = np.array_equal(results["Simulation.integrate"][0], results["compiled loop"][0])
    print(f"{args.method} {args.param:g}, paper IC seed {SEED}, {n} intervals, median of {args.repeats} "
          f"(the same work bit for bit in the first two: {same})")
    for name, values in times.items():
        print(f"{name:<22} {1e3 * np.median(values):8.3f} ms per episode, {1e6 * np.median(values) / n:7.2f} us per "
              f"call, {results[name][1]} force evaluations")
    python, compiled = np.array(times["Simulation.integrate"]), np.array(times["compiled loop"])
    print(f"Simulation.integrate from Python costs {1e6 * np.median(python - compiled) / n:.2f} us per call over "
          f"the compiled work (median of the differences; {1e6 * (python.min() - compiled.min()) / n:.2f} us "
          "between the fastest episodes)")
    idle = integrators.Simulation(pos, vel, mass, args.method, args.param)
    idle.integrate(PAPER_INTERVAL)
    calls = 20_000
    no_work = min(timeit.repeat(lambda: idle.integrate(PAPER_INTERVAL), number=calls, repeat=args.repeats)) / calls
    print(f"integrate to the current time (no work): {1e6 * no_work:.2f} us per call (smallest of {args.repeats})")


if __name__ == "__main__":
    main()
