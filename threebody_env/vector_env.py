"""Batched environment: B systems advanced together by one parallel Numba kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig, as_config, is_integer
from threebody_env.env import probe_body_count
from threebody_env.local_error import LocalErrorRecorder
from threebody_env.observations import OBSERVATION_BUILDERS, observation_space
from threebody_env.rewards import REWARD_FUNCTIONS
from threebody_env.systems import SystemBatch


class ThreeBodyVectorEnv(VectorEnv):
    """``num_envs`` independent copies of :class:`~threebody_env.ThreeBodyEnv` in one process.

    Every step advances all systems in one ``prange`` Numba kernel. Sub-environment i draws its
    initial conditions from its own generator, seeded ``seed + i`` as Gymnasium's
    ``SyncVectorEnv`` does, so with the same seeds and actions its trajectories are those of
    single environments, bit for bit. Episodes are truncated after ``max_episode_steps``
    intervals (the registered ids set it).

    Autoreset: ``autoreset_mode=AutoresetMode.NEXT_STEP`` (Gymnasium's default; the step after an
    episode ends resets that slot and returns reward 0), ``SAME_STEP`` (the slot is reset in the
    step that ends it; the last observation and info are in ``info["final_obs"]`` and
    ``info["final_info"]``, masked by ``info["_final_obs"]``) or ``DISABLED`` (a finished slot
    stays frozen, costing nothing, with reward 0, until ``reset``: one episode per slot, as
    evaluation wants).

    ``info`` holds each key of the single environment's info as an array over the batch, and
    ``wall_time`` is the kernel call's wall time shared out by each system's force evaluations.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        config: EnvConfig | None = None,
        **settings: Any,
    ) -> None:
        if not (is_integer(num_envs) and num_envs >= 1):
            raise ValueError(f"num_envs={num_envs!r} must be an integer >= 1")
        if max_episode_steps is not None and not (is_integer(max_episode_steps) and 1 <= max_episode_steps < 2**62):
            raise ValueError(f"max_episode_steps={max_episode_steps!r} must be None or an integer in [1, 2**62)")
        if render_mode is not None:
            raise ValueError("ThreeBodyVectorEnv does not render; render a single ThreeBodyEnv instead")
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        if config is not None and settings:
            raise ValueError(f"give an EnvConfig or settings as keywords, not both (got {sorted(settings)} too)")
        self.config = as_config(config if config is not None else settings)
        self.num_envs = int(num_envs)
        self.max_episode_steps = max_episode_steps
        self.render_mode = None
        self.actions = ActionMap(self.config)
        n_bodies = probe_body_count(self.config)
        self.single_action_space = self.actions.space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = observation_space(self.config.observation, n_bodies, len(self.config.methods))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._observe = OBSERVATION_BUILDERS[self.config.observation]
        self._reward = REWARD_FUNCTIONS[self.config.reward]
        self._systems = SystemBatch(self.config, self.num_envs, n_bodies)
        self._local = (LocalErrorRecorder(self.config, self.num_envs, n_bodies) if self.config.record_local_error
                       else None)
        self._rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every system. ``seed``: an int (slot i gets ``seed + i``) or one seed per slot.

        ``options={"initial_conditions": [(pos, vel, mass), ...]}`` starts slot i from the i-th.
        """
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, (int, np.integer)) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} environments")
            for i, s in enumerate(seeds):
                if s is not None:
                    self._rngs[i] = seeding.np_random(int(s))[0]
        unknown = sorted(set(options or {}) - {"initial_conditions"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; the only option is 'initial_conditions'")
        given = (options or {}).get("initial_conditions")
        if given is not None and len(given) != self.num_envs:
            raise ValueError(f"got {len(given)} initial conditions for {self.num_envs} environments")
        for i in range(self.num_envs):
            self._reset_slot(i, None if given is None else given[i])
        self._needs_reset[:] = False
        return self._observe(self._systems, self.actions), self._infos()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        s = self._systems
        stepping = ~self._needs_reset
        params = s.param.copy()
        requested = self.actions.to_params(np.asarray(actions))
        if requested.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions of shape {self.single_action_space.shape}; "
                             f"got an array of shape {np.shape(actions)}")
        params[stepping] = requested[stepping]
        methods = self.actions.to_methods(actions) if self.actions.n_methods > 1 else None
        if self._local is not None:
            self._local.begin(s.pos, s.vel)
        s.advance(params, stepping, methods)
        if self._local is not None:
            self._local.finish(s.pos, s.vel, s.mass, stepping)
        terminated = s.failed() & stepping
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = (s.intervals >= self.max_episode_steps) & stepping
        rewards = np.where(stepping, self._reward(s, terminated), 0.0)
        done = terminated | truncated

        if self.autoreset_mode == AutoresetMode.DISABLED:
            self._needs_reset |= done
            return self._observe(s, self.actions), rewards, terminated, truncated, self._infos()
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            for i in np.flatnonzero(self._needs_reset):
                self._reset_slot(int(i))
            self._needs_reset = done
            return self._observe(s, self.actions), rewards, terminated, truncated, self._infos()

        infos = self._infos()
        observations = self._observe(s, self.actions)
        if done.any():
            final_info, final_obs = infos, observations
            for i in np.flatnonzero(done):
                self._reset_slot(int(i))
            observations = self._observe(s, self.actions)
            infos = self._infos()
            # Fill an empty object array: np.array([...], dtype=object) of equal-length rows would
            # build a (B, D) array of Python floats when every slot is done.
            infos["final_obs"] = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                infos["final_obs"][i] = final_obs[i]
            infos["_final_obs"] = done.copy()
            infos["final_info"] = final_info
            infos["_final_info"] = done.copy()
        return observations, rewards, terminated, truncated, infos

    @property
    def systems(self) -> SystemBatch:
        """The batched state behind the observations (for diagnostics and traces; do not modify)."""
        return self._systems

    def _reset_slot(self, index: int, initial_condition=None) -> None:
        if initial_condition is None:
            initial_condition = self.config.sampler(self._rngs[index])
        self._systems.reset(index, initial_condition)
        if self._local is not None:
            self._local.reset(index, self._systems.pos[index], self._systems.mass[index])

    def _infos(self) -> dict[str, Any]:
        """The single environment's info keys, each as a (B,) array, with all-true masks."""
        infos: dict[str, Any] = {}
        arrays = self._systems.info_arrays()
        if self._local is not None:
            arrays |= self._local.info_arrays()
        for key, value in arrays.items():
            infos[key] = value
            infos[f"_{key}"] = np.ones(self.num_envs, dtype=bool)
        return infos
