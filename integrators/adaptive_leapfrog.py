"""Kick-drift-kick leapfrog with a shared adaptive step: second order (not symplectic).

References: the KDK leapfrog of :mod:`integrators.leapfrog` (Verlet 1967); the step
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))`` is the criterion of AMUSE's
Hermite (Portegies Zwart & McMillan 2018, "Astrophysical Recipes: the art of AMUSE"), taken at
the start of each step. Changing the step from one step to the next breaks symplecticity and time
symmetry, so energy errors drift; the global error stays O(dt^2). One force evaluation per step.
"""

import numpy as np

from ._driver import StepFunctions
from ._forces import accelerations, hot, time_scale_step
from .leapfrog import kdk


@hot
def start(pos, vel, mass, eps2, eta, work):
    """Work: a(pos), (1, N, 3)."""
    accelerations(pos, mass, eps2, work[0])
    return 1, np.inf


@hot
def step(pos, vel, mass, eps2, eta, h, h_last, work):
    kdk(pos, vel, mass, eps2, h, work[0])
    return True, 1, np.inf


ADAPTIVE_LEAPFROG = StepFunctions(start, step, 1, time_scale_step)
