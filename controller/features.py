"""The observation features, compiled: shared by the environment and by a deployed controller.

The environment (``threebody_env.observations``) builds its "full", "summary" and "paper" observations
from :func:`system_features`, and a controller deployed inside a simulation calls the same
function, so a policy sees bit for bit what it saw in training. Only NumPy and Numba are
imported here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Energy errors below this are round-off; it is also the error reported at reset.
ERROR_FLOOR = 1e-16
#: Every feature of the full (and summary) observation is clipped to [-FEATURE_BOUND, FEATURE_BOUND].
FEATURE_BOUND = 50.0
#: The summary observation: the last 6 features of the full one.
SUMMARY_SIZE = 6
#: The paper's observation of three bodies: x, y / 10, vx, vy of each, and -log10 |dE/E0|.
PAPER_SIZE = 13
#: Every feature of the paper's observation is clipped to [-PAPER_BOUND, PAPER_BOUND].
PAPER_BOUND = 1e4


@njit(cache=True, error_model="numpy")
def log_error_feature(error: float) -> float:
    """Map |error| onto about [-1, 1]: 1e-16 (or 0) -> -1, 1e-8 -> 0, 1 -> 1, monotone; inf -> 37."""
    magnitude = abs(error) if np.isfinite(error) else 1e300
    return (np.log10(max(magnitude, ERROR_FLOOR)) + 8.0) / 8.0


@njit(cache=True, error_model="numpy")
def _bounded(value: float) -> float:
    """NaN -> +bound, then clip to [-bound, bound] (as ``np.nan_to_num`` then ``np.clip``)."""
    if np.isnan(value):
        return FEATURE_BOUND
    return min(max(value, -FEATURE_BOUND), FEATURE_BOUND)


@njit(cache=True, error_model="numpy")
def system_features(pos, vel, mass, timescale, length_scale, speed_scale, interval, accumulated_error, step_error,
                    param, log_low, log_high, cost, reference_cost, energy_error, out):
    """Write one system's observation into ``out`` (float32): 6 N + 6 features, or the last 6 if ``out`` has 6.

    ``pos``, ``vel`` (N, 3) and ``mass`` (N,) float64; ``timescale`` the shortest pairwise time
    scale now; ``length_scale`` and ``speed_scale`` the RMS radius and sqrt(G M / radius) at
    reset; the errors, the last parameter and the last interval's cost as
    :func:`threebody_env.observations.full_observation` documents them.
    """
    n = pos.shape[0]
    base = out.size - SUMMARY_SIZE
    if base > 0:
        total = 0.0
        com_pos = np.zeros(3)
        com_vel = np.zeros(3)
        for i in range(n):
            total += mass[i]
            for k in range(3):
                com_pos[k] += mass[i] * pos[i, k]
                com_vel[k] += mass[i] * vel[i, k]
        for i in range(n):
            for k in range(3):
                out[3 * i + k] = _bounded(np.arcsinh((pos[i, k] - com_pos[k] / total) / length_scale))
                out[3 * n + 3 * i + k] = _bounded(np.arcsinh((vel[i, k] - com_vel[k] / total) / speed_scale))
    out[base] = _bounded(np.log10(max(timescale, 1e-300) / interval))
    out[base + 1] = _bounded(log_error_feature(accumulated_error))
    out[base + 2] = _bounded(log_error_feature(step_error))
    out[base + 3] = _bounded(2.0 * (np.log10(param) - log_low) / (log_high - log_low) - 1.0)
    out[base + 4] = _bounded(np.log10(max(cost, 1e-300) / reference_cost))
    out[base + 5] = _bounded(log_error_feature(energy_error))


@njit(cache=True)
def method_feature(index, n_methods):
    """The meta environment's last feature: the index of the method that ran last, scaled to [-1, 1]."""
    return np.float32(2.0 * index / (n_methods - 1) - 1.0)


@njit(cache=True, error_model="numpy")
def reset_scales(pos, mass):
    """(length scale, speed scale) of a system at reset: its RMS radius about the centre of mass and
    sqrt(G M / radius), the units of the full observation's positions and velocities (float, float)."""
    n = pos.shape[0]
    total = 0.0
    for i in range(n):
        total += mass[i]
    com = np.zeros(3)
    for i in range(n):
        for k in range(3):
            com[k] += mass[i] * pos[i, k]
    for k in range(3):
        com[k] /= total
    moment = 0.0
    for i in range(n):
        r2 = 0.0
        for k in range(3):
            r2 += (pos[i, k] - com[k]) ** 2
        moment += mass[i] * r2
    length_scale = np.sqrt(moment / total)
    return length_scale, np.sqrt(total / length_scale)


@njit(cache=True, error_model="numpy")
def paper_features(pos, vel, energy_error, out):
    """Write the 13 values of Saz Ulibarrena & Portegies Zwart (2025) for three bodies into ``out`` (float32).

    x, y of each body / 10 (au / 10 in the paper's units), vx, vy, then -log10 max(|dE/E0|, 1e-16): 16 at
    reset (the original read 0 there, the value of total failure). NaN reads as the bound, every value is
    clipped to [-PAPER_BOUND, PAPER_BOUND].
    """
    for i in range(3):
        out[2 * i] = _paper_bounded(pos[i, 0] / 10.0)
        out[2 * i + 1] = _paper_bounded(pos[i, 1] / 10.0)
        out[6 + 2 * i] = _paper_bounded(vel[i, 0])
        out[6 + 2 * i + 1] = _paper_bounded(vel[i, 1])
    magnitude = abs(energy_error) if np.isfinite(energy_error) else 1e300
    out[12] = _paper_bounded(-np.log10(max(magnitude, ERROR_FLOOR)))


@njit(cache=True, error_model="numpy")
def _paper_bounded(value: float) -> float:
    """NaN -> +PAPER_BOUND, then clip to [-PAPER_BOUND, PAPER_BOUND]."""
    if np.isnan(value):
        return PAPER_BOUND
    return min(max(value, -PAPER_BOUND), PAPER_BOUND)
