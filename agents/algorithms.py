"""The stable-baselines3 algorithms this project trains, which action modes each handles, and loading their files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import json_to_data

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


def load_model(algo: str, source: str | Path | io.BytesIO, device: str = "cpu", **kwargs: Any) -> BaseAlgorithm:
    """``ALGOS[algo].load(source, device, **kwargs)``; a file that does not load gives a one-line
    ``ValueError`` saying why: not a model file, a model of another algorithm, or a damaged part."""
    try:
        return ALGOS[algo].load(source, device=device, **kwargs)
    except Exception as error:  # SB3 and torch fail in many ways, with internals in the message
        name = source if isinstance(source, (str, Path)) else "the model data"
        raise ValueError(f"cannot load {name} as a {algo} model: {_why(algo, source, error)}") from None


def _why(algo: str, source: str | Path | io.BytesIO, error: Exception) -> str:
    """What is wrong with a model file that SB3 could not load as ``algo`` (one line)."""
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            data = json_to_data(archive.read("data").decode())
            parts = {name: archive.read(name) for name in archive.namelist() if name.endswith(".pth")}
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return "it is not a stable-baselines3 model file (a zip archive with 'data' inside)"
    policy = data.get("policy_class")
    if isinstance(policy, type) and policy not in ALGOS[algo].policy_aliases.values():
        owners = [name for name, cls in ALGOS.items() if policy in cls.policy_aliases.values()]
        return f"it holds a {' or '.join(owners) or 'different'} model (policy {policy.__name__}), not a {algo} one"
    for name, blob in parts.items():
        try:
            torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        except Exception as damage:
            return f"its {name} is damaged ({str(damage).split('.')[0].strip()})"
    return str(error).splitlines()[0] if str(error) else type(error).__name__
