"""Our IAS15 against REBOUND's IAS15 on the paper's initial conditions (not a test).

Each of the paper's test initial conditions (``agents.seeds.TEST_SEEDS``) runs for 300 intervals
of 0.1 yr, one call per interval as in the environment: ``integrators.evolve_kernel`` for ours,
``sim.integrate(k * interval)`` (exact finish time) for REBOUND, in the same process, alternating
per initial condition. Reported per method: the final |dE/E0| (median, fraction above 1e-8, p90),
force evaluations per episode (ours), steps per episode and wall time (sum over episodes; the
Python loop over intervals included for both).

``--sweep`` also runs our ``ias15`` over a range of epsilon (the agent's action range), and
``--restart`` measures what restarting every interval costs: the same episodes in one call of
300 intervals against 300 calls.

Usage: python benchmarks/bench_ias15.py [--n-ics 100] [--sweep] [--restart]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

import integrators
from agents.seeds import TEST_SEEDS, seeds_from
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple

BUDGET = 500_000  # steps per interval, the environment's default max_integrator_steps


def ours(method: str, seed: int, epsilon: float, intervals: int, calls: int | None = None) -> tuple:
    """(final |dE/E0|, force evaluations, steps, wall seconds) of one episode; ``calls`` splits
    the episode into that many calls instead of one per interval."""
    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    e0 = integrators.energy(pos, vel, mass)
    method_id = integrators.METHODS[method].method_id
    calls = intervals if calls is None else calls
    duration = intervals * PAPER_INTERVAL / calls
    evals = steps = 0
    start = time.perf_counter()
    for _ in range(calls):
        n_steps, n_evals, status = integrators.evolve_kernel(method_id, pos, vel, mass, duration, epsilon, 0.0,
                                                             BUDGET * intervals // calls)
        evals += n_evals
        steps += n_steps
        if status != 0:
            return np.inf, evals, steps, time.perf_counter() - start
    wall = time.perf_counter() - start
    return abs(integrators.energy(pos, vel, mass) - e0) / abs(e0), evals, steps, wall


def rebound_ias15(seed: int, epsilon: float, intervals: int, mode: str) -> tuple:
    """(final |dE/E0|, NaN, steps, wall seconds) of REBOUND's IAS15 in ``mode`` on one episode."""
    import rebound

    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    e0 = integrators.energy(pos, vel, mass)
    sim = rebound.Simulation()
    sim.integrator = "ias15"
    sim.integrator.epsilon = epsilon
    sim.integrator.adaptive_mode = mode
    for m, p, v in zip(mass, pos, vel):
        sim.add(m=float(m), x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    start = time.perf_counter()
    for k in range(1, intervals + 1):
        sim.integrate(k * PAPER_INTERVAL)
    wall = time.perf_counter() - start
    xyz, vxyz = np.zeros(3 * len(mass)), np.zeros(3 * len(mass))
    sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
    error = abs(integrators.energy(xyz.reshape(-1, 3), vxyz.reshape(-1, 3), mass) - e0) / abs(e0)
    return error, np.nan, sim.steps_done, wall


def summary(name: str, rows: list[tuple]) -> None:
    err, evals, steps, wall = (np.array(c, dtype=float) for c in zip(*rows))
    err = np.where(np.isfinite(err), err, np.inf)
    print(f"{name:<26} {np.median(err):>9.2e} {np.mean(err > 1e-8):>7.1%} {np.quantile(err, 0.9):>9.2e} "
          f"{np.median(evals):>10.0f} {np.median(steps):>8.0f} {wall.sum():>8.3f}")


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'method':<26} {'median':>9} {'> 1e-8':>7} {'p90':>9} {'evals med':>10} {'steps':>8} {'wall s':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ics", type=int, default=100)
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--sweep", action="store_true", help="our ias15 over epsilon 1e-12 .. 1e-4")
    parser.add_argument("--restart", action="store_true", help="one call per episode against one per interval")
    args = parser.parse_args()
    seeds = seeds_from(TEST_SEEDS, args.n_ics)
    ours("ias15", seeds[0], 1e-9, 1)  # compile before timing
    ours("ias15_global", seeds[0], 1e-9, 1)

    import rebound

    methods = {
        "ias15 (ours, PRS23)": lambda s: ours("ias15", s, 1e-9, args.intervals),
        "REBOUND IAS15 (PRS23)": lambda s: rebound_ias15(s, 1e-9, args.intervals, "prs23"),
        "ias15_global (ours)": lambda s: ours("ias15_global", s, 1e-9, args.intervals),
        "REBOUND IAS15 (GLOBAL)": lambda s: rebound_ias15(s, 1e-9, args.intervals, "global"),
    }
    rows: dict[str, list] = {name: [] for name in methods}
    for seed in tqdm(seeds, desc="episodes", leave=False):
        for name, run in methods.items():  # alternate per initial condition: the same machine load
            rows[name].append(run(seed))
    header(f"{args.n_ics} paper ICs x {args.intervals} intervals, epsilon 1e-9, REBOUND {rebound.__version__}; "
           "final |dE/E0|")
    for name, r in rows.items():
        summary(name, r)
    wall = {name: sum(r[3] for r in rs) for name, rs in rows.items()}
    print(f"wall time ours / REBOUND: PRS23 {wall['ias15 (ours, PRS23)'] / wall['REBOUND IAS15 (PRS23)']:.3f}, "
          f"GLOBAL {wall['ias15_global (ours)'] / wall['REBOUND IAS15 (GLOBAL)']:.3f}")

    if args.sweep:
        header("our ias15 over epsilon (the agent's range)")
        for epsilon in (1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3):
            summary(f"epsilon={epsilon:g}", [ours("ias15", s, epsilon, args.intervals) for s in seeds])

    if args.restart:
        header("restarting every interval (one call per interval) against one call per episode")
        summary("ias15, 300 calls", [ours("ias15", s, 1e-9, args.intervals) for s in seeds])
        summary("ias15, 1 call", [ours("ias15", s, 1e-9, args.intervals, calls=1) for s in seeds])


if __name__ == "__main__":
    main()
