"""Fourth-order Hermite predictor-evaluator-corrector with a shared, adaptive time step.

Reference: J. Makino & S. J. Aarseth (1992), "On a Hermite integrator with Ahmad-Cohen scheme
for gravitational many-body problems", PASJ 44, 141. One acceleration+jerk evaluation per step
(PEC: the corrected state is not re-evaluated; the next step starts from the forces at the
predicted state, as in the paper and in AMUSE's ``hermite``).

Step criterion (AMUSE's Hermite), evaluated at the start of every step:
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))``.

Positions and velocities are summed with compensation (Kahan), within each call. On the paper's
100 test initial conditions x 300 intervals this cuts the runs ending above |dE/E0| = 1e-8 from
9 % to 1 % at eta = 1e-3 (p90 3e-9 -> 8e-12) and from 7 % to 1 % at eta = 2.15e-3
(``benchmarks/bench_compensation.py``), for about 20 % more time per step (1.16x the ns per step
of the uncompensated Hermite before the shared driver, measured alternately in the same run).
"""

import numpy as np

from ._driver import StepKind
from ._forces import acc_jerk, hot, pairwise_timescale


@hot
def _add_compensated(total, comp, i, k, value):
    """Kahan summation ``total[i, k] += value``; ``comp[i, k]`` carries the part lost to round-off
    (the exact sum is ``total - comp``)."""
    y = value - comp[i, k]
    t = total[i, k] + y
    comp[i, k] = (t - total[i, k]) - y
    total[i, k] = t


@hot
def pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp, csx, csv):
    """One Hermite step of length ``h`` from (pos, vel, a0, j0), in place on ``pos``/``vel``.

    Predicts to (xp, vp) with the Taylor series to the jerk, evaluates a1, j1 there (one force
    evaluation), and corrects with the fourth-order Hermite interpolation:
    ``v1 = v + h/2 (a0 + a1) + h^2/12 (j0 - j1)``, ``x1 = x + h/2 (v + v1) + h^2/12 (a0 - a1)``.
    The increments are added with compensated summation (``csx``, ``csv``: the round-off of
    positions and velocities so far, subtracted again in the prediction), so a close pair far
    from the origin does not lose its separation's digits over ~1e5 steps.
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
            _add_compensated(pos, csx, i, k, dx)
            _add_compensated(vel, csv, i, k, dv)


def hermite_kind(time_scale_step, force_step) -> StepKind:
    """Hermite PEC with a step-size rule, as a :class:`~integrators._driver.StepKind`.

    ``force_step(a0, j0, a1, j1, h, eta)`` gives the step after one of length ``h`` from the
    forces and jerks at both ends of that step, or +inf where it has none; then, and for the
    first step of a call, ``time_scale_step(pos, vel, mass, eta)`` sets it from the state. Both
    are ``hot`` Numba functions. The state is (a0, j0, a1, j1, xp, vp, csx, csv), each (N, 3);
    a step swaps the two ends instead of copying. The compensations start at zero in every call: the
    state between calls is plain float64.
    """

    @hot
    def start(pos, vel, mass, eps2, eta):
        n = pos.shape[0]
        a0 = np.empty((n, 3))
        j0 = np.empty((n, 3))
        acc_jerk(pos, vel, mass, eps2, a0, j0)
        state = (a0, j0, np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 3)),
                 np.zeros((n, 3)), np.zeros((n, 3)))
        return state, 1, np.inf

    @hot
    def step(pos, vel, mass, eps2, eta, h, h_last, state):
        a0, j0, a1, j1, xp, vp, csx, csv = state
        pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp, csx, csv)
        return (a1, j1, a0, j0, xp, vp, csx, csv), True, 1, force_step(a0, j0, a1, j1, h, eta)

    return StepKind(start, step, time_scale_step)


@hot
def amuse_step(pos, vel, mass, eta):
    """AMUSE's criterion: eta times the shortest pairwise time scale, at the start of every step."""
    return eta * pairwise_timescale(pos, vel, mass)


@hot
def no_force_step(a0, j0, a1, j1, h, eta):
    """AMUSE's Hermite takes no step size from the forces."""
    return np.inf


HERMITE = hermite_kind(amuse_step, no_force_step)
