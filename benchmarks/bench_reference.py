"""The reference integrator's floor and cost, checked against a 32-digit mpmath Taylor integration.

Picks paper test initial conditions (``agents.seeds.TEST_SEEDS``), runs each with the double-double
reference (:mod:`integrators.reference`) interval by interval, and chooses ``--quiet`` quiet intervals
(one reference step) and the interval with the most reference steps (the closest encounter found) over
the first ``--intervals`` intervals of ``--n-systems`` systems. On each chosen interval it integrates the
same float64 start state with ``mpmath.odefun`` (a Taylor method with its own error control) at ``--dps``
digits and reports, in the units of the local error (r = the episode's initial mean pair separation,
v = sqrt(M / r)):
- the reference's floor: its phase-space distance from the mpmath solution;
- the local error of IAS15 (1e-9) and compensated Hermite (eta 4.64e-4 and 1e-3) measured against
  mpmath and against the reference (they must agree to the floor);
- wall time of the reference and of mpmath on the interval.
``--cost-systems S`` instead times :func:`integrators.reference.episode_local_errors` on S test systems x 300
intervals of IAS15 (1e-9) and Hermite (eta 1e-3) episodes: what evaluation pays per method for the local error.

Not a test. Usage: python benchmarks/bench_reference.py [--n-systems 8] [--intervals 100] [--quiet 4]
[--cost-systems 0]
"""

from __future__ import annotations

import argparse
import time

import mpmath as mp
import numpy as np

import integrators
from agents.seeds import TEST_SEEDS, seeds_from
from integrators.reference import episode_local_errors, phase_space_scales, reference_evolve_dd, reference_kernel
from threebody_env.initial_conditions import natural_interval, resolve_sampler

METHODS = (("ias15", 1e-9), ("hermite", 4.64e-4), ("hermite", 1e-3))


def mp_solution(pos, vel, mass, duration):
    """(pos, vel) after ``duration`` as (N, 3) lists of mpf, from mpmath's Taylor ODE solver."""
    n = len(mass)
    m = [mp.mpf(float(a)) for a in mass]

    def rhs(_, y):
        acc = [mp.mpf(0)] * (3 * n)
        for i in range(n):
            for j in range(i + 1, n):
                d = [y[3 * j + c] - y[3 * i + c] for c in range(3)]
                r2 = d[0] ** 2 + d[1] ** 2 + d[2] ** 2
                inv3 = 1 / (r2 * mp.sqrt(r2))
                for c in range(3):
                    acc[3 * i + c] += m[j] * d[c] * inv3
                    acc[3 * j + c] -= m[i] * d[c] * inv3
        return y[3 * n:] + acc

    y0 = [mp.mpf(float(a)) for a in pos.ravel()] + [mp.mpf(float(a)) for a in vel.ravel()]
    y = mp.odefun(rhs, 0, y0)(mp.mpf(duration))
    return [y[3 * i:3 * i + 3] for i in range(n)], [y[3 * n + 3 * i:3 * n + 3 * i + 3] for i in range(n)]


