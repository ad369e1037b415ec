"""Classic fourth-order Runge-Kutta with a fixed step (four force evaluations per step).

Reference: W. Kutta (1901), "Beitrag zur naherungsweisen Integration totaler
Differentialgleichungen", Z. Math. Phys. 46, 435; see E. Hairer, S. P. Norsett & G. Wanner,
"Solving Ordinary Differential Equations I" (Springer, 1993), table II.1.2. Neither symplectic
nor time-symmetric: energy drifts at O(dt^4) per unit time.
"""

from ._driver import StepFunctions
from ._forces import accelerations, hot


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


@hot
def start(pos, vel, mass, eps2, dt, work):
    """Work: five (N, 3) arrays (stage state xs, vs; stage acceleration; weighted sums), scratch."""
    return 0, dt


@hot
def step(pos, vel, mass, eps2, dt, h, h_last, work):
    rk4_step(pos, vel, mass, eps2, h, work[0], work[1], work[2], work[3], work[4])
    return True, 4, dt


RK4 = StepFunctions(start, step, 5, fixed_step=True)
