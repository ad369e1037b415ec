"""Initial conditions for gravitational N-body problems, in N-body units (G = 1).

Three-body presets: ``paper`` (random triples of the paper), ``pythagorean``, ``figure_eight``.
Parametrised families (:data:`FAMILIES`), each with its own units, knobs and natural interval:
``plummer`` (:class:`Plummer`, a star cluster), ``hierarchical`` (:class:`Hierarchical`, a
triple or quadruple built from orbital elements) and ``planetary`` (:class:`Planetary`, a star
with planets and an optional perturber).

Every sampler returns ``(pos, vel, mass)``: float64 arrays of shapes (N, 3), (N, 3) and (N,),
in the centre-of-mass frame. Random samplers draw only from the ``numpy.random.Generator``
they are given, never from global RNG state, so an environment's ``np_random`` fixes them.

Units of the paper preset (Saz Ulibarrena & Portegies Zwart 2025): total mass 3 MSun is the
mass unit (three bodies of 1/3), 1 au the length unit, so G = 1 makes the time unit
sqrt(au^3 / (G 3 MSun)) = 1 yr / (2 pi sqrt(3)) = 0.09188 yr.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

import integrators
from threebody_env.kepler import mardling_aarseth_limit, orbital_period, rotation, state_from_elements

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


# Parametrised families. Each is a frozen dataclass of its knobs, checked when it is built (so a
# bad value fails when the environment is configured, not mid-episode), callable as a sampler, and
# carrying ``interval``, the environment interval natural to its time scales.

#: Plummer-sphere constants in Henon units (G = M = 1, E = -1/4): the Plummer scale length
#: 3 pi / 16 (virial radius 1), the crossing time 2 sqrt(2) (= 2 r_v / v_rms), and the mass
#: fraction beyond which no star is placed (as NEMO, Starlab and AMUSE do: radius <= 22.8 r_v).
PLUMMER_SCALE = 3.0 * np.pi / 16.0
CROSSING_TIME = 2.0 * np.sqrt(2.0)
PLUMMER_MASS_CUTOFF = 0.999

#: Stellar mass functions dN/dm ~ m^-alpha_k, as (breaks in MSun, slopes alpha_k between them):
#: Salpeter (1955) and Kroupa (2001, MNRAS 322, 231). None: equal masses.
MASS_FUNCTIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]] | None] = {
    "equal": None,
    "salpeter": ((), (2.35,)),
    "kroupa": ((0.08, 0.5), (0.3, 1.3, 2.3)),
}


def _real(name: str, value: object, ok: Callable[[float], bool], requirement: str) -> float:
    """``value`` as a float if it is a finite real number satisfying ``ok``, else a ValueError naming it."""
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(value) or not ok(float(value))):
        raise ValueError(f"{name}={value!r} must be {requirement}")
    return float(value)


def _reals(name: str, values: Any, length: int, ok: Callable[[float], bool], requirement: str) -> tuple[float, ...]:
    """A sequence of ``length`` numbers, each checked as :func:`_real`."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) != length:
        raise ValueError(f"{name}={values!r} must be a sequence of {length} numbers")
    return tuple(_real(f"{name}[{i}]", v, ok, requirement) for i, v in enumerate(values))


def _or(value: object, default: object) -> object:
    """``value``, or ``default`` when it is None."""
    return default if value is None else value


def _body_count(value: object, minimum: int = 2) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"n_bodies={value!r} must be an integer >= {minimum}")
    return int(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} must be True or False")
    return bool(value)


