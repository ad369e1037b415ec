"""Initial conditions: the paper's random triples, the Pythagorean problem and the figure-eight.

Checked: the geometry and units of Saz Ulibarrena & Portegies Zwart (2025), the centre-of-mass
frame, the known energies of the classic problems, and that randomness comes only from the
generator handed in.
"""

import random

import numpy as np
import pytest

import integrators
from threebody_env import SAMPLERS, figure_eight, paper_triple, pythagorean
from threebody_env.initial_conditions import (
    FIGURE_EIGHT_PERIOD,
    KM_S_PER_VELOCITY_UNIT,
    PAPER_INTERVAL,
    YEAR_PER_TIME_UNIT,
    resolve_sampler,
)


def test_paper_units():
    """Mass unit 3 MSun, length 1 au: the time unit is 1 yr / (2 pi sqrt 3), so 0.1 yr is 1.0883
    units and 10 km/s is 0.1938 velocity units."""
    assert YEAR_PER_TIME_UNIT == pytest.approx(0.091888, rel=1e-4)
    assert PAPER_INTERVAL == pytest.approx(1.08828, rel=1e-5)
    assert 10.0 / KM_S_PER_VELOCITY_UNIT == pytest.approx(0.1938, rel=1e-3)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_give_float64_states_in_the_centre_of_mass_frame(name):
    """Every named sampler returns (N, 3), (N, 3), (N,) float64 with zero total momentum and the
    centre of mass at the origin."""
    pos, vel, mass = SAMPLERS[name](np.random.default_rng(1))
    n = mass.shape[0]
    assert pos.shape == vel.shape == (n, 3) and mass.shape == (n,)
    assert pos.dtype == vel.dtype == mass.dtype == np.float64
    assert np.all(mass > 0)
    np.testing.assert_allclose(mass @ pos, 0.0, atol=1e-12)
    np.testing.assert_allclose(mass @ vel, 0.0, atol=1e-12)


def test_paper_triple_geometry():
    """Relative to body 0, body 1 lies in [5, 20] x [0, 10] au and body 2 in [-10, 0] x [5, 20];
    the motion is planar; relative velocities are (0, 10) and (-10, 0) km/s; masses are 1/3 each.
    Over many draws the ranges are filled, not just respected."""
    rng = np.random.default_rng(2)
    draws = [paper_triple(rng) for _ in range(2000)]
    rel1 = np.array([p[1] - p[0] for p, _, _ in draws])
    rel2 = np.array([p[2] - p[0] for p, _, _ in draws])
    for rel, (xlo, xhi), (ylo, yhi) in ((rel1, (5, 20), (0, 10)), (rel2, (-10, 0), (5, 20))):
        assert xlo <= rel[:, 0].min() < xlo + 0.1 and xhi - 0.1 < rel[:, 0].max() <= xhi
        assert ylo <= rel[:, 1].min() < ylo + 0.1 and yhi - 0.1 < rel[:, 1].max() <= yhi
        assert np.all(rel[:, 2] == 0.0)
    kms = 1.0 / KM_S_PER_VELOCITY_UNIT
    for pos, vel, mass in draws[:20]:
        np.testing.assert_allclose(mass, 1.0 / 3.0)
        np.testing.assert_allclose(vel[0] - vel[2], [0.0, 10 * kms, 0.0], atol=1e-15)
        np.testing.assert_allclose(vel[1] - vel[2], [-10 * kms, 0.0, 0.0], atol=1e-15)
        assert integrators.energy(pos, vel, mass) < 0  # bound systems


def test_paper_triple_uses_only_the_given_generator():
    """Same seed -> same triple; different seeds -> different triples; neither the global NumPy
    RNG nor Python's ``random`` is touched."""
    np_state, py_state = np.random.get_state(), random.getstate()
    a = paper_triple(np.random.default_rng(7))
    b = paper_triple(np.random.default_rng(7))
    c = paper_triple(np.random.default_rng(8))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    assert random.getstate() == py_state


def test_pythagorean_problem():
    """Burrau's problem: masses 3, 4, 5 at rest, each opposite a side of its own length, so
    E = -(3*4/5 + 3*5/4 + 4*5/3)."""
    pos, vel, mass = pythagorean()
    np.testing.assert_array_equal(mass, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(vel, 0.0)
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        assert np.linalg.norm(pos[j] - pos[k]) == pytest.approx(mass[i])
    assert integrators.energy(pos, vel, mass) == pytest.approx(-(12 / 5 + 15 / 4 + 20 / 3), rel=1e-14)


def test_figure_eight_returns_after_one_period():
    """The Chenciner-Montgomery choreography: E = -1.28714, zero angular momentum, and after one
    period (DOPRI5 at tol 1e-12) the bodies are back where they started."""
    pos, vel, mass = figure_eight()
    assert integrators.energy(pos, vel, mass) == pytest.approx(-1.287142, abs=1e-6)
    np.testing.assert_allclose(integrators.angular_momentum(pos, vel, mass), 0.0, atol=1e-7)
    result = integrators.evolve("dopri5", pos, vel, mass, FIGURE_EIGHT_PERIOD, 1e-12)
    np.testing.assert_allclose(result.pos, pos, atol=1e-5)
    np.testing.assert_allclose(result.vel, vel, atol=1e-5)


def test_resolve_sampler():
    """Names map to samplers, callables pass through, anything else is a ValueError listing names."""
    assert resolve_sampler("paper") is paper_triple
    assert resolve_sampler(figure_eight) is figure_eight
    for bad in ("nope", 3, None):
        with pytest.raises(ValueError, match="figure_eight"):
            resolve_sampler(bad)
