"""Our integrators, one call per output interval, against REBOUND's IAS15 on the paper's ICs (not a test).

Each of the paper's test initial conditions (``agents.seeds.TEST_SEEDS``) runs for 300 intervals
of 0.1 yr, one call per interval, as a user with outputs (or the environment) integrates: in the
same process, alternating per initial condition so that every way sees the same machine load.

- ``Simulation``: ``integrators.Simulation(...).integrate(k * interval)``, the method's state
  carried between calls;
- ``evolve``: ``integrators.evolve`` once per interval, every call afresh (what a user had before
  ``Simulation``);
- ``env``: the environment's engine (``threebody_env.systems.SystemBatch.advance`` with its
  bookkeeping, one system), its state carried; ``env afresh`` zeroes the state record before every
  interval (the environment before the state was carried);
- ``REBOUND``: REBOUND's IAS15 (PRS23), one ``Simulation`` per system, ``sim.integrate(k * interval)``
  with its default exact finish time.

Reported per way: the final |dE/E0| (median, share of runs above 1e-8, p90), force evaluations and
steps per episode (medians), wall time (sum over episodes, the Python loop over intervals
included), ns per force evaluation, and the wall-time ratio to REBOUND. ``--flops`` also prints the
floating-point work of one N = 3 force evaluation, against which the ns per evaluation say how close
each code is to the machine. ``--sweep`` runs our ``ias15`` over epsilon (the agent's action range).

Usage: python benchmarks/bench_ias15.py [--n-ics 20] [--hermite-eta 1e-3] [--sweep]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import integrators
from agents.seeds import TEST_SEEDS, seeds_from
from threebody_env.config import EnvConfig
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple
from threebody_env.systems import SystemBatch

BUDGET = 500_000  # step attempts per interval, the environment's default max_integrator_steps
#: Floating-point operations of one N = 3 acceleration evaluation (``integrators._forces.accelerations``):
#: per pair 3 differences, 3 squares and 3 sums for r^2 + eps^2, a square root, a product and a division
#: for 1/r^3, 2 mass factors and 2 x 3 multiply-adds into both bodies; per body 3 sums.
FORCE_FLOPS = 3 * (3 + 6 + 3 + 2 + 12) + 3 * 3
#: IAS15's own work per force evaluation and coordinate (9 at N = 3), from ``integrators.ias15``'s
#: loops: the position predicted at a node (7 products by the weights, 7 multiply-adds of the Horner
#: sum, the a0 term, 5 more for x), and the correction of g and b (2 for the new divided difference,
#: 2 per earlier one, 3.5 on average, and 5 per compensated update of b, 4 on average).
IAS15_FLOPS_PER_COORDINATE = (7 + 14 + 2 + 5) + (2 + 2 * 3.5 + 1 + 5 * 4)
IAS15_FLOPS = FORCE_FLOPS + 9 * IAS15_FLOPS_PER_COORDINATE

Row = tuple[float, int, int, float]  # final |dE/E0|, force evaluations, steps, wall seconds


def initial(seed: int):
    pos, vel, mass = paper_triple(np.random.default_rng(seed))
    return pos, vel, mass, integrators.energy(pos, vel, mass)


def relative_error(pos, vel, mass, e0) -> float:
    error = abs(integrators.energy(pos, vel, mass) - e0) / abs(e0)
    return error if np.isfinite(error) else np.inf


def through_simulation(method: str, param: float, seed: int, intervals: int) -> Row:
    pos, vel, mass, e0 = initial(seed)
    sim = integrators.Simulation(pos, vel, mass, method, param, max_steps=BUDGET)
    start = time.perf_counter()
    for k in range(1, intervals + 1):
        if sim.integrate(k * PAPER_INTERVAL) != integrators.Status.OK:
            break
    wall = time.perf_counter() - start
    return relative_error(sim.pos, sim.vel, mass, e0), sim.n_force_evals, sim.n_steps, wall


def through_evolve(method: str, param: float, seed: int, intervals: int) -> Row:
    pos, vel, mass, e0 = initial(seed)
    evals = steps = 0
    start = time.perf_counter()
    for _ in range(intervals):
        r = integrators.evolve(method, pos, vel, mass, PAPER_INTERVAL, param, max_steps=BUDGET)
        pos, vel, evals, steps = r.pos, r.vel, evals + r.n_force_evals, steps + r.n_steps
        if r.status != integrators.Status.OK:
            break
    wall = time.perf_counter() - start
    return relative_error(pos, vel, mass, e0), evals, steps, wall


def through_env(method: str, param: float, seed: int, intervals: int, afresh: bool) -> Row:
    """The environment's engine on one system (its energy bookkeeping included, failures not ending it)."""
    pos, vel, mass, e0 = initial(seed)
    systems = SystemBatch(EnvConfig(integrator=method, max_energy_error=1e300), 1, 3)
    systems.reset(0, (pos, vel, mass))
    params, active = np.full(1, param), np.ones(1, dtype=bool)
    evals = steps = 0
    start = time.perf_counter()
    for _ in range(intervals):
        if afresh:
            systems.states[0] = 0.0
        systems.advance(params, active)
        evals += int(systems.n_force_evals[0])
        steps += int(systems.n_steps[0])
    wall = time.perf_counter() - start
    return relative_error(systems.pos[0], systems.vel[0], mass, e0), evals, steps, wall


