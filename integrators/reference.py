"""An independent extended-precision reference integrator and the local (phase-space) error.

The reference is a Taylor-series method of order ``ORDER`` in double-double arithmetic (about 32
significant digits), written for judging the other integrators: it shares no code with IAS15 or
Hermite (from ``_forces`` only the status codes, the compile options and the float64 pairwise time scale
that sets the series' unit of time). Its Taylor coefficients come from
the automatic-differentiation recurrences of the N-body problem (Moore 1966; Jorba & Zou 2005):
for each pair, with ``d = x_j - x_i``,

    R = d . d + eps2,        P = R^(-3/2),        Q = d P,
    P_k = 1 / (k R_0) sum_{l<k} (-3/2 (k - l) - l) R_{k-l} P_l          (the power rule)
    x_{k+2} = (sum_j m_j Q_ij)_k / ((k + 1)(k + 2))

each product a Cauchy product of series. The step is ``STEP_FACTOR`` times the radius of convergence
estimated from the last two coefficients (relative to the smallest pair separation), so the truncation
error per step is ~ STEP_FACTOR^ORDER ~ 1e-34 of the closest pair's separation, below double-double
round-off. The series runs in a scaled time (a power of two near the shortest pairwise time scale), so
its coefficients cannot overflow in a close encounter. Time is kept in double-double, so every call lands
exactly on ``duration``.

Numbers are double-double: a value is the unevaluated sum ``hi + lo`` of two float64 with
``|lo| <= ulp(hi) / 2`` (Dekker 1971; Knuth's two-sum, Dekker's split product: Python 3.11 gives Numba
no fused multiply-add). States are pairs of float64 arrays (hi, lo) of shape (N, 3).

The local error of a method over one interval is the phase-space distance between its end state and
the reference's end state from the same start state,
``max_i |x_i - x_ref,i| / r_scale + max_i |v_i - v_ref,i| / v_scale`` (Euclidean norm per body,
maximum over bodies), computed against the double-double reference so that its own rounding to
float64 does not enter. The environment uses ``r_scale`` = the episode's initial mean pair separation
and ``v_scale = sqrt(M / r_scale)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._forces import MAX_STEPS, NON_FINITE, OK, hot, jit, pairwise_timescale

#: Order of the Taylor series (coefficients x_0 .. x_ORDER of every position).
ORDER = 30
#: Step = STEP_FACTOR x the estimated radius of convergence: truncation ~ STEP_FACTOR^ORDER = 1e-33.
STEP_FACTOR = 0.08
_SPLITTER = 134217729.0  # 2^27 + 1, Dekker's split constant for float64


# ----- double-double arithmetic: every function takes and returns (hi, lo) pairs of float64 -----

@hot
def _two_sum(a, b):
    """a + b exactly, as (rounded sum, error) (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@hot
def _fast_two_sum(a, b):
    """a + b exactly when |a| >= |b| (Dekker)."""
    s = a + b
    return s, b - (s - a)


@hot
def _two_prod(a, b):
    """a * b exactly, as (rounded product, error) (Dekker's split; no FMA)."""
    p = a * b
    t = _SPLITTER * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLITTER * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@hot
def dd_add(ah, al, bh, bl):
    """Double-double sum, accurate also under cancellation (the IEEE-style addition)."""
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    e += t
    s, e = _fast_two_sum(s, e)
    e += f
    return _fast_two_sum(s, e)


@hot
def dd_mul(ah, al, bh, bl):
    """Double-double product."""
    p, e = _two_prod(ah, bh)
    e += ah * bl + al * bh
    return _fast_two_sum(p, e)


@hot
def dd_mul_d(ah, al, b):
    """Double-double times float64."""
    p, e = _two_prod(ah, b)
    e += al * b
    return _fast_two_sum(p, e)


@hot
def dd_div(ah, al, bh, bl):
    """Double-double quotient (two correction steps of the float64 quotient)."""
    q1 = ah / bh
    ph, pl = dd_mul_d(bh, bl, q1)
    rh, rl = dd_add(ah, al, -ph, -pl)
    q2 = rh / bh
    ph, pl = dd_mul_d(bh, bl, q2)
    rh, rl = dd_add(rh, rl, -ph, -pl)
    q3 = rh / bh
    q1, q2 = _fast_two_sum(q1, q2)
    return dd_add(q1, q2, q3, 0.0)


@hot
def dd_sqrt(ah, al):
    """Double-double square root of a positive number (one Newton step on the float64 root)."""
    x = np.sqrt(ah)
    ph, pl = _two_prod(x, x)
    rh, rl = dd_add(ah, al, -ph, -pl)
    return _fast_two_sum(x, rh / (2.0 * x))


# ----- the Taylor integrator -----

@jit  # not inlined: one call per step (~0.25 ms) costs nothing, and inlining it would multiply compile times
def _taylor_coefficients(xh, xl, mass, eps2, sigma2, dh, dl, rh, rl, ph, pl, ah, al):
    """Fill orders 2..ORDER of the position series ``xh, xl`` (ORDER+1, N, 3) from orders 0 and 1.

    The series is in scaled time tau = t / sigma (coefficient k holds x_k sigma^k), so that coefficients
    stay near the separations however close an encounter (unscaled, x_30 ~ r / t_enc^30 overflows below
    t_enc ~ 1e-10); ``sigma2`` = sigma^2, a power of two, scales the accelerations exactly.

    Work arrays per pair p: ``d`` (P, ORDER+1, 3), ``r``, ``p`` (P, ORDER+1); ``a`` (N, 3) holds one
    order of the accelerations. Returns the smallest pair separation (float64, for the step size).
    """
    n = xh.shape[1]
    min_sep = np.inf
    for k in range(ORDER - 1):
        for i in range(n):
            for c in range(3):
                ah[i, c] = 0.0
                al[i, c] = 0.0
        pair = 0
        for i in range(n):
            for j in range(i + 1, n):
                # d_k = x_j,k - x_i,k and R_k = sum_l d_l . d_{k-l}
                for c in range(3):
                    dh[pair, k, c], dl[pair, k, c] = dd_add(xh[k, j, c], xl[k, j, c], -xh[k, i, c], -xl[k, i, c])
                sh, sl = (eps2, 0.0) if k == 0 else (0.0, 0.0)
                for m in range(k + 1):
                    for c in range(3):
                        th, tl = dd_mul(dh[pair, m, c], dl[pair, m, c], dh[pair, k - m, c], dl[pair, k - m, c])
                        sh, sl = dd_add(sh, sl, th, tl)
                rh[pair, k], rl[pair, k] = sh, sl
                if k == 0:  # P_0 = R_0^(-3/2)
                    qh, ql = dd_sqrt(sh, sl)
                    qh, ql = dd_mul(qh, ql, sh, sl)
                    ph[pair, 0], pl[pair, 0] = dd_div(1.0, 0.0, qh, ql)
                    min_sep = min(min_sep, np.sqrt(sh))
                else:
                    sh, sl = 0.0, 0.0
                    for m in range(k):
                        th, tl = dd_mul(rh[pair, k - m], rl[pair, k - m], ph[pair, m], pl[pair, m])
                        th, tl = dd_mul_d(th, tl, -1.5 * (k - m) - m)
                        sh, sl = dd_add(sh, sl, th, tl)
                    qh, ql = dd_mul_d(rh[pair, 0], rl[pair, 0], float(k))
                    ph[pair, k], pl[pair, k] = dd_div(sh, sl, qh, ql)
                # Q_k = sum_l d_l P_{k-l}; body i is pulled towards j by m_j Q, j towards i by m_i Q
                for c in range(3):
                    sh, sl = 0.0, 0.0
                    for m in range(k + 1):
                        th, tl = dd_mul(dh[pair, m, c], dl[pair, m, c], ph[pair, k - m], pl[pair, k - m])
                        sh, sl = dd_add(sh, sl, th, tl)
                    th, tl = dd_mul_d(sh, sl, mass[j])
                    ah[i, c], al[i, c] = dd_add(ah[i, c], al[i, c], th, tl)
                    th, tl = dd_mul_d(sh, sl, -mass[i])
                    ah[j, c], al[j, c] = dd_add(ah[j, c], al[j, c], th, tl)
                pair += 1
        scale = float((k + 1) * (k + 2))
        for i in range(n):
            for c in range(3):
                th, tl = dd_div(ah[i, c] * sigma2, al[i, c] * sigma2, scale, 0.0)
                xh[k + 2, i, c], xl[k + 2, i, c] = th, tl
    return min_sep


@hot
def _step_size(xh, min_sep):
    """STEP_FACTOR x the radius of convergence estimated from orders ORDER-1 and ORDER (Jorba & Zou 2005)."""
    top = 0.0
    below = 0.0
    for i in range(xh.shape[1]):
        for c in range(3):
            top = max(top, abs(xh[ORDER, i, c]))
            below = max(below, abs(xh[ORDER - 1, i, c]))
    rho = np.inf
    if top > 0.0:
        rho = (min_sep / top) ** (1.0 / ORDER)
    if below > 0.0:
        rho = min(rho, (min_sep / below) ** (1.0 / (ORDER - 1)))
    return STEP_FACTOR * rho


@jit
def _sum_series(xh, xl, hh, hl, pos_h, pos_l, vel_h, vel_l):
    """Evaluate the series at step (hh + hl) by Horner: positions and their derivatives (in the series'
    time unit), in place."""
    for i in range(xh.shape[1]):
        for c in range(3):
            sh, sl = xh[ORDER, i, c], xl[ORDER, i, c]
            uh, ul = ORDER * xh[ORDER, i, c], ORDER * xl[ORDER, i, c]  # exact: ORDER < 2^5
            for k in range(ORDER - 1, -1, -1):
                sh, sl = dd_mul(sh, sl, hh, hl)
                sh, sl = dd_add(sh, sl, xh[k, i, c], xl[k, i, c])
                if k >= 1:
                    uh, ul = dd_mul(uh, ul, hh, hl)
                    th, tl = dd_mul_d(xh[k, i, c], xl[k, i, c], float(k))
                    uh, ul = dd_add(uh, ul, th, tl)
            pos_h[i, c], pos_l[i, c] = sh, sl
            vel_h[i, c], vel_l[i, c] = uh, ul


@jit
def reference_kernel(pos_h, pos_l, vel_h, vel_l, mass, duration, eps2, max_steps):
    """Integrate one double-double state in place for ``duration`` (G = 1, squared softening ``eps2``).

    ``pos_h + pos_l`` and ``vel_h + vel_l`` are (N, 3) float64 pairs; ``mass`` (N,). No validation.
    Returns (n_steps, status) with a status of ``integrators.Status``.
    """
    n = pos_h.shape[0]
    n_pairs = n * (n - 1) // 2
    xh = np.zeros((ORDER + 1, n, 3))
    xl = np.zeros((ORDER + 1, n, 3))
    dh = np.empty((n_pairs, ORDER + 1, 3))
    dl = np.empty((n_pairs, ORDER + 1, 3))
    rh = np.empty((n_pairs, ORDER + 1))
    rl = np.empty((n_pairs, ORDER + 1))
    ph = np.empty((n_pairs, ORDER + 1))
    pl = np.empty((n_pairs, ORDER + 1))
    ah = np.empty((n, 3))
    al = np.empty((n, 3))
    th, tl = 0.0, 0.0  # time reached, double-double
    steps = 0
    while th < duration:
        if steps >= max_steps:
            return steps, MAX_STEPS
        # the series' time unit: a power of two near the shortest pairwise time scale (exact scalings)
        timescale = pairwise_timescale(pos_h, vel_h, mass)
        if not (0.0 < timescale < np.inf):
            return steps, NON_FINITE
        sigma = 2.0 ** np.floor(np.log2(timescale))
        xh[0, :, :] = pos_h
        xl[0, :, :] = pos_l
        xh[1, :, :] = vel_h * sigma
        xl[1, :, :] = vel_l * sigma
        min_sep = _taylor_coefficients(xh, xl, mass, eps2, sigma * sigma, dh, dl, rh, rl, ph, pl, ah, al)
        h = _step_size(xh, min_sep)  # in units of sigma
        # remaining time, double-double; take it whole when the estimate reaches past it
        remh, reml = dd_add(duration, 0.0, -th, -tl)
        remh, reml = remh / sigma, reml / sigma
        if not (h > 0.0 and np.isfinite(remh)):
            return steps, NON_FINITE
        hh, hl = (remh, reml) if h >= remh else (h, 0.0)
        _sum_series(xh, xl, hh, hl, pos_h, pos_l, vel_h, vel_l)
        for i in range(n):
            for c in range(3):
                vel_h[i, c] /= sigma
                vel_l[i, c] /= sigma
        th, tl = dd_add(th, tl, hh * sigma, hl * sigma)
        steps += 1
        for i in range(n):
            for c in range(3):
                if not (np.isfinite(pos_h[i, c]) and np.isfinite(vel_h[i, c])):
                    return steps, NON_FINITE
        if hh == remh and hl == reml:
            break
    return steps, OK


@njit(parallel=True, cache=True, error_model="numpy")
def reference_batch(pos_h, pos_l, vel_h, vel_l, mass, duration, eps2, max_steps):
    """:func:`reference_kernel` on M systems in parallel: (M, N, 3) pairs, (M, N) masses, in place.

    Returns int64 arrays (n_steps, status), each (M,).
    """
    m_count = pos_h.shape[0]
    steps = np.zeros(m_count, dtype=np.int64)
    status = np.zeros(m_count, dtype=np.int64)
    for m in prange(m_count):
        steps[m], status[m] = reference_kernel(pos_h[m], pos_l[m], vel_h[m], vel_l[m], mass[m], duration, eps2,
                                               max_steps)
    return steps, status


@hot
def _max_distance(x, ref_h, ref_l):
    """max over bodies of |x_i - (ref_h + ref_l)_i|, the difference taken in double-double."""
    worst = 0.0
    for i in range(x.shape[0]):
        s = 0.0
        for c in range(3):
            dh, dl = dd_add(x[i, c], 0.0, -ref_h[i, c], -ref_l[i, c])
            s += (dh + dl) ** 2
        worst = max(worst, np.sqrt(s))
    return worst


@njit(parallel=True, cache=True, error_model="numpy")
def local_errors_kernel(start_pos, start_vel, end_pos, end_vel, mass, r_scale, v_scale, interval, eps2, max_steps):
    """Local error of M intervals in parallel: (M, N, 3) float64 start and end states, (M, N) masses,
    (M,) scales. Integrates each start state with the reference for ``interval`` and returns the (M,)
    phase-space distances to the end states (NaN where the reference did not finish) and the (M,)
    reference step counts."""
    m_count = start_pos.shape[0]
    out = np.empty(m_count)
    steps = np.zeros(m_count, dtype=np.int64)
    for m in prange(m_count):
        pos_h = start_pos[m].copy()
        vel_h = start_vel[m].copy()
        pos_l = np.zeros_like(pos_h)
        vel_l = np.zeros_like(vel_h)
        steps[m], status = reference_kernel(pos_h, pos_l, vel_h, vel_l, mass[m], interval, eps2, max_steps)
        if status != OK or not (np.all(np.isfinite(end_pos[m])) and np.all(np.isfinite(end_vel[m]))):
            out[m] = np.nan
        else:
            out[m] = (_max_distance(end_pos[m], pos_h, pos_l) / r_scale[m]
                      + _max_distance(end_vel[m], vel_h, vel_l) / v_scale[m])
    return out, steps


# ----- Python API -----

def _state(pos, vel, mass) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.array(pos, dtype=np.float64, order="C")
    vel = np.array(vel, dtype=np.float64, order="C")
    mass = np.array(mass, dtype=np.float64, order="C")
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 2 or vel.shape != pos.shape:
        raise ValueError(f"pos {pos.shape} and vel {vel.shape} must both be (N, 3) with N >= 2")
    if mass.shape != (pos.shape[0],) or not np.all(mass > 0.0):
        raise ValueError(f"mass {mass.shape} must be ({pos.shape[0]},) and positive")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel)) and np.all(np.isfinite(mass))):
        raise ValueError("pos, vel and mass must be finite")
    return pos, vel, mass


