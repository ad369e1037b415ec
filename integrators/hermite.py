"""Fourth-order Hermite predictor-evaluator-corrector with a shared, adaptive time step.

Reference: J. Makino & S. J. Aarseth (1992), "On a Hermite integrator with Ahmad-Cohen scheme
for gravitational many-body problems", PASJ 44, 141. One acceleration+jerk evaluation per step
(PEC: the corrected state is not re-evaluated; the next step starts from the forces at the
predicted state, as in the paper and in AMUSE's ``hermite``).

Step criterion (AMUSE's Hermite), evaluated at the start of every step:
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))``.
"""

import numpy as np

from ._forces import (
    MAX_STEPS, NON_FINITE, OK, acc_jerk, hot, jit, land, pairwise_timescale, state_is_finite,
)


@hot
def pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp):
    """One Hermite step of length ``h`` from (pos, vel, a0, j0), in place on ``pos``/``vel``.

    Predicts to (xp, vp) with the Taylor series to the jerk, evaluates a1, j1 there (one force
    evaluation), and corrects with the fourth-order Hermite interpolation:
    ``v1 = v + h/2 (a0 + a1) + h^2/12 (j0 - j1)``, ``x1 = x + h/2 (v + v1) + h^2/12 (a0 - a1)``.
    """
    n = pos.shape[0]
    h2 = 0.5 * h * h
    h3 = h * h * h / 6.0
    for i in range(n):
        for k in range(3):
            xp[i, k] = pos[i, k] + h * vel[i, k] + h2 * a0[i, k] + h3 * j0[i, k]
            vp[i, k] = vel[i, k] + h * a0[i, k] + h2 * j0[i, k]
    acc_jerk(xp, vp, mass, eps2, a1, j1)
    hh = 0.5 * h
    h12 = h * h / 12.0
    for i in range(n):
        for k in range(3):
            v0 = vel[i, k]
            v1 = v0 + hh * (a0[i, k] + a1[i, k]) + h12 * (j0[i, k] - j1[i, k])
            pos[i, k] += hh * (v0 + v1) + h12 * (a0[i, k] - a1[i, k])
            vel[i, k] = v1


@jit
def run(pos, vel, mass, duration, eta, eps2, max_steps):
    """Integrate in place for ``duration``; returns (time, n_steps, n_force_evals, status)."""
    if duration == 0.0:
        return 0.0, 0, 0, OK
    n = pos.shape[0]
    a0 = np.empty((n, 3))
    j0 = np.empty((n, 3))
    a1 = np.empty((n, 3))
    j1 = np.empty((n, 3))
    xp = np.empty((n, 3))
    vp = np.empty((n, 3))
    acc_jerk(pos, vel, mass, eps2, a0, j0)
    t = 0.0
    steps = 0
    while True:
        if steps >= max_steps:
            return t, steps, steps + 1, MAX_STEPS
        dt = eta * pairwise_timescale(pos, vel, mass)
        h, last, ok = land(t, dt, t + dt, duration)
        if not ok:
            return t, steps, steps + 1, NON_FINITE
        pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp)
        a0, a1 = a1, a0
        j0, j1 = j1, j0
        steps += 1
        t = duration if last else t + h
        if not state_is_finite(pos, vel):
            return t, steps, steps + 1, NON_FINITE
        if last:
            return t, steps, steps + 1, OK
