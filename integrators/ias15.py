"""IAS15: 15th-order Gauss-Radau predictor-corrector with adaptive steps (REBOUND's IAS15, in Numba).

References: E. Everhart (1985), "An efficient integrator that uses Gauss-Radau spacings", in
Dynamics of Comets: Their Origin and Evolution (IAU Colloq. 83), p. 185; H. Rein & D. S. Spiegel
(2015), MNRAS 446, 1424 (IAS15); D. Pham, H. Rein & D. S. Spiegel (2024), Open J. Astrophys. 7
("Dynamical time-step criterion", PRS23). The step follows REBOUND's ``integrator_ias15.c``.

Over a step of length dt the acceleration is a polynomial in tau = (t - t0) / dt:
``a(tau) = a0 + b0 tau + b1 tau^2 + ... + b6 tau^7``. Its coefficients are fitted to the forces
at the seven Gauss-Radau nodes of [0, 1] (divided differences g, converted to b), and the
predictor-corrector iterates until the change of b6 falls below 1e-16 of the accelerations, stops
shrinking, or after 12 iterations (each iteration costs 7 force evaluations; the step's start
costs one more). Positions and velocities are then summed with compensation (Kahan), so
round-off does not accumulate over many small steps. The next step's b are predicted from this
step's, corrected by how wrong the last prediction was.

Step-size criteria, with the method's parameter ``epsilon`` (REBOUND's default 1e-9):

- ``ias15`` (PRS23, REBOUND's default adaptive mode): per body, from the acceleration, jerk and
  snap of the step's polynomial at its end, ``tau_i^2 = 2 |a|^2 / (|j dt|^2 + |s dt^2| |a|)``
  (times dt^2); ``dt_new = dt sqrt(min_i tau_i^2) (5040 epsilon)^(1/7)``. Bodies whose
  acceleration at the step's start is zero are skipped.
- ``ias15_global`` (REBOUND's ``GLOBAL`` mode, its default before 2024):
  ``dt_new = dt (epsilon / (max |b6| / max |a|))^(1/7)``.

Both reject a step whose successor would be under a quarter of it and retry with the new one, and
never grow the step by more than 4x. PRS23 can stall where a body's acceleration passes through
zero (its pulls cancel, e.g. the figure-eight's Euler configurations every T/6): the body's time
scale is then proportional to the step just tried, so each retry shrinks the step by the same
factor (REBOUND's IAS15 falls to dt ~ 1e-10 there and creeps through in ~100 steps). Here |a|
counts as at least ``_STALL_FLOOR`` (1e-3) of the sum of the pulls' magnitudes on the body, which
leaves every body whose pulls do not cancel to three digits untouched.

The state carried from one call to the next (the driver's state record) is REBOUND's: the last
accepted step, its coefficients b and their predictions e, the compensations of positions and
velocities, and the acceleration at the current state. The b of each step are predicted at its
start from the last accepted step's, for the step actually tried (so a landing step, shortened to
end a call, gets a prediction for its own length).
"""

import numpy as np

from ._driver import StepFunctions
from ._forces import accelerations, add_compensated, hot, pairwise_timescale

#: The eight Gauss-Radau nodes of [0, 1] (0 and the roots of P7(2x-1) + P8(2x-1), Legendre P).
NODES = np.array([
    0.0,
    0.0562625605369221464656521910318,
    0.180240691736892364987579942780,
    0.352624717113169637373907770171,
    0.547153626330555383001448557652,
    0.734210177215410531523210608307,
    0.885320946839095768090359762932,
    0.977520613561287501891174500429,
])


def _newton_to_power() -> np.ndarray:
    """C[k, j]: coefficient of tau^(j+1) in the Newton basis polynomial tau (tau-h1)...(tau-hk).

    With ``a(tau) - a0 = sum_k g_k N_k(tau) = sum_j b_j tau^(j+1)``, ``b_j = sum_k C[k, j] g_k``.
    """
    c = np.zeros((7, 7))
    for k in range(7):
        ascending = np.atleast_1d(np.poly(NODES[1:k + 1]))[::-1]  # prod (tau - h_m), tau^0 first
        c[k, :k + 1] = ascending
    return c


