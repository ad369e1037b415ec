"""Gymnasium environments in which an agent sets the time-step parameter of an N-body integrator.

Importing the package registers the ids below, so both
``gymnasium.make("threebody_env:ThreeBody-v0")`` and
``import threebody_env; gymnasium.make("ThreeBody-v0")`` work, as does
``gymnasium.make_vec("ThreeBody-v0", num_envs=64)`` (the batched :class:`ThreeBodyVectorEnv`).

- ``ThreeBody-v0``: the paper's setting (Hermite, discrete ``eta`` 3 per decade, 0.1-yr
  intervals, 100 intervals per episode) with our action range ([1e-3, 1e-1]), observation and
  reward (see :class:`ThreeBodyEnv`).
- ``ThreeBodyContinuous-v0``: the same with a continuous action over the log of ``eta``.
- ``ThreeBodyPaper-v0``: the paper's own environment with its faults fixed (:data:`PAPER_SETTINGS`):
  13 observations, 10 values of ``eta`` log-spaced over [1e-4, 1e-1], the paper's reward with
  (W1, W3) = (3000, 4); 100 intervals per training episode, 300 for evaluation (``docs/paper.md``).
- ``ThreeBodyMeta-v0``: the action chooses the method and its parameter: Hermite's 7 values of
  ``eta`` then IAS15's 19 of ``epsilon`` (each method's default grid), 26 actions; the observation
  adds which method ran last, ``info["method"]`` names it (``docs/environment.md``).

Both take N-body systems too: ``gymnasium.make("ThreeBody-v0", initial_conditions="plummer",
n_bodies=16)`` (families "plummer", "hierarchical", "planetary"; see
:mod:`threebody_env.initial_conditions`).
"""

from typing import Any

from gymnasium.envs.registration import register, registry

from threebody_env.config import EnvConfig
from threebody_env.env import ThreeBodyEnv
from threebody_env.initial_conditions import (
    FAMILIES,
    SAMPLERS,
    Hierarchical,
    Planetary,
    Plummer,
    figure_eight,
    paper_triple,
    pythagorean,
)
from threebody_env.vector_env import ThreeBodyVectorEnv

__all__ = [
    "EnvConfig", "ThreeBodyEnv", "ThreeBodyVectorEnv", "SAMPLERS", "FAMILIES", "Plummer", "Hierarchical", "Planetary",
    "figure_eight", "paper_triple", "pythagorean", "PAPER_SETTINGS", "ENV_IDS",
]

TRAINING_EPISODE_STEPS = 100  # the paper's training episodes
EVALUATION_EPISODE_STEPS = 300  # the paper's evaluation episodes

#: The settings of Saz Ulibarrena & Portegies Zwart (2025) on the paper's triples, Hermite, 0.1-yr intervals.
PAPER_SETTINGS: dict[str, Any] = {
    "action_mode": "discrete", "observation": "paper", "reward": "paper", "param_range": (1e-4, 0.1), "n_actions": 10,
    "paper_weights": (3000.0, 4.0), "max_energy_error": 0.1,
}

_IDS: dict[str, dict[str, Any]] = {
    "ThreeBody-v0": {"action_mode": "discrete"},
    "ThreeBodyContinuous-v0": {"action_mode": "continuous"},
    "ThreeBodyPaper-v0": PAPER_SETTINGS,
    "ThreeBodyMeta-v0": {"integrator": ("hermite", "ias15")},
}
#: The ids registered with Gymnasium on import.
ENV_IDS: tuple[str, ...] = tuple(_IDS)
for _env_id, _kwargs in _IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="threebody_env.env:ThreeBodyEnv",
            vector_entry_point="threebody_env.vector_env:ThreeBodyVectorEnv",
            max_episode_steps=TRAINING_EPISODE_STEPS,
            kwargs=_kwargs,
        )