def _isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unit vectors uniform on the sphere, (n, 3)."""
    z = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    rho = np.sqrt(1.0 - z * z)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def sample_masses(rng: np.random.Generator, n: int, mass_function: str, mass_range: tuple[float, float]) -> np.ndarray:
    """``n`` stellar masses (MSun) from a broken power law of :data:`MASS_FUNCTIONS`, truncated to ``mass_range``.

    dN/dm = c_k m^-alpha_k on each segment, continuous at the breaks; a segment is chosen by its
    share of the stars, then the mass by inverting its cumulative distribution.
    """
    law = MASS_FUNCTIONS[mass_function]
    if law is None:
        raise ValueError(f"mass_function={mass_function!r} is not a power law: equal masses need no sampling")
    breaks, slopes = law
    low, high = mass_range
    pieces, c = [], 1.0  # (m0, m1, c_k, alpha_k) of the segments inside the range
    for k, alpha in enumerate(slopes):
        seg_low = max(low, breaks[k - 1]) if k > 0 else low
        seg_high = min(high, breaks[k]) if k < len(breaks) else high
        if seg_low < seg_high:
            pieces.append((seg_low, seg_high, c, alpha))
        if k < len(breaks):
            c *= breaks[k] ** (slopes[k + 1] - alpha)
    weights = np.array([ci * _power_integral(m0, m1, alpha) for m0, m1, ci, alpha in pieces])
    which = rng.choice(len(pieces), size=n, p=weights / weights.sum())
    u = rng.random(n)
    masses = np.empty(n)
    for j, (m0, m1, _, alpha) in enumerate(pieces):
        chosen = which == j
        if alpha == 1.0:
            masses[chosen] = m0 * (m1 / m0) ** u[chosen]
        else:
            p = 1.0 - alpha
            masses[chosen] = (m0**p + u[chosen] * (m1**p - m0**p)) ** (1.0 / p)
    return masses


def _power_integral(m0: float, m1: float, alpha: float) -> float:
    """Integral of m^-alpha from m0 to m1."""
    return math.log(m1 / m0) if alpha == 1.0 else (m1 ** (1.0 - alpha) - m0 ** (1.0 - alpha)) / (1.0 - alpha)


@dataclass(frozen=True)
class Plummer:
    """A Plummer sphere of ``n_bodies`` stars, in Henon (standard N-body) units.

    Sampling of Aarseth, Henon & Wielen (1974, A&A 37, 183): radii from the cumulative mass
    M(r) = r^3 / (1 + r^2)^(3/2) (no star beyond mass fraction 0.999), speeds by rejection from
    g(q) = q^2 (1 - q^2)^(7/2), v = q sqrt(2) (1 + r^2)^(-1/4), isotropic directions; positions
    and velocities independent of the masses (no mass segregation).

    Units: G = 1, total mass M = 1, E = -1/4, virial radius 1 (Heggie & Mathieu 1986); the
    crossing time is 2 sqrt(2). A cluster of M MSun and virial radius R pc has a time unit of
    14.9 Myr (R / pc)^(3/2) (M / MSun)^(-1/2). Natural interval: 1/8 crossing time.

    Knobs: ``mass_function`` "equal" (each 1/N), "salpeter" or "kroupa" (:data:`MASS_FUNCTIONS`,
    drawn in ``mass_range`` MSun, then scaled to total mass 1); ``virialise`` (default True)
    rescales each draw to exactly E = -1/4 and 2K = |W|, as N-body codes do for small N; False
    keeps the raw sample, virial only within sampling noise (2K/|W| - 1 ~ N^-1/2).
    """

    n_bodies: int = 16
    mass_function: str = "equal"
    mass_range: tuple[float, float] = (0.1, 100.0)
    virialise: bool = True

    def __post_init__(self) -> None:
        _body_count(self.n_bodies)
        if self.mass_function not in MASS_FUNCTIONS:
            raise ValueError(f"mass_function={self.mass_function!r} is unknown; choose from {list(MASS_FUNCTIONS)}")
        low, high = _reals("mass_range", self.mass_range, 2, lambda m: m > 0.0, "> 0 (MSun)")
        if not low < high:
            raise ValueError(f"mass_range={self.mass_range!r} must have low < high")
        object.__setattr__(self, "mass_range", (low, high))
        object.__setattr__(self, "virialise", _flag("virialise", self.virialise))

    @property
    def interval(self) -> float:
        """The natural environment interval: 1/8 crossing time."""
        return CROSSING_TIME / 8.0

    def __call__(self, rng: np.random.Generator) -> InitialCondition:
        n = self.n_bodies
        if MASS_FUNCTIONS[self.mass_function] is None:
            mass = np.full(n, 1.0 / n)
        else:
            mass = sample_masses(rng, n, self.mass_function, self.mass_range)
            mass /= mass.sum()
        radius = 1.0 / np.sqrt((PLUMMER_MASS_CUTOFF * rng.random(n)) ** (-2.0 / 3.0) - 1.0)
        pos = radius[:, None] * _isotropic(rng, n)
        speed = _plummer_speed_fractions(rng, n) * np.sqrt(2.0) * (1.0 + radius**2) ** -0.25
        vel = speed[:, None] * _isotropic(rng, n)
        pos, vel, mass = to_center_of_mass(PLUMMER_SCALE * pos, vel / np.sqrt(PLUMMER_SCALE), mass)
        if self.virialise:
            kinetic = 0.5 * float(mass @ (vel**2).sum(axis=1))
            potential = integrators.energy(pos, np.zeros_like(vel), mass)
            pos *= -2.0 * potential  # W -> -1/2
            vel *= np.sqrt(0.25 / kinetic)  # K -> 1/4
        return pos, vel, mass


def _plummer_speed_fractions(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws of q = v / v_escape from g(q) ~ q^2 (1 - q^2)^(7/2) (rejection under 0.1 > max g; 43 % accepted)."""
    accepted = np.empty(0)
    while accepted.size < n:
        q, y = rng.random(2 * n), rng.random(2 * n)
        accepted = np.concatenate([accepted, q[0.1 * y < q**2 * (1.0 - q**2) ** 3.5]])
    return accepted[:n]