_C = _newton_to_power()
#: g = D b (the inverse change of basis), used to restart g from the predicted b of a step.
_D = np.linalg.inv(_C.T)
#: 1 / (h_n - h_j) for the divided differences at node n.
_INV_GAP = np.array([[1.0 / (NODES[n] - NODES[j]) if j < n else 0.0 for j in range(8)] for n in range(8)])
#: Integration weights: x gains dt^2 b_j / ((j+2)(j+3)), v gains dt b_j / (j+2). The step's
#: increments divide by the exact integers (as REBOUND does), rather than multiply by their rounded
#: reciprocals, and multiply by dt twice rather than by a rounded dt^2: a rounded constant biases
#: every step's round-off the same way, and with the steps of a periodic orbit repeating (outputs
#: once per orbit) the bias adds up linearly instead of as a random walk.
_X_DIVISOR = np.array([(j + 2.0) * (j + 3.0) for j in range(7)])
_V_DIVISOR = np.array([j + 2.0 for j in range(7)])
_X_WEIGHT = 1.0 / _X_DIVISOR  # for the positions predicted at the nodes (not accumulated)

_SAFETY = 0.25  # largest shrink accepted without a retry, and the inverse of the largest growth
_PC_TOLERANCE = 1e-16
_PC_MAX_ITERATIONS = 12
_PREDICT_MAX_RATIO = 20.0  # a step this much longer than the last gets no predicted b
_STALL_FLOOR = 1e-3  # PRS23 takes |a| as at least this fraction of the pulls on the body
_TINY = 2.2250738585072014e-308  # smallest normal float64


@hot
def _is_normal(x):
    """C's isnormal: finite, non-zero and not subnormal (False for NaN)."""
    return _TINY <= abs(x) < np.inf


@hot
def _predict(ratio, e_old, b_old, e, b):
    """Predict the b of a step ``ratio`` times as long as the one (b_old, e_old) belong to.

    ``e`` receives the old polynomial shifted to start at the old step's end, in units of the new
    step (``e_m = ratio^(m+1) sum_(j>=m) binomial(j+1, m+1) b_j``), and ``b = e + (b_old -
    e_old)``: the error of the previous prediction is applied again. ``e``/``b`` may be
    ``e_old``/``b_old``. Past ``_PREDICT_MAX_RATIO`` both start from zero.
    """
    n = b.shape[1]
    if ratio > _PREDICT_MAX_RATIO:
        e[:] = 0.0
        b[:] = 0.0
        return
    q1 = ratio
    q2 = q1 * q1
    q3 = q1 * q2
    q4 = q2 * q2
    q5 = q2 * q3
    q6 = q3 * q3
    q7 = q3 * q4
    for i in range(n):
        for k in range(3):
            b0, b1, b2, b3 = b_old[0, i, k], b_old[1, i, k], b_old[2, i, k], b_old[3, i, k]
            b4, b5, b6 = b_old[4, i, k], b_old[5, i, k], b_old[6, i, k]
            d0 = b0 - e_old[0, i, k]
            d1 = b1 - e_old[1, i, k]
            d2 = b2 - e_old[2, i, k]
            d3 = b3 - e_old[3, i, k]
            d4 = b4 - e_old[4, i, k]
            d5 = b5 - e_old[5, i, k]
            d6 = b6 - e_old[6, i, k]
            e0 = q1 * (7.0 * b6 + 6.0 * b5 + 5.0 * b4 + 4.0 * b3 + 3.0 * b2 + 2.0 * b1 + b0)
            e1 = q2 * (21.0 * b6 + 15.0 * b5 + 10.0 * b4 + 6.0 * b3 + 3.0 * b2 + b1)
            e2 = q3 * (35.0 * b6 + 20.0 * b5 + 10.0 * b4 + 4.0 * b3 + b2)
            e3 = q4 * (35.0 * b6 + 15.0 * b5 + 5.0 * b4 + b3)
            e4 = q5 * (21.0 * b6 + 6.0 * b5 + b4)
            e5 = q6 * (7.0 * b6 + b5)
            e6 = q7 * b6
            e[0, i, k], e[1, i, k], e[2, i, k], e[3, i, k] = e0, e1, e2, e3
            e[4, i, k], e[5, i, k], e[6, i, k] = e4, e5, e6
            b[0, i, k], b[1, i, k], b[2, i, k], b[3, i, k] = e0 + d0, e1 + d1, e2 + d2, e3 + d3
            b[4, i, k], b[5, i, k], b[6, i, k] = e4 + d4, e5 + d5, e6 + d6


