"""Seeded trajectories of the single environment, recorded to pin its results bit for bit.

``tests/data/env_trajectories.npz`` was written by ``python -m tests.trajectories`` on the code
before the single-env speed-up (commit 893791d); ``test_env_trajectories.py`` replays the same
configurations and seeds and compares every observation, reward, flag and info value exactly.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numba import njit

from threebody_env import ThreeBodyEnv

DATA = Path(__file__).parent / "data" / "env_trajectories.npz"

#: Configurations covering every observation, reward, action mode and integrator, failures and budgets.
CONFIGS: dict[str, dict] = {
    "default": {},
    "continuous_full_accumulated_dopri5": dict(action_mode="continuous", observation="full", reward="accumulated",
                                               integrator="dopri5"),
    "paper_paper_aarseth": dict(observation="paper", reward="paper", integrator="hermite_aarseth"),
    "continuous_interval_leapfrog": dict(action_mode="continuous", observation="full", reward="interval",
                                         integrator="leapfrog", cost_weight=0.1),
    "summary_final_adaptive_leapfrog_failing": dict(integrator="adaptive_leapfrog", max_energy_error=1e-5),
    "full_final_rk4_budget": dict(integrator="rk4", observation="full", max_integrator_steps=50),
    "continuous_yoshida_pythagorean": dict(action_mode="continuous", integrator="yoshida4",
                                           initial_conditions="pythagorean"),
}
STEPS = 120
EPISODE = 40  # intervals before a forced reset, so that resets are recorded too
INFO_KEYS = ("energy_error", "step_energy_error", "n_force_evals", "n_steps", "param", "time", "status")


@njit(cache=True)
def _compiled_math(x):
    out = np.empty((3, x.size))
    for i in range(x.size):
        out[0, i], out[1, i], out[2, i] = np.log10(x[i]), np.arcsinh(x[i]), np.sqrt(x[i])
    return out


def math_fingerprint() -> str:
    """A hash of the transcendental functions the env's results go through (NumPy's vectorised log10
    and power, compiled log10/arcsinh), on fixed arguments: it changes with the platform's bits."""
    x = 10.0 ** np.random.default_rng(0).uniform(-17.0, 3.0, 4096)
    parts = (np.log10(x), 10.0 ** np.log10(x), _compiled_math(x))
    return hashlib.sha256(b"".join(p.tobytes() for p in parts)).hexdigest()


def record(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Run configuration ``name`` for ``STEPS`` steps of seeded random actions; arrays keyed ``<name>/<field>``."""
    env = ThreeBodyEnv(record_wall_time=False, **CONFIGS[name])
    env.action_space.seed(seed)
    observations, rewards, flags, infos = [], [], [], []
    obs, info = env.reset(seed=seed)
    length = 0
    for _ in range(STEPS):
        observations.append(obs)
        infos.append(info)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.append(reward)
        flags.append((terminated, truncated))
        length += 1
        if terminated or length == EPISODE:
            observations.append(obs)  # the last observation of the episode, then a reset
            infos.append(info)
            obs, info = env.reset()
            length = 0
    observations.append(obs)
    infos.append(info)
    out = {f"{name}/obs": np.array(observations), f"{name}/reward": np.array(rewards),
           f"{name}/flags": np.array(flags)}
    for key in INFO_KEYS:
        out[f"{name}/info_{key}"] = np.array([i[key] for i in infos])
    return out


def record_all() -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name in CONFIGS:
        arrays.update(record(name))
    return arrays


if __name__ == "__main__":
    DATA.parent.mkdir(exist_ok=True)
    arrays = record_all()
    np.savez_compressed(DATA, math_fingerprint=np.array(math_fingerprint()), **arrays)
    print(f"wrote {DATA} ({DATA.stat().st_size} bytes)")