#: Hierarchies: each orbit joins two groups of bodies, inner orbits first and the outermost last.
LAYOUTS: dict[str, tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = {
    "2+1": (((0,), (1,)), ((0, 1), (2,))),
    "2+2": (((0,), (1,)), ((2,), (3,)), ((0, 1), (2, 3))),
    "3+1": (((0,), (1,)), ((0, 1), (2,)), ((0, 1, 2), (3,))),
}
#: Default (semi-major axes, eccentricities) per layout: stable by Mardling & Aarseth with margin.
_HIERARCHY_DEFAULTS = {
    "2+1": ((1.0, 8.0), (0.1, 0.3)),
    "2+2": ((1.0, 1.0, 10.0), (0.1, 0.1, 0.3)),
    "3+1": ((1.0, 6.0, 40.0), (0.1, 0.1, 0.2)),
}


def parent_orbits(layout: str) -> tuple[int | None, ...]:
    """For each orbit of ``layout``, the index of the orbit it is nested in (None for the outermost)."""
    orbits = LAYOUTS[layout]
    groups = [set(a) | set(b) for a, b in orbits]
    return tuple(next((p for p in range(k + 1, len(orbits)) if groups[k] in map(set, orbits[p])), None)
                 for k in range(len(orbits)))


@dataclass(frozen=True)
class Hierarchical:
    """A hierarchical triple (layout "2+1") or quadruple ("2+2": two binaries; "3+1": a triple and a
    fourth body), built from the orbital elements of its nested two-body orbits.

    Each orbit is the Kepler orbit of one group of bodies about another, with ``mu`` the sum of
    their masses, the groups placed about their common centre of mass (Jacobi-like coordinates).
    Orbits are listed inner first: "2+1": (inner binary, outer); "2+2": (binary 0-1, binary 2-3,
    outer); "3+1": (binary 0-1, middle, outer). ``semi_major_axes`` and ``eccentricities`` give one
    value per orbit; ``inclinations`` (degrees) the mutual inclination of each orbit but the
    outermost to the orbit it is nested in. The outermost orbit lies in the xy plane; the random
    draws are the mean anomalies, arguments of pericentre and nodes (uniform angles).

    Every inner orbit must satisfy the Mardling & Aarseth (2001) stability criterion against the
    orbit it is nested in (:func:`~threebody_env.kepler.mardling_aarseth_limit`); ``allow_unstable``
    lifts that check (eccentricities >= 1, unbound, are never accepted).

    Units: G = 1, total mass 1 (``masses`` are relative weights, default equal), lengths in the
    unit of ``semi_major_axes`` (the defaults put the innermost binary at 1). For total mass M MSun
    and a length unit of L au the time unit is sqrt(L^3 / M) / (2 pi) yr. Natural interval: the
    shortest orbital period (one pericentre passage of the tightest binary per interval).
    """

    # None picks the default, resolved in __post_init__: once built, every field holds its value,
    # so the types are the resolved ones (hence the ignores).
    n_bodies: int = None  # type: ignore[assignment]
    layout: str = None  # type: ignore[assignment]
    masses: tuple[float, ...] = None  # type: ignore[assignment]
    semi_major_axes: tuple[float, ...] = None  # type: ignore[assignment]
    eccentricities: tuple[float, ...] = None  # type: ignore[assignment]
    inclinations: tuple[float, ...] = None  # type: ignore[assignment]
    allow_unstable: bool = False

    def __post_init__(self) -> None:
        layout = self.layout
        if layout is None:
            n = 3 if self.n_bodies is None else _body_count(self.n_bodies)
            layout = {3: "2+1", 4: "2+2"}.get(n)
            if layout is None:
                raise ValueError(f"n_bodies={self.n_bodies!r}: a hierarchical system has 3 bodies (layout '2+1') "
                                 f"or 4 ('2+2', '3+1')")
        elif layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r} is unknown; choose from {list(LAYOUTS)}")
        orbits = LAYOUTS[layout]
        n, k = len(orbits) + 1, len(orbits)
        if self.n_bodies is not None and _body_count(self.n_bodies) != n:
            raise ValueError(f"n_bodies={self.n_bodies!r} does not match layout={layout!r}, which has {n} bodies")
        default_a, default_e = _HIERARCHY_DEFAULTS[layout]
        masses = _reals("masses", _or(self.masses, (1.0,) * n), n, lambda m: m > 0.0, "> 0")
        a = _reals("semi_major_axes", _or(self.semi_major_axes, default_a), k, lambda x: x > 0.0, "> 0")
        e = _reals("eccentricities", _or(self.eccentricities, default_e), k, lambda x: 0.0 <= x < 1.0,
                   "in [0, 1): e >= 1 is an unbound orbit")
        inc = _reals("inclinations", _or(self.inclinations, (0.0,) * (k - 1)), k - 1, lambda x: 0.0 <= x <= 180.0,
                     "in [0, 180] degrees")
        for name, value in (("layout", layout), ("n_bodies", n), ("masses", tuple(m / sum(masses) for m in masses)),
                            ("semi_major_axes", a), ("eccentricities", e), ("inclinations", inc),
                            ("allow_unstable", _flag("allow_unstable", self.allow_unstable))):
            object.__setattr__(self, name, value)
        if not self.allow_unstable:
            self._check_stability()

    def _check_stability(self) -> None:
        """Raise ValueError, naming the orbits, if an inner orbit breaks the Mardling-Aarseth criterion."""
        mass, orbits = np.array(self.masses), LAYOUTS[self.layout]
        for k, p in enumerate(parent_orbits(self.layout)):
            if p is None:
                continue
            own = mass[list(orbits[k][0] + orbits[k][1])].sum()
            other = mass[[i for group in orbits[p] for i in group if i not in orbits[k][0] + orbits[k][1]]].sum()
            limit = mardling_aarseth_limit(other / own, self.eccentricities[p], np.radians(self.inclinations[k]))
            ratio = self.semi_major_axes[p] / self.semi_major_axes[k]
            if ratio <= limit:
                raise ValueError(
                    f"hierarchical system is unstable by Mardling & Aarseth (2001): orbit {p} "
                    f"(a={self.semi_major_axes[p]}, e={self.eccentricities[p]}) around orbit {k} "
                    f"(a={self.semi_major_axes[k]}) has a_out/a_in={ratio:.3g} <= {limit:.3g}; "
                    f"widen it or pass allow_unstable=True")

    @property
    def interval(self) -> float:
        """The natural environment interval: the shortest orbital period."""
        mass, orbits = np.array(self.masses), LAYOUTS[self.layout]
        return min(orbital_period(a, mass[list(inner + outer)].sum())
                   for a, (inner, outer) in zip(self.semi_major_axes, orbits, strict=True))

    def __call__(self, rng: np.random.Generator) -> InitialCondition:
        mass, orbits = np.array(self.masses), LAYOUTS[self.layout]
        pos, vel = np.zeros((self.n_bodies, 3)), np.zeros((self.n_bodies, 3))
        frames: dict[int, np.ndarray] = {}
        parents = parent_orbits(self.layout)
        for k in reversed(range(len(orbits))):  # outermost first: inner orbits are tilted relative to their parent's
            parent = parents[k]
            if parent is None:
                frames[k] = rotation(0.0, 0.0, rng.uniform(0.0, 2.0 * np.pi))
            else:
                local = rotation(rng.uniform(0.0, 2.0 * np.pi), np.radians(self.inclinations[k]),
                                 rng.uniform(0.0, 2.0 * np.pi))
                frames[k] = frames[parent] @ local
            inner, outer = list(orbits[k][0]), list(orbits[k][1])
            m_in, m_out = mass[inner].sum(), mass[outer].sum()
            r, v = state_from_elements(self.semi_major_axes[k], self.eccentricities[k], rng.uniform(0.0, 2.0 * np.pi),
                                       m_in + m_out, frames[k])
            # Move each group about the pair's centre of mass: the groups' own inner motions are untouched.
            pos[inner] -= m_out / (m_in + m_out) * r
            vel[inner] -= m_out / (m_in + m_out) * v
            pos[outer] += m_in / (m_in + m_out) * r
            vel[outer] += m_in / (m_in + m_out) * v
        return to_center_of_mass(pos, vel, mass)