def distance(x, v, x_ref, v_ref, r, s):
    """Phase-space distance between two states given as (N, 3) nested sequences (mpf or float)."""
    def worst(a, b):
        return max(mp.sqrt(sum((mp.mpf(a[i][c]) - b[i][c]) ** 2 for c in range(3))) for i in range(len(a)))
    return worst(x, x_ref) / r + worst(v, v_ref) / s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-systems", type=int, default=8)
    parser.add_argument("--intervals", type=int, default=100)
    parser.add_argument("--quiet", type=int, default=4)
    parser.add_argument("--dps", type=int, default=32)
    parser.add_argument("--cost-systems", type=int, default=0)
    args = parser.parse_args()
    if args.cost_systems:
        episode_cost(args.cost_systems)
        return
    mp.mp.dps = args.dps
    sampler = resolve_sampler("paper", None, None)
    interval = natural_interval(sampler)
    candidates = []  # (reference steps, seed, interval index, start pos, start vel, mass)
    for seed in seeds_from(TEST_SEEDS, args.n_systems):
        pos, vel, mass = sampler(np.random.default_rng(seed))
        for k in range(args.intervals):
            ph, vh = pos.copy(), vel.copy()
            steps, status = reference_kernel(ph, np.zeros_like(ph), vh, np.zeros_like(vh), mass, interval, 0.0, 10**7)
            if status != 0:
                break
            candidates.append((steps, seed, k, pos, vel, mass))
            pos, vel = ph, vh
    quiet = [c for c in candidates if c[0] == 1][:: max(1, len(candidates) // max(1, 2 * args.quiet))][: args.quiet]
    chosen = [*quiet, max(candidates, key=lambda c: c[0])]
    print(f"{len(candidates)} intervals scanned; mpmath odefun at {args.dps} digits")
    header = "| seed | interval | ref steps | ref floor (vs mpmath) | " + " | ".join(
        f"{m} {p:g}: vs mpmath / vs ref" for m, p in METHODS) + " | ref wall | mpmath wall |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for steps, seed, k, pos, vel, mass in chosen:
        r, s = phase_space_scales(sampler(np.random.default_rng(seed))[0], mass)
        start = time.perf_counter()
        ph, pl, vh, vl = reference_evolve_dd(pos, vel, mass, interval)
        ref_wall = time.perf_counter() - start
        ref_x = [[mp.mpf(float(ph[i, c])) + mp.mpf(float(pl[i, c])) for c in range(3)] for i in range(3)]
        ref_v = [[mp.mpf(float(vh[i, c])) + mp.mpf(float(vl[i, c])) for c in range(3)] for i in range(3)]
        start = time.perf_counter()
        mp_x, mp_v = mp_solution(pos, vel, mass, interval)
        mp_wall = time.perf_counter() - start
        cells = [f"{float(distance(ref_x, ref_v, mp_x, mp_v, r, s)):.1e}"]
        for method, param in METHODS:
            res = integrators.evolve(method, pos, vel, mass, interval, param)
            x, v = res.pos.tolist(), res.vel.tolist()
            against_mp, against_ref = distance(x, v, mp_x, mp_v, r, s), distance(x, v, ref_x, ref_v, r, s)
            cells.append(f"{float(against_mp):.2e} / {float(against_ref):.2e}")
        print(f"| {seed} | {k} | {steps} | " + " | ".join(cells) + f" | {ref_wall * 1e3:.1f} ms | {mp_wall:.1f} s |")


def episode_cost(n_systems: int, n_intervals: int = 300) -> None:
    """Time episode_local_errors over whole episodes (the integrations themselves not included)."""
    sampler = resolve_sampler("paper", None, None)
    interval = natural_interval(sampler)
    for method, param in (("ias15", 1e-9), ("hermite", 1e-3)):
        info = integrators.METHODS[method]
        seconds, cpu, sums = [], [], []
        for seed in seeds_from(TEST_SEEDS, n_systems):
            pos, vel, mass = sampler(np.random.default_rng(seed))
            states = [(pos.copy(), vel.copy())]
            for _ in range(n_intervals):
                integrators.evolve_kernel(info.method_id, pos, vel, mass, interval, param, 0.0, 500_000)
                states.append((pos.copy(), vel.copy()))
            xs, vs = np.array([s[0] for s in states]), np.array([s[1] for s in states])
            start, start_cpu = time.perf_counter(), time.process_time()
            errors = episode_local_errors(xs[:-1], vs[:-1], xs[1:], vs[1:], mass, interval)
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            sums.append(errors.sum())
        seconds, cpu, sums = np.array(seconds), np.array(cpu), np.array(sums)
        print(f"{method} {param:g}: episode_local_errors over {n_systems} episodes x {n_intervals} intervals: "
              f"wall median {np.median(seconds) * 1e3:.0f} ms per episode (max {seconds.max():.2f} s), "
              f"CPU median {np.median(cpu) * 1e3:.0f} ms (total {cpu.sum():.1f} s); median episode local error "
              f"{np.nanmedian(sums):.2g} ({np.isnan(sums).sum()} episodes with a lost interval: NaN)")


if __name__ == "__main__":
    main()
