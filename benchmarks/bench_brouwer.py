"""Round-off over long Kepler runs: our IAS15 against REBOUND's, as Brouwer's law asks (not a test).

A Kepler orbit (masses 1 and 1e-3, semi-major axis 1, e = 0.5, centre-of-mass frame) is integrated
by IAS15 at epsilon = 1e-9 for up to ``--orbits`` orbits. At epsilon = 1e-9 the truncation error
is far below round-off, so the relative energy error |dE/E0| measures round-off alone; an
integrator whose round-off is unbiased lets it grow as the square root of the number of steps
(Brouwer's law), a biased one linearly. Ours runs through ``integrators.Simulation`` in one
``integrate`` call and with one call per orbit; REBOUND in one ``integrate`` call. The error is
reported at each decade of orbits, with the ratio ours / REBOUND; ``--phases`` runs that many
orbits started at different mean anomalies, and reports the medians (one run's round-off is a
random walk: a single run compares noisily).

Usage: python benchmarks/bench_brouwer.py [--orbits 10000] [--phases 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import integrators

EPSILON = 1e-9


def kepler(phase: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(pos, vel, mass, period) of the orbit at mean anomaly ``phase``, from REBOUND's orbital elements."""
    import rebound

    sim = rebound.Simulation()
    sim.add(m=1.0)
    sim.add(m=1e-3, a=1.0, e=0.5, M=phase)
    sim.move_to_com()
    pos = np.array([[p.x, p.y, p.z] for p in sim.particles])
    vel = np.array([[p.vx, p.vy, p.vz] for p in sim.particles])
    return pos, vel, np.array([1.0, 1e-3]), sim.particles[1].P


def ours(pos, vel, mass, period, checkpoints, per_orbit: bool) -> tuple[list[float], int, float]:
    """|dE/E0| at each checkpoint (orbits), steps and wall seconds of our IAS15 through Simulation."""
    e0 = integrators.energy(pos, vel, mass)
    sim = integrators.Simulation(pos, vel, mass, "ias15", EPSILON, max_steps=10**9)
    errors = []
    start = time.perf_counter()
    done = 0
    for orbits in checkpoints:
        if per_orbit:
            for k in range(done + 1, orbits + 1):
                sim.integrate(k * period)
        else:
            sim.integrate(orbits * period)
        done = orbits
        errors.append(abs(sim.energy() - e0) / abs(e0))
    return errors, sim.n_steps, time.perf_counter() - start


def rebound_ias15(pos, vel, mass, period, checkpoints, per_orbit: bool) -> tuple[list[float], int, float]:
    """The same with REBOUND's IAS15 (PRS23, exact finish time), energy measured by our formula."""
    import rebound

    sim = rebound.Simulation()
    sim.integrator = "ias15"
    sim.integrator.epsilon = EPSILON
    for m, p, v in zip(mass, pos, vel, strict=True):
        sim.add(m=float(m), x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    e0 = integrators.energy(pos, vel, mass)
    errors = []
    xyz, vxyz = np.zeros(3 * len(mass)), np.zeros(3 * len(mass))
    start = time.perf_counter()
    done = 0
    for orbits in checkpoints:
        for k in range(done + 1, orbits + 1) if per_orbit else (orbits,):
            sim.integrate(k * period)
        done = orbits
        sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
        errors.append(abs(integrators.energy(xyz.reshape(-1, 3), vxyz.reshape(-1, 3), mass) - e0) / abs(e0))
    return errors, sim.steps_done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orbits", type=int, default=10_000)
    parser.add_argument("--phases", type=int, default=5)
    args = parser.parse_args()
    checkpoints = [10**k for k in range(2, int(np.log10(args.orbits)) + 1)]
    runs: dict[str, list] = {"ours, one call": [], "REBOUND, one call": [], "ours, one call per orbit": [],
                             "REBOUND, one call per orbit": []}
    ours(*kepler(0.0), [1], False)  # compile before timing
    for phase in np.linspace(0.0, 2.0 * np.pi, args.phases, endpoint=False):
        system = kepler(phase)
        runs["ours, one call"].append(ours(*system, checkpoints, per_orbit=False))
        runs["ours, one call per orbit"].append(ours(*system, checkpoints, per_orbit=True))
        runs["REBOUND, one call"].append(rebound_ias15(*system, checkpoints, per_orbit=False))
        runs["REBOUND, one call per orbit"].append(rebound_ias15(*system, checkpoints, per_orbit=True))
    print(f"Kepler e = 0.5, masses 1 and 1e-3, IAS15 epsilon {EPSILON:g}, {args.phases} phases; "
          "median |dE/E0| at each number of orbits")
    print(f"{'run':<34}" + "".join(f"{c:>11,}" for c in checkpoints) + f"{'steps/orbit':>13}{'wall s':>9}")
    medians = {}
    for name, rows in runs.items():
        errors = np.median([r[0] for r in rows], axis=0)
        medians[name] = errors
        steps = np.median([r[1] for r in rows]) / checkpoints[-1]
        wall = sum(r[2] for r in rows)
        print(f"{name:<34}" + "".join(f"{e:>11.2e}" for e in errors) + f"{steps:>13.2f}{wall:>9.2f}")
    for calls in ("one call", "one call per orbit"):
        ratio = medians[f"ours, {calls}"] / medians[f"REBOUND, {calls}"]
        print(f"{'ours / REBOUND, ' + calls:<34}" + "".join(f"{r:>11.2f}" for r in ratio))


if __name__ == "__main__":
    main()
