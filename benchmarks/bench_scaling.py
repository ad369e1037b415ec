"""Cost of direct N-body gravity per pair interaction, N = 3 to 256: our Numba kernels against REBOUND.

For each N this times, on Plummer spheres (``threebody_env.initial_conditions.Plummer``, Henon units):

- ``hermite 1``: one system through ``integrators.evolve_kernel`` (Hermite: per step one acceleration-and-jerk
  evaluation and one pass for the step criterion, both over the N (N - 1) / 2 pairs);
- ``hermite B``: ``--batch`` systems in one ``integrators.evolve_batch`` call (parallel over systems, on
  ``numba.get_num_threads()`` threads);
- ``leapfrog 1``: one system, our KDK leapfrog (one acceleration-only evaluation per step);
- ``rebound lf``: REBOUND's leapfrog with ``gravity = "basic"`` (direct summation over the pairs, acceleration
  only, one evaluation per step, advanced by ``sim.steps`` inside C).

Each integration runs a fixed number of steps (the step budget, with an end time never reached), about
``--pairs`` pair interactions in all, and the figure is CPU time / (force evaluations x N (N - 1) / 2) in ns,
the median over ``--repeats`` runs after a warm-up that compiles the kernels. CPU time (``time.process_time``,
all threads of the process) rather than wall time, because the machine is shared: another process's load
inflates wall time, not CPU time. For the batch it is the work per pair summed over threads, i.e. the
kernel's efficiency; its wall time is that divided by the threads kept busy. Hermite's interactions carry
the jerk too (about twice the flops of an acceleration), so compare leapfrog with REBOUND like for like.

    .venv/bin/python benchmarks/bench_scaling.py [--sizes 3 4 8 16 32 64 128 256] [--pairs 4e6] [--repeats 3]
        [--batch 8] [--figure scaling.png]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np
import rebound

import integrators
from threebody_env.initial_conditions import Plummer

HERMITE = integrators.METHODS["hermite"].method_id
LEAPFROG = integrators.METHODS["leapfrog"].method_id
NEVER = 1e30  # an end time no run reaches: the step budget ends every run
ETA = 0.01
DT = 1e-6


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def states(n: int, count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [Plummer(n_bodies=n)(np.random.default_rng(seed)) for seed in range(count)]


def run_one(method_id: int, param: float, state, steps: int) -> int:
    """Force evaluations of one system run for ``steps`` steps (on copies)."""
    pos, vel, mass = state
    n_steps, n_evals, status = integrators.evolve_kernel(method_id, pos.copy(), vel.copy(), mass, NEVER, param, 0.0,
                                                         steps)
    if status != integrators.Status.MAX_STEPS or n_steps != steps:
        raise RuntimeError(f"run ended after {n_steps} of {steps} steps with status {status}")
    return n_evals


def run_batch(batch, steps: int) -> int:
    """Force evaluations of a batch of systems, each run for ``steps`` Hermite steps in one kernel call."""
    pos = np.stack([s[0] for s in batch])
    vel = np.stack([s[1] for s in batch])
    mass = np.stack([s[2] for s in batch])
    params = np.full(len(batch), ETA)
    n_steps, n_evals, _ = integrators.evolve_batch(HERMITE, pos, vel, mass, NEVER, params, 0.0, steps,
                                                   np.ones(len(batch), dtype=bool))
    if np.any(n_steps != steps):
        raise RuntimeError(f"batch ran {n_steps.tolist()} steps, not {steps} each")
    return int(n_evals.sum())


def run_rebound(state, steps: int) -> int:
    """Force evaluations of REBOUND's leapfrog with basic gravity over ``steps`` steps (one per step)."""
    pos, vel, mass = state
    sim = rebound.Simulation()
    sim.G = 1.0
    sim.gravity = "basic"
    sim.integrator = "leapfrog"
    sim.dt = DT
    for p, v, m in zip(pos, vel, mass, strict=True):
        sim.add(m=m, x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    sim.steps(steps)
    return steps


def ns_per_pair(run: Callable[[], int], n: int, repeats: int) -> float:
    """Median over ``repeats`` of CPU time per pair interaction, in ns."""
    samples = []
    for _ in range(repeats):
        start = time.process_time()
        evals = run()
        samples.append((time.process_time() - start) / (evals * pairs(n)) * 1e9)
    return statistics.median(samples)


def measure(n: int, total_pairs: float, repeats: int, batch_size: int) -> dict[str, float]:
    steps = max(10, math.ceil(total_pairs / pairs(n)))
    systems = states(n, batch_size)
    return {
        "hermite 1": ns_per_pair(lambda: run_one(HERMITE, ETA, systems[0], steps), n, repeats),
        f"hermite {batch_size}": ns_per_pair(lambda: run_batch(systems, max(10, steps // batch_size)), n, repeats),
        "leapfrog 1": ns_per_pair(lambda: run_one(LEAPFROG, DT, systems[0], steps), n, repeats),
        "rebound lf": ns_per_pair(lambda: run_rebound(systems[0], steps), n, repeats),
    }


def level_off(sizes: list[int], values: list[float], tolerance: float = 0.2) -> tuple[int, float]:
    """(N, plateau): the plateau is the median cost per pair over the three largest N, and N the smallest size
    from which every cost stays within ``tolerance`` of it (a single noisy sample cannot move the plateau)."""
    plateau = statistics.median(values[-3:])
    for i, n in enumerate(sizes):
        if all(abs(v / plateau - 1.0) <= tolerance for v in values[i:]):
            return n, plateau
    return sizes[-1], plateau


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 4, 8, 16, 32, 64, 128, 256])
    parser.add_argument("--pairs", type=float, default=4e6, help="pair interactions per timed run (default 4e6)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="systems per evolve_batch call (default 8)")
    parser.add_argument("--figure", help="save a log-log plot of ns per pair against N here")
    args = parser.parse_args()

    warm = states(4, args.batch)  # compile every kernel before timing
    run_one(HERMITE, ETA, warm[0], 10), run_one(LEAPFROG, DT, warm[0], 10), run_batch(warm, 10)
    print(f"CPU ns per pair interaction per force evaluation (median of {args.repeats}; numba threads: "
          f"{numba.get_num_threads()}; REBOUND {rebound.__version__})")
    rows = {}
    for n in args.sizes:
        rows[n] = measure(n, args.pairs, args.repeats, args.batch)
        if n == args.sizes[0]:
            print(f"{'N':>5} {'pairs':>7} " + " ".join(f"{name:>12}" for name in rows[n]))
        print(f"{n:>5} {pairs(n):>7} " + " ".join(f"{value:>12.2f}" for value in rows[n].values()), flush=True)
    columns = list(rows[args.sizes[0]])
    for name in columns:
        values = [rows[n][name] for n in args.sizes]
        n_flat, plateau = level_off(args.sizes, values)
        print(f"{name}: plateau {plateau:.1f} ns per pair, reached (within 20 %) from N = {n_flat}; "
              f"N = {args.sizes[0]} costs {values[0] / plateau:.1f}x per pair")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name in columns:
            ax.loglog(args.sizes, [rows[n][name] for n in args.sizes], "o-", label=name)
        ax.set_xlabel("N bodies")
        ax.set_ylabel("CPU ns per pair interaction")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
