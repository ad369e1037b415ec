"""Fixed-parameter policies with the ``predict`` interface of a trained stable-baselines3 model."""

from __future__ import annotations

from typing import Any

import numpy as np

from threebody_env.actions import ActionMap


class FixedActionPolicy:
    """Always take the same action: the expert's fixed ``eta`` (or ``tol``, ``dt``), every interval.

    ``action`` is an index into a discrete action set (``action_mode="discrete"``) or a value in
    [-1, 1] of the continuous action (``action_mode="continuous"``); a rollout runs the policy in
    an environment of its ``action_mode``. ``name`` labels it in tables and plots.
    """

    def __init__(self, action: int | float, name: str, action_mode: str = "discrete") -> None:
        self.action = action
        self.name = name
        self.action_mode = action_mode

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """Actions for a batch of observations (B, D): (B,) int64, or (B, 1) float64 when continuous."""
        batch = np.asarray(observation).shape[0]
        if self.action_mode == "discrete":
            return np.full(batch, self.action, dtype=np.int64), None
        return np.full((batch, 1), self.action, dtype=np.float64), None


def fixed_action_baselines(actions: ActionMap, param_name: str) -> list[FixedActionPolicy]:
    """One :class:`FixedActionPolicy` per value of a discrete action set, smallest parameter first."""
    if actions.values is None:
        raise ValueError("fixed_action_baselines needs a discrete action map")
    return [FixedActionPolicy(k, f"{param_name}={value:.3g}") for k, value in enumerate(actions.values)]


def parameter_baseline(actions: ActionMap, param_name: str, value: float, label: str = "default") -> FixedActionPolicy:
    """A policy that applies exactly ``value`` (e.g. Hermite's conventional ``eta`` = 0.03).

    It acts through the continuous action, so the value need not be one of a discrete set; it must
    lie inside the action map's range.
    """
    position = float(actions.normalized(np.array([value]))[0])
    if not -1.0 <= position <= 1.0:
        raise ValueError(f"{param_name}={value!r} lies outside the action range "
                         f"[{10 ** actions.log_low:.3g}, {10 ** actions.log_high:.3g}]")
    return FixedActionPolicy(position, f"{param_name}={value:.3g} ({label})", action_mode="continuous")
