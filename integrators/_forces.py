"""Numba kernels shared by every integrator: forces, time scales, invariants, step landing.

Units: G = 1. ``pos``, ``vel``, ``acc``, ``jerk`` are float64 C-contiguous arrays of shape
(N, 3); ``mass`` is float64 (N,). ``eps2`` is the squared Plummer softening length: the pair
potential is ``-m_i m_j / sqrt(r^2 + eps2)`` and the accelerations and jerks below are its exact
derivatives, so energy is conserved by the softened dynamics.

All kernels use ``error_model="numpy"``: a division by zero gives inf/NaN (which the integrators
report as a non-finite state) instead of raising inside compiled code.
"""

import numpy as np
from numba import njit

#: Compile options for every kernel of the package (IEEE-exact: no fastmath).
jit = njit(cache=True, error_model="numpy")
#: The same, for per-step helpers: inlined into their callers at the Numba IR level, because a
#: call passing several arrays costs tens of ns at N = 3 (argument structs, reference counts).
hot = njit(cache=True, error_model="numpy", inline="always")

#: A remainder within this fraction of a full step is merged into it instead of leaving a sliver.
SLIVER = 1e-12


@hot
def accelerations(pos, mass, eps2, acc):
    """Write the gravitational accelerations of ``pos`` into ``acc`` (N, 3), in place."""
    n = pos.shape[0]
    for i in range(n):
        acc[i, 0] = 0.0
        acc[i, 1] = 0.0
        acc[i, 2] = 0.0
    for i in range(n):
        xi, yi, zi, mi = pos[i, 0], pos[i, 1], pos[i, 2], mass[i]
        ax = ay = az = 0.0
        for j in range(i + 1, n):
            dx = pos[j, 0] - xi
            dy = pos[j, 1] - yi
            dz = pos[j, 2] - zi
            r2 = dx * dx + dy * dy + dz * dz + eps2
            inv3 = 1.0 / (r2 * np.sqrt(r2))
            mj = mass[j] * inv3
            ax += mj * dx
            ay += mj * dy
            az += mj * dz
            mi3 = mi * inv3
            acc[j, 0] -= mi3 * dx
            acc[j, 1] -= mi3 * dy
            acc[j, 2] -= mi3 * dz
        acc[i, 0] += ax
        acc[i, 1] += ay
        acc[i, 2] += az


@hot
def acc_jerk(pos, vel, mass, eps2, acc, jerk):
    """Write accelerations and jerks (their time derivatives) into ``acc`` and ``jerk``, in place.

    One call counts as one force evaluation. Jerk of body i from body j:
    ``m_j [v_ij / R^3 - 3 (x_ij . v_ij) x_ij / R^5]`` with ``R^2 = r^2 + eps2``.
    """
    n = pos.shape[0]
    for i in range(n):
        for k in range(3):
            acc[i, k] = 0.0
            jerk[i, k] = 0.0
    for i in range(n):
        xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
        ui, vi, wi = vel[i, 0], vel[i, 1], vel[i, 2]
        mi = mass[i]
        ax = ay = az = 0.0
        jx = jy = jz = 0.0
        for j in range(i + 1, n):
            dx = pos[j, 0] - xi
            dy = pos[j, 1] - yi
            dz = pos[j, 2] - zi
            du = vel[j, 0] - ui
            dv = vel[j, 1] - vi
            dw = vel[j, 2] - wi
            r2 = dx * dx + dy * dy + dz * dz + eps2
            inv2 = 1.0 / r2
            inv3 = inv2 * np.sqrt(inv2)
            s = 3.0 * (dx * du + dy * dv + dz * dw) * inv2
            # Jerk direction: v_ij - s x_ij; both bodies share it with opposite signs.
            ju = du - s * dx
            jv = dv - s * dy
            jw = dw - s * dz
            mj = mass[j] * inv3
            ax += mj * dx
            ay += mj * dy
            az += mj * dz
            jx += mj * ju
            jy += mj * jv
            jz += mj * jw
            mi3 = mi * inv3
            acc[j, 0] -= mi3 * dx
            acc[j, 1] -= mi3 * dy
            acc[j, 2] -= mi3 * dz
            jerk[j, 0] -= mi3 * ju
            jerk[j, 1] -= mi3 * jv
            jerk[j, 2] -= mi3 * jw
        acc[i, 0] += ax
        acc[i, 1] += ay
        acc[i, 2] += az
        jerk[i, 0] += jx
        jerk[i, 1] += jy
        jerk[i, 2] += jz


