"""N-body initial-condition families (plummer, hierarchical, planetary) and the Kepler helpers.

Checked as physics: the Plummer sphere's virial ratio, energy and half-mass radius from the raw
Aarseth-Henon-Wielen sample; orbital elements recovered from the positions and velocities of the
hierarchical and planetary systems; a Mardling-Aarseth-stable triple that stays hierarchical when
integrated. Also: determinism from the seed, the centre-of-mass frame, and the one-line errors for
bad knobs, at configuration time.
"""

import math

import numpy as np
import pytest

import integrators
from threebody_env import EnvConfig
from threebody_env.initial_conditions import (
    CROSSING_TIME,
    LAYOUTS,
    PLUMMER_SCALE,
    Hierarchical,
    Planetary,
    Plummer,
    parent_orbits,
    sample_masses,
)
from threebody_env.kepler import (
    elements_from_state,
    mardling_aarseth_limit,
    orbital_period,
    rotation,
    state_from_elements,
)


def virial_ratio(pos, vel, mass) -> tuple[float, float]:
    """(2K / |W|, E) of a state."""
    kinetic = 0.5 * float(mass @ (vel**2).sum(axis=1))
    potential = integrators.energy(pos, np.zeros_like(vel), mass)
    return 2.0 * kinetic / abs(potential), kinetic + potential


def group_orbit(pos, vel, mass, inner, outer):
    """Elements of the relative orbit of the centre of mass of bodies ``outer`` about that of ``inner``."""
    inner, outer = list(inner), list(outer)
    m_in, m_out = mass[inner].sum(), mass[outer].sum()
    r = mass[outer] @ pos[outer] / m_out - mass[inner] @ pos[inner] / m_in
    v = mass[outer] @ vel[outer] / m_out - mass[inner] @ vel[inner] / m_in
    return elements_from_state(r, v, m_in + m_out), np.cross(r, v)


# --- Kepler helpers ------------------------------------------------------------------------------


