"""The one integration loop shared by every method, and the state record it carries between calls.

REBOUND splits each integrator into a step and a driver (``integrator_ias15.c``:
``while(!reb_integrator_ias15_step(r));`` inside ``reb_simulation_integrate``, which owns the
exit test and ``exact_finish_time``), and keeps each integrator's state in the simulation between
calls. Here a method is a :class:`StepFunctions` (its ``start`` and ``step`` functions and the size
of its state), and :func:`make_driver` compiles the loop around it: the step budget, exact landing
on ``duration`` (:func:`~integrators._forces.land`), the finite-state check, the force-evaluation
count, and the state record. Each driver is compiled for its own method (the step functions are
inlined at the Numba IR level), so the shared loop costs nothing per step over a hand-written one.

The state record is one float64 vector: a header of ``HEADER`` scalars (which method owns it, the
step to try next, the last accepted step) and the method's ``blocks`` work arrays of shape (N, 3)
(forces, predictor coefficients, compensated-sum residuals: whatever ``start`` fills and ``step``
keeps up to date). A call that finds a record owned by its own method resumes from it; an empty
record, or one owned by another method, is started afresh (a system that switches methods
restarts the new one).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._forces import MAX_STEPS, NON_FINITE, OK, hot, jit, land, state_is_finite

#: Header slots of a state record. ``OWNER``: method_id + 1 of the method whose state it holds (0.0:
#: empty, the next call starts afresh). ``NEXT_STEP``: the step the next call tries first.
#: ``LAST_STEP``: the last accepted step (0.0 before the first). ``FROM_STATE``: 1.0 when the next
#: step is the method's ``state_step`` of the state, recomputed on resume with the current parameter.
OWNER, NEXT_STEP, LAST_STEP, FROM_STATE = range(4)
HEADER = 4
#: A landing step shorter than this fraction of the proposed step says little about the next one
#: (step rules cap the growth from one step to the next): the next call tries the proposal instead.
_SHORT_LANDING = 0.25


@hot
def keep_param(pos, vel, mass, param):
    """The default ``state_step``: the parameter itself (a fixed step)."""
    return param


class StepFunctions(NamedTuple):
    """A method as the driver sees it: Numba functions (``hot``, inlined into the driver) and the
    size of its state.

    ``start(pos, vel, mass, eps2, param, work) -> (n_evals, dt)`` fills the work arrays ``work``
    ((``blocks``, N, 3) float64) for the state (pos, vel), with the force evaluations it spent and
    the first step to try.

    ``step(pos, vel, mass, eps2, param, h, h_last, work) -> (accepted, n_evals, dt_next)``
    attempts one step of length ``h`` (``h_last`` is the last accepted step, 0.0 before the
    first). An accepted step updates ``pos``, ``vel`` and ``work`` in place; a rejected one leaves
    ``pos`` and ``vel`` untouched. ``dt_next`` is the step to try next (after a rejection: the
    retry). ``work`` carries everything a later call needs to continue as if it had not stopped.

    ``state_step(pos, vel, mass, param) -> dt`` is the step set by the state alone, taken
    whenever ``start`` or ``step`` proposes +inf (or NaN): every step for a rule like
    ``eta * time scale``, the fallback for rules from the forces. Calling it from the driver,
    not from an inlined ``step``, keeps reference counting of the arrays out of the loop.

    ``fixed_step``: every step is ``param`` and time is counted as ``n_steps * param`` within a
    call (no accumulated round-off) instead of a running sum of steps.
    """

    start: Any
    step: Any
    blocks: int
    state_step: Any = keep_param
    fixed_step: bool = False


def state_size(blocks: int, n_bodies: int) -> int:
    """Length of the state record of a method with ``blocks`` work arrays, for ``n_bodies`` bodies."""
    return HEADER + blocks * n_bodies * 3


def make_driver(functions: StepFunctions, method_id: int):
    """Compile the loop around ``functions``:
    ``run(pos, vel, mass, duration, param, eps2, max_steps, state)``.

    ``run`` integrates in place over ``duration``, resuming from the state record ``state`` (1-D
    float64, at least ``state_size(blocks, N)`` long) when method ``method_id`` owns it, and leaves
    its own state there. Returns (time reached, accepted steps, force evaluations, status). Every
    attempt, rejected or not, counts against ``max_steps``, so a step size that keeps shrinking ends
    the call (status MAX_STEPS, or NON_FINITE once the step no longer advances time) instead of
    hanging.
    """
    start, step, blocks = functions.start, functions.step, functions.blocks
    state_step, fixed_step = functions.state_step, functions.fixed_step
    owner = float(method_id + 1)

    @jit
    def run(pos, vel, mass, duration, param, eps2, max_steps, state):
        if duration == 0.0:
            return 0.0, 0, 0, OK
        n = pos.shape[0]
        work = state[HEADER:HEADER + blocks * n * 3].reshape((blocks, n, 3))
        if state[OWNER] == owner:
            evals = 0
            h_last = state[LAST_STEP]
            dt = state[NEXT_STEP]
            from_state = state[FROM_STATE] != 0.0
        else:
            evals, dt = start(pos, vel, mass, eps2, param, work)
            h_last = 0.0
            from_state = not dt < np.inf
            state[OWNER] = owner
        if fixed_step:
            dt = param
        elif from_state:
            dt = state_step(pos, vel, mass, param)
        t = 0.0
        steps = 0
        attempts = 0
        status = OK
        while True:
            if attempts >= max_steps:
                status = MAX_STEPS
                break
            t_next = (steps + 1) * dt if fixed_step else t + dt
            h, last, ok = land(t, dt, t_next, duration)
            if not ok:
                status = NON_FINITE
                break
            accepted, step_evals, dt_next = step(pos, vel, mass, eps2, param, h, h_last, work)
            attempts += 1
            evals += step_evals
            proposed, proposed_from_state = dt, from_state
            from_state = not dt_next < np.inf
            dt = state_step(pos, vel, mass, param) if from_state else dt_next
            if accepted:
                steps += 1
                if last:
                    t = duration
                elif fixed_step:
                    t = steps * proposed
                else:
                    t = t + h
                h_last = h
                if not state_is_finite(pos, vel):
                    status = NON_FINITE
                    break
                if last:
                    if h < _SHORT_LANDING * proposed:
                        dt, from_state = proposed, proposed_from_state
                    break
        state[NEXT_STEP] = dt
        state[LAST_STEP] = h_last
        state[FROM_STATE] = 1.0 if from_state else 0.0
        return t, steps, evals, status

    return run
