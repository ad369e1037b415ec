"""Initial conditions for gravitational few-body problems, in N-body units (G = 1).

Every sampler returns ``(pos, vel, mass)``: float64 arrays of shapes (N, 3), (N, 3) and (N,),
in the centre-of-mass frame. Random samplers draw only from the ``numpy.random.Generator``
they are given, never from global RNG state, so an environment's ``np_random`` fixes them.

Units of the paper preset (Saz Ulibarrena & Portegies Zwart 2025): total mass 3 MSun is the
mass unit (three bodies of 1/3), 1 au the length unit, so G = 1 makes the time unit
sqrt(au^3 / (G 3 MSun)) = 1 yr / (2 pi sqrt(3)) = 0.09188 yr.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

InitialCondition = tuple[np.ndarray, np.ndarray, np.ndarray]
Sampler = Callable[[np.random.Generator], InitialCondition]

#: Paper units: one N-body time unit in years, and one N-body velocity unit in km/s.
YEAR_PER_TIME_UNIT = 1.0 / (2.0 * np.pi * np.sqrt(3.0))
KM_S_PER_VELOCITY_UNIT = 4.740470463 / YEAR_PER_TIME_UNIT  # 1 au/yr is 4.7405 km/s
#: One environment step of the paper, 0.1 yr, in N-body time units (1.0884).
PAPER_INTERVAL = 0.1 / YEAR_PER_TIME_UNIT

#: Chenciner & Montgomery (2000) figure-eight: period in N-body units (all masses 1).
FIGURE_EIGHT_PERIOD = 6.32591398


def to_center_of_mass(pos: np.ndarray, vel: np.ndarray, mass: np.ndarray) -> InitialCondition:
    """Return copies of ``pos`` and ``vel`` shifted so the centre of mass is at rest at the origin."""
    total = mass.sum()
    com_pos = (mass[:, None] * pos).sum(axis=0) / total
    com_vel = (mass[:, None] * vel).sum(axis=0) / total
    return pos - com_pos, vel - com_vel, mass.copy()


def paper_triple(rng: np.random.Generator) -> InitialCondition:
    """Three equal masses in a plane, as in Saz Ulibarrena & Portegies Zwart (2025).

    Body 0 at the origin, body 1 at (U[5, 20], U[0, 10]) au, body 2 at (U[-10, 0], U[5, 20]) au;
    velocities (0, 10), (-10, 0) and (0, 0) km/s; then the centre-of-mass frame. Mass unit is
    the total mass (each body 1/3), length unit 1 au.
    """
    pos = np.zeros((3, 3))
    pos[1, :2] = rng.uniform(5.0, 20.0), rng.uniform(0.0, 10.0)
    pos[2, :2] = rng.uniform(-10.0, 0.0), rng.uniform(5.0, 20.0)
    vel = np.zeros((3, 3))
    vel[0, 1] = 10.0 / KM_S_PER_VELOCITY_UNIT
    vel[1, 0] = -10.0 / KM_S_PER_VELOCITY_UNIT
    mass = np.full(3, 1.0 / 3.0)
    return to_center_of_mass(pos, vel, mass)


def pythagorean(rng: np.random.Generator | None = None) -> InitialCondition:
    """Burrau's Pythagorean problem: masses 3, 4, 5 at rest at (1, 3), (-2, -1), (1, -1).

    Deterministic; ``rng`` is accepted (and ignored) so it can serve as a sampler.
    """
    pos = np.array([[1.0, 3.0, 0.0], [-2.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    return to_center_of_mass(pos, np.zeros((3, 3)), np.array([3.0, 4.0, 5.0]))


def figure_eight(rng: np.random.Generator | None = None) -> InitialCondition:
    """Chenciner & Montgomery's (2000) figure-eight choreography of three unit masses.

    Period :data:`FIGURE_EIGHT_PERIOD`. Deterministic; ``rng`` is accepted and ignored.
    """
    x1 = np.array([0.97000436, -0.24308753, 0.0])
    v2 = np.array([-0.93240737, -0.86473146, 0.0])
    pos = np.array([x1, np.zeros(3), -x1])
    vel = np.array([-v2 / 2.0, v2, -v2 / 2.0])
    return to_center_of_mass(pos, vel, np.ones(3))


#: Named samplers accepted wherever an ``initial_conditions`` option is taken.
SAMPLERS: dict[str, Sampler] = {
    "paper": paper_triple,
    "pythagorean": pythagorean,
    "figure_eight": figure_eight,
}


def resolve_sampler(initial_conditions: str | Sampler) -> Sampler:
    """Return the sampler named by ``initial_conditions``, or the callable itself."""
    if callable(initial_conditions):
        return initial_conditions
    try:
        return SAMPLERS[initial_conditions]
    except (KeyError, TypeError):
        raise ValueError(
            f"initial_conditions={initial_conditions!r} is neither a callable(rng) -> (pos, vel, mass) "
            f"nor one of {sorted(SAMPLERS)}"
        ) from None
