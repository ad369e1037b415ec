"""The double-double Taylor reference (integrators/reference.py) and the local error built on it.

Physics against independent solutions: a Kepler orbit solved in 50-digit mpmath from the exact float64
start state, energy and angular momentum evaluated in mpmath; and that the reference does not depend on
IAS15 (it judges IAS15).
"""

from __future__ import annotations

import ast
import pathlib

import mpmath as mp
import numpy as np
import pytest

import integrators
from integrators.reference import (
    episode_local_errors,
    local_error,
    phase_space_scales,
    reference_batch,
    reference_evolve,
    reference_evolve_dd,
    reference_kernel,
)
from threebody_env.initial_conditions import natural_interval, resolve_sampler

PAPER = resolve_sampler("paper", None, None)
INTERVAL = natural_interval(PAPER)


def _kepler_mp(r0, v0, mu, t):
    """Relative position and velocity after time t on the two-body orbit from (r0, v0), in mpmath
    (Danby's f and g functions with Kepler's equation in eccentric-anomaly differences)."""
    rn = mp.sqrt(sum(x * x for x in r0))
    a = 1 / (2 / rn - sum(x * x for x in v0) / mu)
    n = mp.sqrt(mu / a**3)
    sigma = sum(x * y for x, y in zip(r0, v0, strict=True)) / mp.sqrt(mu * a)
    de = mp.findroot(lambda d: d + sigma * (1 - mp.cos(d)) - (1 - rn / a) * mp.sin(d) - n * t, n * t)
    r = a + (rn - a) * mp.cos(de) + sigma * a * mp.sin(de)
    f, g = 1 - a / rn * (1 - mp.cos(de)), t + (mp.sin(de) - de) / n
    fd, gd = -mp.sqrt(mu * a) / (r * rn) * mp.sin(de), 1 - a / r * (1 - mp.cos(de))
    return ([f * x + g * y for x, y in zip(r0, v0, strict=True)],
            [fd * x + gd * y for x, y in zip(r0, v0, strict=True)])


def _dd_mp(hi, lo):
    """The exact value hi + lo of a double-double array, as nested lists of mpf."""
    return [[mp.mpf(float(h)) + mp.mpf(float(lo[i][c])) for c, h in enumerate(row)] for i, row in enumerate(hi)]


@pytest.mark.parametrize(("eccentricity", "orbits", "tolerance"),
                         [(0.0, 3.3, 1e-26), (0.5, 3.3, 1e-26), (0.9, 3.3, 1e-26), (1 - 1e-10, 0.7, 1e-20)])
def test_kepler_orbit_agrees_with_50_digit_solution(eccentricity, orbits, tolerance):
    """Three and a third eccentric orbits (pericentre passages included) to ~1e-27 of the semi-major axis:
    eleven digits below float64 round-off, so the reference can judge methods that reach 1e-16. A nearly
    radial orbit (pericentre 1e-10, passage time ~1e-15) starting at apocentre goes through its pericentre
    without overflow; the passage amplifies round-off, and the end state still agrees to 1e-20."""
    mp.mp.dps = 50
    mass = np.array([0.6, 0.4])
    apocentre = orbits < 1.0
    r0 = 1.0 + eccentricity if apocentre else 1.0 - eccentricity
    v0 = np.sqrt((1.0 - eccentricity) / r0) if apocentre else np.sqrt((1.0 + eccentricity) / r0)
    pos = np.array([[-0.4 * r0, 0.0, 0.0], [0.6 * r0, 0.0, 0.0]])
    tilt = 0.0 if apocentre else 0.01
    vel = np.array([[0.0, -0.4 * v0, tilt], [0.0, 0.6 * v0, -1.5 * tilt]])  # total momentum 0, tilted orbit
    duration = 2 * np.pi * orbits
    ph, pl, vh, vl = reference_evolve_dd(pos, vel, mass, duration)
    x, v = _dd_mp(ph, pl), _dd_mp(vh, vl)
    exact = [[mp.mpf(float(a)) for a in row] for row in (*pos, *vel)]
    r0 = [exact[1][c] - exact[0][c] for c in range(3)]
    v0 = [exact[3][c] - exact[2][c] for c in range(3)]
    rel_x, rel_v = _kepler_mp(r0, v0, mp.mpf(1), mp.mpf(duration))
    m0, m1 = mp.mpf(0.6), mp.mpf(0.4)
    for c in range(3):
        com = m0 * exact[0][c] + m1 * exact[1][c]
        vcom = m0 * exact[2][c] + m1 * exact[3][c]
        assert abs(x[1][c] - (com + vcom * duration + m0 * rel_x[c])) < tolerance
        assert abs(x[0][c] - (com + vcom * duration - m1 * rel_x[c])) < tolerance
        assert abs(v[1][c] - (vcom + m0 * rel_v[c])) < tolerance
        assert abs(v[0][c] - (vcom - m1 * rel_v[c])) < tolerance


