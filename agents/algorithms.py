"""The stable-baselines3 algorithms this project trains, and which action modes each handles."""

from __future__ import annotations

from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm

ALGOS: dict[str, type[BaseAlgorithm]] = {"dqn": DQN, "ppo": PPO, "a2c": A2C, "sac": SAC, "td3": TD3}

#: The action modes of threebody_env each algorithm can drive.
ACTION_MODES: dict[str, tuple[str, ...]] = {
    "dqn": ("discrete",),
    "a2c": ("discrete",),
    "ppo": ("discrete", "continuous"),
    "sac": ("continuous",),
    "td3": ("continuous",),
}


def check_algo(algo: str, action_mode: str) -> type[BaseAlgorithm]:
    """The algorithm class for ``algo``; ``ValueError`` if unknown or unable to act in ``action_mode``."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; choose from {sorted(ALGOS)}")
    if action_mode not in ACTION_MODES[algo]:
        raise ValueError(
            f"{algo} cannot drive a {action_mode} action space; use one of "
            f"{sorted(a for a, modes in ACTION_MODES.items() if action_mode in modes)} "
            f"or an environment with action_mode in {ACTION_MODES[algo]}"
        )
    return ALGOS[algo]