def test_elements_round_trip_and_pericentre():
    """state_from_elements and elements_from_state invert each other on random orbits, and at mean
    anomaly 0 the body sits at pericentre a (1 - e) with the vis-viva speed."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, e, inc, mu = rng.uniform(0.1, 10), rng.uniform(0, 0.99), rng.uniform(0, np.pi), rng.uniform(0.1, 3)
        frame = rotation(rng.uniform(0, 2 * np.pi), inc, rng.uniform(0, 2 * np.pi))
        r, v = state_from_elements(a, e, rng.uniform(-10, 10), mu, frame)
        got = elements_from_state(r, v, mu)
        assert got.a == pytest.approx(a, rel=1e-11)
        assert got.e == pytest.approx(e, abs=1e-11)
        assert got.inc == pytest.approx(inc, abs=1e-9)
    r, v = state_from_elements(2.0, 0.5, 0.0, 1.5)
    assert np.linalg.norm(r) == pytest.approx(1.0, rel=1e-15)
    assert np.linalg.norm(v) == pytest.approx(math.sqrt(1.5 * (2 / 1.0 - 1 / 2.0)), rel=1e-14)


def test_orbit_closes_after_one_period():
    """An eccentric two-body orbit integrated for orbital_period (DOPRI5, tol 1e-12) comes back to its start."""
    m1, m2, a, e = 0.7, 0.3, 1.3, 0.6
    r, v = state_from_elements(a, e, 1.0, m1 + m2, rotation(0.3, 0.4, 0.5))
    pos = np.array([-m2 * r, m1 * r]) / (m1 + m2)
    vel = np.array([-m2 * v, m1 * v]) / (m1 + m2)
    result = integrators.evolve("dopri5", pos, vel, np.array([m1, m2]), orbital_period(a, m1 + m2), 1e-12)
    np.testing.assert_allclose(result.pos, pos, atol=1e-8)


def test_mardling_aarseth_limit():
    """2.8 (1 + q)^(2/5) for a circular coplanar outer orbit; larger for eccentric, smaller for inclined orbits."""
    assert mardling_aarseth_limit(0.5, 0.0) == pytest.approx(2.8 * 1.5**0.4, rel=1e-14)
    assert mardling_aarseth_limit(0.5, 0.3) == pytest.approx(2.8 * (1.5 * 1.3) ** 0.4 / 0.7**1.2, rel=1e-14)
    assert mardling_aarseth_limit(0.5, 0.3, np.pi / 2) < mardling_aarseth_limit(0.5, 0.3)


# --- plummer ---------------------------------------------------------------------------------------


def test_plummer_raw_sample_is_virial_within_sampling_noise():
    """Without rescaling, N = 4000 stars of the AHW sample have 2K/|W| and 4E within a few per cent of 1 and -1
    (Henon units), half the mass inside r_h = 1.305 * 3 pi / 16 = 0.769, total mass 1, centre of mass at rest."""
    pos, vel, mass = Plummer(n_bodies=4000, virialise=False)(np.random.default_rng(3))
    q, energy = virial_ratio(pos, vel, mass)
    assert q == pytest.approx(1.0, abs=0.05)
    assert 4 * energy == pytest.approx(-1.0, abs=0.06)
    half_mass_radius = PLUMMER_SCALE / math.sqrt(0.5 ** (-2 / 3) - 1)
    assert np.median(np.linalg.norm(pos, axis=1)) == pytest.approx(half_mass_radius, rel=0.05)
    assert mass.sum() == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(mass @ pos, 0.0, atol=1e-13)
    np.testing.assert_allclose(mass @ vel, 0.0, atol=1e-13)


@pytest.mark.parametrize("mass_function", ["equal", "kroupa"])
def test_plummer_virialised_exactly_in_henon_units(mass_function):
    """virialise=True (default): every draw, however small, has E = -1/4 and 2K = |W| to round-off."""
    for seed in range(5):
        pos, vel, mass = Plummer(n_bodies=8, mass_function=mass_function)(np.random.default_rng(seed))
        q, energy = virial_ratio(pos, vel, mass)
        assert q == pytest.approx(1.0, rel=1e-12) and energy == pytest.approx(-0.25, rel=1e-12)


def test_mass_functions_follow_their_power_laws():
    """Fraction of stars above 1 MSun for Salpeter (alpha 2.35 on [0.1, 100]) and above 0.5 MSun for Kroupa
    (0.3 / 1.3 / 2.3 with breaks at 0.08 and 0.5, on [0.1, 100]) against the integrals, within 4 sigma."""
    n = 40_000
    rng = np.random.default_rng(4)

    def share(lo, hi, alpha):
        return (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)

    expected = share(1, 100, 2.35) / share(0.1, 100, 2.35)
    masses = sample_masses(rng, n, "salpeter", (0.1, 100.0))
    assert masses.min() >= 0.1 and masses.max() <= 100.0
    assert np.mean(masses > 1.0) == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))
    high = 0.5 ** (2.3 - 1.3) * share(0.5, 100, 2.3)  # continuous at the 0.5 break
    expected = high / (share(0.1, 0.5, 1.3) + high)
    masses = sample_masses(rng, n, "kroupa", (0.1, 100.0))
    assert np.mean(masses > 0.5) == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))


# --- hierarchical ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_hierarchical_elements_recovered(layout):
    """Each orbit's a and e come back from the positions and velocities, and so does the mutual inclination of
    each inner orbit to the orbit it is nested in; total mass 1, centre-of-mass frame."""
    n_orbits = len(LAYOUTS[layout])
    a = {"2+1": (1.0, 15.0), "2+2": (1.0, 0.7, 12.0), "3+1": (1.0, 12.0, 80.0)}[layout]
    e = (0.3, 0.5, 0.1)[:n_orbits]
    inc = (20.0, 35.0)[: n_orbits - 1]
    family = Hierarchical(layout=layout, masses=(1.0, 2.0, 3.0, 4.0)[: n_orbits + 1], semi_major_axes=a,
                          eccentricities=e, inclinations=inc)
    pos, vel, mass = family(np.random.default_rng(5))
    assert mass.sum() == pytest.approx(1.0) and pos.shape == (n_orbits + 1, 3)
    np.testing.assert_allclose(mass @ pos, 0.0, atol=1e-13)
    np.testing.assert_allclose(mass @ vel, 0.0, atol=1e-13)
    momenta = []
    for k, (inner, outer) in enumerate(LAYOUTS[layout]):
        elements, h = group_orbit(pos, vel, mass, inner, outer)
        assert elements.a == pytest.approx(a[k], rel=1e-10) and elements.e == pytest.approx(e[k], abs=1e-10)
        momenta.append(h / np.linalg.norm(h))
    np.testing.assert_allclose(momenta[-1], [0.0, 0.0, 1.0], atol=1e-12)  # outermost orbit in the xy plane
    for k, parent in enumerate(parent_orbits(layout)):
        if parent is not None:
            mutual = np.degrees(np.arccos(np.clip(momenta[k] @ momenta[parent], -1, 1)))
            assert mutual == pytest.approx(inc[k], abs=1e-8)
    assert family.interval == pytest.approx(min(orbital_period(a[k], mass[list(i + o)].sum())
                                                for k, (i, o) in enumerate(LAYOUTS[layout])))


def test_stable_triple_stays_hierarchical():
    """The default triple (a_out/a_in = 8, e_out = 0.3, Mardling-Aarseth limit 5.6) integrated over 5 outer periods
    with Hermite keeps its inner binary (a_in within 3 %); at a_out/a_in = 2.5 (allowed explicitly) it does not."""
    for semi_major_axes, stable in (((1.0, 8.0), True), ((1.0, 2.5), False)):
        family = Hierarchical(semi_major_axes=semi_major_axes, allow_unstable=not stable)
        pos, vel, mass = family(np.random.default_rng(6))
        result = integrators.evolve("hermite", pos, vel, mass, 5 * orbital_period(8.0, 1.0), 0.01)
        inner, _ = group_orbit(result.pos, result.vel, mass, (0,), (1,))
        assert (0 < inner.a == pytest.approx(1.0, rel=0.03)) == stable


def test_hierarchical_errors_name_the_bad_value():
    """Unstable, unbound, negative-mass and mismatched systems fail when the family is built."""
    with pytest.raises(ValueError, match=r"unstable by Mardling & Aarseth.*a_out/a_in=3 .*allow_unstable"):
        Hierarchical(semi_major_axes=(1.0, 3.0))
    assert Hierarchical(semi_major_axes=(1.0, 3.0), allow_unstable=True).semi_major_axes == (1.0, 3.0)
    with pytest.raises(ValueError, match=r"eccentricities\[1\]=1.2 must be in \[0, 1\): e >= 1 is an unbound orbit"):
        Hierarchical(eccentricities=(0.1, 1.2))
    with pytest.raises(ValueError, match=r"masses\[2\]=-1.0 must be > 0"):
        Hierarchical(masses=(1.0, 1.0, -1.0))
    with pytest.raises(ValueError, match=r"n_bodies=5: a hierarchical system has 3 bodies"):
        Hierarchical(n_bodies=5)
    with pytest.raises(ValueError, match=r"n_bodies=3 does not match layout='3\+1'"):
        Hierarchical(n_bodies=3, layout="3+1")
    with pytest.raises(ValueError, match=r"semi_major_axes=\(1.0, 8.0\) must be a sequence of 3 numbers"):
        Hierarchical(layout="2+2", semi_major_axes=(1.0, 8.0))


# --- planetary ------------------------------------------------------------------------------------


def test_planets_on_their_requested_orbits():
    """Astrocentric elements (mu = 1 + m_j) of each planet: a as configured, spaced by 10 mutual Hill radii,
    e and inclination within their near-circular maxima."""
    family = Planetary(n_bodies=6, planet_masses=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3), max_eccentricity=0.05,
                       max_inclination=2.0)
    a = np.array(family.semi_major_axes)
    m = np.array(family.planet_masses)
    hill = ((m[:-1] + m[1:]) / 3) ** (1 / 3) * (a[:-1] + a[1:]) / 2
    np.testing.assert_allclose(np.diff(a) / hill, 10.0, rtol=1e-12)
    pos, vel, mass = family(np.random.default_rng(7))
    np.testing.assert_allclose(mass @ pos, 0.0, atol=1e-15)
    for j in range(5):
        elements = elements_from_state(pos[j + 1] - pos[0], vel[j + 1] - vel[0], 1.0 + mass[j + 1])
        assert elements.a == pytest.approx(a[j], rel=1e-11)
        assert 0 <= elements.e <= 0.05 + 1e-12 and 0 <= np.degrees(elements.inc) <= 2.0 + 1e-9
    assert family.interval == pytest.approx(2 * np.pi / math.sqrt(1 + 1e-5))


def test_period_ratio_spacing_and_perturber():
    """period_ratio sets P_{j+1}/P_j; the perturber's orbit about the star-and-planets centre of mass has
    the requested a, e and inclination."""
    family = Planetary(n_bodies=5, period_ratio=1.5, perturber_mass=0.3, perturber_semi_major_axis=6.0,
                       perturber_eccentricity=0.7, perturber_inclination=30.0)
    pos, vel, mass = family(np.random.default_rng(8))
    assert len(family.planet_masses) == 3 and mass.size == 5
    periods = [orbital_period(elements_from_state(pos[j] - pos[0], vel[j] - vel[0], 1 + mass[j]).a, 1 + mass[j])
               for j in (1, 2, 3)]
    np.testing.assert_allclose(np.array(periods[1:]) / periods[:-1], 1.5, rtol=1e-10)
    elements, _ = group_orbit(pos, vel, mass, (0, 1, 2, 3), (4,))
    assert elements.a == pytest.approx(6.0, rel=1e-10) and elements.e == pytest.approx(0.7, abs=1e-10)
    assert np.degrees(elements.inc) == pytest.approx(30.0, abs=1e-8)


def test_planetary_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"planet_masses\[1\]=-0.001 must be > 0"):
        Planetary(planet_masses=(1e-3, -1e-3))
    with pytest.raises(ValueError, match=r"give hill_spacing=8 or period_ratio=2, not both"):
        Planetary(hill_spacing=8, period_ratio=2)
    with pytest.raises(ValueError, match=r"period_ratio=0.9 must be > 1"):
        Planetary(period_ratio=0.9)
    with pytest.raises(ValueError, match=r"n_bodies=2 must be an integer >= 3"):
        Planetary(n_bodies=2, perturber_mass=0.5)
    with pytest.raises(ValueError, match=r"perturber_eccentricity=1.0 must be in \[0, 1\): e >= 1 is an unbound"):
        Planetary(perturber_mass=0.5, perturber_eccentricity=1.0)
    with pytest.raises(ValueError, match=r"hill_spacing=30.0 mutual Hill radii cannot be reached"):
        Planetary(planet_masses=0.05, hill_spacing=30.0)


# --- all families ---------------------------------------------------------------------------------

FAMILY_CONFIGS = [
    ("plummer", 16, {"mass_function": "salpeter"}),
    ("hierarchical", 4, {"layout": "3+1"}),
    ("planetary", 5, {"perturber_mass": 0.5}),
]


@pytest.mark.parametrize(("name", "n_bodies", "knobs"), FAMILY_CONFIGS)
def test_families_are_deterministic_from_the_seed(name, n_bodies, knobs):
    """Through EnvConfig: same seed -> the same system, another seed -> another; N bodies in the CoM frame."""
    sampler = EnvConfig(initial_conditions=name, n_bodies=n_bodies, initial_condition_kwargs=knobs).sampler
    a, b, c = (sampler(np.random.default_rng(s)) for s in (11, 11, 12))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    pos, vel, mass = a
    assert pos.shape == (n_bodies, 3) and np.all(mass > 0)
    np.testing.assert_allclose(mass @ vel, 0.0, atol=1e-13)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"initial_conditions": "plummer", "n_bodies": 1}, r"n_bodies=1 must be an integer >= 2"),
    ({"initial_conditions": "plummer", "n_bodies": 16.5}, r"n_bodies=16.5 must be an integer >= 2"),
    ({"initial_conditions": "plummer", "initial_condition_kwargs": {"mass_fn": "kroupa"}},
     r"initial_conditions='plummer' has no knob 'mass_fn'; its knobs are \['mass_function'"),
    ({"initial_conditions": "plummer", "initial_condition_kwargs": {"mass_function": "x"}},
     r"mass_function='x' is unknown"),
    ({"initial_conditions": "plummer", "initial_condition_kwargs": {"mass_range": (1.0, -2.0)}},
     r"mass_range\[1\]=-2.0 must be > 0"),
    ({"initial_conditions": "hierarchical", "initial_condition_kwargs": {"semi_major_axes": (1, 2)}},
     r"unstable by Mardling & Aarseth"),
    ({"initial_conditions": "hierarchical", "initial_condition_kwargs": {"masses": (1, -1, 1)}},
     r"masses\[1\]=-1 must be > 0"),
    ({"initial_conditions": "hierarchical", "initial_condition_kwargs": {"eccentricities": (0.1, 1.5)}},
     r"eccentricities\[1\]=1.5 must be in \[0, 1\): e >= 1 is an unbound orbit"),
    ({"initial_conditions": "planetary", "n_bodies": 1}, r"n_bodies=1 must be an integer >= 2"),
    ({"initial_conditions": "paper", "n_bodies": 4}, r"n_bodies=4: initial_conditions='paper' has 3 bodies"),
    ({"initial_conditions": "figure_eight", "initial_condition_kwargs": {"n": 1}},
     r"only the families .* take knobs, not initial_conditions='figure_eight'"),
    ({"initial_conditions": "plummer", "initial_condition_kwargs": "mass_function=kroupa"}, r"must be a mapping"),
    ({"initial_conditions": "plummer", "interval": -1.0}, r"interval=-1.0 must be a finite number > 0"),
])
def test_bad_values_fail_at_config_time_with_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        EnvConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_natural_intervals():
    """Each family's default interval, overridable by ``interval``; the presets keep the paper's 0.1 yr."""
    assert EnvConfig(initial_conditions="plummer").interval == pytest.approx(CROSSING_TIME / 8)
    assert EnvConfig(initial_conditions="hierarchical").interval == pytest.approx(orbital_period(1.0, 2 / 3))
    assert EnvConfig(initial_conditions="planetary").interval == pytest.approx(orbital_period(1.0, 1 + 1e-4))
    assert EnvConfig(initial_conditions="plummer", interval=0.5).interval == 0.5
    assert EnvConfig().interval == pytest.approx(1.08828, rel=1e-5)


def test_command_line_env_kwargs_reach_the_family():
    """``--env-kwargs initial_conditions:plummer n_bodies:16 initial_condition_kwargs:{...}`` parses into settings
    that train.py accepts; a bad value exits with code 2 and one line naming it."""
    from agents.train_cli import main, parse_key_values
    from agents.training import resolve_env_kwargs

    items = ["initial_conditions:plummer", "n_bodies:16", "initial_condition_kwargs:{'mass_function': 'kroupa'}"]
    kwargs = resolve_env_kwargs("ThreeBody-v0", parse_key_values(items, "--env-kwargs"))
    sampler = EnvConfig(**kwargs).sampler
    assert isinstance(sampler, Plummer) and sampler.n_bodies == 16 and sampler.mass_function == "kroupa"
    with pytest.raises(SystemExit) as exit_info:
        main(["--env-kwargs", "initial_conditions:plummer", "n_bodies:1", "-n", "10"])
    assert exit_info.value.code == 2
