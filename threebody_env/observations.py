"""Observation vectors computed from a :class:`~threebody_env.systems.SystemBatch`.

Each builder returns a fresh float32 array of shape (B, D), finite and inside its space.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

import integrators
from threebody_env.actions import ActionMap
from threebody_env.systems import SystemBatch

#: Energy errors below this are round-off; it is also the error reported at reset.
ERROR_FLOOR = 1e-16
_BOUND = 50.0  # every default feature is clipped to [-_BOUND, _BOUND]
_PAPER_BOUND = 1e4


def log_error_feature(error: np.ndarray) -> np.ndarray:
    """Map |error| onto about [-1, 1]: 1e-16 (or 0) -> -1, 1e-8 -> 0, 1 -> 1, monotone."""
    magnitude = np.where(np.isfinite(error), np.abs(error), 1e300)
    return (np.log10(np.maximum(magnitude, ERROR_FLOOR)) + 8.0) / 8.0


def default_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The default observation, for any number of bodies N (D = 6 N + 5).

    ====================  ===========================================================================
    features              meaning
    ====================  ===========================================================================
    ``[0, 3N)``           positions about the centre of mass / RMS radius at reset, through arcsinh
    ``[3N, 6N)``          velocities / sqrt(G M / RMS radius), through arcsinh
    ``6N``                log10(shortest pairwise time scale / interval): close encounters are < 0
    ``6N + 1``            cumulative energy error, :func:`log_error_feature`
    ``6N + 2``            energy error of the last interval, :func:`log_error_feature`
    ``6N + 3``            last parameter, position in its log range scaled to [-1, 1]
    ``6N + 4``            log10(cost of the last interval / reference cost at reset)
    ====================  ===========================================================================

    At reset the errors read as 1e-16 (no error, not total failure), the parameter and the cost as
    those of the method's reference parameter.
    """
    s = systems
    mass = s.mass[:, :, None]
    com_pos = (mass * s.pos).sum(axis=1, keepdims=True) / mass.sum(axis=1, keepdims=True)
    com_vel = (mass * s.vel).sum(axis=1, keepdims=True) / mass.sum(axis=1, keepdims=True)
    pos = np.arcsinh((s.pos - com_pos) / s.length_scale[:, None, None]).reshape(len(s.time), -1)
    vel = np.arcsinh((s.vel - com_vel) / s.speed_scale[:, None, None]).reshape(len(s.time), -1)
    timescale = integrators.min_timescale_batch(s.pos, s.vel, s.mass)
    scalars = np.stack(
        [
            np.log10(np.maximum(timescale, 1e-300) / s.config.interval),
            log_error_feature(s.energy_error),
            log_error_feature(s.step_energy_error),
            actions.normalized(s.param),
            np.log10(np.maximum(s.cost, 1e-300) / s.reference_cost),
        ],
        axis=1,
    )
    obs = np.concatenate([pos, vel, scalars], axis=1)
    return np.clip(np.nan_to_num(obs, nan=_BOUND, posinf=_BOUND, neginf=-_BOUND), -_BOUND, _BOUND).astype(np.float32)


def paper_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The 13 values of Saz Ulibarrena & Portegies Zwart (2025), for three bodies.

    x, y of the three bodies / 10, their vx, vy, and -log10 |dE/E0| (cumulative). Unlike the
    original, the error feature reads 16 (an error of 1e-16) at reset instead of 0, the value of
    total failure.
    """
    s = systems
    xy = s.pos[:, :, :2].reshape(len(s.time), -1) / 10.0
    vxy = s.vel[:, :, :2].reshape(len(s.time), -1)
    magnitude = np.where(np.isfinite(s.energy_error), np.abs(s.energy_error), 1e300)
    error = -np.log10(np.maximum(magnitude, ERROR_FLOOR))[:, None]
    obs = np.concatenate([xy, vxy, error], axis=1)
    return np.clip(np.nan_to_num(obs, nan=0.0, posinf=_PAPER_BOUND, neginf=-_PAPER_BOUND),
                   -_PAPER_BOUND, _PAPER_BOUND).astype(np.float32)


def observation_space(kind: str, n_bodies: int) -> spaces.Box:
    """The Box of one observation of ``kind`` ("default" or "paper") for ``n_bodies`` bodies."""
    if kind == "paper":
        if n_bodies != 3:
            raise ValueError(f"observation='paper' is defined for 3 bodies; the initial conditions have {n_bodies}")
        return spaces.Box(-_PAPER_BOUND, _PAPER_BOUND, shape=(13,), dtype=np.float32)
    return spaces.Box(-_BOUND, _BOUND, shape=(6 * n_bodies + 5,), dtype=np.float32)


OBSERVATION_BUILDERS = {"default": default_observation, "paper": paper_observation}
