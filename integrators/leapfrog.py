"""Fixed-step kick-drift-kick leapfrog (velocity Verlet): second order, symplectic, time-reversible.

Reference: L. Verlet (1967), Phys. Rev. 159, 98; the KDK form as in E. Hairer, C. Lubich &
G. Wanner (2003), Acta Numerica 12, 399 ("Geometric numerical integration illustrated by the
Stormer-Verlet method"). One force evaluation per step: the acceleration at the end of a step is
the one of the next step's first kick.
"""

import numpy as np

from ._driver import StepFunctions
from ._forces import accelerations, hot


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


def composition(weights: np.ndarray) -> StepFunctions:
    """Fixed-step KDK composition: a step of length h is KDK substeps of lengths ``weights * h``
    (one force evaluation each); the work array is a(pos), (1, N, 3). Shared by leapfrog (weights
    [1]) and Yoshida's fourth-order scheme."""
    per_step = weights.shape[0]

    @hot
    def start(pos, vel, mass, eps2, dt, work):
        accelerations(pos, mass, eps2, work[0])
        return 1, dt

    @hot
    def step(pos, vel, mass, eps2, dt, h, h_last, work):
        acc = work[0]
        for w in weights:
            kdk(pos, vel, mass, eps2, w * h, acc)
        return True, per_step, dt

    return StepFunctions(start, step, 1, fixed_step=True)


LEAPFROG = composition(np.array([1.0]))
