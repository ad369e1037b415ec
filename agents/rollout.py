"""Run a policy for one episode on each of many initial conditions, batched.

Validation during training, ``evaluate.py`` and the Dask scale-out all call :func:`rollout`:
one :class:`~threebody_env.ThreeBodyVectorEnv` per chunk of initial conditions, one batched
``predict`` per interval (batched, a policy costs far less per observation than alone).

Asked for a ``local_error`` function, a rollout also records each interval's start and end state
and scores every episode with it: the episode's summed local error, the second accuracy measure of
the verdict (:func:`reference_local_errors`, against the independent reference integrator).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from gymnasium.vector import AutoresetMode

import integrators
from threebody_env import ThreeBodyVectorEnv
from threebody_env.config import EnvConfig, as_config


class Policy(Protocol):
    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]: ...


class LocalErrorFunction(Protocol):
    """Per-interval local errors (T,) of one episode from its intervals' start and end states
    (T, N, 3) each, the masses (N,), the interval's duration and the Plummer softening [N-body units]."""

    def __call__(self, start_pos: np.ndarray, start_vel: np.ndarray, end_pos: np.ndarray, end_vel: np.ndarray,
                 mass: np.ndarray, interval: float, softening: float) -> np.ndarray: ...


def reference_local_errors(start_pos: np.ndarray, start_vel: np.ndarray, end_pos: np.ndarray, end_vel: np.ndarray,
                           mass: np.ndarray, interval: float, softening: float) -> np.ndarray:
    """The :class:`LocalErrorFunction` of evaluation: each interval integrated again from its start
    state by the independent extended-precision reference, and the phase-space distance of the
    method's end state from the reference's (:func:`integrators.episode_local_errors`)."""
    return integrators.episode_local_errors(start_pos, start_vel, end_pos, end_vel, mass, interval, softening=softening)


@dataclass
class EpisodeTrace:
    """One episode sampled at interval ends: ``time`` (T+1,), ``energy_error`` (T+1,) signed,
    ``param`` (T+1,) (the value applied during the interval ending there; the first is the
    reference), ``pos`` (T+1, N, 3)."""

    seed: int
    time: np.ndarray
    energy_error: np.ndarray
    param: np.ndarray
    pos: np.ndarray


@dataclass
class RolloutResult:
    """Per-episode outcomes of one policy, each a (E,) array in the order of ``seeds``.

    ``end`` says why the episode ended: "time_limit", or a failure: "energy_limit",
    "max_steps", "non_finite". ``deployed_wall_time`` is the episode's time run as deployed (one
    system at a time, one decision per interval: observation, decision and integration), in
    seconds; NaN where it was not measured (the batched rollouts here do not). ``local_error`` is
    the episode's local error summed over its intervals (dimensionless); NaN where not measured.
    """

    name: str
    seeds: np.ndarray
    final_energy_error: np.ndarray  # signed, cumulative (E - E0) / |E0| at the end
    max_energy_error: np.ndarray  # max over interval ends of |dE/E0|
    force_evals: np.ndarray
    integrator_steps: np.ndarray
    wall_time: np.ndarray  # seconds, the kernel's time shared out by force evaluations
    intervals: np.ndarray
    episode_return: np.ndarray
    end: np.ndarray
    mean_log_param: np.ndarray
    # seconds; None (resolved in __post_init__) becomes NaN for every episode, hence the ignore
    deployed_wall_time: np.ndarray = None  # type: ignore[assignment]
    local_error: np.ndarray = None  # type: ignore[assignment]  # likewise
    traces: list[EpisodeTrace] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.deployed_wall_time is None:
            self.deployed_wall_time = np.full(self.seeds.shape, np.nan)
        if self.local_error is None:
            self.local_error = np.full(self.seeds.shape, np.nan)

    @property
    def failed(self) -> np.ndarray:
        return self.end != "time_limit"

    @classmethod
    def concatenate(cls, parts: Sequence[RolloutResult]) -> RolloutResult:
        """Join results of the same policy on consecutive chunks of seeds."""
        arrays = {
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in cls.__dataclass_fields__
            if name not in ("name", "traces")
        }
        return cls(name=parts[0].name, traces=[t for p in parts for t in p.traces], **arrays)


