"""Gymnasium environments in which an agent sets the time-step parameter of an N-body integrator.

Importing the package registers the ids below, so both
``gymnasium.make("threebody_env:ThreeBody-v0")`` and
``import threebody_env; gymnasium.make("ThreeBody-v0")`` work, as does
``gymnasium.make_vec("ThreeBody-v0", num_envs=64)`` (the batched :class:`ThreeBodyVectorEnv`).

- ``ThreeBody-v0``: the paper's setting (Hermite, discrete ``eta`` 3 per decade, 0.1-yr
  intervals, 100 intervals per episode) with our action range ([1e-3, 1e-1]), observation and
  reward (see :class:`ThreeBodyEnv`).
- ``ThreeBodyContinuous-v0``: the same with a continuous action over the log of ``eta``.

Both take N-body systems too: ``gymnasium.make("ThreeBody-v0", initial_conditions="plummer",
n_bodies=16)`` (families "plummer", "hierarchical", "planetary"; see
:mod:`threebody_env.initial_conditions`).
"""

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
    "figure_eight", "paper_triple", "pythagorean",
]

TRAINING_EPISODE_STEPS = 100  # the paper's training episodes
EVALUATION_EPISODE_STEPS = 300  # the paper's evaluation episodes

_IDS = {
    "ThreeBody-v0": {"action_mode": "discrete"},
    "ThreeBodyContinuous-v0": {"action_mode": "continuous"},
}
for _env_id, _kwargs in _IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="threebody_env.env:ThreeBodyEnv",
            vector_entry_point="threebody_env.vector_env:ThreeBodyVectorEnv",
            max_episode_steps=TRAINING_EPISODE_STEPS,
            kwargs=_kwargs,
        )
