"""Nanoseconds per integrator step for every method at N = 3 (not a test).

Integrates the figure-eight (Chenciner & Montgomery 2000) with each method's compiled kernel,
after a warm-up call, and reports the median over repeats of CPU time / steps (the thread's CPU
time, ``time.thread_time``, so other processes on a shared machine do not inflate it; all timed
code is single-threaded). Also reports how
long the first calls take in a fresh interpreter, with an empty Numba cache (compilation) and
with the package's on-disk cache, and, if ``rebound`` is importable, REBOUND's LEAPFROG and
IAS15 on the same problem in the same run, with our time per step divided by theirs.

Usage: python benchmarks/bench_integrators.py [--repeats 7] [--steps 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import integrators

PERIOD = 6.32591398
DURATION = 20 * PERIOD  # every timed run integrates 20 periods of the figure-eight


def figure_eight() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chenciner-Montgomery figure-eight: pos, vel (3, 3), masses (3,)."""
    x1 = np.array([0.97000436, -0.24308753, 0.0])
    v2 = np.array([-0.93240737, -0.86473146, 0.0])
    pos = np.array([x1, np.zeros(3), -x1])
    vel = np.array([-v2 / 2, v2, -v2 / 2])
    return pos, vel, np.ones(3)


_FIRST_CALL = """
import time
start = time.perf_counter()
import numpy as np, integrators
pos = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0]])
for info in integrators.METHODS.values():
    integrators.evolve(info.name, pos, np.zeros((3, 3)), np.ones(3), 0.1, info.default)
integrators.evolve_batch(0, pos[None].copy(), np.zeros((1, 3, 3)), np.ones((1, 3)), 0.1,
                         np.array([0.03]), 0.0, 100, np.array([True]))
print(time.perf_counter() - start)
"""


def first_call_seconds(cache_dir: str | None) -> float:
    """Seconds for import + first evolve of every method + first evolve_batch, in a fresh
    interpreter. ``cache_dir``: a Numba cache directory (an empty one forces compilation), or
    None for the package's own on-disk cache."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def ns_per_step(method_id: int, param: float, duration: float, repeats: int) -> tuple[float, int]:
    """Median ns per step of ``evolve_kernel`` over ``repeats`` runs, and the step count."""
    pos0, vel0, mass = figure_eight()
    times = []
    for _ in range(repeats + 1):  # the first run is a warm-up
        pos, vel = pos0.copy(), vel0.copy()
        start = time.thread_time()
        steps, _, status = integrators.evolve_kernel(method_id, pos, vel, mass, duration, param,
                                                     0.0, 10**9)
        times.append(time.thread_time() - start)
        assert status == 0, status
    return statistics.median(times[1:]) / steps * 1e9, steps


def rebound_ns_per_step(integrator: str, duration: float, repeats: int,
                        dt: float) -> tuple[float, int]:
    """Median ns per step of REBOUND on the figure-eight (IAS15 in its GLOBAL step mode)."""
    import rebound

    pos0, vel0, mass = figure_eight()
    times, steps = [], 0
    for _ in range(repeats + 1):
        sim = rebound.Simulation()
        for p, v, m in zip(pos0, vel0, mass, strict=True):
            sim.add(m=m, x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
        sim.integrator = integrator
        sim.dt = dt
        if integrator == "ias15":
            sim.integrator.adaptive_mode = "GLOBAL"  # the default stalls on the exact figure-eight
        start = time.thread_time()
        sim.integrate(duration, exact_finish_time=0)
        times.append(time.thread_time() - start)
        steps = sim.steps_done
    return statistics.median(times[1:]) / steps * 1e9, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200_000, help="approximate steps per run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as empty:
        cold = first_call_seconds(empty)
    warm = first_call_seconds(None)
    print(f"first call (import + every method + evolve_batch, fresh process): "
          f"{cold:.1f} s compiling (empty Numba cache), {warm:.2f} s from the on-disk cache")

    # Parameters giving about --steps steps on the figure-eight for each method.
    pos, vel, mass = figure_eight()
    tau = integrators.min_timescale(pos, vel, mass)
    print(f"\nN = 3 figure-eight, {DURATION:.1f} time units; CPU ns/step, median of {args.repeats}"
          " runs after a warm-up")
    print(f"{'method':<18} {'param':>10} {'steps':>9} {'evals/step':>10} {'ns/step':>9}")
    results = {}
    for info in integrators.METHODS.values():
        if info.param == "dt":
            param = DURATION / args.steps
        elif info.param == "tol":
            param = 1e-14  # dopri5's steps are large; the count is smaller at any sensible tol
        elif info.param == "epsilon":
            param = info.default  # IAS15: a step costs 1 + 7 per predictor-corrector iteration
        else:
            eta = 0.5 * DURATION / args.steps / tau
            param = eta**2 if info.name == "hermite_aarseth" else eta
        ns, steps = ns_per_step(info.method_id, param, DURATION, args.repeats)
        evals = integrators.evolve(info.name, pos, vel, mass, DURATION, param).n_force_evals
        results[info.name] = ns
        print(f"{info.name:<18} {param:>10.3g} {steps:>9d} {evals / steps:>10.2f} {ns:>9.1f}")

    try:
        import rebound  # noqa: F401
    except ImportError:
        print("\nrebound not installed (pip install -e '.[bench]'): no reference timings")
        return
    lf_ns, lf_steps = rebound_ns_per_step("leapfrog", DURATION, args.repeats, DURATION / args.steps)
    ias_ns, ias_steps = rebound_ns_per_step("ias15", DURATION, args.repeats, 1e-3)
    print(f"\nREBOUND {rebound.__version__} (same problem, same process)")
    print(f"{'LEAPFROG':<18} {lf_steps:>9d} steps {lf_ns:>9.1f} ns/step")
    print(f"{'IAS15 (GLOBAL)':<18} {ias_steps:>9d} steps {ias_ns:>9.1f} ns/step")
    print("\nratios (ours / REBOUND, per step):")
    print(f"  leapfrog / LEAPFROG = {results['leapfrog'] / lf_ns:.2f}")
    print(f"  hermite  / LEAPFROG = {results['hermite'] / lf_ns:.2f}")
    for name, ns in results.items():
        print(f"  {name:<17} / IAS15 = {ns / ias_ns:.3f}")
    print("  (ias15_global and REBOUND's GLOBAL IAS15 take about the same steps here: their ratio is the speed-up)")
    print(f"\ntargets: hermite <= 150 ns/step: {results['hermite']:.0f} ns; "
          f"leapfrog no slower than REBOUND LEAPFROG: ratio {results['leapfrog'] / lf_ns:.2f}")


if __name__ == "__main__":
    main()