def planet_semi_major_axes(masses: tuple[float, ...], hill_spacing: float | None,
                           period_ratio: float | None) -> tuple[float, ...]:
    """Semi-major axes of planets of ``masses`` (star masses) from a_0 = 1, spaced by ``hill_spacing`` mutual
    Hill radii (default 10) or by ``period_ratio``; ValueError if both are given or the spacing is impossible."""
    if hill_spacing is not None and period_ratio is not None:
        raise ValueError(f"give hill_spacing={hill_spacing!r} or period_ratio={period_ratio!r}, not both")
    if period_ratio is not None:
        ratio = _real("period_ratio", period_ratio, lambda x: x > 1.0, "> 1")
        return tuple(ratio ** (2.0 * j / 3.0) for j in range(len(masses)))
    spacing = _real("hill_spacing", 10.0 if hill_spacing is None else hill_spacing, lambda x: x > 0.0,
                    "> 0 (mutual Hill radii)")
    a = [1.0]
    for m_inner, m_outer in itertools.pairwise(masses):
        half_gap = 0.5 * spacing * ((m_inner + m_outer) / 3.0) ** (1.0 / 3.0)  # (a' - a) / (a' + a)
        if half_gap >= 1.0:
            raise ValueError(f"hill_spacing={spacing!r} mutual Hill radii cannot be reached with planet masses "
                             f"{m_inner} and {m_outer}: choose it below {spacing / half_gap:.3g}")
        a.append(a[-1] * (1.0 + half_gap) / (1.0 - half_gap))
    return tuple(a)


