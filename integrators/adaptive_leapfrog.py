"""Kick-drift-kick leapfrog with a shared adaptive step: second order (not symplectic).

References: the KDK leapfrog of :mod:`integrators.leapfrog` (Verlet 1967); the step
``dt = eta * min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j)))`` is the criterion of AMUSE's
Hermite (Portegies Zwart & McMillan 2018, "Astrophysical Recipes: the art of AMUSE"), taken at
the start of each step. Changing the step from one step to the next breaks symplecticity and time
symmetry, so energy errors drift; the global error stays O(dt^2). One force evaluation per step.
"""

import numpy as np

from ._driver import StepKind
from ._forces import accelerations, hot, pairwise_timescale
from .leapfrog import kdk


@hot
def start(pos, vel, mass, eps2, eta):
    """State: a(pos), (N, 3)."""
    acc = np.empty((pos.shape[0], 3))
    accelerations(pos, mass, eps2, acc)
    return acc, 1, np.inf


@hot
def step(pos, vel, mass, eps2, eta, h, h_last, acc):
    kdk(pos, vel, mass, eps2, h, acc)
    return acc, True, 1, np.inf


@hot
def time_scale_step(pos, vel, mass, eta):
    """Every step: eta times the shortest pairwise time scale of the state."""
    return eta * pairwise_timescale(pos, vel, mass)


ADAPTIVE_LEAPFROG = StepKind(start, step, time_scale_step)
