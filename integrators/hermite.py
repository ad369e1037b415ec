"""Fourth-order Hermite predictor-evaluator-corrector with a shared, adaptive time step.

Reference: J. Makino & S. J. Aarseth (1992), "On a Hermite integrator with Ahmad-Cohen scheme
for gravitational many-body problems", PASJ 44, 141. One acceleration+jerk evaluation per step
(PEC: the corrected state is not re-evaluated; the next step starts from the forces at the
predicted state, as in the paper and in AMUSE's ``hermite``).

Step criterion (AMUSE's Hermite), evaluated at the start of every step:
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))``.

Positions and velocities are summed with compensation (Kahan), carried from one call to the next
with the acceleration and jerk: a close pair far from the origin does not lose its separation's
digits over ~1e5 steps (docs/integrators.md has the measurements).
"""

import numpy as np

from ._driver import StepFunctions
from ._forces import acc_jerk, add_compensated, hot, time_scale_step


@hot
def pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp, csx, csv):
    """One Hermite step of length ``h`` from (pos, vel, a0, j0), in place on ``pos``/``vel``.

    Predicts to (xp, vp) with the Taylor series to the jerk, evaluates a1, j1 there (one force
    evaluation), and corrects with the fourth-order Hermite interpolation:
    ``v1 = v + h/2 (a0 + a1) + h^2/12 (j0 - j1)``, ``x1 = x + h/2 (v + v1) + h^2/12 (a0 - a1)``.
    The increments are added with compensated summation (``csx``, ``csv``: the round-off of
    positions and velocities so far, subtracted again in the prediction). On return (a0, j0) hold
    the forces at the new state, (a1, j1) those at the start of the step.
    """
    n = pos.shape[0]
    h2 = 0.5 * h * h
    h3 = h * h * h / 6.0
    for i in range(n):
        for k in range(3):
            xp[i, k] = pos[i, k] + (h * vel[i, k] + h2 * a0[i, k] + h3 * j0[i, k] - csx[i, k])
            vp[i, k] = vel[i, k] + (h * a0[i, k] + h2 * j0[i, k] - csv[i, k])
    acc_jerk(xp, vp, mass, eps2, a1, j1)
    hh = 0.5 * h
    h12 = h * h / 12.0
    for i in range(n):
        for k in range(3):
            dv = hh * (a0[i, k] + a1[i, k]) + h12 * (j0[i, k] - j1[i, k])
            dx = hh * (2.0 * vel[i, k] + dv) + h12 * (a0[i, k] - a1[i, k])
            pos[i, k], csx[i, k] = add_compensated(pos[i, k], csx[i, k], dx)
            vel[i, k], csv[i, k] = add_compensated(vel[i, k], csv[i, k], dv)
            a0[i, k], a1[i, k] = a1[i, k], a0[i, k]
            j0[i, k], j1[i, k] = j1[i, k], j0[i, k]


def hermite_functions(state_step, force_step) -> StepFunctions:
    """Hermite PEC with a step-size rule, as :class:`~integrators._driver.StepFunctions`.

    ``force_step(a0, j0, a1, j1, h, eta)`` gives the step after one of length ``h`` from the
    forces and jerks at both ends of that step, or +inf where it has none; then, and for the
    first step of a call, ``state_step(pos, vel, mass, eta)`` sets it from the state. Both are
    ``hot`` Numba functions. The work arrays are (a0, j0, a1, j1, xp, vp, csx, csv), each (N, 3):
    the acceleration and jerk of the current state, those of the step's other end, the predicted
    state, and the compensations of positions and velocities.
    """

    @hot
    def start(pos, vel, mass, eps2, eta, work):
        acc_jerk(pos, vel, mass, eps2, work[0], work[1])
        work[6:8] = 0.0
        return 1, np.inf

    @hot
    def step(pos, vel, mass, eps2, eta, h, h_last, work):
        a0, j0, a1, j1 = work[0], work[1], work[2], work[3]
        pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, work[4], work[5], work[6], work[7])
        return True, 1, force_step(a1, j1, a0, j0, h, eta)

    return StepFunctions(start, step, 8, state_step)


@hot
def no_force_step(a0, j0, a1, j1, h, eta):
    """AMUSE's Hermite takes no step size from the forces."""
    return np.inf


HERMITE = hermite_functions(time_scale_step, no_force_step)
