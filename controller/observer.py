"""The observation of a controller, built from a user's own integration loop.

A policy reads more than the state: the shortest pairwise time scale now, the energy errors so far,
the last parameter and the last interval's cost relative to one measured at reset. An
:class:`Observer` keeps that bookkeeping exactly as the environment (and
:func:`controller.episode.run_episode`) keeps it, so a loop that advances the integrator interval by
interval, carrying its state as the environment does, feeds the controller what it saw in training,
bit for bit::

    observer = ctl.observer(pos, vel, mass)            # at reset: E0, scales, reference cost
    state = np.zeros(integrators.state_size(len(mass)))
    for _ in range(n_intervals):
        eta = ctl.parameter(observer.observe(pos, vel))
        _, evals, status = integrators.advance_kernel(method_id, pos, vel, mass, settings.interval, eta,
                                                      settings.softening, settings.max_integrator_steps, state)
        observer.record(pos, vel, evals, eta, status)
        if observer.failed:
            break

Only NumPy, Numba and ``integrators`` are imported here.
"""

from __future__ import annotations

import math

import numpy as np

import integrators
from controller.episode import EpisodeSettings
from controller.features import method_feature, reset_scales, system_features
from integrators import energy_kernel, pairwise_timescale


class Observer:
    """The environment's bookkeeping of one system, for a loop the user runs.

    Built at reset from ``pos``, ``vel`` (N, 3) and ``mass`` (N,) (N-body units, G = 1) and the
    episode ``settings`` of the controller (``controller.metadata["episode"]``). Building it
    integrates one interval on copies at ``settings.cost_reference_param``: that interval's force
    evaluations are the observation's unit of cost, as in the environment.

    After each interval, :meth:`record` the new state, the force evaluations, the parameter used and
    the integrator's status; :meth:`observe` then gives the next observation. Attributes, updated by
    :meth:`record`: ``energy_error`` (E - E0) / |E0| now (inf once not finite), ``step_error`` the last
    interval's change of it, ``accumulated_error`` the sum of the intervals' |change|, ``force_evals``
    the episode's total, ``intervals`` the number recorded, and ``failed``: the environment would end
    the episode (|error| > ``settings.max_energy_error`` or a status other than OK).
    """

    def __init__(self, settings: EpisodeSettings, pos: np.ndarray, vel: np.ndarray, mass: np.ndarray) -> None:
        pos, vel, self.mass = integrators.as_state(pos, vel, mass)
        self.settings = settings
        self._eps2 = settings.softening * settings.softening
        self.energy0 = float(energy_kernel(pos, vel, self.mass, self._eps2))
        if not (math.isfinite(self.energy0) and self.energy0 != 0.0):
            raise ValueError(f"initial energy {self.energy0!r} must be finite and non-zero: the energy error needs it")
        self.length_scale, self.speed_scale = reset_scales(pos, self.mass)
        _, evals, _ = integrators.evolve_kernel(settings.method_id, pos, vel, self.mass, settings.interval,
                                                settings.cost_reference_param, settings.softening,
                                                settings.max_integrator_steps)  # on the copies as_state made
        self.reference_cost = self.cost = float(max(evals, 1))
        self.param = settings.reference_param
        self.energy_error = self.step_error = self.accumulated_error = 0.0
        self.force_evals = self.intervals = 0
        self.failed = False
        self.method = 0  # index into settings.method_ids of the method that ran last (a meta policy's)
        self._size = settings.observation_size(pos.shape[0])

    def observe(self, pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
        """The observation (D,) float32 of the current state (positions and velocities (N, 3) float64)."""
        pos = np.ascontiguousarray(pos, dtype=np.float64)
        vel = np.ascontiguousarray(vel, dtype=np.float64)
        if pos.shape != vel.shape or pos.shape != (self.mass.size, 3):
            raise ValueError(f"pos {pos.shape} and vel {vel.shape} must be ({self.mass.size}, 3), as at reset")
        out = np.empty(self._size, dtype=np.float32)
        s = self.settings
        meta = bool(s.method_ids)
        log_low, log_high = s.log_ranges[self.method] if meta else s.log_range
        system_features(pos, vel, self.mass, pairwise_timescale(pos, vel, self.mass), self.length_scale,
                        self.speed_scale, s.interval, self.accumulated_error, self.step_error, self.param,
                        log_low, log_high, self.cost, self.reference_cost, self.energy_error,
                        out[:-1] if meta else out)
        if meta:
            out[-1] = method_feature(self.method, len(s.method_ids))
        return out

    def record(self, pos: np.ndarray, vel: np.ndarray, force_evals: int, param: float,
               status: int = integrators.Status.OK, method: int = 0) -> float:
        """Book one interval that ended in ``pos``, ``vel`` after ``force_evals`` force evaluations at
        ``param`` with the integrator's ``status``; returns the energy error (E - E0) / |E0| now.
        ``method``: for a meta policy, the index (into ``settings.method_ids``) of the method that ran."""
        if self.failed:
            raise ValueError("the episode has ended (observer.failed): start a new Observer")
        energy = energy_kernel(np.ascontiguousarray(pos, dtype=np.float64),
                               np.ascontiguousarray(vel, dtype=np.float64), self.mass, self._eps2)
        error = (energy - self.energy0) / abs(self.energy0)
        if math.isfinite(error):
            self.step_error = error - self.energy_error
        else:
            error = self.step_error = math.inf
        self.accumulated_error += abs(self.step_error)
        self.energy_error = error
        self.param = float(param)
        self.method = int(method)
        self.cost = float(force_evals)
        self.force_evals += int(force_evals)
        self.intervals += 1
        self.failed = abs(error) > self.settings.max_energy_error or int(status) != integrators.Status.OK
        return error