def rollout(
    policy: Policy,
    seeds: Sequence[int],
    *,
    env_kwargs: EnvConfig | dict[str, Any] | None = None,
    n_intervals: int = 300,
    name: str = "policy",
    n_traces: int = 0,
    batch_size: int = 1024,
    deterministic: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    local_error: LocalErrorFunction | None = None,
) -> RolloutResult:
    """Run ``policy`` for one episode of at most ``n_intervals`` intervals from each seed's initial condition.

    ``env_kwargs`` (an ``EnvConfig`` or its keyword arguments) configure
    :class:`~threebody_env.ThreeBodyVectorEnv`; a policy with an
    ``action_mode`` attribute (the fixed baselines) runs in an environment of that mode. The first
    ``n_traces`` episodes are recorded in full. ``on_chunk(k)`` is called after each chunk of k
    episodes (for progress bars). With ``local_error`` (e.g. :func:`reference_local_errors`) each
    episode's intervals are scored by it into ``local_error``; the states are kept meanwhile, 4 x 8
    bytes x ``n_intervals`` x 3 N per episode of a chunk. The result depends only on the policy,
    the seeds and the settings, never on ``batch_size``, apart from ``wall_time``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("rollout needs at least one seed")
    if n_intervals < 1 or batch_size < 1:
        raise ValueError(f"n_intervals={n_intervals} and batch_size={batch_size} must be >= 1")
    config = as_config(env_kwargs)
    action_mode = getattr(policy, "action_mode", None)  # a fixed-action baseline says which action it gives
    if action_mode is not None and action_mode != config.action_mode:
        config = replace(config, action_mode=action_mode)
    parts = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start : start + batch_size]
        traced = max(0, min(n_traces - start, len(chunk)))
        parts.append(_rollout_chunk(policy, chunk, config, n_intervals, name, traced, deterministic, local_error))
        if on_chunk is not None:
            on_chunk(len(chunk))
    return RolloutResult.concatenate(parts)


def _rollout_chunk(policy: Policy, seeds: list[int], config: EnvConfig, n_intervals: int, name: str,
                   n_traces: int, deterministic: bool, local_error: LocalErrorFunction | None) -> RolloutResult:
    b = len(seeds)
    env = ThreeBodyVectorEnv(num_envs=b, max_episode_steps=n_intervals, autoreset_mode=AutoresetMode.DISABLED,
                             config=config)
    obs, info = env.reset(seed=seeds)
    systems = env.systems
    running = np.ones(b, dtype=bool)
    max_error = np.zeros(b)
    force_evals = np.zeros(b, dtype=np.int64)
    steps = np.zeros(b, dtype=np.int64)
    wall_time = np.zeros(b)
    returns = np.zeros(b)
    log_param_sum = np.zeros(b)
    end = np.full(b, "time_limit", dtype=object)
    history = [_snapshot(systems, n_traces)]
    record = local_error is not None  # each interval's start and end state, for the local error
    states = np.empty((4, n_intervals if record else 0, *systems.pos.shape))
    for k in range(n_intervals):
        actions, _ = policy.predict(obs, deterministic=deterministic)
        if record:
            states[0, k], states[1, k] = systems.pos, systems.vel
        obs, rewards, terminated, truncated, info = env.step(actions)
        if record:
            states[2, k], states[3, k] = systems.pos, systems.vel
        r = running
        max_error[r] = np.maximum(max_error[r], np.abs(np.nan_to_num(info["energy_error"][r], nan=np.inf)))
        force_evals[r] += info["n_force_evals"][r]
        steps[r] += info["n_steps"][r]
        wall_time[r] += info["wall_time"][r]
        returns[r] += rewards[r]
        log_param_sum[r] += np.log10(info["param"][r])
        history.append(_snapshot(systems, n_traces))
        failed_now = terminated & r
        end[failed_now] = np.where(info["status"][failed_now] == "ok", "energy_limit", info["status"][failed_now])
        running = r & ~(terminated | truncated)
        if not running.any():
            break
    intervals = systems.intervals.copy()
    traces = [
        EpisodeTrace(
            seed=seeds[i],
            time=np.array([h[0][i] for h in history[: intervals[i] + 1]]),
            energy_error=np.array([h[1][i] for h in history[: intervals[i] + 1]]),
            param=np.array([h[2][i] for h in history[: intervals[i] + 1]]),
            pos=np.array([h[3][i] for h in history[: intervals[i] + 1]]),
        )
        for i in range(n_traces)
    ]
    return RolloutResult(
        name=name,
        seeds=np.asarray(seeds, dtype=np.int64),
        final_energy_error=systems.energy_error.copy(),
        max_energy_error=max_error,
        force_evals=force_evals,
        integrator_steps=steps,
        wall_time=wall_time,
        intervals=intervals,
        episode_return=returns,
        end=end.astype(str),
        mean_log_param=log_param_sum / np.maximum(intervals, 1),
        local_error=(np.full(b, np.nan) if local_error is None
                     else _episode_local_errors(local_error, states, systems.mass, intervals, env.config)),
        traces=traces,
    )


def _episode_local_errors(local_error: LocalErrorFunction, states: np.ndarray, mass: np.ndarray,
                          intervals: np.ndarray, config: EnvConfig) -> np.ndarray:
    """Each episode's local error summed over the intervals it ran, from ``states`` (4, T, B, N, 3):
    start positions, start velocities, end positions, end velocities of every interval. A non-finite
    sum (an integration that blew up) is ``inf``, so that NaN keeps meaning "not measured"."""
    sums = np.empty(intervals.size)
    for i, t in enumerate(intervals):
        start_pos, start_vel, end_pos, end_vel = (np.ascontiguousarray(a[:t, i]) for a in states)
        sums[i] = np.sum(local_error(start_pos, start_vel, end_pos, end_vel, np.ascontiguousarray(mass[i]),
                                     config.interval, config.softening))
    return np.where(np.isfinite(sums), sums, np.inf)


def _snapshot(systems, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, energy error, parameter and positions of the first ``n`` systems (copies)."""
    return systems.time[:n].copy(), systems.energy_error[:n].copy(), systems.param[:n].copy(), systems.pos[:n].copy()
