"""Physics tests of IAS15 (:mod:`integrators.ias15`): its order, hard problems against independent
solutions, agreement with REBOUND's IAS15, and its use in the environment.

The generic contract tests (landing, counts, batch = kernel, bad input) cover ``ias15`` and
``ias15_global`` through ``tests/test_integrators.py``.
"""

import gymnasium
import numpy as np
import pytest
from conftest import dop853
from numpy.polynomial import legendre

import integrators
from integrators import METHODS, Status, evolve, ias15
from integrators._driver import StepFunctions, make_driver, state_size
from integrators._forces import hot
from threebody_env.initial_conditions import (
    FIGURE_EIGHT_PERIOD,
    PAPER_INTERVAL,
    figure_eight,
    paper_triple,
    pythagorean,
)


def kepler(e: float):
    """Two unit masses on a relative orbit of semi-major axis 1 and eccentricity e, released at
    apocentre; centre-of-mass frame. Returns pos, vel, mass and the period."""
    total, a = 2.0, 1.0
    r = a * (1.0 + e)
    v = np.sqrt(total / a * (1.0 - e) / (1.0 + e))
    pos = np.array([[-r / 2, 0.0, 0.0], [r / 2, 0.0, 0.0]])
    vel = np.array([[0.0, -v / 2, 0.0], [0.0, v / 2, 0.0]])
    return pos, vel, np.ones(2), 2.0 * np.pi * np.sqrt(a**3 / total)


def test_nodes_are_gauss_radau():
    """The nodes are 0 and the roots of P7 + P8 on [0, 1]; the change of basis inverts."""
    assert ias15.NODES[0] == 0.0
    values = legendre.legval(2.0 * ias15.NODES[1:] - 1.0, [0] * 7 + [1, 1])
    assert np.abs(values).max() < 1e-13
    assert np.allclose(ias15._D @ ias15._C.T, np.eye(7), atol=1e-14)


# IAS15 at a fixed step (REBOUND's epsilon = 0): the step rule keeps the step, and param is dt.
@hot
def _keep_step(pos, mass, eps2, xs, vel, a0, at, b, h, epsilon):
    return h


_FIXED = ias15.ias15_functions(_keep_step)
_run_fixed = make_driver(StepFunctions(_FIXED.start, _FIXED.step, _FIXED.blocks, fixed_step=True), 0)


@pytest.mark.slow
def test_fixed_step_convergence_order_is_15():
    """One period of an e = 0.4 Kepler orbit in 9 to 21 steps: errors 1e-8 .. 1e-13, above
    round-off, fall as the 15th power of the step."""
    pos, vel, mass, period = kepler(0.4)
    log_h, log_err = [], []
    for n_steps in (9, 11, 14, 17, 21):
        p, v = pos.copy(), vel.copy()
        state = np.zeros(state_size(_FIXED.blocks, 2))
        _, steps, _, status = _run_fixed(p, v, mass, period, period / n_steps, 0.0, 1000, state)
        assert status == Status.OK and steps == n_steps
        log_h.append(np.log(period / n_steps))
        log_err.append(np.log(max(np.abs(p - pos).max(), np.abs(v - vel).max())))
    order = np.polyfit(log_h, log_err, 1)[0]
    assert 13.5 < order < 16.5, f"measured order {order:.2f}"


@pytest.mark.parametrize("method", ["ias15", "ias15_global"])
def test_error_falls_with_epsilon_on_a_kepler_orbit(method):
    pos, vel, mass, period = kepler(0.6)
    errors = []
    for epsilon in (1e-3, 1e-5, 1e-9):
        r = evolve(method, pos, vel, mass, period, epsilon)
        errors.append(max(np.abs(r.pos - pos).max(), np.abs(r.vel - vel).max()))
    assert errors[0] > errors[2] and errors[2] < 1e-13


@pytest.fixture(scope="module")
def pythagorean_t30():
    pos, vel, mass = pythagorean()
    return (pos, vel, mass), dop853(pos, vel, mass, 30.0)


@pytest.mark.parametrize("method", ["ias15", "ias15_global"])
def test_pythagorean_to_t30_matches_dop853(method, pythagorean_t30):
    """Through the close encounters of Burrau's problem to t = 30: DOP853 at 1e-13 is within
    ~1e-7 of the true state there, IAS15 within ~1e-9."""
    (pos, vel, mass), (ref_pos, ref_vel) = pythagorean_t30
    r = evolve(method, pos, vel, mass, 30.0, METHODS[method].default)
    assert r.status == Status.OK
    assert max(np.abs(r.pos - ref_pos).max(), np.abs(r.vel - ref_vel).max()) < 1e-6