def _nonnegative(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} = {value!r} must be finite and >= 0")
    return value


def reference_evolve_dd(pos, vel, mass, duration: float, *, softening: float = 0.0, pos_lo=None, vel_lo=None,
                        max_steps: int = 10_000_000) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Integrate (pos + pos_lo, vel + vel_lo) for ``duration``; returns the double-double end state
    (pos_hi, pos_lo, vel_hi, vel_lo), each (N, 3) float64. ValueError on bad input or a failed run."""
    pos, vel, mass = _state(pos, vel, mass)
    duration = _nonnegative("duration", duration)
    eps2 = _nonnegative("softening", softening) ** 2
    pos_l = np.zeros_like(pos) if pos_lo is None else np.array(pos_lo, dtype=np.float64, order="C")
    vel_l = np.zeros_like(vel) if vel_lo is None else np.array(vel_lo, dtype=np.float64, order="C")
    if pos_l.shape != pos.shape or vel_l.shape != vel.shape:
        raise ValueError(f"pos_lo {pos_l.shape} and vel_lo {vel_l.shape} must match pos {pos.shape}")
    _, status = reference_kernel(pos, pos_l, vel, vel_l, mass, duration, eps2, int(max_steps))
    if status != OK:
        reason = "ran out of steps" if status == MAX_STEPS else "met a non-finite state"
        raise ValueError(f"the reference integration {reason} (a collision, or max_steps={max_steps} too small)")
    return pos, pos_l, vel, vel_l


def reference_evolve(pos, vel, mass, duration: float, *, softening: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Integrate an N-body state (G = 1) for ``duration`` with the double-double Taylor reference.

    Returns (pos, vel) (N, 3) float64, rounded from double-double; the inputs are not modified.
    """
    pos_h, pos_l, vel_h, vel_l = reference_evolve_dd(pos, vel, mass, duration, softening=softening)
    return pos_h + pos_l, vel_h + vel_l