@dataclass(frozen=True)
class Planetary:
    """A star with ``k`` planets on near-circular orbits, optionally with an eccentric perturber.

    Planet j has astrocentric elements about the star (mu = 1 + m_j): a_0 = 1, each next a set by
    ``hill_spacing`` (default 10) mutual Hill radii, a_{j+1} - a_j = Delta ((m_j + m_{j+1}) / 3)^(1/3)
    (a_j + a_{j+1}) / 2 (Chambers, Wetherill & Boss 1996), or by ``period_ratio`` P_{j+1} / P_j;
    eccentricities uniform in [0, ``max_eccentricity``], inclinations uniform in [0,
    ``max_inclination``] degrees, angles uniform. ``planet_masses``: one value for all planets or
    one per planet, in star masses (1e-4: about 2 Neptune masses for a solar-mass star).

    ``perturber_mass`` (None: no perturber) adds a last body, a star (~0.1-1) or a planet (~1e-3),
    on a bound eccentric orbit about the star and planets' centre of mass (mu = total mass):
    ``perturber_semi_major_axis`` (default 4 times the outermost planet's),
    ``perturber_eccentricity`` (0.6) and ``perturber_inclination`` (10 degrees). It is not checked
    for stability: it is there to stir the planets up.

    N = 1 + k (+ 1 with a perturber); ``n_bodies`` sets k (default 3 planets). Units: G = 1, the
    star's mass, and the innermost planet's semi-major axis: for a solar-mass star and 1 au the time
    unit is 1 yr / (2 pi). Natural interval: the innermost planet's period (2 pi).
    """

    # n_bodies (None: 3 planets) and planet_masses (one value: every planet's) are resolved in
    # __post_init__ to the body count and one mass per planet (hence the ignores).
    n_bodies: int = None  # type: ignore[assignment]
    planet_masses: tuple[float, ...] = 1e-4  # type: ignore[assignment]
    hill_spacing: float | None = None
    period_ratio: float | None = None
    max_eccentricity: float = 0.02
    max_inclination: float = 1.0
    perturber_mass: float | None = None
    perturber_semi_major_axis: float | None = None
    perturber_eccentricity: float = 0.6
    perturber_inclination: float = 10.0
    semi_major_axes: tuple[float, ...] = field(init=False)

    def __post_init__(self) -> None:
        perturbed = self.perturber_mass is not None
        one_mass = isinstance(self.planet_masses, (int, float, np.integer, np.floating))
        if self.n_bodies is not None:
            k = _body_count(self.n_bodies, 2 + perturbed) - 1 - perturbed
        else:
            k = 3 if one_mass or not hasattr(self.planet_masses, "__len__") else len(self.planet_masses)
        masses = _reals("planet_masses", (self.planet_masses,) * k if one_mass else self.planet_masses, k,
                        lambda m: m > 0.0, "> 0 (star masses)")
        a = planet_semi_major_axes(masses, self.hill_spacing, self.period_ratio)
        _real("max_eccentricity", self.max_eccentricity, lambda x: 0.0 <= x < 1.0, "in [0, 1)")
        _real("max_inclination", self.max_inclination, lambda x: 0.0 <= x <= 180.0, "in [0, 180] degrees")
        if perturbed:
            _real("perturber_mass", self.perturber_mass, lambda m: m > 0.0, "> 0 (star masses)")
            _real("perturber_eccentricity", self.perturber_eccentricity, lambda x: 0.0 <= x < 1.0,
                  "in [0, 1): e >= 1 is an unbound orbit")
            _real("perturber_inclination", self.perturber_inclination, lambda x: 0.0 <= x <= 180.0,
                  "in [0, 180] degrees")
            if self.perturber_semi_major_axis is None:
                object.__setattr__(self, "perturber_semi_major_axis", 4.0 * a[-1])
            _real("perturber_semi_major_axis", self.perturber_semi_major_axis, lambda x: x > 0.0, "> 0")
        object.__setattr__(self, "n_bodies", 1 + k + perturbed)
        object.__setattr__(self, "planet_masses", masses)
        object.__setattr__(self, "semi_major_axes", tuple(a))

    @property
    def interval(self) -> float:
        """The natural environment interval: the innermost planet's period."""
        return orbital_period(1.0, 1.0 + self.planet_masses[0])

    def __call__(self, rng: np.random.Generator) -> InitialCondition:
        k = len(self.planet_masses)
        mass = np.array([1.0, *self.planet_masses] + ([] if self.perturber_mass is None else [self.perturber_mass]))
        pos, vel = np.zeros((mass.size, 3)), np.zeros((mass.size, 3))
        for j, (a, m) in enumerate(zip(self.semi_major_axes, self.planet_masses, strict=True)):
            e = rng.uniform(0.0, self.max_eccentricity)
            frame = rotation(rng.uniform(0.0, 2.0 * np.pi), np.radians(rng.uniform(0.0, self.max_inclination)),
                             rng.uniform(0.0, 2.0 * np.pi))
            pos[j + 1], vel[j + 1] = state_from_elements(a, e, rng.uniform(0.0, 2.0 * np.pi), 1.0 + m, frame)
        if self.perturber_mass is not None and self.perturber_semi_major_axis is not None:  # set together
            inner = mass[: k + 1]
            frame = rotation(rng.uniform(0.0, 2.0 * np.pi), np.radians(self.perturber_inclination),
                             rng.uniform(0.0, 2.0 * np.pi))
            r, v = state_from_elements(self.perturber_semi_major_axis, self.perturber_eccentricity,
                                       rng.uniform(0.0, 2.0 * np.pi), mass.sum(), frame)
            pos[-1] = inner @ pos[: k + 1] / inner.sum() + r
            vel[-1] = inner @ vel[: k + 1] / inner.sum() + v
        return to_center_of_mass(pos, vel, mass)