@hot
def prs23_rule(pos, mass, eps2, xs, vel, a0, at, b, h, epsilon):
    """PRS23 (Pham, Rein & Spiegel 2024): the next step after one of length ``h``.

    Per body, from the step's polynomial at its end: y2 = |a|^2, y3 = |jerk h|^2,
    y4 = |snap h^2|^2; tau^2 = 2 y2 / (y3 + sqrt(y4 y2)); ``dt = h min_i tau_i (5040
    epsilon)^(1/7)``. Bodies with zero (or non-finite) acceleration at the start are skipped, as
    in REBOUND. Stall guard: |a| counts as at least ``_STALL_FLOOR`` times the sum of the pull
    magnitudes sum_j m_j / r_ij^2 on the body (at the step's start), so a body whose pulls
    cancel does not shrink the step without bound. Returns 4 h when nothing defines it.
    """
    n = pos.shape[0]
    smallest = np.inf
    for i in range(n):
        a_start = 0.0
        y2 = y3 = y4 = 0.0
        for k in range(3):
            a_start += a0[i, k] * a0[i, k]
            end = a0[i, k]
            jerk = 0.0
            snap = 0.0
            for j in range(7):
                bj = b[j, i, k]
                end += bj
                jerk += (j + 1) * bj
                snap += (j + 1) * j * bj
            y2 += end * end
            y3 += jerk * jerk
            y4 += snap * snap
        if not _is_normal(a_start):
            continue
        pull = 0.0
        for j in range(n):
            if j != i:
                r2 = (pos[j, 0] - pos[i, 0]) ** 2 + (pos[j, 1] - pos[i, 1]) ** 2 + (pos[j, 2] - pos[i, 2]) ** 2
                pull += mass[j] / (r2 + eps2)
        floor = _STALL_FLOOR * pull
        y2 = max(y2, floor * floor)
        tau2 = 2.0 * y2 / (y3 + np.sqrt(y4 * y2))
        if _is_normal(tau2) and tau2 < smallest:
            smallest = tau2
    if not _is_normal(smallest):
        return h / _SAFETY
    return np.sqrt(smallest) * h * (5040.0 * epsilon) ** (1.0 / 7.0)


@hot
def global_rule(pos, mass, eps2, xs, vel, a0, at, b, h, epsilon):
    """REBOUND's GLOBAL criterion: (epsilon / (max |b6| / max |a|))^(1/7) h, over bodies whose
    motion over the step is not negligible (|v h| / |x| >= 1e-8); 4 h when undefined."""
    max_a = 0.0
    max_b6 = 0.0
    for i in range(xs.shape[0]):
        v2 = vel[i, 0] ** 2 + vel[i, 1] ** 2 + vel[i, 2] ** 2
        x2 = xs[i, 0] ** 2 + xs[i, 1] ** 2 + xs[i, 2] ** 2
        if abs(v2 * h * h / x2) < 1e-16:
            continue
        for k in range(3):
            ak = abs(at[i, k])
            if _is_normal(ak) and ak > max_a:
                max_a = ak
            b6 = abs(b[6, i, k])
            if _is_normal(b6) and b6 > max_b6:
                max_b6 = b6
    error = max_b6 / max_a
    if _is_normal(error):
        return (epsilon / error) ** (1.0 / 7.0) * h
    return h / _SAFETY


