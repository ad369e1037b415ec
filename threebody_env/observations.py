"""Observation vectors computed from a :class:`~threebody_env.systems.SystemBatch`.

Each builder returns a fresh float32 array of shape (B, D), finite and inside its space. The
"full" and "summary" features are computed by :mod:`controller.features`, which a deployed
controller calls too.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from numba import njit

import integrators
from controller.features import (
    FEATURE_BOUND,
    PAPER_BOUND,
    PAPER_SIZE,
    SUMMARY_SIZE,
    method_feature,
    paper_features,
    system_features,
)
from threebody_env.actions import ActionMap
from threebody_env.systems import FLOAT_FIELDS, SystemBatch

# Rows of SystemBatch.floats the observations read (module-level ints: compiled code takes them as constants).
(_LENGTH, _SPEED, _ACCUMULATED, _STEP_ERROR, _PARAM, _COST, _REFERENCE_COST, _ERROR) = (
    FLOAT_FIELDS.index(name) for name in ("length_scale", "speed_scale", "accumulated_error", "step_energy_error",
                                          "param", "cost", "reference_cost", "energy_error"))


def full_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The state and its summary, for any number of bodies N (D = 6 N + 6).

    ====================  ===========================================================================
    features              meaning
    ====================  ===========================================================================
    ``[0, 3N)``           positions about the centre of mass / RMS radius at reset, through arcsinh
    ``[3N, 6N)``          velocities / sqrt(G M / RMS radius), through arcsinh
    ``6N``                log10(shortest pairwise time scale / interval): close encounters are < 0
    ``6N + 1``            accumulated energy error (sum of the intervals' |dE|), ``log_error_feature``
    ``6N + 2``            energy error of the last interval, ``log_error_feature``
    ``6N + 3``            last parameter, position in its log range scaled to [-1, 1]
    ``6N + 4``            log10(cost of the last interval / reference cost at reset)
    ``6N + 5``            energy error now, |E - E0| / |E0|, ``log_error_feature``
    ====================  ===========================================================================

    ``log_error_feature`` is :func:`controller.features.log_error_feature`. At reset the errors read
    as 1e-16 (no error, not total failure), the parameter and the cost as those of the method's
    reference parameter.

    With several methods (the meta environment) the parameter's feature is its position in the
    range of the method that ran it, and one more feature follows (D = 6 N + 7): that method's index
    in ``config.methods`` scaled to [-1, 1] (:func:`controller.features.method_feature`; -1, the first
    method, at reset).
    """
    return _features(systems, actions, 6 * systems.n_bodies + 6)


def _features(systems: SystemBatch, actions: ActionMap, n_features: int) -> np.ndarray:
    """The last ``n_features`` of the full observation, computed by :func:`_batch_features`."""
    s = systems
    if actions.log_ranges is not None:
        return _batch_meta_features(s.pos, s.vel, s.mass, s.floats, s.method, s.config.interval, actions.log_ranges,
                                    n_features)
    return _batch_features(s.pos, s.vel, s.mass, s.floats, s.config.interval, actions.log_low, actions.log_high,
                           n_features)


@njit(cache=True, error_model="numpy")
def _batch_features(pos, vel, mass, floats, interval, log_low, log_high, n_features):
    """:func:`controller.features.system_features` for every system of a batch -> (B, n_features) float32.

    ``floats`` is :attr:`SystemBatch.floats`: one compiled call with a few array arguments, because at
    B = 1 a dozen separate arguments cost more than the features themselves.
    """
    out = np.empty((pos.shape[0], n_features), dtype=np.float32)
    for b in range(pos.shape[0]):
        system_features(pos[b], vel[b], mass[b], integrators.pairwise_timescale(pos[b], vel[b], mass[b]),
                        floats[_LENGTH, b], floats[_SPEED, b], interval, floats[_ACCUMULATED, b],
                        floats[_STEP_ERROR, b], floats[_PARAM, b], log_low, log_high, floats[_COST, b],
                        floats[_REFERENCE_COST, b], floats[_ERROR, b], out[b])
    return out


@njit(cache=True, error_model="numpy")
def _batch_meta_features(pos, vel, mass, floats, method, interval, log_ranges, n_features):
    """:func:`_batch_features` with each system's parameter read in the range of its last method
    (``log_ranges`` (M, 2)), followed by :func:`controller.features.method_feature` -> (B, n_features + 1)."""
    out = np.empty((pos.shape[0], n_features + 1), dtype=np.float32)
    for b in range(pos.shape[0]):
        m = method[b]
        system_features(pos[b], vel[b], mass[b], integrators.pairwise_timescale(pos[b], vel[b], mass[b]),
                        floats[_LENGTH, b], floats[_SPEED, b], interval, floats[_ACCUMULATED, b],
                        floats[_STEP_ERROR, b], floats[_PARAM, b], log_ranges[m, 0], log_ranges[m, 1],
                        floats[_COST, b], floats[_REFERENCE_COST, b], floats[_ERROR, b], out[b, :n_features])
        out[b, n_features] = method_feature(m, log_ranges.shape[0])
    return out


def paper_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The 13 values of Saz Ulibarrena & Portegies Zwart (2025), for three bodies; (B, 13) float32.

    x, y of the three bodies / 10, their vx, vy, and -log10 |dE/E0| (cumulative). Unlike the
    original, the error feature reads 16 (an error of 1e-16) at reset instead of 0, the value of
    total failure. Computed by :func:`controller.features.paper_features`, as a deployed controller does.
    """
    return _paper_batch(systems.pos, systems.vel, systems.energy_error)


@njit(cache=True)
def _paper_batch(pos, vel, energy_error):
    out = np.empty((pos.shape[0], PAPER_SIZE), dtype=np.float32)
    for b in range(pos.shape[0]):
        paper_features(pos[b], vel[b], energy_error[b], out[b])
    return out


def summary_observation(systems: SystemBatch, actions: ActionMap) -> np.ndarray:
    """The default observation: the last 6 features of :func:`full_observation` (D = 6).

    Time scale, accumulated and last-interval errors, last parameter, last cost, current error: no
    positions or velocities, so the policy cannot key its choice to the orbital phase (a parameter
    changed mid-passage locks part of the energy error's swing in; docs/results.md).
    """
    return _features(systems, actions, SUMMARY_SIZE)


def observation_space(observation: str, n_bodies: int, n_methods: int = 1) -> spaces.Box:
    """The Box of one ``observation`` ("summary", "full" or "paper", as the setting) for ``n_bodies`` bodies,
    with the method feature when ``n_methods`` > 1 ("summary" and "full" only)."""
    extra = int(n_methods > 1)
    if observation == "paper":
        if n_bodies != 3:
            raise ValueError(f"observation='paper' is defined for 3 bodies; the initial conditions have {n_bodies}")
        return spaces.Box(-PAPER_BOUND, PAPER_BOUND, shape=(PAPER_SIZE,), dtype=np.float32)
    if observation == "summary":
        return spaces.Box(-FEATURE_BOUND, FEATURE_BOUND, shape=(SUMMARY_SIZE + extra,), dtype=np.float32)
    return spaces.Box(-FEATURE_BOUND, FEATURE_BOUND, shape=(6 * n_bodies + 6 + extra,), dtype=np.float32)


OBSERVATION_BUILDERS = {"summary": summary_observation, "full": full_observation, "paper": paper_observation}
