"""Does compensated (Kahan) summation of positions and velocities shrink Hermite's near-collision tail?

About one paper initial condition in ten passes a pair through a near-head-on encounter; there
Hermite's error jumps to 1e-7..1e-4 at every eta, and a smaller eta makes it worse (round-off: each
step rounds positions of order 1 au while the pair is orders of magnitude closer). This runs the
paper's test initial conditions (``agents.seeds.TEST_SEEDS``) for 300 intervals, one call per
interval as in the environment (the integrator's state carried from one interval to the next),
with ``hermite`` (compensated since this measurement) and with the same Hermite step with plain
sums, built here. It reports the fraction of runs whose final
|dE/E0| exceeds 1e-8, its median and p90, the force evaluations, and CPU ns per step. Not a test.

Usage: python benchmarks/bench_compensation.py [--n-ics 100] [--etas 1e-3 2.15e-3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

import integrators
from agents.seeds import TEST_SEEDS, seeds_from
from integrators._driver import StepFunctions, make_driver
from integrators._forces import acc_jerk, hot, time_scale_step
from integrators.hermite import HERMITE
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple


@hot
def _start(pos, vel, mass, eps2, eta, work):
    acc_jerk(pos, vel, mass, eps2, work[0], work[1])
    return 1, np.inf


@hot
def _step(pos, vel, mass, eps2, eta, h, h_last, work):
    """The Hermite PEC step of :func:`integrators.hermite.pec_step` with plain sums (the
    package's before compensation); work: a0, j0, a1, j1, xp, vp."""
    a0, j0, a1, j1, xp, vp = work[0], work[1], work[2], work[3], work[4], work[5]
    n = pos.shape[0]
    h2 = 0.5 * h * h
    h3 = h * h * h / 6.0
    for i in range(n):
        for k in range(3):
            xp[i, k] = pos[i, k] + h * vel[i, k] + h2 * a0[i, k] + h3 * j0[i, k]
            vp[i, k] = vel[i, k] + h * a0[i, k] + h2 * j0[i, k]
    acc_jerk(xp, vp, mass, eps2, a1, j1)
    hh = 0.5 * h
    h12 = h * h / 12.0
    for i in range(n):
        for k in range(3):
            v0 = vel[i, k]
            v1 = v0 + hh * (a0[i, k] + a1[i, k]) + h12 * (j0[i, k] - j1[i, k])
            pos[i, k] += hh * (v0 + v1) + h12 * (a0[i, k] - a1[i, k])
            vel[i, k] = v1
            a0[i, k], a1[i, k] = a1[i, k], a0[i, k]
            j0[i, k], j1[i, k] = j1[i, k], j0[i, k]
    return True, 1, np.inf


_run_plain = make_driver(StepFunctions(_start, _step, 6, time_scale_step), 0)
_run_compensated = make_driver(HERMITE, 0)


def episode(run, seed: int, eta: float, intervals: int) -> tuple[float, int, int, float]:
    """Final |dE/E0|, force evaluations, steps and CPU seconds of one paper IC."""
    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    e0 = integrators.energy(pos, vel, mass)
    state = np.zeros(integrators.state_size(len(mass)))  # carried across intervals, as in the environment
    evals = steps = 0
    start = time.thread_time()
    for _ in range(intervals):
        _, n_steps, n_evals, status = run(pos, vel, mass, PAPER_INTERVAL, eta, 0.0, 500_000, state)
        evals += n_evals
        steps += n_steps
        if status != 0:
            return np.inf, evals, steps, time.thread_time() - start
    cpu = time.thread_time() - start
    return abs(integrators.energy(pos, vel, mass) - e0) / abs(e0), evals, steps, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ics", type=int, default=100)
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--etas", type=float, nargs="+", default=[1e-3, 2.15e-3])
    args = parser.parse_args()
    seeds = seeds_from(TEST_SEEDS, args.n_ics)
    episode(_run_plain, seeds[0], 0.03, 1)  # compile
    episode(_run_compensated, seeds[0], 0.03, 1)
    print(f"{args.n_ics} paper ICs (test seeds) x {args.intervals} intervals; final |dE/E0|")
    print(f"{'eta':>8} {'variant':<12} {'> 1e-8':>7} {'median':>9} {'p90':>9} {'max':>9} "
          f"{'evals med':>10} {'ns/step':>8}")
    for eta in args.etas:
        for name, run in (("plain", _run_plain), ("compensated", _run_compensated)):
            progress = tqdm(seeds, desc=f"{name} eta={eta:g}", leave=False)
            rows = [episode(run, s, eta, args.intervals) for s in progress]
            err, evals, steps, cpu = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
            print(f"{eta:>8.3g} {name:<12} {np.mean(err > 1e-8):>7.0%} {np.median(err):>9.2e} "
                  f"{np.quantile(err, 0.9):>9.2e} {err.max():>9.2e} {np.median(evals):>10.0f} "
                  f"{cpu.sum() / steps.sum() * 1e9:>8.1f}")


if __name__ == "__main__":
    main()