@hot
def prs23_timescale(pos, vel, mass, acc):
    """REBOUND's ``reb_integrator_ias15_timescale`` (unsoftened): min over bodies with non-zero
    acceleration of sqrt(2 |a|^2 / (|j|^2 + |s| |a|)), from the pairwise jerk and snap. +inf if
    no body defines it. Times (5040 epsilon)^(1/7) it is IAS15's first step."""
    n = pos.shape[0]
    smallest = np.inf
    for i in range(n):
        y2 = acc[i, 0] ** 2 + acc[i, 1] ** 2 + acc[i, 2] ** 2
        if not _is_normal(y2):
            continue
        jx = jy = jz = 0.0
        sx = sy = sz = 0.0
        for j in range(n):
            if j == i:
                continue
            rx = pos[j, 0] - pos[i, 0]
            ry = pos[j, 1] - pos[i, 1]
            rz = pos[j, 2] - pos[i, 2]
            vx = vel[j, 0] - vel[i, 0]
            vy = vel[j, 1] - vel[i, 1]
            vz = vel[j, 2] - vel[i, 2]
            ax = acc[j, 0] - acc[i, 0]
            ay = acc[j, 1] - acc[i, 1]
            az = acc[j, 2] - acc[i, 2]
            r2 = rx * rx + ry * ry + rz * rz
            r3 = r2 * np.sqrt(r2)
            r5 = r3 * r2
            rv = rx * vx + ry * vy + rz * vz
            ra = rx * ax + ry * ay + rz * az
            v2 = vx * vx + vy * vy + vz * vz
            m = mass[j]
            c1 = m / r3
            c2 = -3.0 * m * rv / r5
            jx += c1 * vx + c2 * rx
            jy += c1 * vy + c2 * ry
            jz += c1 * vz + c2 * rz
            cr = -3.0 * m * (v2 + ra) / r5 + 15.0 * m * rv * rv / (r5 * r2)
            c3 = -6.0 * m * rv / r5
            sx += c1 * ax + c3 * vx + cr * rx
            sy += c1 * ay + c3 * vy + cr * ry
            sz += c1 * az + c3 * vz + cr * rz
        y3 = jx * jx + jy * jy + jz * jz
        y4 = sx * sx + sy * sy + sz * sz
        tau2 = 2.0 * y2 / (y3 + np.sqrt(y4 * y2))
        if _is_normal(tau2) and tau2 < smallest:
            smallest = tau2
    return np.sqrt(smallest)


#: Work blocks of the state record (each (N, 3)): the coefficients b, their predictions e, both as
#: of the last accepted step (br, er), the divided differences g and b's compensation csb (7 blocks
#: each, in this order from block 0, as ``step`` slices them); a0 (the acceleration at the step's
#: start), at (at the current node), xs (the predicted positions), the position and velocity
#: compensations csx, csv; and one block of flags, whose [0, 0] is 1.0 while a0 is the acceleration
#: of the current ``pos`` (a rejected step retries without re-evaluating it).
_A0, _AT, _XS, _CSX, _CSV, _FLAGS = range(42, 48)
BLOCKS = 48


