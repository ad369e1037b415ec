"""Fault sweep: extreme and random settings, actions and initial conditions through the batched env.

    python benchmarks/fault_sweep.py [--steps 10000] [--seed 0] [--max-step-seconds 10] [--out sweep.json]

Seeded (one ``numpy.random.Generator``), outside the test suite. Each configuration family runs at
least ``--steps`` system-steps (one system advancing one interval) through
:class:`~threebody_env.ThreeBodyVectorEnv`:

- ``families``: every N-body family at N = 3..64 (plummer; planetary: a star and 3..63 planets;
  hierarchical systems have 3 or 4 bodies by construction), on random integrators, random actions;
- ``integrators``: every integrator of ``integrators.METHODS`` (IAS15 included) on the paper's
  systems, random actions of both modes;
- ``action_edges``: both action modes held at the edges of their range (discrete 0 and n-1,
  continuous -1 and +1), on every integrator;
- ``head_on``: two bodies approaching head-on with impact parameters 1e-9..1e-2, a third far
  away, on every integrator (random actions);
- ``kwargs``: random keyword arguments of the environment, valid and invalid; each either builds
  (and is then stepped with random actions) or raises a ``ValueError``/``TypeError`` of one line.

Checked at every step: the observation finite, float32 and inside the observation space; the
reward finite; the flags booleans; the numeric info finite; the step's CPU time (all threads)
under ``--max-step-seconds``. Every violation is printed with its configuration and saved to ``--out``;
the exit code is 1 if there was any. The counts go to stdout (and ``--out``) for the report.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

import integrators
from threebody_env import FAMILIES, ThreeBodyVectorEnv
from threebody_env.config import COSTS, OBSERVATIONS, REWARDS

#: Systems stepped together, and episode length in intervals.
BATCH = 8
EPISODE_INTERVALS = 25
#: Integrator steps per interval allowed to an N-body family system, by largest N: keeps a step at the
#: smallest parameter affordable at N = 64 (the sweep checks robustness, not accuracy; a system out of
#: budget ends its episode with status MAX_STEPS, one of the paths checked).
STEP_BUDGETS = ((8, 20_000), (16, 5_000), (64, 1_000))


@dataclass
class Tally:
    """Counts and failures of one configuration family."""

    steps: int = 0
    configurations: int = 0
    rejected: list[str] = field(default_factory=list)  # settings refused with a one-line error
    failures: list[dict[str, Any]] = field(default_factory=list)
    slowest_step: float = 0.0


def check_step(env: ThreeBodyVectorEnv, obs: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
               truncated: np.ndarray, info: dict[str, Any]) -> list[str]:
    """What is wrong with one batched step's outputs (empty if nothing)."""
    problems = []
    if obs.dtype != np.float32 or not np.all(np.isfinite(obs)):
        problems.append(f"observation not finite float32 (dtype {obs.dtype})")
    elif not all(env.single_observation_space.contains(o) for o in obs):
        problems.append("observation outside the observation space")
    if not np.all(np.isfinite(rewards)):
        problems.append(f"non-finite reward {rewards[~np.isfinite(rewards)][:3]}")
    if terminated.dtype != np.bool_ or truncated.dtype != np.bool_:
        problems.append(f"flags of dtype {terminated.dtype}/{truncated.dtype}")
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        array = np.asarray(value)
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)) and key != "energy_error":
            problems.append(f"info[{key!r}] not finite")
    return problems


def random_actions(env: ThreeBodyVectorEnv, rng: np.random.Generator) -> np.ndarray:
    if env.config.action_mode == "discrete":
        return rng.integers(0, env.config.n_actions, size=env.num_envs)
    return rng.uniform(-1.0, 1.0, size=(env.num_envs, 1))


def edge_actions(env: ThreeBodyVectorEnv, rng: np.random.Generator) -> np.ndarray:
    """Each system at one end of the range or the other, at random."""
    high = rng.random(env.num_envs) < 0.5
    if env.config.action_mode == "discrete":
        return np.where(high, env.config.n_actions - 1, 0)
    return np.where(high, 1.0, -1.0)[:, None]