@hot
def pairwise_timescale(pos, vel, mass):
    """Shortest pairwise time scale: min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j))).

    ``r/|v_ij|`` is +inf for a pair at relative rest, so bodies at rest get the free-fall time.
    Returns 0 for coincident bodies (the callers turn a zero step into a NON_FINITE status).
    Works with squared time scales and takes one square root at the end.
    A NaN state gives +inf here; the drivers catch it with :func:`state_is_finite`.
    """
    n = pos.shape[0]
    tau2 = np.inf
    for i in range(n):
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            du = vel[j, 0] - vel[i, 0]
            dv = vel[j, 1] - vel[i, 1]
            dw = vel[j, 2] - vel[i, 2]
            r2 = dx * dx + dy * dy + dz * dz
            v2 = du * du + dv * dv + dw * dw
            r3 = r2 * np.sqrt(r2)
            mu = mass[i] + mass[j]
            if r3 < tau2 * mu:  # divide only for a new minimum
                tau2 = r3 / mu
            if r2 < tau2 * v2:  # never true for v2 = 0
                tau2 = r2 / v2
    return np.sqrt(tau2)


@hot
def time_scale_step(pos, vel, mass, eta):
    """The step rule of AMUSE's Hermite: ``eta`` times the shortest pairwise time scale."""
    return eta * pairwise_timescale(pos, vel, mass)


@hot
def add_compensated(total, comp, value):
    """Kahan summation: returns ``(total + value, comp)`` with the new compensation ``comp``, the
    part of the sum lost to round-off (the exact running sum is ``total - comp``). Scalars, so one
    helper serves arrays of any shape: ``pos[i, k], csx[i, k] = add_compensated(pos[i, k], csx[i, k], dx)``."""
    y = value - comp
    t = total + y
    return t, (t - total) - y


@jit
def energy_kernel(pos, vel, mass, eps2):
    """Total energy: kinetic plus Plummer-softened potential (float)."""
    n = pos.shape[0]
    kin = 0.0
    pot = 0.0
    for i in range(n):
        kin += 0.5 * mass[i] * (vel[i, 0] ** 2 + vel[i, 1] ** 2 + vel[i, 2] ** 2)
        for j in range(i + 1, n):
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            dz = pos[j, 2] - pos[i, 2]
            pot -= mass[i] * mass[j] / np.sqrt(dx * dx + dy * dy + dz * dz + eps2)
    return kin + pot


@jit
def momentum_kernel(vel, mass):
    """Total linear momentum, (3,) float64."""
    p = np.zeros(3)
    for i in range(vel.shape[0]):
        for k in range(3):
            p[k] += mass[i] * vel[i, k]
    return p


@jit
def angular_momentum_kernel(pos, vel, mass):
    """Total angular momentum about the origin, sum of m r x v, (3,) float64."""
    L = np.zeros(3)
    for i in range(pos.shape[0]):
        m = mass[i]
        L[0] += m * (pos[i, 1] * vel[i, 2] - pos[i, 2] * vel[i, 1])
        L[1] += m * (pos[i, 2] * vel[i, 0] - pos[i, 0] * vel[i, 2])
        L[2] += m * (pos[i, 0] * vel[i, 1] - pos[i, 1] * vel[i, 0])
    return L


@hot
def state_is_finite(pos, vel):
    """True when every position and velocity component is finite (x * 0 is NaN otherwise)."""
    s = 0.0
    for i in range(pos.shape[0]):
        for k in range(3):
            s += pos[i, k] * 0.0 + vel[i, k] * 0.0
    return s == 0.0


@hot
def land(t, dt, t_next, duration):
    """Clip a proposed step so the integration lands exactly on ``duration``.

    ``t_next`` is the time the caller will record after a full step ``dt`` from ``t`` (``t + dt``,
    or ``(k + 1) * dt`` for fixed steps); deciding on that same number guarantees the next call
    sees a positive remainder. Returns ``(h, last, ok)``: the step to take, whether it ends the
    call (it reaches ``duration``, or would leave a sliver within ``SLIVER`` of a step plus a few
    ulps of ``duration``: then it is stretched to the end), and whether it is usable (False for a
    NaN or non-positive step, or one too small to advance time: the caller reports NON_FINITE
    rather than loop).
    """
    if t_next + SLIVER * dt + 4e-16 * duration >= duration:
        rem = duration - t
        return rem, True, rem > 0.0
    return dt, False, dt > 0.0 and t_next > t


# Status codes returned by the compiled drivers (``integrators.Status`` wraps them).
OK = 0
MAX_STEPS = 1
NON_FINITE = 2
