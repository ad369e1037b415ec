"""Deployed episodes on the environment's initial conditions: one system at a time, one decision per interval.

:func:`deployed_episodes` runs a :class:`controller.Controller` (or a fixed parameter) from each
seed's initial condition exactly as :class:`~threebody_env.ThreeBodyVectorEnv` would (same
sampler, same seeding, same bookkeeping: the final error and force evaluations are bit for bit
those of ``agents.rollout.rollout`` with the same policy), but as a user would embed the
controller in a simulation, and times each episode as a whole (observations and decisions included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from controller import Controller, EpisodeSettings, run_episode
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig, as_config
from threebody_env.systems import STATUS_NAMES, validate_initial_condition


def episode_settings(config: EnvConfig) -> EpisodeSettings:
    """The settings of a deployed episode in the environment ``config`` describes."""
    if config.cost != "force_evals":
        raise ValueError(f"a deployed episode observes cost in force evaluations; cost={config.cost!r} is wall time")
    log_low, log_high = np.log10(config.param_range)  # as the environment's ActionMap, bit for bit
    actions = ActionMap(config)
    ranges = actions.log_ranges if actions.log_ranges is not None else np.zeros((0, 2))
    return EpisodeSettings(
        method_id=config.method.method_id, interval=config.interval, softening=config.softening,
        max_integrator_steps=int(config.max_integrator_steps), max_energy_error=config.max_energy_error,
        reference_param=config.reference_param, cost_reference_param=config.cost_reference_param,
        log_range=(float(log_low), float(log_high)), observation=config.observation,
        method_ids=tuple(m.method_id for m in config.methods) if len(ranges) else (),
        log_ranges=tuple((float(lo), float(hi)) for lo, hi in ranges),
        action_methods=tuple(actions.method_of.tolist()) if len(ranges) else (),
    )


@dataclass
class DeployedResult:
    """Per-episode outcomes, each (E,) in the order of ``seeds``: final (E - E0) / |E0| (signed),
    force evaluations, intervals run, the integrator's last status ("ok", "max_steps",
    "non_finite"), the wall time of the whole deployed episode in seconds, and how often the method
    changed between intervals (0 with one method)."""

    seeds: np.ndarray
    final_energy_error: np.ndarray
    force_evals: np.ndarray
    intervals: np.ndarray
    status: np.ndarray
    wall_time: np.ndarray
    switches: np.ndarray


def deployed_episodes(
    policy: Controller | float,
    seeds: Sequence[int] | np.ndarray,
    *,
    env_kwargs: EnvConfig | dict[str, Any] | None = None,
    n_intervals: int = 300,
    on_episode: Callable[[int], None] | None = None,
) -> DeployedResult:
    """One deployed episode of at most ``n_intervals`` intervals from each seed's initial condition.

    ``policy``: a controller, deciding every interval (its actions mapped by the environment's
    action map, as in the environment), or a fixed parameter value (e.g. ``eta = 1e-3``).
    ``env_kwargs`` (an ``EnvConfig`` or its keyword arguments) configure the environment (default:
    the controller's own, or the defaults for a fixed parameter). Seed s draws its initial condition
    from ``np.random.default_rng(s)``, as ``ThreeBodyVectorEnv.reset(seed=[...])`` does.
    ``on_episode(1)`` is called after each episode.
    Wall time is measured around each episode's compiled loop (``controller.episode.EPISODE_CLOCK``: the
    thread's CPU time, what a dedicated core would take), after an untimed one-interval warm-up.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("deployed_episodes needs at least one seed")
    if env_kwargs is None:
        env_kwargs = dict(policy.metadata.get("env_kwargs", {})) if isinstance(policy, Controller) else {}
    config = as_config(env_kwargs)
    if config.record_wall_time:  # the deployed loop times whole episodes itself
        config = replace(config, record_wall_time=False)
    settings = episode_settings(config)
    network = fixed = None
    if isinstance(policy, Controller):
        network = _with_action_map(policy, ActionMap(config))
    else:
        fixed = float(policy)
    first = validate_initial_condition(config.sampler(np.random.default_rng(seeds[0])))
    run_episode(network, first, 1, settings, fixed_param=fixed)  # compiles the loop: no episode's time includes it
    results = []
    for seed in seeds:
        initial_condition = validate_initial_condition(config.sampler(np.random.default_rng(seed)))
        results.append(run_episode(network, initial_condition, n_intervals, settings, fixed_param=fixed))
        if on_episode is not None:
            on_episode(1)
    return DeployedResult(
        seeds=np.asarray(seeds, dtype=np.int64),
        final_energy_error=np.array([r.final_energy_error for r in results]),
        force_evals=np.array([r.force_evals for r in results], dtype=np.int64),
        intervals=np.array([r.intervals for r in results], dtype=np.int64),
        status=STATUS_NAMES[[r.status for r in results]],
        wall_time=np.array([r.wall_time for r in results]),
        switches=np.array([r.switches for r in results], dtype=np.int64),
    )


def _with_action_map(controller: Controller, actions: ActionMap) -> tuple:
    """The controller's policy tuple with the environment's action map (values and log range)."""
    if controller.discrete != (actions.values is not None):
        raise ValueError(f"the controller has a {'discrete' if controller.discrete else 'continuous'} action; "
                         f"the environment's action_mode is {actions.mode!r}")
    values = actions.values if actions.values is not None else np.zeros(0)
    if controller.discrete and controller.n_actions != values.size:
        raise ValueError(f"the controller has {controller.n_actions} actions; the environment {values.size}")
    return (*controller.policy[:7], np.ascontiguousarray(values, dtype=np.float64),
            np.array([actions.log_low, actions.log_high], dtype=np.float64))
