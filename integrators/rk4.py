"""Classic fourth-order Runge-Kutta with a fixed step (four force evaluations per step).

Reference: W. Kutta (1901), "Beitrag zur naherungsweisen Integration totaler
Differentialgleichungen", Z. Math. Phys. 46, 435; see E. Hairer, S. P. Norsett & G. Wanner,
"Solving Ordinary Differential Equations I" (Springer, 1993), table II.1.2. Neither symplectic
nor time-symmetric: energy drifts at O(dt^4) per unit time.
"""

import numpy as np

from ._forces import MAX_STEPS, NON_FINITE, OK, accelerations, hot, jit, land, state_is_finite


@hot
def rk4_step(pos, vel, mass, eps2, h, xs, vs, acc, sx, sv):
    """One RK4 step of length ``h`` on y = (x, v), y' = (v, a(x)), in place on pos/vel.

    Stage k_s = (vs, a(xs)) with (xs, vs) = y + c_s h k_{s-1}; (sx, sv) accumulate
    sum of b_s k_s with b = (1, 2, 2, 1) / 6.
    """
    n = pos.shape[0]
    for i in range(n):
        for k in range(3):
            xs[i, k] = pos[i, k]
            vs[i, k] = vel[i, k]
            sx[i, k] = 0.0
            sv[i, k] = 0.0
    for s in range(4):
        accelerations(xs, mass, eps2, acc)
        b = 1.0 / 6.0 if s == 0 or s == 3 else 1.0 / 3.0
        c = h if s == 2 else 0.5 * h
        for i in range(n):
            for k in range(3):
                kx = vs[i, k]
                kv = acc[i, k]
                sx[i, k] += b * kx
                sv[i, k] += b * kv
                xs[i, k] = pos[i, k] + c * kx
                vs[i, k] = vel[i, k] + c * kv
    for i in range(n):
        for k in range(3):
            pos[i, k] += h * sx[i, k]
            vel[i, k] += h * sv[i, k]


@jit
def run(pos, vel, mass, duration, dt, eps2, max_steps):
    """Integrate in place for ``duration`` with step ``dt``; returns (time, n_steps, evals, status).

    Time is tracked as ``steps * dt``; the last step is shortened to land on ``duration``.
    """
    if duration == 0.0:
        return 0.0, 0, 0, OK
    n = pos.shape[0]
    xs = np.empty((n, 3))
    vs = np.empty((n, 3))
    acc = np.empty((n, 3))
    sx = np.empty((n, 3))
    sv = np.empty((n, 3))
    steps = 0
    while True:
        t = steps * dt
        if steps >= max_steps:
            return t, steps, 4 * steps, MAX_STEPS
        h, last, ok = land(t, dt, (steps + 1) * dt, duration)
        if not ok:
            return t, steps, 4 * steps, NON_FINITE
        rk4_step(pos, vel, mass, eps2, h, xs, vs, acc, sx, sv)
        steps += 1
        t = duration if last else steps * dt
        if not state_is_finite(pos, vel):
            return t, steps, 4 * steps, NON_FINITE
        if last:
            return t, steps, 4 * steps, OK