def _invariants_mp(x, v, mass):
    """Energy and angular momentum (z) of a double-double state, in mpmath."""
    m = [mp.mpf(float(a)) for a in mass]
    n = len(m)
    kinetic = sum(m[i] * sum(c * c for c in v[i]) for i in range(n)) / 2
    potential = -sum(m[i] * m[j] / mp.sqrt(sum((x[i][c] - x[j][c]) ** 2 for c in range(3)))
                     for i in range(n) for j in range(i + 1, n))
    lz = sum(m[i] * (x[i][0] * v[i][1] - x[i][1] * v[i][0]) for i in range(n))
    return kinetic + potential, lz


@pytest.mark.parametrize("seed", [2_000_002, 2_000_003])
def test_conserves_energy_and_angular_momentum_far_below_float64(seed):
    """Thirty paper intervals (test seeds with close approaches): the invariants of the double-double
    state, evaluated in mpmath, drift by less than 1e-24 relative (float64 methods sit at >= 1e-16)."""
    mp.mp.dps = 40
    pos, vel, mass = PAPER(np.random.default_rng(seed))
    e0, l0 = _invariants_mp(_dd_mp(pos, 0 * pos), _dd_mp(vel, 0 * vel), mass)
    ph, pl, vh, vl = reference_evolve_dd(pos, vel, mass, 30 * INTERVAL)
    e1, l1 = _invariants_mp(_dd_mp(ph, pl), _dd_mp(vh, vl), mass)
    assert abs((e1 - e0) / e0) < 1e-24
    assert abs((l1 - l0) / l0) < 1e-24


def test_reference_does_not_import_ias15():
    """The judge must be independent of the methods it judges: reference.py imports nothing of the package
    but ``_forces`` (compile options and status codes), and ``_forces`` imports no integrator."""
    package = pathlib.Path(integrators.__file__).parent
    for name, allowed in (("reference.py", {"_forces"}), ("_forces.py", set())):
        tree = ast.parse((package / name).read_text())
        local = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0}
        assert local <= allowed, (name, local)
        absolute = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        absolute |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
        assert absolute <= {"__future__", "numpy", "numba"}, (name, absolute)


def test_batch_and_python_api_agree_with_the_kernel_bitwise():
    states = [PAPER(np.random.default_rng(seed)) for seed in (2_000_000, 2_000_001, 2_000_004)]
    pos = np.array([s[0] for s in states])
    vel = np.array([s[1] for s in states])
    mass = np.array([s[2] for s in states])
    ph, pl, vh, vl = pos.copy(), np.zeros_like(pos), vel.copy(), np.zeros_like(vel)
    steps, status = reference_batch(ph, pl, vh, vl, mass, 2 * INTERVAL, 0.0, 10**6)
    assert (status == integrators.Status.OK).all() and (steps >= 1).all()
    for b in range(3):
        h = [pos[b].copy(), np.zeros((3, 3)), vel[b].copy(), np.zeros((3, 3))]
        assert reference_kernel(*h, mass[b], 2 * INTERVAL, 0.0, 10**6) == (steps[b], 0)
        for got, want in zip((ph[b], pl[b], vh[b], vl[b]), h, strict=True):
            np.testing.assert_array_equal(got, want)
        x, v = reference_evolve(pos[b], vel[b], mass[b], 2 * INTERVAL)
        np.testing.assert_array_equal(x, ph[b] + pl[b])
        np.testing.assert_array_equal(v, vh[b] + vl[b])


