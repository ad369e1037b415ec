"""What landing on every output time costs: 300 calls against one call to the same time (not a test).

On the paper's test initial conditions, IAS15 (epsilon 1e-9) and Hermite (eta 1e-3) run to 30 yr
through ``integrators.Simulation``, once with one ``integrate`` per 0.1-yr interval and once in one
call; REBOUND's IAS15 the same way (its force evaluations counted by a callback that adds no force).
Reported per way: the ratio of force evaluations (300 calls / 1 call) and of final |dE/E0|,
median, smallest and largest over the initial conditions.

Usage: python benchmarks/bench_warm_start.py [--n-ics 20]
"""

from __future__ import annotations

import argparse

import numpy as np

import integrators
from agents.seeds import TEST_SEEDS, seeds_from
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple

INTERVALS = 300


def ours(method: str, param: float, seed: int, calls: int) -> tuple[int, float]:
    """(force evaluations, final |dE/E0|) of ``calls`` equal calls to 300 intervals."""
    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    e0 = integrators.energy(pos, vel, mass)
    sim = integrators.Simulation(pos, vel, mass, method, param)
    for k in range(1, calls + 1):
        sim.integrate(k * INTERVALS * PAPER_INTERVAL / calls)
    return sim.n_force_evals, abs(sim.energy() - e0) / abs(e0)


def rebound_ias15(seed: int, calls: int) -> tuple[int, float]:
    import rebound

    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    e0 = integrators.energy(pos, vel, mass)
    sim = rebound.Simulation()
    sim.integrator = "ias15"
    sim.integrator.epsilon = 1e-9
    for m, p, v in zip(mass, pos, vel, strict=True):
        sim.add(m=float(m), x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    evals = [0]

    def count(_) -> None:
        evals[0] += 1

    sim.additional_forces = count
    for k in range(1, calls + 1):
        sim.integrate(k * INTERVALS * PAPER_INTERVAL / calls)
    xyz, vxyz = np.zeros(3 * len(mass)), np.zeros(3 * len(mass))
    sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
    return evals[0], abs(integrators.energy(xyz.reshape(-1, 3), vxyz.reshape(-1, 3), mass) - e0) / abs(e0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ics", type=int, default=20)
    args = parser.parse_args()
    seeds = seeds_from(TEST_SEEDS, args.n_ics)
    ways = {
        "ias15 (ours), epsilon 1e-9": lambda s, c: ours("ias15", 1e-9, s, c),
        "hermite (ours), eta 1e-3": lambda s, c: ours("hermite", 1e-3, s, c),
        "REBOUND IAS15, epsilon 1e-9": rebound_ias15,
    }
    print(f"{args.n_ics} paper ICs, {INTERVALS} calls / 1 call to 30 yr: median (min-max)")
    print(f"{'way':<30} {'force evaluations':>26} {'final |dE/E0|':>26} {'evals/episode, 300 calls':>25}")
    for name, way in ways.items():
        rows = [(way(s, INTERVALS), way(s, 1)) for s in seeds]
        evals = np.array([a[0] / b[0] for a, b in rows])
        errors = np.array([a[1] / b[1] if b[1] > 0 else np.nan for a, b in rows])
        per_episode = np.median([a[0] for a, _ in rows])
        print(f"{name:<30} {np.median(evals):8.3f} ({evals.min():.2f}-{evals.max():.2f}) "
              f"{np.nanmedian(errors):11.2f} ({np.nanmin(errors):.2f}-{np.nanmax(errors):.2f}) {per_episode:25.0f}")


if __name__ == "__main__":
    main()
