"""Environment throughput against the integration it wraps: how much does the Python layer cost?

For the single environment (through ``gymnasium.make`` and raw) and the batched environment at
B = 1, 16, 256, with Hermite at a fixed ``eta`` (0.03, the paper's default, and 1e-3) on the
paper's initial conditions, this times ``step`` and then replays the very same states, with the
integrator state records the environment carried into each interval, through the bare kernels
(``integrators.advance_kernel`` for one system, ``integrators.advance_batch`` for a batch) over the
same intervals. overhead = env step - integration: observation, reward, info and bookkeeping.

It first compares one ``ThreeBody-v0`` (the discrete default, action 5: eta = 0.046, about 8
force evaluations per step) with ``CartPole-v1``, env-only steps/s in the same run, through
``gymnasium.make`` and unwrapped, interleaving the two so that load from other processes hits both.

    .venv/bin/python benchmarks/bench_env.py [--repeats 5] [--steps 100] [--ratio-steps 5000]

Numbers are medians over repeats, after a warm-up that compiles the Numba kernels.

Measured 2026-11-29 on the shared 2-core machine (about 6 other sessions running, so absolute
figures are 3-5x below an idle machine's; the ratio to CartPole in the same run is the figure to
read), ``--repeats 7``, two runs each, before = 893791d and after = the single-env speed-up:

    ThreeBody-v0 / CartPole-v1 env-only steps/s   before (893791d)          after
    gymnasium.make                                 0.08, 0.08 (3.3k, 2.8k/s)  0.50, 0.36 (15.0k, 13.4k/s)
    unwrapped                                      0.08, 0.10 (3.2k, 2.8k/s)  0.52, 0.48 (19.6k, 21.7k/s)
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode

import integrators
import threebody_env  # noqa: F401  (registers the ids)
from threebody_env import ThreeBodyEnv, ThreeBodyVectorEnv

ETAS = (0.03, 1e-3)
BATCHES = (1, 16, 256)


def continuous_action(eta: float, env) -> np.ndarray:
    """The continuous action whose parameter is ``eta`` (the discrete set does not contain 0.03)."""
    return env.unwrapped.actions.normalized(np.array([eta])).astype(np.float32)


def time_single(env, eta: float, steps: int, seed: int) -> tuple[float, float]:
    """Seconds per step of ``env.step`` and of ``advance_kernel`` on the same states and state records."""
    action = continuous_action(eta, env)
    systems = env.unwrapped._systems
    cfg = env.unwrapped.config
    env.reset(seed=seed)
    states, params, total = [], [], 0.0
    for _ in range(steps):
        states.append((systems.pos[0].copy(), systems.vel[0].copy(), systems.mass[0].copy(),
                       systems.states[0].copy()))
        start = time.perf_counter()
        _, _, terminated, truncated, info = env.step(action)
        total += time.perf_counter() - start
        params.append(info["param"])
        if terminated or truncated:
            env.reset()
    integration = 0.0
    for (pos, vel, mass, record), param in zip(states, params, strict=True):
        start = time.perf_counter()
        integrators.advance_kernel(cfg.method.method_id, pos, vel, mass, cfg.interval, param,
                                   cfg.softening, cfg.max_integrator_steps, record)
        integration += time.perf_counter() - start
    return total / steps, integration / steps


def time_vector(venv: ThreeBodyVectorEnv, eta: float, steps: int, seed: int) -> tuple[float, float]:
    """Seconds per batched step of ``venv.step`` and of the kernel it calls, on the same states.

    Autoreset is disabled, so a slot that fails stays frozen and costs nothing in either timing.
    """
    b = venv.num_envs
    actions = np.tile(continuous_action(eta, venv), (b, 1))
    systems, cfg = venv.systems, venv.config
    venv.reset(seed=seed)
    active = np.ones(b, dtype=bool)
    records, total = [], 0.0
    for _ in range(steps):
        records.append((systems.pos.copy(), systems.vel.copy(), systems.mass.copy(), systems.states.copy(),
                        active.copy()))
        start = time.perf_counter()
        _, _, terminated, truncated, info = venv.step(actions)
        total += time.perf_counter() - start
        active &= ~(terminated | truncated)
    params = np.full(b, info["param"][0])
    integration = 0.0
    for pos, vel, mass, state_records, was_active in records:
        start = time.perf_counter()
        if b == 1:  # as SystemBatch.advance does: the serial kernel for a single system
            integrators.advance_kernel(cfg.method.method_id, pos[0], vel[0], mass[0], cfg.interval, params[0],
                                       cfg.softening, cfg.max_integrator_steps, state_records[0])
        else:
            integrators.advance_batch(cfg.method.method_id, pos, vel, mass, cfg.interval, params,
                                      cfg.softening, cfg.max_integrator_steps, was_active, state_records)
        integration += time.perf_counter() - start
    return total / steps, integration / steps


CARTPOLE_ACTION = 0
THREEBODY_ACTION = 5  # eta = 10**-(4/3) = 0.046 of the default 7 values in [1e-3, 1e-1]


def steps_per_second(env, action: int, steps: int, seed: int) -> float:
    """Env-only steps per second of ``env`` under a constant ``action``, resetting when an episode ends."""
    env.reset(seed=seed)
    step = env.step
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def compare_with_cartpole(repeats: int, steps: int) -> None:
    """Print the median env-only steps/s of ThreeBody-v0 and CartPole-v1, and their ratio."""
    print(f"{'env-only steps/s':<26}{'CartPole-v1':>13}{'ThreeBody-v0':>14}{'ratio':>8}")
    for label, unwrap in (("gymnasium.make", False), ("unwrapped", True)):
        envs = [gymnasium.make(env_id) for env_id in ("CartPole-v1", "ThreeBody-v0")]
        if unwrap:
            envs = [env.unwrapped for env in envs]
        cartpole, threebody = envs
        steps_per_second(threebody, THREEBODY_ACTION, 100, 0)  # warm-up: Numba compilation
        rates = np.array([(steps_per_second(cartpole, CARTPOLE_ACTION, steps, seed),
                           steps_per_second(threebody, THREEBODY_ACTION, steps, seed)) for seed in range(repeats)])
        ratio = np.median(rates[:, 1] / rates[:, 0])
        print(f"{label:<26}{np.median(rates[:, 0]):>13,.0f}{np.median(rates[:, 1]):>14,.0f}{ratio:>8.2f}")
    print()


def median_of(repeats: int, run) -> tuple[float, float]:
    results = np.array([run(seed) for seed in range(repeats)])
    return float(np.median(results[:, 0])), float(np.median(results[:, 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="env steps per repeat (divided by B/16 for B > 16)")
    parser.add_argument("--ratio-steps", type=int, default=5000, help="steps per repeat of the CartPole comparison")
    args = parser.parse_args()
    compare_with_cartpole(args.repeats, args.ratio_steps)

    cases = []
    for eta in ETAS:
        made = gymnasium.make("ThreeBodyContinuous-v0")
        raw = ThreeBodyEnv(action_mode="continuous")
        cases.append(("gymnasium.make", 1, eta, lambda seed, e=made, eta=eta: time_single(e, eta, args.steps, seed)))
        cases.append(("ThreeBodyEnv", 1, eta, lambda seed, e=raw, eta=eta: time_single(e, eta, args.steps, seed)))
        for b in BATCHES:
            venv = ThreeBodyVectorEnv(b, autoreset_mode=AutoresetMode.DISABLED, action_mode="continuous")
            steps = max(10, args.steps * 16 // max(b, 16))
            cases.append(("ThreeBodyVectorEnv", b, eta,
                          lambda seed, v=venv, eta=eta, n=steps: time_vector(v, eta, n, seed)))

    for *_, run in cases:  # warm-up: Numba compilation and first-touch allocations
        run(1000)

    header = (f"{'environment':<20}{'B':>5}{'eta':>8}{'sys-steps/s':>13}{'us/step':>11}"
              f"{'integr. us':>12}{'overhead us':>13}{'overhead':>10}")
    print(header)
    print("-" * len(header))
    for name, b, eta, run in cases:
        total, integration = median_of(args.repeats, run)
        overhead = total - integration
        print(f"{name:<20}{b:>5}{eta:>8.0e}{b / total:>13,.0f}{total * 1e6:>11.1f}"
              f"{integration * 1e6:>12.1f}{overhead * 1e6:>13.1f}{overhead / total:>10.0%}")
    print("\nus/step is per env step (one interval of all B systems); sys-steps/s = B / (s per step).")


if __name__ == "__main__":
    main()