def local_error(pos, vel, pos_ref, vel_ref, r_scale: float, v_scale: float, *, pos_ref_lo=None,
                vel_ref_lo=None) -> float:
    """Phase-space distance max_i |x_i - x_ref,i| / r_scale + max_i |v_i - v_ref,i| / v_scale (float64).

    ``pos_ref_lo``, ``vel_ref_lo``: the low parts of a double-double reference
    (:func:`reference_evolve_dd`), subtracted after the high parts so that the reference's rounding to
    float64 does not enter the distance.
    """
    dx = np.asarray(pos, dtype=np.float64) - np.asarray(pos_ref, dtype=np.float64)
    dv = np.asarray(vel, dtype=np.float64) - np.asarray(vel_ref, dtype=np.float64)
    if pos_ref_lo is not None:
        dx -= pos_ref_lo
    if vel_ref_lo is not None:
        dv -= vel_ref_lo
    return float(np.linalg.norm(dx, axis=-1).max() / r_scale + np.linalg.norm(dv, axis=-1).max() / v_scale)


def phase_space_scales(pos, mass) -> tuple[float, float]:
    """(r, v): the mean pair separation of ``pos`` (N, 3) and sqrt(M / r), the local error's units."""
    pos = np.asarray(pos, dtype=np.float64)
    i, j = np.triu_indices(pos.shape[0], k=1)
    r = float(np.linalg.norm(pos[i] - pos[j], axis=1).mean())
    return r, float(np.sqrt(np.sum(mass) / r))