def test_softening_enters_as_plummer_potential():
    """With softening, two bodies released at rest oscillate through each other instead of colliding:
    the softened energy (an mpmath-free float64 check) is kept to round-off."""
    pos = np.array([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0]])
    vel = np.zeros((2, 3))
    mass = np.array([0.5, 0.5])
    x, v = reference_evolve(pos, vel, mass, 3.0, softening=0.1)
    e0 = integrators.energy(pos, vel, mass, softening=0.1)
    assert abs(integrators.energy(x, v, mass, softening=0.1) / e0 - 1.0) < 1e-14
    assert x[0, 0] > 0.0  # it went through the centre


def test_local_error_of_the_reference_itself_is_round_off_and_of_a_method_is_positive():
    pos, vel, mass = PAPER(np.random.default_rng(2_000_003))
    r, v = phase_space_scales(pos, mass)
    assert r == pytest.approx(np.mean([np.linalg.norm(pos[i] - pos[j]) for i, j in ((0, 1), (0, 2), (1, 2))]))
    assert v == pytest.approx(np.sqrt(mass.sum() / r))
    x_ref, v_ref = reference_evolve(pos, vel, mass, INTERVAL)
    coarse = integrators.evolve("hermite", pos, vel, mass, INTERVAL, 0.1)
    fine = integrators.evolve("hermite", pos, vel, mass, INTERVAL, 1e-3)
    assert local_error(x_ref, v_ref, x_ref, v_ref, r, v) == 0.0
    errors = [local_error(s.pos, s.vel, x_ref, v_ref, r, v) for s in (coarse, fine)]
    assert errors[0] > 100 * errors[1] > 0.0  # the fourth-order method converges towards the reference


def test_episode_local_errors_matches_interval_by_interval():
    """The compiled, parallel per-episode function gives the Python API's distances, NaN for a lost interval."""
    pos, vel, mass = PAPER(np.random.default_rng(2_000_002))
    starts, ends = [], []
    for _ in range(6):
        result = integrators.evolve("ias15", pos, vel, mass, INTERVAL, 1e-6)
        starts.append((pos, vel))
        ends.append((result.pos, result.vel))
        pos, vel = result.pos, result.vel
    start_pos, start_vel = (np.array([s[k] for s in starts]) for k in (0, 1))
    end_pos, end_vel = (np.array([e[k] for e in ends]) for k in (0, 1))
    end_pos[-1, 0, 0] = np.nan
    got = episode_local_errors(start_pos, start_vel, end_pos, end_vel, mass, INTERVAL)
    r, v = phase_space_scales(start_pos[0], mass)
    for t in range(5):
        ph, pl, vh, vl = reference_evolve_dd(start_pos[t], start_vel[t], mass, INTERVAL)
        want = local_error(end_pos[t], end_vel[t], ph, vh, r, v, pos_ref_lo=pl, vel_ref_lo=vl)
        assert got[t] == pytest.approx(want, rel=1e-12)
        assert 0.0 < got[t] < 1e-8
    assert np.isnan(got[-1])


@pytest.mark.parametrize("bad", [
    dict(duration=-1.0), dict(duration=np.nan), dict(softening=-0.1),
    dict(mass=np.array([1.0, -1.0, 1.0])), dict(pos=np.zeros((3, 2))),
])
def test_bad_input_raises_one_line_value_error(bad):
    pos, vel, mass = PAPER(np.random.default_rng(2_000_000))
    kwargs = dict(pos=pos, vel=vel, mass=mass, duration=1.0, softening=0.0) | bad
    with pytest.raises(ValueError):
        reference_evolve(kwargs.pop("pos"), kwargs.pop("vel"), kwargs.pop("mass"), kwargs.pop("duration"), **kwargs)


def test_collision_is_reported_not_hung():
    """Two bodies released at rest fall onto each other in finite time: the reference stops with an error."""
    pos = np.array([[0.0, 0.0, 0.0], [1e-3, 0.0, 0.0]])
    with pytest.raises(ValueError, match="reference integration"):
        reference_evolve_dd(pos, np.zeros((2, 3)), np.ones(2), 1.0, max_steps=10_000)
