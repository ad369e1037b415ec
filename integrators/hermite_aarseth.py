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

from ._forces import hot, pairwise_timescale
from .hermite import hermite_functions


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


@hot
def fallback_step(pos, vel, mass, eta):
    """Where the criterion is undefined: sqrt(eta) times the shortest pairwise time scale."""
    return np.sqrt(eta) * pairwise_timescale(pos, vel, mass)


HERMITE_AARSETH = hermite_functions(fallback_step, aarseth_criterion)
