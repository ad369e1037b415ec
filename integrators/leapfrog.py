"""Fixed-step kick-drift-kick leapfrog (velocity Verlet): second order, symplectic, time-reversible.

Reference: L. Verlet (1967), Phys. Rev. 159, 98; the KDK form as in E. Hairer, C. Lubich &
G. Wanner (2003), Acta Numerica 12, 399 ("Geometric numerical integration illustrated by the
Stormer-Verlet method"). One force evaluation per step: the acceleration at the end of a step is
the one of the next step's first kick.
"""

import numpy as np

from ._forces import MAX_STEPS, NON_FINITE, OK, accelerations, hot, jit, land, state_is_finite


@hot
def kdk(pos, vel, mass, eps2, h, acc):
    """One KDK substep of length ``h`` in place; ``acc`` holds a(pos) on entry and on exit."""
    n = pos.shape[0]
    hh = 0.5 * h
    for i in range(n):
        for k in range(3):
            vel[i, k] += hh * acc[i, k]
            pos[i, k] += h * vel[i, k]
    accelerations(pos, mass, eps2, acc)
    for i in range(n):
        for k in range(3):
            vel[i, k] += hh * acc[i, k]


@jit
def run_composition(pos, vel, mass, duration, dt, eps2, max_steps, weights):
    """Fixed-step driver for KDK compositions: each step of length h is a sequence of KDK
    substeps of lengths ``weights * h`` (one force evaluation each). Shared by leapfrog
    (weights [1]) and Yoshida's fourth-order scheme.

    Time is tracked as ``steps * dt`` (no accumulated round-off) and the last step is shortened
    to land on ``duration``. Returns (time reached, n_steps, n_force_evals, status).
    """
    if duration == 0.0:
        return 0.0, 0, 0, OK
    acc = np.empty((pos.shape[0], 3))
    accelerations(pos, mass, eps2, acc)
    per_step = weights.shape[0]
    steps = 0
    while True:
        t = steps * dt
        if steps >= max_steps:
            return t, steps, 1 + per_step * steps, MAX_STEPS
        h, last, ok = land(t, dt, (steps + 1) * dt, duration)
        if not ok:
            return t, steps, 1 + per_step * steps, NON_FINITE
        for w in weights:
            kdk(pos, vel, mass, eps2, w * h, acc)
        steps += 1
        t = duration if last else steps * dt
        if not state_is_finite(pos, vel):
            return t, steps, 1 + per_step * steps, NON_FINITE
        if last:
            return t, steps, 1 + per_step * steps, OK


_LEAPFROG = np.array([1.0])


@jit
def run(pos, vel, mass, duration, dt, eps2, max_steps):
    """Integrate in place for ``duration`` with step ``dt``; see :func:`run_composition`."""
    return run_composition(pos, vel, mass, duration, dt, eps2, max_steps, _LEAPFROG)
