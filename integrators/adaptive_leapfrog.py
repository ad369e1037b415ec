"""Kick-drift-kick leapfrog with a shared adaptive step: second order (not symplectic).

References: the KDK leapfrog of :mod:`integrators.leapfrog` (Verlet 1967); the step
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))`` is the criterion of AMUSE's
Hermite (Portegies Zwart & McMillan 2018, "Astrophysical Recipes: the art of AMUSE"), taken at
the start of each step. Changing the step from one step to the next breaks symplecticity and time
symmetry, so energy errors drift; the global error stays O(dt^2). One force evaluation per step.
"""

import numpy as np

from ._forces import (
    MAX_STEPS, NON_FINITE, OK, accelerations, jit, land, pairwise_timescale, state_is_finite,
)
from .leapfrog import kdk


@jit
def run(pos, vel, mass, duration, eta, eps2, max_steps):
    """Integrate in place for ``duration``; returns (time, n_steps, n_force_evals, status)."""
    if duration == 0.0:
        return 0.0, 0, 0, OK
    acc = np.empty((pos.shape[0], 3))
    accelerations(pos, mass, eps2, acc)
    t = 0.0
    steps = 0
    while True:
        if steps >= max_steps:
            return t, steps, steps + 1, MAX_STEPS
        dt = eta * pairwise_timescale(pos, vel, mass)
        h, last, ok = land(t, dt, t + dt, duration)
        if not ok:
            return t, steps, steps + 1, NON_FINITE
        kdk(pos, vel, mass, eps2, h, acc)
        steps += 1
        t = duration if last else t + h
        if not state_is_finite(pos, vel):
            return t, steps, steps + 1, NON_FINITE
        if last:
            return t, steps, steps + 1, OK
