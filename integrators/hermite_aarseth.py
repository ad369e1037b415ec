"""Fourth-order Hermite PEC with Aarseth's time-step criterion (shared step).

References: the predictor-corrector of J. Makino & S. J. Aarseth (1992), PASJ 44, 141 (shared
with :mod:`integrators.hermite`) and the time-step criterion of S. J. Aarseth (1985), "Direct
methods for N-body simulations", in Multiple Time Scales (Brackbill & Cohen, eds.), p. 377, as
used by Makino & Aarseth (1992):

    dt_i = sqrt(eta (|a||a2| + |j|^2) / (|j||a3| + |a2|^2)),   dt = min over bodies i,

where a2 and a3 (snap and crackle) come from the Hermite interpolation of the last step, at its
end time. The criterion scales as sqrt(eta): for a circular orbit it equals sqrt(eta) / omega.

Guards: the first step of a call has no a2, a3 yet, and a body with zero acceleration and jerk
(or zero jerk and a2) has no defined criterion; then the step falls back to
``sqrt(eta) * pairwise time scale`` (the same time scale as :mod:`integrators.hermite`, which
equals the criterion's value on a circular orbit).
"""

import numpy as np

from ._forces import (
    MAX_STEPS, NON_FINITE, OK, acc_jerk, hot, jit, land, pairwise_timescale, state_is_finite,
)
from .hermite import pec_step


@hot
def aarseth_criterion(a0, j0, a1, j1, h, eta):
    """Aarseth's shared step at the end of a Hermite step of length ``h`` from (a0, j0) to (a1, j1).

    Uses ``a2(t1) = (6 (a0 - a1) + h (2 j0 + 4 j1)) / h^2`` and
    ``a3 = (12 (a0 - a1) + 6 h (j0 + j1)) / h^3``. Bodies whose criterion is undefined (0/0) or
    infinite are skipped; returns +inf if no body defines one.
    """
    ih2 = 1.0 / (h * h)
    ih3 = ih2 / h
    best = np.inf
    for i in range(a0.shape[0]):
        a_sq = j_sq = s_sq = c_sq = 0.0
        for k in range(3):
            da = a0[i, k] - a1[i, k]
            snap = (6.0 * da + h * (2.0 * j0[i, k] + 4.0 * j1[i, k])) * ih2
            crackle = (12.0 * da + 6.0 * h * (j0[i, k] + j1[i, k])) * ih3
            a_sq += a1[i, k] * a1[i, k]
            j_sq += j1[i, k] * j1[i, k]
            s_sq += snap * snap
            c_sq += crackle * crackle
        num = np.sqrt(a_sq * s_sq) + j_sq
        den = np.sqrt(j_sq * c_sq) + s_sq
        if num > 0.0 and den > 0.0:
            dt2 = eta * num / den
            if dt2 < best:
                best = dt2
    return np.sqrt(best)


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
    root_eta = np.sqrt(eta)
    dt = np.inf  # no criterion before the first step: use the fallback
    t = 0.0
    steps = 0
    while True:
        if steps >= max_steps:
            return t, steps, steps + 1, MAX_STEPS
        if not dt < np.inf:
            dt = root_eta * pairwise_timescale(pos, vel, mass)
        h, last, ok = land(t, dt, t + dt, duration)
        if not ok:
            return t, steps, steps + 1, NON_FINITE
        pec_step(pos, vel, mass, eps2, h, a0, j0, a1, j1, xp, vp)
        dt = aarseth_criterion(a0, j0, a1, j1, h, eta)
        a0, a1 = a1, a0
        j0, j1 = j1, j0
        steps += 1
        t = duration if last else t + h
        if not state_is_finite(pos, vel):
            return t, steps, steps + 1, NON_FINITE
        if last:
            return t, steps, steps + 1, OK