def through_rebound(seed: int, epsilon: float, intervals: int, count: bool = False) -> Row:
    """REBOUND does not count force evaluations: with ``count`` a Python callback that adds no force
    counts them (an untimed run, the same steps), else the force evaluations read -1."""
    import rebound

    pos, vel, mass, e0 = initial(seed)
    sim = rebound.Simulation()
    sim.integrator = "ias15"
    sim.integrator.epsilon = epsilon
    for m, p, v in zip(mass, pos, vel, strict=True):
        sim.add(m=float(m), x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    evals = [0]
    if count:
        def counter(_):
            evals[0] += 1
        sim.additional_forces = counter
    start = time.perf_counter()
    for k in range(1, intervals + 1):
        sim.integrate(k * PAPER_INTERVAL)
    wall = time.perf_counter() - start
    xyz, vxyz = np.zeros(3 * len(mass)), np.zeros(3 * len(mass))
    sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
    error = relative_error(xyz.reshape(-1, 3), vxyz.reshape(-1, 3), mass, e0)
    return error, evals[0] if count else -1, sim.steps_done, wall


def report(title: str, rows: dict[str, list[Row]], reference: str) -> None:
    print(f"\n{title}")
    print(f"{'way':<34} {'median':>9} {'> 1e-8':>7} {'p90':>9} {'evals/ep':>9} {'steps/ep':>9} {'wall s':>8} "
          f"{'ms/ep':>7} {'ns/eval':>8} {'x REBOUND':>9}")
    ref_wall = sum(r[3] for r in rows[reference])
    for name, rs in rows.items():
        err, evals, steps, wall = (np.array(c, dtype=float) for c in zip(*rs, strict=True))
        total = wall.sum()
        ns = f"{1e9 * total / evals.sum():8.0f}" if evals.min() >= 0 else f"{'':>8}"
        ev = f"{np.median(evals):9.0f}" if evals.min() >= 0 else f"{'':>9}"
        print(f"{name:<34} {np.median(err):9.2e} {np.mean(err > 1e-8):7.1%} {np.quantile(err, 0.9):9.2e} {ev} "
              f"{np.median(steps):9.0f} {total:8.3f} {1e3 * total / len(rs):7.2f} {ns} {total / ref_wall:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ics", type=int, default=20)
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--epsilon", type=float, default=1e-9)
    parser.add_argument("--hermite-eta", type=float, default=1e-3)
    parser.add_argument("--sweep", action="store_true", help="our ias15 over epsilon 1e-12 .. 1e-4")
    args = parser.parse_args()
    import rebound

    seeds = seeds_from(TEST_SEEDS, args.n_ics)
    eps, eta, n = args.epsilon, args.hermite_eta, args.intervals
    ways: dict[str, Callable[[int], Row]] = {
        "REBOUND IAS15": lambda s: through_rebound(s, eps, n),
        "ias15 Simulation": lambda s: through_simulation("ias15", eps, s, n),
        "ias15 evolve per interval": lambda s: through_evolve("ias15", eps, s, n),
        "ias15 env": lambda s: through_env("ias15", eps, s, n, afresh=False),
        "ias15 env afresh": lambda s: through_env("ias15", eps, s, n, afresh=True),
        "hermite Simulation": lambda s: through_simulation("hermite", eta, s, n),
        "hermite evolve per interval": lambda s: through_evolve("hermite", eta, s, n),
        "hermite env": lambda s: through_env("hermite", eta, s, n, afresh=False),
        "hermite env afresh": lambda s: through_env("hermite", eta, s, n, afresh=True),
    }
    for way in ways.values():  # compile (or load from the cache) before timing
        way(seeds[0])
    rows: dict[str, list[Row]] = {name: [] for name in ways}
    for seed in seeds:
        for name, way in ways.items():
            rows[name].append(way(seed))
    counted = [through_rebound(s, eps, n, count=True) for s in seeds]  # untimed
    rows["REBOUND IAS15"] = [(e, c[1], st, w) for (e, _, st, w), c in zip(rows["REBOUND IAS15"], counted, strict=True)]
    report(f"{args.n_ics} paper ICs x {n} intervals of 0.1 yr, one call per interval; IAS15 epsilon {eps:g}, "
           f"Hermite eta {eta:g}; REBOUND {rebound.__version__}; final |dE/E0|", rows, "REBOUND IAS15")
    print(f"\nfloating-point work per force evaluation at N = 3: {FORCE_FLOPS} for the forces alone, "
          f"{IAS15_FLOPS:.0f} with IAS15's predictor and corrector; at one operation per cycle at 3 GHz "
          f"{FORCE_FLOPS / 3:.0f} ns and {IAS15_FLOPS / 3:.0f} ns")
    if args.sweep:
        sweep = {f"ias15 epsilon={e:g}": [through_simulation("ias15", e, s, n) for s in seeds]
                 for e in (1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)}
        report("our ias15 through Simulation over epsilon", sweep, "ias15 epsilon=1e-09")


if __name__ == "__main__":
    main()
