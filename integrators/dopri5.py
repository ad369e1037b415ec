"""Dormand-Prince 5(4) embedded Runge-Kutta with adaptive step (local extrapolation, FSAL).

Reference: J. R. Dormand & P. J. Prince (1980), "A family of embedded Runge-Kutta formulae",
J. Comput. Appl. Math. 6, 19; step control as in E. Hairer, S. P. Norsett & G. Wanner, "Solving
Ordinary Differential Equations I" (Springer, 1993), section II.4.

The fifth-order solution is propagated; the difference to the embedded fourth-order one is the
error estimate, measured in the RMS norm over all 6N components with atol = rtol = ``tol``:
``err = sqrt(mean((e / (tol + tol max(|y0|, |y1|)))^2))``. A step is accepted when err <= 1; the
next step is ``h * clip(0.9 err^(-1/5), 0.2, 5)``, and after a rejection the factor is at most 1.
Each attempt costs six force evaluations (the seventh stage is the next step's first: FSAL);
rejected attempts count as force evaluations, not as steps, and every attempt counts towards
``max_steps``. The first step is ``tol^(1/5) * pairwise time scale``.
"""

import numpy as np

from ._driver import StepFunctions
from ._forces import accelerations, hot, pairwise_timescale

# Butcher tableau: row s holds the coefficients of stage s (row 6 = the fifth-order weights b).
_A = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0],
    [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
])
# Error weights b - b_hat (fifth minus fourth order), including the FSAL stage 7.
_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])
_SAFETY = 0.9
_FAC_MIN = 0.2
_FAC_MAX = 5.0


@hot
def attempt(pos, vel, mass, eps2, h, tol, kx, kv, x1, v1):
    """Try one step of length ``h``; returns the error norm (accept when <= 1).

    ``kx[s]``, ``kv[s]`` (7, N, 3) are the stage derivatives (velocities, accelerations); stage 0
    must hold (vel, a(pos)) on entry. The fifth-order result is left in (x1, v1), which is also
    stage 6, so kx[6], kv[6] = (v1, a(x1)) become the next step's stage 0.
    """
    n = pos.shape[0]
    for s in range(1, 7):
        for i in range(n):
            for k in range(3):
                dx = 0.0
                dv = 0.0
                for r in range(s):
                    dx += _A[s, r] * kx[r, i, k]
                    dv += _A[s, r] * kv[r, i, k]
                x1[i, k] = pos[i, k] + h * dx
                v1[i, k] = vel[i, k] + h * dv
                kx[s, i, k] = v1[i, k]
        accelerations(x1, mass, eps2, kv[s])
    acc = 0.0
    for i in range(n):
        for k in range(3):
            ex = 0.0
            ev = 0.0
            for s in range(7):
                ex += _E[s] * kx[s, i, k]
                ev += _E[s] * kv[s, i, k]
            sx = tol * (1.0 + max(abs(pos[i, k]), abs(x1[i, k])))
            sv = tol * (1.0 + max(abs(vel[i, k]), abs(v1[i, k])))
            acc += (h * ex / sx) ** 2 + (h * ev / sv) ** 2
    return np.sqrt(acc / (6 * n))


@hot
def start(pos, vel, mass, eps2, tol, work):
    """Work (16, N, 3): stage derivatives kx = work[0:7], kv = work[7:14] with stage 0 = (vel,
    a(pos)) (FSAL: kept from one step to the next), and the trial state x1, v1 = work[14], work[15]."""
    work[0] = vel
    accelerations(pos, mass, eps2, work[7])
    return 1, tol ** 0.2 * pairwise_timescale(pos, vel, mass)


@hot
def step(pos, vel, mass, eps2, tol, h, h_last, work):
    kx, kv, x1, v1 = work[0:7], work[7:14], work[14], work[15]
    err = attempt(pos, vel, mass, eps2, h, tol, kx, kv, x1, v1)
    accepted = err <= 1.0
    # Copy element-wise under the condition (not a branch around the copies): a branch around
    # the last use of the arrays costs reference counting on every step.
    for i in range(pos.shape[0]):
        for k in range(3):
            if accepted:
                pos[i, k] = x1[i, k]
                vel[i, k] = v1[i, k]
                kx[0, i, k] = kx[6, i, k]
                kv[0, i, k] = kv[6, i, k]
    if accepted:
        fac = _FAC_MAX if err == 0.0 else min(_FAC_MAX, max(_FAC_MIN, _SAFETY * err ** -0.2))
    else:
        # Also taken for a NaN error (a blown-up trial state): shrink and retry; a state that stays
        # non-finite shrinks h until it no longer advances t, which the driver reports.
        fac = max(_FAC_MIN, min(1.0, _SAFETY * err ** -0.2)) if err < np.inf else _FAC_MIN
    return accepted, 6, h * fac


DOPRI5 = StepFunctions(start, step, 16)