def run_config(tally: Tally, kwargs: dict[str, Any], steps: int, rng: np.random.Generator,
               actions: Callable[[ThreeBodyVectorEnv, np.random.Generator], np.ndarray], max_seconds: float) -> None:
    """Build the env from ``kwargs`` (a one-line error counts as a rejection) and step it ``steps``
    system-steps, recording every problem with the configuration."""
    label = {k: (v.__name__ if callable(v) else v) for k, v in kwargs.items()}
    try:
        env = ThreeBodyVectorEnv(num_envs=BATCH, max_episode_steps=EPISODE_INTERVALS,
                                 autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
        env.reset(seed=int(rng.integers(2**31)))
    except (ValueError, TypeError) as error:
        tally.rejected.append(f"{label}: {error}")
        if "\n" in str(error) or not str(error):
            tally.failures.append({"config": label, "problem": f"rejection not one line: {error!r}"})
        return
    except Exception as error:  # anything but a clear ValueError/TypeError is a failure of the API
        tally.failures.append({"config": label, "problem": f"{type(error).__name__} at construction: {error}"})
        return
    tally.configurations += 1
    done = 0
    while done < steps:
        start = time.process_time()  # CPU time of all threads: the work, whatever the machine's load
        try:
            outputs = env.step(actions(env, rng))
        except Exception as error:
            tally.failures.append({"config": label, "problem": f"{type(error).__name__} in step: {error}"})
            return
        elapsed = time.process_time() - start
        tally.slowest_step = max(tally.slowest_step, elapsed)
        problems = check_step(env, *outputs)
        if elapsed > max_seconds:
            problems.append(f"step took {elapsed:.1f} s of CPU")
        if problems:
            tally.failures.append({"config": label, "step": done, "problem": "; ".join(problems)})
            return
        done += env.num_envs
    tally.steps += done
    print(f"  {done:6d} steps, slowest {tally.slowest_step:5.2f} s CPU: {label}", flush=True)


#: Total body counts per family: up to 64, except hierarchical systems, which have 3 or 4 bodies.
FAMILY_SIZES = {"plummer": (3, 8, 16, 32, 64), "hierarchical": (3, 4), "planetary": (4, 8, 16, 32, 64)}


def family_configs(rng: np.random.Generator) -> Iterator[dict[str, Any]]:
    """Every family at each of its :data:`FAMILY_SIZES`, on a random integrator and action mode."""
    methods = list(integrators.METHODS)
    for name in FAMILIES:
        for n in FAMILY_SIZES[name]:
            kwargs: dict[str, Any] = {"initial_conditions": name, "n_bodies": n if name != "planetary" else n - 1,
                                      "integrator": str(rng.choice(methods)),
                                      "action_mode": str(rng.choice(["discrete", "continuous"]))}
            kwargs["max_integrator_steps"] = next(budget for most, budget in STEP_BUDGETS if n <= most)
            yield kwargs


def head_on_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bodies 0 and 1 falling towards each other along x with impact parameter 10**U[-9, -2] (in units
    of their separation 1), body 2 at distance ~10 at rest; masses 1/3 each (the paper's units)."""
    b = 10.0 ** rng.uniform(-9, -2)
    speed = rng.uniform(0.0, 1.0)
    pos = np.array([[-0.5, -b / 2, 0.0], [0.5, b / 2, 0.0], [rng.uniform(-10, 10), 10.0, 0.0]])
    vel = np.array([[speed, 0.0, 0.0], [-speed, 0.0, 0.0], [0.0, 0.0, 0.0]])
    return pos, vel, np.full(3, 1.0 / 3.0)


#: Values that a setting of each kind might be given by mistake.
BAD_VALUES: list[Any] = [math.nan, math.inf, -math.inf, -1, 0, 2**70, 1e308, 5e-324, "", "abc", None, True, (), (1.0,),
                         (1e-3, 1e-4), (0.0, 1.0), [1, 2, 3], {"a": 1}, -0.0, 1e-300, 10**12 + 1]


def random_kwargs(rng: np.random.Generator) -> dict[str, Any]:
    """Settings drawn at random: mostly valid values, with one setting (half the time) given a value
    from :data:`BAD_VALUES` or an unknown name."""
    method = str(rng.choice(list(integrators.METHODS)))
    lo, hi = integrators.METHODS[method].param_range
    a, b = np.sort(10.0 ** rng.uniform(math.log10(lo), math.log10(hi), size=2))
    kwargs: dict[str, Any] = {
        "integrator": method, "action_mode": str(rng.choice(["discrete", "continuous"])),
        "param_range": (float(a), float(b) * 1.0001), "n_actions": int(rng.integers(2, 20)),
        "observation": str(rng.choice(OBSERVATIONS)), "reward": str(rng.choice(REWARDS)),
        "cost": str(rng.choice(COSTS)), "interval": float(10.0 ** rng.uniform(-3, 1)),
        "max_energy_error": float(10.0 ** rng.uniform(-8, 0)), "cost_weight": float(10.0 ** rng.uniform(-8, 2)),
        "failure_penalty": float(rng.uniform(0, 100)), "softening": float(rng.choice([0.0, 1e-6, 1e-2])),
        "max_integrator_steps": int(10 ** rng.uniform(2, 5)),
    }
    if kwargs["cost"] == "wall_time":
        kwargs["record_wall_time"] = True
    if rng.random() < 0.5:
        key = str(rng.choice([*kwargs, "paper_weights", "target_error", "error_ceiling", "n_bodies",
                              "initial_conditions", "initial_condition_kwargs", "no_such_setting"]))
        kwargs[key] = BAD_VALUES[int(rng.integers(len(BAD_VALUES)))]
    return kwargs


def sweep(steps: int, seed: int, max_seconds: float) -> dict[str, Tally]:
    rng = np.random.default_rng(seed)
    tallies = {name: Tally() for name in ("families", "integrators", "action_edges", "head_on", "kwargs")}
    configs = list(family_configs(rng))
    for kwargs in configs:
        run_config(tallies["families"], kwargs, -(-steps // len(configs)), rng, random_actions, max_seconds)
    methods = list(integrators.METHODS)
    for method in methods:
        for mode in ("discrete", "continuous"):
            kwargs = {"integrator": method, "action_mode": mode}
            run_config(tallies["integrators"], kwargs, -(-steps // (2 * len(methods))), rng, random_actions,
                       max_seconds)
            run_config(tallies["action_edges"], kwargs, -(-steps // (2 * len(methods))), rng, edge_actions,
                       max_seconds)
            run_config(tallies["head_on"], {**kwargs, "initial_conditions": head_on_pair},
                       -(-steps // (2 * len(methods))), rng, random_actions, max_seconds)
    while tallies["kwargs"].steps < steps:
        run_config(tallies["kwargs"], random_kwargs(rng), 4 * BATCH, rng, random_actions, max_seconds)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="system-steps per configuration family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-step-seconds", type=float, default=10.0,
                        help="a batched step taking more CPU time than this is a failure")
    parser.add_argument("--out", help="write the counts and failures as JSON here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    tallies = sweep(args.steps, args.seed, args.max_step_seconds)
    report = {name: {"steps": t.steps, "configurations": t.configurations, "rejected": t.rejected,
                     "slowest_step_cpu_s": round(t.slowest_step, 3), "failures": t.failures}
              for name, t in tallies.items()}
    for name, t in tallies.items():
        print(f"{name:13s} {t.steps:7d} steps  {t.configurations:4d} configurations  {len(t.rejected):4d} rejected  "
              f"slowest step {t.slowest_step:6.2f} s  {len(t.failures)} failures")
        for failure in t.failures:
            print(f"    FAIL {failure}")
    print(f"seed {args.seed}; {time.perf_counter() - start:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, default=repr)
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
