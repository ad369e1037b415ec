"""``record_local_error``: each interval's phase-space distance from an independent reference integration.

For every interval the environment integrates, :class:`LocalErrorRecorder` integrates the same interval
from the same start state with the double-double Taylor reference of :mod:`integrators.reference`
(independent of IAS15, ~1e-27 accurate) and records
``max_i |x_i - x_ref,i| / r + max_i |v_i - v_ref,i| / v``, with ``r`` the mean pair separation at the
episode's start and ``v = sqrt(M / r)``, in ``info["local_error"]``; ``info["episode_local_error"]`` is
its running sum over the episode. Unlike the energy error, no controller observes or is rewarded on it,
and no method is favoured for conserving a quantity by construction. It costs one reference integration
per interval (~0.3 ms on a quiet paper interval, tens of ms in a close encounter), so it is off by default.
"""

from __future__ import annotations

import numpy as np

from integrators.reference import local_errors_kernel, phase_space_scales
from threebody_env.config import EnvConfig


class LocalErrorRecorder:
    """Start states, scales and local errors of B systems (the companion of a ``SystemBatch``)."""

    def __init__(self, config: EnvConfig, num_systems: int, n_bodies: int) -> None:
        self.config = config
        self.start_pos = np.zeros((num_systems, n_bodies, 3))
        self.start_vel = np.zeros((num_systems, n_bodies, 3))
        self.r_scale = np.ones(num_systems)
        self.v_scale = np.ones(num_systems)
        self.local_error = np.zeros(num_systems)  # of the last interval
        self.episode_local_error = np.zeros(num_systems)  # summed over the episode

    def reset(self, index: int, pos: np.ndarray, mass: np.ndarray) -> None:
        """A new episode in slot ``index`` from positions ``pos`` (N, 3): its scales, and zero errors."""
        self.r_scale[index], self.v_scale[index] = phase_space_scales(pos, mass)
        self.local_error[index] = self.episode_local_error[index] = 0.0

    def begin(self, pos: np.ndarray, vel: np.ndarray) -> None:
        """Remember the (B, N, 3) start states of the interval about to be integrated."""
        self.start_pos[:] = pos
        self.start_vel[:] = vel

    def finish(self, pos: np.ndarray, vel: np.ndarray, mass: np.ndarray, active: np.ndarray) -> None:
        """Integrate the ``active`` systems' remembered start states with the reference; record the distances
        to their end states ``pos``, ``vel`` (B, N, 3) (NaN when either end state is not finite)."""
        idx = np.flatnonzero(active)
        cfg = self.config
        errors, _ = local_errors_kernel(self.start_pos[idx], self.start_vel[idx], pos[idx], vel[idx], mass[idx],
                                        self.r_scale[idx], self.v_scale[idx], cfg.interval, cfg.softening ** 2,
                                        cfg.max_integrator_steps)
        self.local_error[idx] = errors
        self.episode_local_error[idx] += errors

    def info(self, index: int) -> dict[str, float]:
        return {"local_error": float(self.local_error[index]),
                "episode_local_error": float(self.episode_local_error[index])}

    def info_arrays(self) -> dict[str, np.ndarray]:
        return {"local_error": self.local_error.copy(), "episode_local_error": self.episode_local_error.copy()}