def test_pythagorean_to_t30_matches_rebound():
    rebound = pytest.importorskip("rebound")
    pos, vel, mass = pythagorean()
    sim = rebound.Simulation()
    sim.integrator = "ias15"  # PRS23, epsilon 1e-9
    for m, p, v in zip(mass, pos, vel, strict=True):
        sim.add(m=m, x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
    sim.integrate(30.0)
    xyz, vxyz = np.zeros(9), np.zeros(9)
    sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
    r = evolve("ias15", pos, vel, mass, 30.0, 1e-9)
    assert np.abs(r.pos - xyz.reshape(3, 3)).max() < 1e-8
    assert np.abs(r.vel - vxyz.reshape(3, 3)).max() < 1e-8


def test_roundoff_over_300_kepler_orbits_is_no_worse_than_rebounds():
    """Round-off (epsilon 1e-9 leaves no truncation error to see) on a Kepler orbit of masses 1 and
    1e-3, e = 0.5, over 300 orbits from 8 phases, in one call: the median |dE/E0| within 2x of
    REBOUND's, with the same number of steps. ``benchmarks/bench_brouwer.py`` runs 1e4 orbits."""
    rebound = pytest.importorskip("rebound")
    ours, theirs = [], []
    for phase in np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False):
        sim = rebound.Simulation()
        sim.add(m=1.0)
        sim.add(m=1e-3, a=1.0, e=0.5, M=phase)
        sim.move_to_com()
        sim.integrator = "ias15"
        pos = np.array([[p.x, p.y, p.z] for p in sim.particles])
        vel = np.array([[p.vx, p.vy, p.vz] for p in sim.particles])
        mass = np.array([1.0, 1e-3])
        e0 = integrators.energy(pos, vel, mass)
        end = 300 * sim.particles[1].P
        sim.integrate(end)
        xyz, vxyz = np.zeros(6), np.zeros(6)
        sim.serialize_particle_data(xyz=xyz, vxvyvz=vxyz)
        theirs.append(abs(integrators.energy(xyz.reshape(2, 3), vxyz.reshape(2, 3), mass) - e0) / abs(e0))
        mine = integrators.Simulation(pos, vel, mass, "ias15", 1e-9)
        assert mine.integrate(end) == Status.OK
        assert abs(mine.n_steps - sim.steps_done) <= 1e-3 * sim.steps_done
        ours.append(abs(mine.energy() - e0) / abs(e0))
    assert np.median(ours) <= 2.0 * np.median(theirs), (ours, theirs)


@pytest.mark.parametrize("method", ["ias15", "ias15_global"])
def test_near_head_on_collision_conserves_energy(method):
    """A pair released 0.01 apart, at ~3 from the origin, with a small sideways speed: passages
    at pericentre 1e-4, where Hermite in absolute coordinates loses digits (eta = 1e-3: 3e-8).
    Energy stays within 1e-10, in a bounded number of steps."""
    pos = np.array([[3.0, 1.0, 0.0], [3.01, 1.0, 0.0], [-4.0, 2.0, 0.0]])
    vel = np.array([[0.0, -1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mass = np.array([1.0, 1.0, 0.5])
    e0 = integrators.energy(pos, vel, mass)
    r = evolve(method, pos, vel, mass, 0.01, METHODS[method].default, max_steps=200_000)
    assert r.status == Status.OK
    assert abs(integrators.energy(r.pos, r.vel, mass) - e0) < 1e-10 * abs(e0)


def test_figure_eight_does_not_stall():
    """PRS23 shrinks the step without bound where a body's pulls cancel (the figure-eight's
    Euler configurations, six per period); with the stall guard a period costs at most twice the
    steps of the GLOBAL criterion, which has no such point."""
    pos, vel, mass = figure_eight()
    prs23 = evolve("ias15", pos, vel, mass, FIGURE_EIGHT_PERIOD, 1e-9)
    global_ = evolve("ias15_global", pos, vel, mass, FIGURE_EIGHT_PERIOD, 1e-9)
    assert prs23.status == global_.status == Status.OK
    assert prs23.n_steps < 2 * global_.n_steps
    assert np.abs(prs23.pos - global_.pos).max() < 1e-10


def test_force_evaluations_count_every_iteration():
    """One evaluation at each step's start, seven per predictor-corrector iteration."""
    pos, vel, mass = pythagorean()
    r = evolve("ias15", pos, vel, mass, 2.0, 1e-9)
    assert (r.n_force_evals - r.n_steps) % 7 == 0
    assert r.n_force_evals >= 8 * r.n_steps


def test_agrees_with_rebound_on_paper_triples():
    """Four unseen paper initial conditions, 30 intervals each, one call per interval (as in
    the environment): states agree with REBOUND's IAS15 (PRS23, exact finish time) to 1e-10."""
    rebound = pytest.importorskip("rebound")
    for seed in (2_000_000, 2_000_001, 2_000_002, 2_000_003):
        pos, vel, mass = paper_triple(np.random.default_rng(seed))
        sim = rebound.Simulation()
        sim.integrator = "ias15"
        for m, p, v in zip(mass, pos, vel, strict=True):
            sim.add(m=m, x=p[0], y=p[1], z=p[2], vx=v[0], vy=v[1], vz=v[2])
        p, v = pos.copy(), vel.copy()
        for k in range(1, 31):
            sim.integrate(k * PAPER_INTERVAL)
            _, _, status = integrators.evolve_kernel(METHODS["ias15"].method_id, p, v, mass, PAPER_INTERVAL,
                                                     1e-9, 0.0, 100_000)
            assert status == Status.OK
        xyz = np.zeros(9)
        sim.serialize_particle_data(xyz=xyz)
        assert np.abs(p - xyz.reshape(3, 3)).max() < 1e-10, seed


def test_ias15_in_the_environment():
    env = gymnasium.make("threebody_env:ThreeBody-v0", integrator="ias15")
    env.reset(seed=2_000_000)
    assert env.action_space.n == 19  # 3 per decade of epsilon in [1e-10, 1e-4]
    for action in (0, 9, 18):
        _, _, terminated, truncated, info = env.step(action)
        assert not terminated and not truncated
        assert info["status"] == "ok" and info["n_force_evals"] > 0
        assert abs(info["energy_error"]) < 1e-10
    env.close()