#: The parametrised families, by name: ``FAMILIES[name](n_bodies=..., **knobs)`` is a sampler.
FAMILIES: dict[str, type] = {"plummer": Plummer, "hierarchical": Hierarchical, "planetary": Planetary}

#: Named samplers accepted wherever an ``initial_conditions`` option is taken (families at their defaults).
SAMPLERS: dict[str, Sampler] = {
    "paper": paper_triple,
    "pythagorean": pythagorean,
    "figure_eight": figure_eight,
    **{name: family() for name, family in FAMILIES.items()},
}


def resolve_sampler(initial_conditions: str | Sampler, n_bodies: int | None = None,
                    knobs: Mapping[str, Any] | None = None) -> Sampler:
    """The sampler named by ``initial_conditions`` with ``n_bodies`` and the family's ``knobs``, or the callable itself.

    The three-body presets and callables take no knobs, and the presets only ``n_bodies`` 3 (a
    callable's count is checked when the environment draws from it). Raises ``ValueError`` naming
    the bad value: an unknown name or knob, or a knob value the family rejects.
    """
    knobs = dict(knobs or {})
    if isinstance(initial_conditions, str) and initial_conditions in FAMILIES:
        family = FAMILIES[initial_conditions]
        allowed = [f.name for f in fields(family) if f.init and f.name != "n_bodies"]
        unknown = sorted(set(knobs) - set(allowed))
        if unknown:
            raise ValueError(f"initial_conditions={initial_conditions!r} has no knob {unknown[0]!r}; its knobs are "
                             f"{allowed} (n_bodies is a setting of its own)")
        return family(**knobs) if n_bodies is None else family(n_bodies=n_bodies, **knobs)
    if knobs:
        raise ValueError(f"initial_condition_kwargs={knobs!r}: only the families {sorted(FAMILIES)} take knobs, "
                         f"not initial_conditions={initial_conditions!r}")
    if callable(initial_conditions):
        return initial_conditions
    try:
        sampler = SAMPLERS[initial_conditions]
    except (KeyError, TypeError):
        raise ValueError(
            f"initial_conditions={initial_conditions!r} is neither a callable(rng) -> (pos, vel, mass) "
            f"nor one of {sorted(SAMPLERS)}"
        ) from None
    if n_bodies is not None and n_bodies != 3:
        raise ValueError(f"n_bodies={n_bodies!r}: initial_conditions={initial_conditions!r} has 3 bodies")
    return sampler


def natural_interval(sampler: Sampler) -> float:
    """The environment interval a sampler calls for: its ``interval`` if it has one, else the paper's 0.1 yr."""
    return float(getattr(sampler, "interval", PAPER_INTERVAL))
