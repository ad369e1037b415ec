"""The one integration loop shared by every method, and the record a method registers with it.

REBOUND splits each integrator into a step and a driver (``integrator_ias15.c``:
``while(!reb_integrator_ias15_step(r));`` inside ``reb_simulation_integrate``, which owns the
exit test and ``exact_finish_time``), and registers each integrator as one record of functions.
Here a method is a :class:`StepKind` (its ``start`` and ``step`` functions), and
:func:`make_driver` compiles the loop around it: the step budget, exact landing on ``duration``
(:func:`~integrators._forces.land`), the finite-state check and the force-evaluation count. Each
driver is compiled for its own step kind (the step functions are inlined at the Numba IR level),
so the shared loop costs nothing per step over a hand-written one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._forces import MAX_STEPS, NON_FINITE, OK, hot, jit, land, state_is_finite


@hot
def keep_param(pos, vel, mass, param):
    """The default ``state_step``: the parameter itself (a fixed step)."""
    return param


class StepKind(NamedTuple):
    """A method as the driver sees it: two Numba functions (``hot``, inlined into the driver).

    ``start(pos, vel, mass, eps2, param) -> (state, n_evals, dt)`` allocates the method's state
    (any Numba value: a tuple of arrays, one array) at the start of a call, with the force
    evaluations it spent and the first step to try.

    ``step(pos, vel, mass, eps2, param, h, h_last, state) -> (state, accepted, n_evals, dt_next)``
    attempts one step of length ``h`` (``h_last`` is the last accepted step of this call, 0.0
    before the first). An accepted step updates ``pos`` and ``vel`` in place; a rejected one
    leaves them untouched. ``dt_next`` is the step to try next (after a rejection: the retry).

    ``state_step(pos, vel, mass, param) -> dt`` is the step set by the state alone, taken
    whenever ``start`` or ``step`` proposes +inf (or NaN): every step for a rule like
    ``eta * time scale``, the fallback for rules from the forces. Calling it from the driver,
    not from an inlined ``step``, keeps reference counting of the arrays out of the loop.

    ``fixed_step``: time is counted as ``n_steps * param`` (no accumulated round-off) instead of
    a running sum of steps.
    """

    start: Any
    step: Any
    state_step: Any = keep_param
    fixed_step: bool = False


def make_driver(kind: StepKind):
    """Compile the loop around ``kind``: ``run(pos, vel, mass, duration, param, eps2, max_steps)``.

    ``run`` integrates in place and returns (time reached, accepted steps, force evaluations,
    status). Every attempt, rejected or not, counts against ``max_steps``, so a step size that
    keeps shrinking ends the call (status MAX_STEPS, or NON_FINITE once the step no longer
    advances time) instead of hanging.
    """
    start, step, state_step, fixed_step = kind.start, kind.step, kind.state_step, kind.fixed_step

    @jit
    def run(pos, vel, mass, duration, param, eps2, max_steps):
        if duration == 0.0:
            return 0.0, 0, 0, OK
        state, evals, dt = start(pos, vel, mass, eps2, param)
        if not dt < np.inf:
            dt = state_step(pos, vel, mass, param)
        t = 0.0
        h_last = 0.0
        steps = 0
        attempts = 0
        while True:
            if attempts >= max_steps:
                return t, steps, evals, MAX_STEPS
            t_next = (steps + 1) * dt if fixed_step else t + dt
            h, last, ok = land(t, dt, t_next, duration)
            if not ok:
                return t, steps, evals, NON_FINITE
            state, accepted, step_evals, dt_next = step(pos, vel, mass, eps2, param, h, h_last, state)
            attempts += 1
            evals += step_evals
            if accepted:
                steps += 1
                if last:
                    t = duration
                elif fixed_step:
                    t = steps * dt
                else:
                    t = t + h
                h_last = h
                if not state_is_finite(pos, vel):
                    return t, steps, evals, NON_FINITE
                if last:
                    return t, steps, evals, OK
            dt = dt_next if dt_next < np.inf else state_step(pos, vel, mass, param)

    return run

