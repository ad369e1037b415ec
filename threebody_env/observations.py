"""Observation vectors computed from a :class:`~threebody_env.systems.SystemBatch`.

Each builder returns a fresh float32 array of shape (B, D), finite and inside its space.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from numba import njit

import integrators
from threebody_env.actions import ActionMap
from threebody_env.systems import FLOAT_FIELDS, SystemBatch

#: Energy errors below this are round-off; it is also the error reported at reset.
ERROR_FLOOR = 1e-16
_BOUND = 50.0  # every feature of the full (and summary) observation is clipped to [-_BOUND, _BOUND]
_PAPER_BOUND = 1e4
# Rows of SystemBatch.floats the observations read (module-level ints: compiled code takes them as constants).
(_LENGTH, _SPEED, _ACCUMULATED, _STEP_ERROR, _PARAM, _COST, _REFERENCE_COST, _ERROR) = (
    FLOAT_FIELDS.index(name) for name in ("length_scale", "speed_scale", "accumulated_error", "step_energy_error",
                                          "param", "cost", "reference_cost", "energy_error"))


@njit(cache=True, error_model="numpy")
def log_error_feature(error: float) -> float:
    """Map |error| onto about [-1, 1]: 1e-16 (or 0) -> -1, 1e-8 -> 0, 1 -> 1, monotone; inf -> 37."""
    magnitude = abs(error) if np.isfinite(error) else 1e300
    return (np.log10(max(magnitude, ERROR_FLOOR)) + 8.0) / 8.0


def full_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The state and its summary, for any number of bodies N (D = 6 N + 6).

    ====================  ===========================================================================
    features              meaning
    ====================  ===========================================================================
    ``[0, 3N)``           positions about the centre of mass / RMS radius at reset, through arcsinh
    ``[3N, 6N)``          velocities / sqrt(G M / RMS radius), through arcsinh
    ``6N``                log10(shortest pairwise time scale / interval): close encounters are < 0
    ``6N + 1``            accumulated energy error (sum of the intervals' |dE|), :func:`log_error_feature`
    ``6N + 2``            energy error of the last interval, :func:`log_error_feature`
    ``6N + 3``            last parameter, position in its log range scaled to [-1, 1]
    ``6N + 4``            log10(cost of the last interval / reference cost at reset)
    ``6N + 5``            energy error now, |E - E0| / |E0|, :func:`log_error_feature`
    ====================  ===========================================================================

    At reset the errors read as 1e-16 (no error, not total failure), the parameter and the cost as
    those of the method's reference parameter.
    """
    s = systems
    return _full_features(s.pos, s.vel, s.mass, s.floats, s.config.interval, actions.log_low, actions.log_high)


@njit(cache=True, error_model="numpy")
def _bounded(value: float) -> float:
    """NaN -> +bound, then clip to [-bound, bound] (as ``np.nan_to_num`` then ``np.clip``)."""
    if np.isnan(value):
        return _BOUND
    return min(max(value, -_BOUND), _BOUND)


@njit(cache=True, error_model="numpy")
def _full_features(pos, vel, mass, floats, interval, log_low, log_high):
    """The features of :func:`full_observation` in one compiled pass over the batch.

    ``floats`` is :attr:`SystemBatch.floats`. Done with NumPy on
    (B, N, 3) arrays this is ~60 small array operations: at B = 1 they cost more than a Hermite
    interval at the default eta; so do a dozen separate array arguments to one compiled call.
    """
    b_count, n = pos.shape[0], pos.shape[1]
    length_scale, speed_scale, accumulated_error = floats[_LENGTH], floats[_SPEED], floats[_ACCUMULATED]
    step_error, param, energy_error = floats[_STEP_ERROR], floats[_PARAM], floats[_ERROR]
    cost, reference_cost = floats[_COST], floats[_REFERENCE_COST]
    out = np.empty((b_count, 6 * n + 6), dtype=np.float32)
    for b in range(b_count):
        timescale = integrators.pairwise_timescale(pos[b], vel[b], mass[b])
        total = 0.0
        com_pos = np.zeros(3)
        com_vel = np.zeros(3)
        for i in range(n):
            total += mass[b, i]
            for k in range(3):
                com_pos[k] += mass[b, i] * pos[b, i, k]
                com_vel[k] += mass[b, i] * vel[b, i, k]
        for i in range(n):
            for k in range(3):
                out[b, 3 * i + k] = _bounded(np.arcsinh((pos[b, i, k] - com_pos[k] / total) / length_scale[b]))
                out[b, 3 * n + 3 * i + k] = _bounded(np.arcsinh((vel[b, i, k] - com_vel[k] / total) / speed_scale[b]))
        out[b, 6 * n] = _bounded(np.log10(max(timescale, 1e-300) / interval))
        out[b, 6 * n + 1] = _bounded(log_error_feature(accumulated_error[b]))
        out[b, 6 * n + 2] = _bounded(log_error_feature(step_error[b]))
        out[b, 6 * n + 3] = _bounded(2.0 * (np.log10(param[b]) - log_low) / (log_high - log_low) - 1.0)
        out[b, 6 * n + 4] = _bounded(np.log10(max(cost[b], 1e-300) / reference_cost[b]))
        out[b, 6 * n + 5] = _bounded(log_error_feature(energy_error[b]))
    return out


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


def summary_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The default observation: the last 6 features of :func:`full_observation` (D = 6).

    Time scale, accumulated and last-interval errors, last parameter, last cost, current error: no
    positions or velocities, so the policy cannot key its choice to the orbital phase. Energy
    errors swing through every close passage, and a parameter changed mid-passage locks part of the
    swing in; policies that saw the phase switched eta along the orbit and paid for it.
    """
    return full_observation(systems, actions)[:, -6:]


def observation_space(kind: str, n_bodies: int) -> spaces.Box:
    """The Box of one observation of ``kind`` ("summary", "full" or "paper") for ``n_bodies`` bodies."""
    if kind == "paper":
        if n_bodies != 3:
            raise ValueError(f"observation='paper' is defined for 3 bodies; the initial conditions have {n_bodies}")
        return spaces.Box(-_PAPER_BOUND, _PAPER_BOUND, shape=(13,), dtype=np.float32)
    if kind == "summary":
        return spaces.Box(-_BOUND, _BOUND, shape=(6,), dtype=np.float32)
    return spaces.Box(-_BOUND, _BOUND, shape=(6 * n_bodies + 6,), dtype=np.float32)


OBSERVATION_BUILDERS = {"summary": summary_observation, "full": full_observation, "paper": paper_observation}
