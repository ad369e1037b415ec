"""REBOUND's IAS15 (Rein & Spiegel 2015) as the high-accuracy reference a user might pick instead.

Same initial conditions as the environment (drawn by :class:`~threebody_env.ThreeBodyVectorEnv`
from the same seeds), G = 1, the same intervals, energy error measured at each interval end with
the project's own energy function. IAS15's default step criterion (PRS23) can stall (dt ~ 1e-33 on
the exact figure-eight), so it runs in the GLOBAL adaptive mode, and an interval that needs more
than ``max_integrator_steps`` steps ends the episode as "max_steps", as in the environment.

REBOUND has no force-evaluation counter: each episode runs twice, once with an
``additional_forces`` callback that counts the calls (one per force evaluation) and once without,
for wall time. Optional: needs ``pip install rebound`` (the ``bench`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

import integrators
from agents.rollout import EpisodeTrace, RolloutResult
from threebody_env import ThreeBodyVectorEnv
from threebody_env.config import EnvConfig, as_config

IAS15_NAME = "REBOUND IAS15"
_BUDGET_CHECK_EVERY = 4096  # force evaluations between step-budget checks in the counting run


def available() -> bool:
    """Whether ``rebound`` can be imported."""
    try:
        import rebound  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class _Episode:
    time: list[float]
    energy_error: list[float]
    pos: list[np.ndarray]
    force_evals: int
    steps: int
    end: str
    wall_time: float = 0.0


def _simulation(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, softening: float):
    import rebound

    sim = rebound.Simulation()
    sim.G = 1.0
    sim.softening = softening
    sim.integrator = "ias15"
    sim.integrator.adaptive_mode = "GLOBAL"
    for m, p, v in zip(mass, pos, vel, strict=True):
        sim.add(m=float(m), x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    return sim


def _counted_episode(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, energy0: float, config: EnvConfig,
                     n_intervals: int) -> _Episode:
    """Integrate interval by interval, counting force evaluations and recording the energy error."""
    sim = _simulation(pos, vel, mass, config.softening)
    calls = [0]
    interval_start_steps = [0]

    def count(_sim_pointer) -> None:
        calls[0] += 1
        if calls[0] % _BUDGET_CHECK_EVERY != 0:  # reading sim.steps_done every force evaluation costs
            return
        if sim.steps_done - interval_start_steps[0] > config.max_integrator_steps:
            sim.stop()

    sim.additional_forces = count
    xyz, vxvyvz = np.zeros(3 * sim.N), np.zeros(3 * sim.N)
    episode = _Episode([0.0], [0.0], [pos.copy()], 0, 0, "time_limit")
    for k in range(1, n_intervals + 1):
        interval_start_steps[0] = sim.steps_done
        target = k * config.interval
        sim.integrate(target)
        sim.serialize_particle_data(xyz=xyz, vxvyvz=vxvyvz)
        p, v = xyz.reshape(-1, 3).copy(), vxvyvz.reshape(-1, 3)
        error = (integrators.energy(p, v, mass, config.softening) - energy0) / abs(energy0)
        episode.time.append(float(sim.t))
        episode.energy_error.append(error if np.isfinite(error) else np.inf)
        episode.pos.append(p)
        if target - sim.t > 1e-12 * target:  # stopped by the step budget
            episode.end = "max_steps"
        elif not np.isfinite(error) or not np.all(np.isfinite(p)):
            episode.end = "non_finite"
        elif abs(error) > config.max_energy_error:
            episode.end = "energy_limit"
        if episode.end != "time_limit":
            break
    episode.force_evals, episode.steps = calls[0], int(sim.steps_done)
    return episode


def _timed(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, config: EnvConfig, episode: _Episode) -> float:
    """Seconds the counted ``episode`` takes without the counting callback: the same intervals, and
    the same number of steps when the budget stopped it."""
    sim = _simulation(pos, vel, mass, config.softening)
    completed = len(episode.time) - 1 - (episode.end == "max_steps")
    start = time.perf_counter()
    for k in range(1, completed + 1):
        sim.integrate(k * config.interval)
    if episode.end == "max_steps":
        sim.steps(episode.steps - sim.steps_done)
    return time.perf_counter() - start


def rollout_ias15(seeds: Sequence[int], *, env_kwargs: EnvConfig | dict[str, Any] | None = None, n_intervals: int = 300,
                  name: str = IAS15_NAME, n_traces: int = 0) -> RolloutResult:
    """IAS15 episodes from the initial conditions of ``seeds``, as a :class:`RolloutResult`.

    The environment settings (an ``EnvConfig`` or its keyword arguments) give the interval, softening,
    error limit and step budget. Episodes
    have no reward and no time-step parameter: ``episode_return``, ``mean_log_param`` and the
    traces' ``param`` are NaN.
    """
    config = as_config(env_kwargs)
    if not config.record_wall_time:
        config = replace(config, record_wall_time=True)
    env = ThreeBodyVectorEnv(num_envs=len(seeds), autoreset_mode=AutoresetMode.DISABLED, config=config)
    env.reset(seed=[int(s) for s in seeds])
    s = env.systems
    episodes = []
    for i in range(len(seeds)):
        episode = _counted_episode(s.pos[i], s.vel[i], s.mass[i], float(s.energy0[i]), config, n_intervals)
        episode.wall_time = _timed(s.pos[i], s.vel[i], s.mass[i], config, episode)
        episodes.append(episode)
    nan = np.full(len(seeds), np.nan)
    return RolloutResult(
        name=name,
        seeds=np.asarray(seeds, dtype=np.int64),
        final_energy_error=np.array([e.energy_error[-1] for e in episodes]),
        max_energy_error=np.array([np.max(np.abs(e.energy_error)) for e in episodes]),
        force_evals=np.array([e.force_evals for e in episodes], dtype=np.int64),
        integrator_steps=np.array([e.steps for e in episodes], dtype=np.int64),
        wall_time=np.array([e.wall_time for e in episodes]),
        intervals=np.array([len(e.time) - 1 for e in episodes], dtype=np.int64),
        episode_return=nan,
        end=np.array([e.end for e in episodes]),
        mean_log_param=nan.copy(),
        traces=[
            EpisodeTrace(seed=int(seeds[i]), time=np.array(e.time), energy_error=np.array(e.energy_error),
                         param=np.full(len(e.time), np.nan), pos=np.array(e.pos))
            for i, e in enumerate(episodes[:n_traces])
        ],
    )
