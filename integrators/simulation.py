"""A stateful N-body simulation: ``integrate(t)`` to each output time, the method's state carried between calls.

Like REBOUND's ``sim.integrate(t)`` with ``exact_finish_time=1``: every call lands exactly on the
absolute time ``t``, and the integrator resumes where the last call stopped (IAS15's step size,
predictor coefficients and compensated sums; Hermite's acceleration, jerk and compensation
residuals; the last step of every variable-step method), so output times cost no restart.
"""

from __future__ import annotations

import numpy as np

from ._driver import LAST_STEP, NEXT_STEP, OWNER
from ._evolve import MethodInfo, Status, _advance, _positive, _step_budget, as_state, method_info, state_size
from ._forces import OK, energy_kernel

_STATUSES = tuple(Status)
_INF = float("inf")


class Simulation:
    """One N-body system (G = 1) integrated by one method of :data:`integrators.METHODS`.

    ``pos``, ``vel`` (N, 3) and ``mass`` (N,) are copied to float64 and validated as by
    :func:`integrators.evolve` (the same ValueErrors). ``param`` is the method's parameter (eta,
    tol, dt or epsilon; the method's default when None) and may be changed between calls: the
    state is kept. ``max_steps`` bounds the step attempts of each :meth:`integrate` call.

    Attributes (read-only): ``t`` the time reached; ``pos``, ``vel`` (copies) and ``mass``;
    ``n_steps`` and ``n_force_evals`` summed over all calls; ``status`` of the last call.
    :meth:`copy` and pickling give a simulation that continues bit for bit as this one would.
    """

    def __init__(self, pos, vel, mass, method: str = "ias15", param: float | None = None, *,
                 softening: float = 0.0, max_steps: int = 1_000_000) -> None:
        self._pos, self._vel, self._mass = as_state(pos, vel, mass)
        self._softening = _positive("softening", softening, allow_zero=True)
        self._max_steps = _step_budget(max_steps)
        self._state = np.zeros(state_size(self._pos.shape[0]))
        self._t = 0.0
        self._n_steps = 0
        self._n_force_evals = 0
        self._status = OK
        self.set_method(method, param)

    def set_method(self, method: str, param: float | None = None) -> None:
        """Integrate with ``method`` from now on, at ``param`` (its default when None). A different
        method starts afresh at the next call (its first step is chosen from the state, as at
        ``t = 0``); the same method keeps its state."""
        info = method_info(method)
        self._param = _positive(info.param, info.default if param is None else param)
        self._info = info
        self._method_id = info.method_id

    @property
    def method(self) -> str:
        return self._info.name

    @property
    def info(self) -> MethodInfo:
        return self._info

    @property
    def param(self) -> float:
        return self._param

    @param.setter
    def param(self, value: float) -> None:
        self._param = _positive(self._info.param, value)

    def integrate(self, t: float) -> Status:
        """Integrate to the absolute time ``t`` (>= ``self.t``), landing exactly on it. Returns the
        status: OK, or MAX_STEPS / NON_FINITE with ``self.t`` where the call stopped."""
        t = float(t)
        now = self._t
        if not now <= t < _INF:
            raise ValueError(f"t = {t} must be finite and >= the current time {now}")
        # The lean path (benchmarks/bench_simulation_call.py): one compiled call, plain attributes.
        reached, steps, evals, status = _advance(self._method_id, self._pos, self._vel, self._mass, t - now,
                                                 self._param, self._softening, self._max_steps, self._state)
        self._n_steps += steps
        self._n_force_evals += evals
        self._t = t if status == OK else now + reached
        self._status = status
        return _STATUSES[status]

    def energy(self) -> float:
        """Total energy (kinetic + Plummer-softened potential) of the current state."""
        return float(energy_kernel(self._pos, self._vel, self._mass, self._softening ** 2))

    def copy(self) -> Simulation:
        """An independent simulation that continues bit for bit as this one would."""
        other = object.__new__(Simulation)
        other.__dict__.update({k: v.copy() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()})
        return other

    @property
    def t(self) -> float:
        return self._t

    @property
    def pos(self) -> np.ndarray:
        return self._pos.copy()

    @property
    def vel(self) -> np.ndarray:
        return self._vel.copy()

    @property
    def mass(self) -> np.ndarray:
        return self._mass.copy()

    @property
    def softening(self) -> float:
        return self._softening

    @property
    def n_steps(self) -> int:
        return self._n_steps

    @property
    def n_force_evals(self) -> int:
        return self._n_force_evals

    @property
    def status(self) -> Status:
        return _STATUSES[self._status]

    @property
    def dt(self) -> float:
        """The step the next call will try first (0.0 before the first call; a fixed-step method's
        own ``dt`` aside, informative only)."""
        return float(self._state[NEXT_STEP]) if self._state[OWNER] == self._info.method_id + 1 else 0.0

    @property
    def dt_last_done(self) -> float:
        """The last accepted step (0.0 before the first), as REBOUND's ``sim.dt_last_done``."""
        return float(self._state[LAST_STEP]) if self._state[OWNER] == self._info.method_id + 1 else 0.0

    def __repr__(self) -> str:
        return (f"Simulation({self.method}, {self._info.param}={self._param:g}, N={self._pos.shape[0]}, "
                f"t={self._t:g}, n_steps={self._n_steps}, n_force_evals={self._n_force_evals}, "
                f"status={self.status.name})")

