"""Numba-compiled gravitational N-body integrators (G = 1), arrays in, arrays and counts out.

Methods (``METHODS``, in ``method_id`` order), each controlled by one parameter:

========================  ============  =====  =======  =========================================
name                      step control  order  param    reference
========================  ============  =====  =======  =========================================
``hermite``               variable      4      eta      Makino & Aarseth 1992; AMUSE step criterion
``hermite_aarseth``       variable      4      eta      Makino & Aarseth 1992; Aarseth 1985 criterion
``adaptive_leapfrog``     variable      2      eta      KDK leapfrog, AMUSE step criterion
``dopri5``                variable      5      tol      Dormand & Prince 1980
``leapfrog``              fixed         2      dt       KDK (velocity Verlet), symplectic
``yoshida4``              fixed         4      dt       Yoshida 1990 triple jump, symplectic
``rk4``                   fixed         4      dt       classic Runge-Kutta
``ias15``                 variable      15     epsilon  Rein & Spiegel 2015; PRS23 step criterion
``ias15_global``          variable      15     epsilon  Rein & Spiegel 2015; REBOUND's GLOBAL criterion
========================  ============  =====  =======  =========================================

State: positions and velocities float64 (N, 3), masses float64 (N,), N >= 2. Cost is counted in
force evaluations (deterministic). :class:`Simulation` integrates one system to one output time
after another, carrying the method's state between calls; ``evolve`` is one validated call that
starts afresh. ``advance_kernel`` / ``advance_batch`` (with a state record per system, sized by
``state_size``), ``evolve_kernel`` / ``evolve_batch`` (afresh), ``energy_batch`` and
``min_timescale_batch`` are compiled entry points for callers that validate their own inputs;
``advance_methods`` runs ``advance_batch`` on a batch whose systems use different methods.
docs/integrators.md describes the methods, the state record and the measurements.

``reference_evolve`` is not a method but the judge of the methods: an independent double-double Taylor
integrator (:mod:`integrators.reference`), with ``local_error`` and ``episode_local_errors``, the phase-space
distance of a method's end state from it.
"""

from __future__ import annotations

import numpy as np

from ._evolve import (
    METHODS,
    EvolveResult,
    MethodInfo,
    Status,
    advance_batch,
    advance_kernel,
    advance_methods,
    as_state,
    energy_batch,
    evolve,
    evolve_batch,
    evolve_kernel,
    min_timescale_batch,
    state_size,
)
from ._forces import angular_momentum_kernel, energy_kernel, momentum_kernel, pairwise_timescale
from .reference import episode_local_errors, local_error, reference_evolve
from .simulation import Simulation

__all__ = [
    "METHODS", "MethodInfo", "Status", "EvolveResult", "Simulation", "evolve", "energy", "momentum",
    "angular_momentum", "min_timescale", "evolve_kernel", "evolve_batch", "advance_kernel",
    "advance_batch", "advance_methods", "state_size", "energy_batch", "min_timescale_batch", "as_state",
    "reference_evolve", "local_error", "episode_local_errors",
]


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def energy(pos, vel, mass, softening: float = 0.0) -> float:
    """Total energy (kinetic + Plummer-softened potential) of pos, vel (N, 3) and mass (N,)."""
    return float(energy_kernel(_f64(pos), _f64(vel), _f64(mass), float(softening) ** 2))


def momentum(pos, vel, mass) -> np.ndarray:
    """Total linear momentum, (3,) float64. ``pos`` is accepted for a uniform signature."""
    return momentum_kernel(_f64(vel), _f64(mass))


def angular_momentum(pos, vel, mass) -> np.ndarray:
    """Total angular momentum about the origin, (3,) float64."""
    return angular_momentum_kernel(_f64(pos), _f64(vel), _f64(mass))


def min_timescale(pos, vel, mass) -> float:
    """min over pairs of min(r/|v_ij|, sqrt(r^3/(m_i+m_j))); r/|v_ij| is +inf at relative rest."""
    return float(pairwise_timescale(_f64(pos), _f64(vel), _f64(mass)))
