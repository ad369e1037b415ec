"""A controller deployed as a user would: one system, one decision per interval, in one compiled loop.

Each interval: the observation (:func:`controller.features.system_features`, as the environment
computes it), the decision (:func:`controller.network.decide_into`) and the integration
(``integrators.advance_kernel``, carrying the integrator's state from one interval to the next as
the environment does), with the environment's bookkeeping of energy error and cost, so
that the episode ends exactly as ``threebody_env.ThreeBodyVectorEnv`` would end it. The same loop
with a fixed parameter (no observation, no decision) is the baseline. :func:`run_episode` times
the whole episode, decisions included. Only NumPy, Numba and ``integrators`` are imported here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numba import njit

import integrators
from controller.features import (
    PAPER_SIZE,
    SUMMARY_SIZE,
    method_feature,
    paper_features,
    reset_scales,
    system_features,
)
from controller.network import NOT_FINITE, OK, decide_into, scratch
from integrators import energy_kernel, pairwise_timescale

#: The observations a deployed episode can compute (the compiled ones).
OBSERVATION_SIZES = {"summary": lambda n_bodies: SUMMARY_SIZE, "full": lambda n_bodies: 6 * n_bodies + 6,
                     "paper": lambda n_bodies: PAPER_SIZE}


@dataclass(frozen=True)
class EpisodeSettings:
    """What fixes a deployed episode besides the policy and the initial condition (an environment's settings).

    ``method_id`` the integrator (``integrators.METHODS[name].method_id``); ``interval`` the
    physical time per decision (N-body units); ``max_energy_error`` ends a failed episode as the
    environment does; ``reference_param`` the "last parameter" at reset and
    ``cost_reference_param`` the parameter whose one-interval cost is the observation's cost unit;
    ``log_range`` log10 of the environment's parameter range (the observation's parameter scale).

    A meta environment (several methods) adds ``method_ids`` (each method's ``method_id``, the first
    being ``method_id``), ``log_ranges`` (log10 of each method's range) and ``action_methods`` (the
    method index of each discrete action); all three are empty for one method. The observation then
    has one more feature, :func:`controller.features.method_feature`.
    """

    method_id: int
    interval: float
    softening: float
    max_integrator_steps: int
    max_energy_error: float
    reference_param: float
    cost_reference_param: float
    log_range: tuple[float, float]
    observation: str = "summary"
    method_ids: tuple[int, ...] = ()
    log_ranges: tuple[tuple[float, float], ...] = ()
    action_methods: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.observation not in OBSERVATION_SIZES:
            raise ValueError(f"a deployed episode computes the observations {sorted(OBSERVATION_SIZES)}; "
                             f"got {self.observation!r}")
        if self.method_ids and (len(self.method_ids) < 2 or len(self.log_ranges) != len(self.method_ids)
                                or self.method_ids[0] != self.method_id or self.observation == "paper"
                                or not all(0 <= m < len(self.method_ids) for m in self.action_methods)):
            raise ValueError(f"inconsistent methods: method_ids={self.method_ids}, log_ranges={self.log_ranges}, "
                             f"action_methods={self.action_methods}, observation={self.observation!r}")

    def observation_size(self, n_bodies: int) -> int:
        """The observation's number of features for ``n_bodies`` bodies (the method's included)."""
        return OBSERVATION_SIZES[self.observation](n_bodies) + int(bool(self.method_ids))

    def method_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(method ids (M,) int64, log ranges (M, 2) float64, action methods (K,) int64) for the compiled
        loop; one method: its id, ``log_range`` and no action methods."""
        if not self.method_ids:
            return (np.array([self.method_id], dtype=np.int64), np.array([self.log_range], dtype=np.float64),
                    np.zeros(0, dtype=np.int64))
        return (np.array(self.method_ids, dtype=np.int64), np.array(self.log_ranges, dtype=np.float64),
                np.array(self.action_methods, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EpisodeSettings:
        return cls(**{**values, "log_range": tuple(values["log_range"]),
                      "method_ids": tuple(values.get("method_ids", ())),
                      "log_ranges": tuple(tuple(r) for r in values.get("log_ranges", ())),
                      "action_methods": tuple(values.get("action_methods", ()))})


def _episode_clock():
    """The clock that times a deployed episode: the calling thread's CPU time where it resolves a
    microsecond (Linux, macOS), else the wall clock (Windows' thread clock ticks in 15.6 ms).

    The loop is single-threaded compiled code that neither sleeps nor waits, so on a dedicated core its
    CPU time is its wall time; on a shared machine the wall clock also counts the time other processes
    take the core from it, which varies from one method's timing to the next (seen: 4x under a load
    average of 6, changing the verdict at equal wall time), while the thread's CPU time does not.
    """
    return time.thread_time if time.get_clock_info("thread_time").resolution <= 1e-6 else time.perf_counter


#: Timer of :func:`run_episode` (:func:`_episode_clock`).
EPISODE_CLOCK = _episode_clock()


@dataclass(frozen=True)
class EpisodeResult:
    """One deployed episode: final (E - E0) / |E0| (signed), force evaluations (integration only),
    intervals run, the integrator's last status (``integrators.Status``), and wall time in seconds
    of the whole episode (reset, observations, decisions and integration), as a dedicated core would
    take it (:data:`EPISODE_CLOCK`); ``switches``: how often the method changed between consecutive
    intervals (0 for one method)."""

    final_energy_error: float
    force_evals: int
    intervals: int
    status: int
    wall_time: float
    switches: int = 0


@njit(cache=True, error_model="numpy")
def _episode(policy, controlled, fixed_param, pos, vel, mass, n_intervals, method_ids, interval, softening,
             max_steps, max_energy_error, reference_param, cost_reference_param, log_ranges, action_methods,
             n_features, paper):
    """The deployed loop, in place on ``pos``/``vel``. ``controlled``: decide every interval with
    ``policy`` on the summary or full features, or on the paper's (``paper``); else integrate at
    ``fixed_param``. Method index m (into ``method_ids``, ``log_ranges``) starts at 0; with several
    methods each decision's action picks it (``action_methods``) and the observation ends with
    its feature. Returns (final error, force evals, intervals, status, method switches)."""
    n_methods = method_ids.size
    method = switches = 0
    method_id = method_ids[0]
    eps2 = softening * softening
    energy0 = energy_kernel(pos, vel, mass, eps2)
    length_scale = speed_scale = reference_cost = cost = 1.0
    if controlled and not paper:  # what the summary and full observations need from reset: scales, reference cost
        length_scale, speed_scale = reset_scales(pos, mass)
        _, reference_evals, _ = integrators.evolve_kernel(method_id, pos.copy(), vel.copy(), mass, interval,
                                                          cost_reference_param, softening, max_steps)
        reference_cost = float(max(reference_evals, 1))
        cost = reference_cost
    observation = np.empty(n_features, dtype=np.float32)
    buffers = scratch(policy)
    state = np.zeros(integrators.state_size(pos.shape[0]))
    param = reference_param
    energy_error = step_error = accumulated_error = 0.0
    force_evals = 0
    status = OK
    intervals = 0
    while intervals < n_intervals:
        if controlled:
            if paper:
                paper_features(pos, vel, energy_error, observation)
            else:
                timescale = pairwise_timescale(pos, vel, mass)
                features = observation[:n_features - 1] if n_methods > 1 else observation
                system_features(pos, vel, mass, timescale, length_scale, speed_scale, interval, accumulated_error,
                                step_error, param, log_ranges[method, 0], log_ranges[method, 1], cost,
                                reference_cost, energy_error, features)
                if n_methods > 1:
                    observation[n_features - 1] = method_feature(method, n_methods)
            decision, action, param = decide_into(policy, observation, buffers)
            if decision != OK:
                return np.nan, force_evals, intervals, NOT_FINITE, switches
            if n_methods > 1:
                chosen = action_methods[int(action)]
                if intervals > 0 and chosen != method:
                    switches += 1
                method = chosen
                method_id = method_ids[method]
        else:
            param = fixed_param
        _, evals, status = integrators.advance_kernel(method_id, pos, vel, mass, interval, param, softening,
                                                      max_steps, state)
        intervals += 1
        force_evals += evals
        cost = float(evals)
        error = (energy_kernel(pos, vel, mass, eps2) - energy0) / abs(energy0)
        if np.isfinite(error):
            step_error = error - energy_error
        else:
            error = step_error = np.inf
        accumulated_error += abs(step_error)
        energy_error = error
        if abs(error) > max_energy_error or status != OK:
            break
    return energy_error, force_evals, intervals, status, switches


def run_episode(policy: tuple | None, initial_condition: tuple[np.ndarray, np.ndarray, np.ndarray],
                n_intervals: int, settings: EpisodeSettings, fixed_param: float | None = None) -> EpisodeResult:
    """One deployed episode from ``initial_condition`` = (pos (N, 3), vel (N, 3), mass (N,)) float64.

    Either ``policy`` (the tuple of :mod:`controller.network`; its action map must be the
    environment's) decides every interval, or ``fixed_param`` is used throughout (``policy=None``).
    The initial condition is copied, not modified. Wall time is measured around the compiled loop, by
    :data:`EPISODE_CLOCK`.
    """
    if (policy is None) == (fixed_param is None):
        raise ValueError("give either a policy or a fixed parameter")
    if fixed_param is not None and not (np.isfinite(fixed_param) and fixed_param > 0):
        raise ValueError(f"fixed parameter {fixed_param!r} must be finite and > 0")
    if not (isinstance(n_intervals, (int, np.integer)) and n_intervals >= 1):
        raise ValueError(f"n_intervals={n_intervals!r} must be an integer >= 1")
    pos, vel, mass = integrators.as_state(*initial_condition)
    n_features = settings.observation_size(pos.shape[0])
    if policy is None:
        assert fixed_param is not None  # exactly one of the two, checked above
        policy, controlled, param = _NO_POLICY, False, float(fixed_param)
    else:
        controlled, param = True, np.nan
        if policy[0][0] != n_features:
            raise ValueError(f"the policy reads {policy[0][0]} features; a {settings.observation!r} observation "
                             f"of {pos.shape[0]} bodies has {n_features}")
    s = settings
    method_ids, log_ranges, action_methods = s.method_arrays()
    if controlled and method_ids.size > 1 and action_methods.size != policy[7].size:
        raise ValueError(f"the policy has {policy[7].size} discrete actions; the methods' grids {action_methods.size}")
    start = EPISODE_CLOCK()
    error, evals, intervals, status, switches = _episode(
        policy, controlled, param, pos, vel, mass, int(n_intervals), method_ids, s.interval, s.softening,
        s.max_integrator_steps, s.max_energy_error, s.reference_param, s.cost_reference_param, log_ranges,
        action_methods, n_features, s.observation == "paper")
    wall = EPISODE_CLOCK() - start
    return EpisodeResult(float(error), int(evals), int(intervals), int(status), wall, int(switches))


def _placeholder_policy() -> tuple:
    """A one-layer float32 policy that is never evaluated: the fixed-parameter loop's ``policy`` argument."""
    f32 = np.zeros((1, 1, 1), dtype=np.float32)
    return (np.ones(2, dtype=np.int64), f32, f32[0], f32[0], f32[0], np.zeros(1, dtype=np.int64), np.zeros(1),
            np.zeros(0), np.zeros(2))


_NO_POLICY = _placeholder_policy()