def episode_local_errors(start_pos, start_vel, end_pos, end_vel, mass, interval: float, *,
                         r_scale: float | None = None, softening: float = 0.0,
                         max_steps: int = 10_000_000) -> np.ndarray:
    """Local error of every interval of an episode, (T,) float64, computed in parallel over intervals.

    ``start_pos``, ``start_vel`` (T, N, 3): the state at the start of each interval; ``end_pos``,
    ``end_vel`` (T, N, 3): the method's state at its end; ``mass`` (N,). ``r_scale`` defaults to the
    mean pair separation of ``start_pos[0]`` (the episode's initial state), ``v_scale = sqrt(M / r)``.
    An interval the reference cannot finish, or whose end state is not finite, reads NaN.
    """
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (start_pos, start_vel, end_pos, end_vel)]
    shape = arrays[0].shape
    if len(shape) != 3 or shape[2] != 3 or any(a.shape != shape for a in arrays):
        raise ValueError(f"start and end states must all be (T, N, 3); got {[a.shape for a in arrays]}")
    mass = np.ascontiguousarray(mass, dtype=np.float64)
    if mass.shape != (shape[1],) or not np.all(mass > 0.0):
        raise ValueError(f"mass {mass.shape} must be ({shape[1]},) and positive")
    if r_scale is not None and not (np.isfinite(r_scale) and r_scale > 0.0):
        raise ValueError(f"r_scale = {r_scale!r} must be finite and > 0")
    r, v = phase_space_scales(arrays[0][0], mass) if r_scale is None else (r_scale, np.sqrt(mass.sum() / r_scale))
    t = shape[0]
    start_pos, start_vel, end_pos, end_vel = arrays
    errors, _ = local_errors_kernel(start_pos, start_vel, end_pos, end_vel,
                                    np.broadcast_to(mass, (t, shape[1])).copy(), np.full(t, float(r)),
                                    np.full(t, float(v)), _nonnegative("interval", interval),
                                    _nonnegative("softening", softening) ** 2, int(max_steps))
    return errors