def ias15_functions(step_rule) -> StepFunctions:
    """IAS15 with a step-size rule: ``step_rule(pos, mass, eps2, xs, vel, a0, at, b, h, epsilon)``
    returns the step after one of length ``h`` (``pos``, ``vel`` at its start, ``xs`` and ``at``
    the positions and accelerations at the last node, ``a0`` and ``b`` the acceleration
    polynomial); :func:`prs23_rule` or :func:`global_rule`. The work arrays are laid out as
    ``_A0`` .. ``_FLAGS`` say.
    """

    @hot
    def start(pos, vel, mass, eps2, epsilon, work):
        work[:] = 0.0
        a0 = work[_A0]
        accelerations(pos, mass, eps2, a0)
        work[_FLAGS, 0, 0] = 1.0
        scale = (5040.0 * epsilon) ** (1.0 / 7.0)
        dt = prs23_timescale(pos, vel, mass, a0) * scale
        if not _is_normal(dt):
            dt = pairwise_timescale(pos, vel, mass) * scale
        return 1, dt

    @hot
    def step(pos, vel, mass, eps2, epsilon, h, h_last, work):
        b, e, br, er, g, csb = work[0:7], work[7:14], work[14:21], work[21:28], work[28:35], work[35:42]
        a0, at, xs, csx, csv = work[_A0], work[_AT], work[_XS], work[_CSX], work[_CSV]
        n = pos.shape[0]
        evals = 0
        if work[_FLAGS, 0, 0] == 0.0:
            accelerations(pos, mass, eps2, a0)
            evals += 1
            work[_FLAGS, 0, 0] = 1.0
        if h_last != 0.0:
            _predict(h / h_last, er, br, e, b)
        for i in range(n):
            for k in range(3):
                for m in range(7):
                    csb[m, i, k] = 0.0
                    s = b[m, i, k]
                    for j in range(m + 1, 7):
                        s += _D[m, j] * b[j, i, k]
                    g[m, i, k] = s

        pc_error = 1e300
        pc_error_last = 2.0
        iterations = 0
        while True:
            if pc_error < _PC_TOLERANCE:
                break
            if iterations > 2 and pc_error_last <= pc_error:
                break  # the corrections stopped shrinking
            if iterations >= _PC_MAX_ITERATIONS:
                break
            pc_error_last = pc_error
            iterations += 1
            for node in range(1, 8):
                tau = NODES[node]
                step_tau = h * tau
                for i in range(n):
                    for k in range(3):
                        p = b[6, i, k] * _X_WEIGHT[6]
                        for j in range(5, -1, -1):
                            p = p * tau + b[j, i, k] * _X_WEIGHT[j]
                        p = p * tau + 0.5 * a0[i, k]
                        xs[i, k] = pos[i, k] + (-csx[i, k] + (p * step_tau + vel[i, k]) * step_tau)
                accelerations(xs, mass, eps2, at)
                evals += 1
                m = node - 1  # this node fixes g_m and corrects b_0 .. b_m
                max_a = 0.0
                max_change = 0.0
                for i in range(n):
                    for k in range(3):
                        value = (at[i, k] - a0[i, k]) * _INV_GAP[node, 0]
                        for j in range(m):
                            value = (value - g[j, i, k]) * _INV_GAP[node, j + 1]
                        change = value - g[m, i, k]
                        g[m, i, k] = value
                        for j in range(m):
                            b[j, i, k], csb[j, i, k] = add_compensated(b[j, i, k], csb[j, i, k], change * _C[m, j])
                        b[m, i, k], csb[m, i, k] = add_compensated(b[m, i, k], csb[m, i, k], change)
                        if node == 7:
                            ak = abs(at[i, k])
                            if _is_normal(ak) and ak > max_a:
                                max_a = ak
                            ck = abs(change)
                            if _is_normal(ck) and ck > max_change:
                                max_change = ck
                if node == 7:
                    pc_error = max_change / max_a

        dt_new = step_rule(pos, mass, eps2, xs, vel, a0, at, b, h, epsilon)
        if abs(dt_new / h) < _SAFETY:  # reject: retry with the shorter step
            return False, evals, dt_new
        if dt_new / h > 1.0 / _SAFETY:
            dt_new = h / _SAFETY

        for i in range(n):
            for k in range(3):
                x, cx = pos[i, k], csx[i, k]
                for j in range(6, -1, -1):
                    x, cx = add_compensated(x, cx, b[j, i, k] / _X_DIVISOR[j] * h * h)
                x, cx = add_compensated(x, cx, a0[i, k] / 2.0 * h * h)
                pos[i, k], csx[i, k] = add_compensated(x, cx, vel[i, k] * h)
                v, cv = vel[i, k], csv[i, k]
                for j in range(6, -1, -1):
                    v, cv = add_compensated(v, cv, b[j, i, k] / _V_DIVISOR[j] * h)
                vel[i, k], csv[i, k] = add_compensated(v, cv, a0[i, k] * h)
        er[:] = e
        br[:] = b
        work[_FLAGS, 0, 0] = 0.0
        return True, evals, dt_new

    return StepFunctions(start, step, BLOCKS)


IAS15 = ias15_functions(prs23_rule)
IAS15_GLOBAL = ias15_functions(global_rule)
