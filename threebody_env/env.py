"""The single-system Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig
from threebody_env.local_error import LocalErrorRecorder
from threebody_env.observations import OBSERVATION_BUILDERS, observation_space
from threebody_env.render import EpisodeHistory, EpisodeRenderer
from threebody_env.rewards import REWARD_FUNCTIONS
from threebody_env.systems import SystemBatch, validate_initial_condition


class ThreeBodyEnv(gym.Env):
    """Choose the time-step parameter of a gravitational N-body integrator, interval by interval.

    ## Description
    Each step integrates a few-body system (G = 1 units) over a fixed interval of physical time
    (default 0.1 yr = 1.0883 N-body units, as in Saz Ulibarrena & Portegies Zwart 2025) with the
    integrator ``integrator``, whose accuracy parameter (Hermite's ``eta``, DOPRI5's ``tol``, a
    fixed ``dt``) is the action. Small values cost many force evaluations; large ones let the
    energy error grow, most of all in close encounters. Every interval lands exactly on its end.

    ## Action Space
    ``action_mode="discrete"`` (default): ``Discrete(n_actions)``, action k selects the k-th of
    ``n_actions`` values log-spaced over ``param_range``, smallest first; by default the method's
    range with 3 values per decade (the paper's spacing): for Hermite 7 values of ``eta`` in
    [1e-3, 1e-1]; widen it with ``param_range`` (smaller ``eta`` still buys accuracy).
    ``"continuous"``: ``Box(-1, 1, (1,), float32)``, linear in log10 of the parameter over the range.
    With ``integrator`` a list of methods (``ThreeBodyMeta-v0``: Hermite and IAS15), action k is the k-th
    (method, parameter) pair, each method's default grid concatenated; the observation then ends with
    the index of the method that ran last scaled to [-1, 1], and ``info["method"]`` names it.

    ## Observation Space
    ``observation="summary"`` (default): ``Box(-50, 50, (6,), float32)``: log10 of the shortest
    pairwise time scale over the interval, the accumulated (sum of the intervals' |dE|) and
    last-interval energy errors on a log scale, the last parameter, the log of the last interval's
    cost relative to the reference, and the current energy error |dE/E0| on a log scale.
    ``"full"``: ``(6N + 6,)``, centre-of-mass positions and velocities scaled to order 1 followed
    by the summary (see :func:`~threebody_env.observations.full_observation`). ``"paper"``: the 13
    values of the paper (x, y / 10, vx, vy of three bodies, -log10 |dE/E0|), reading 16 at reset.

    ## Rewards
    Ours charge energy error in decades beyond ``target_error`` and work as
    ``cost_weight * c_i / c_ref`` (``c_ref``: one interval's cost at the middle of the parameter
    range, measured at reset), and ``failure_penalty`` when the episode fails.
    ``reward="final"`` (default): each interval pays for the change of log10 |dE/E0|, so the return
    is ``-log10(|dE/E0|_final / target_error) - cost_weight * total cost / c_ref``, the trade-off
    that evaluation measures, with the error clipped to [``target_error``, ``error_ceiling``] =
    [1e-16, 0.1] (the floor of evaluation's mean log error; below ``max_energy_error``, so every
    error counts); with a lower ceiling an episode past it counts as lost and pays only for its work.
    ``"accumulated"``: the same on S = sum |dE_i|, which cannot shrink by cancellation.
    ``"interval"``: each interval pays for its own error, ``-max(0, log10(|dE_i| / target_error))``
    (use ``cost_weight`` ~0.1 with it). ``"paper"``: the paper's formula made finite and monotone.
    See :mod:`threebody_env.rewards`.

    ## Starting State
    ``initial_conditions`` ("paper", "pythagorean", "figure_eight"; the N-body families "plummer",
    "hierarchical" and "planetary" with ``n_bodies`` and ``initial_condition_kwargs``; or a
    callable ``rng -> (pos, vel, mass)``) sampled with ``self.np_random``; or
    ``reset(options={"initial_condition": (pos, vel, mass)})``, used as is. Observations "summary"
    and "full" and every reward work for any N >= 2; "paper" needs N = 3.

    ## Episode End
    Terminated when |dE/E0| exceeds ``max_energy_error`` (0.1), the state becomes non-finite, or
    the integrator's step budget ``max_integrator_steps`` runs out within one interval. Truncated
    by the ``TimeLimit`` of the registered ids (100 intervals for training; use
    ``max_episode_steps=300`` for the paper's evaluation). Fixed-step methods (``leapfrog``,
    ``yoshida4``, ``rk4``) report status "ok" straight through a collision: the energy error
    (|dE/E0| up to ~1e9) is then what ends the episode. Stepping on after termination warns.

    ## Info
    ``energy_error`` (cumulative, signed), ``step_energy_error``, ``n_force_evals``, ``n_steps`` (integrator steps),
    ``wall_time`` (s; 0.0 unless ``record_wall_time``), ``param`` (the value applied), ``time``
    (N-body units), ``status`` ("ok", "max_steps" or "non_finite"), all of the last interval. With
    ``record_local_error=True`` also ``local_error`` (the last interval's phase-space distance from an
    independent reference integration; see :mod:`threebody_env.local_error`) and ``episode_local_error``.

    ## Arguments
    ``render_mode`` ("human" or "rgb_array") and every field of
    :class:`~threebody_env.config.EnvConfig` as a keyword, e.g.
    ``gymnasium.make("ThreeBody-v0", integrator="dopri5", action_mode="continuous")``.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is unknown; choose from {self.metadata['render_modes']}")
        self.config = EnvConfig(**config)
        self.render_mode = render_mode
        self.actions = ActionMap(self.config)
        self.action_space = self.actions.space
        n_bodies = probe_body_count(self.config)
        self.observation_space = observation_space(self.config.observation, n_bodies, len(self.config.methods))
        self._observe = OBSERVATION_BUILDERS[self.config.observation]
        self._reward = REWARD_FUNCTIONS[self.config.reward]
        self._systems = SystemBatch(self.config, 1, n_bodies)
        self._local = LocalErrorRecorder(self.config, 1, n_bodies) if self.config.record_local_error else None
        self._params = np.empty(1)  # the one system's parameter, as SystemBatch.advance wants it
        self._methods = np.zeros(1, dtype=np.int64) if len(self.config.methods) > 1 else None  # and its method
        self._active = np.ones(1, dtype=bool)
        self._history = EpisodeHistory()
        self._renderer: EpisodeRenderer | None = None
        self._episode_over: bool | None = None  # None before the first reset, True once terminated

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = options or {}
        unknown = sorted(set(options) - {"initial_condition"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; the only option is 'initial_condition'")
        initial_condition = options.get("initial_condition")
        if initial_condition is None:
            initial_condition = self.config.sampler(self.np_random)
        self._systems.reset(0, initial_condition)
        if self._local is not None:
            self._local.reset(0, self._systems.pos[0], self._systems.mass[0])
        self._episode_over = False
        self._history.start(self._systems)
        if self.render_mode == "human":
            self.render()
        return self._observe(self._systems, self.actions)[0], self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._episode_over is not False:
            self._check_steppable()
        systems = self._systems
        self._params[0] = self.actions.to_param(action)
        if self._methods is not None:
            self._methods[0] = self.actions.to_method(action)
        if self._local is not None:
            self._local.begin(systems.pos, systems.vel)
        systems.advance(self._params, self._active, self._methods)
        if self._local is not None:
            self._local.finish(systems.pos, systems.vel, systems.mass, self._active)
        failed = systems.failed()
        reward = self._reward(systems, failed)
        if self.render_mode is not None:
            self._history.record(systems)
            if self.render_mode == "human":
                self.render()
        obs = self._observe(systems, self.actions)[0]
        terminated = bool(failed[0])
        self._episode_over = terminated
        return obs, float(reward[0]), terminated, False, self._info()

    def _info(self) -> dict:
        info = self._systems.info(0)
        if self._local is not None:
            info.update(self._local.info(0))
        return info

    def _check_steppable(self) -> None:
        """Raise before the first ``reset``; warn when stepping on after termination (Gymnasium leaves
        it undefined; here it keeps integrating a failed system and charging it the failure penalty)."""
        if self._episode_over is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        gym.logger.warn("step() called after the episode terminated; call reset() to start a new one")

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() needs a render_mode, "
                            'e.g. gymnasium.make("ThreeBody-v0", render_mode="rgb_array")')
            return None
        if self._episode_over is None:
            raise gym.error.ResetNeeded("call reset() before render(): there is no episode to draw yet")
        if self._renderer is None:
            self._renderer = EpisodeRenderer(self.config, interactive=self.render_mode == "human")
        return self._renderer.draw(self._history)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def probe_body_count(config: EnvConfig) -> int:
    """Number of bodies the sampler produces (drawn once with a throwaway generator), checked against ``n_bodies``."""
    pos, _, _ = validate_initial_condition(config.sampler(np.random.default_rng(0)), config.n_bodies)
    return pos.shape[0]
