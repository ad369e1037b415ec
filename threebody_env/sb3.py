"""Present :class:`~threebody_env.ThreeBodyVectorEnv` to stable-baselines3 as a ``VecEnv``.

This is the only module of ``threebody_env`` that imports stable-baselines3.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from threebody_env.vector_env import ThreeBodyVectorEnv

#: What ``infos[i]`` carries at the end of an episode, besides SB3's own keys (and what
#: ``VecMonitor`` logs per episode).
EPISODE_INFO_KEYS = ("energy_error", "episode_force_evals", "status")


class SB3VecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` over one batched :class:`ThreeBodyVectorEnv`.

    SB3's conventions: same-step reset, the last observation of a finished episode in
    ``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]`` when the time limit
    (not a failure) ended it, and ``dones = terminated | truncated``. Observations are fresh arrays
    every step (PPO stores them by reference).
    """

    def __init__(self, num_envs: int, max_episode_steps: int | None = None, **config: Any) -> None:
        self.vector_env = ThreeBodyVectorEnv(
            num_envs=num_envs, max_episode_steps=max_episode_steps, autoreset_mode=AutoresetMode.SAME_STEP, **config
        )
        self._actions: np.ndarray | None = None
        super().__init__(num_envs, self.vector_env.single_observation_space, self.vector_env.single_action_space)

    def reset(self) -> np.ndarray:
        seeds = None if all(s is None for s in self._seeds) else self._seeds
        obs, _ = self.vector_env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("step_wait() called before step_async()")
        obs, rewards, terminated, truncated, info = self.vector_env.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i] = {key: info["final_info"][key][i].item() for key in EPISODE_INFO_KEYS}
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.vector_env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        # SB3's base __init__ asks for "render_mode" before self.vector_env may exist.
        target = self.__dict__.get("vector_env")
        value = getattr(target, attr_name, None) if target is not None else None
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.vector_env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self.vector_env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def make_sb3_vec_env(num_envs: int, max_episode_steps: int | None = 100, **config: Any) -> VecMonitor:
    """The batched environment as SB3 expects it: :class:`SB3VecEnv` inside ``VecMonitor``."""
    venv = SB3VecEnv(num_envs, max_episode_steps=max_episode_steps, **config)
    return VecMonitor(venv, info_keywords=EPISODE_INFO_KEYS)
