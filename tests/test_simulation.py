"""`integrators.Simulation`: integrate to output times with the method's state carried between calls."""

import pickle

import numpy as np
import pytest

import integrators
from integrators import METHODS, Simulation, Status, evolve
from threebody_env.initial_conditions import PAPER_INTERVAL, paper_triple

PAPER_SEED = 2_000_000  # the first test initial condition (agents.seeds.TEST_SEEDS)


def hierarchical_triple():
    """An eccentric inner binary (e = 0.75) and a distant third body, centre-of-mass frame."""
    mass = np.array([1.0, 0.8, 0.5])
    pos = np.array([[-0.8 / 1.8 * 1.2, 0, 0], [1.0 / 1.8 * 1.2, 0, 0], [0.3, 4.0, 0.4]])
    vc = 0.5 * np.sqrt(1.8 / 1.2)
    vel = np.array([[0, -0.8 / 1.8 * vc, 0], [0, 1.0 / 1.8 * vc, 0], [-np.sqrt(2.3 / 4.0), 0, 0.05]])
    return pos - mass @ pos / mass.sum(), vel - mass @ vel / mass.sum(), mass


def relative_energy_error(sim: Simulation, e0: float) -> float:
    return abs(sim.energy() - e0) / abs(e0)


@pytest.mark.parametrize("method", list(METHODS))
def test_integrate_lands_on_each_time_and_counts_add_up(method):
    pos, vel, mass = hierarchical_triple()
    info = METHODS[method]
    sim = Simulation(pos, vel, mass, method, info.default if info.step_control == "variable" else 0.01)
    steps = evals = 0
    for t in (0.3, 0.7, 0.7, 1.0884):
        before = (sim.n_steps, sim.n_force_evals)
        assert sim.integrate(t) == Status.OK and sim.status == Status.OK
        assert sim.t == t
        steps += sim.n_steps - before[0]
        evals += sim.n_force_evals - before[1]
        if t == 0.7 and before[0] and sim.n_steps == before[0]:
            assert sim.n_force_evals == before[1]  # integrating to the current time does nothing
    assert (sim.n_steps, sim.n_force_evals) == (steps, evals) and steps > 0
    assert np.array_equal(sim.mass, mass)


@pytest.mark.parametrize("method", list(METHODS))
def test_first_call_is_evolve(method):
    """The first call starts afresh, as ``evolve`` does: bitwise the same state and counts."""
    pos, vel, mass = hierarchical_triple()
    param = METHODS[method].default
    sim = Simulation(pos, vel, mass, method, param, softening=0.01)
    sim.integrate(1.0884)
    r = evolve(method, pos, vel, mass, 1.0884, param, softening=0.01)
    assert (sim.n_steps, sim.n_force_evals, sim.status) == (r.n_steps, r.n_force_evals, r.status)
    assert np.array_equal(sim.pos, r.pos) and np.array_equal(sim.vel, r.vel)


@pytest.mark.parametrize("method, param, system, interval", [
    ("hermite", 1e-3, "paper", PAPER_INTERVAL),
    ("dopri5", 1e-10, "hierarchical", 1.0),
    ("ias15", 1e-9, "hierarchical", 1.0),
])
def test_warm_start_costs_little_more_than_one_call(method, param, system, interval):
    """300 calls of ``integrate``, one per output interval, spend at most 1.15x the force evaluations
    of one call to the same time, at an energy error at most 3x that call's, and less than restarting
    every interval. (Where one step spans more than an output interval, as IAS15's do on quiet paper
    triples, and dopri5's, landing on every output costs at least one step each: docs/integrators.md.)"""
    pos, vel, mass = paper_triple(np.random.default_rng(PAPER_SEED)) if system == "paper" else hierarchical_triple()
    e0 = integrators.energy(pos, vel, mass)
    stepwise, once = Simulation(pos, vel, mass, method, param), Simulation(pos, vel, mass, method, param)
    for k in range(1, 301):
        assert stepwise.integrate(k * interval) == Status.OK
    assert once.integrate(300 * interval) == Status.OK
    assert stepwise.t == once.t
    assert stepwise.n_force_evals <= 1.15 * once.n_force_evals
    assert relative_energy_error(stepwise, e0) <= 3.0 * relative_energy_error(once, e0)
    p, v = pos.copy(), vel.copy()
    restarted = 0
    for _ in range(300):
        r = evolve(method, p, v, mass, interval, param)
        p, v, restarted = r.pos, r.vel, restarted + r.n_force_evals
    assert stepwise.n_force_evals < restarted


def test_param_change_keeps_the_state():
    """A new parameter takes effect at the next call without a restart: Hermite's first step of the
    call reuses the carried acceleration and jerk (one evaluation per step, none to start)."""
    pos, vel, mass = hierarchical_triple()
    sim = Simulation(pos, vel, mass, "hermite", 0.03)
    sim.integrate(1.0)
    assert sim.n_force_evals == sim.n_steps + 1  # the start's evaluation
    steps, evals = sim.n_steps, sim.n_force_evals
    sim.param = 0.003
    sim.integrate(2.0)
    assert sim.n_force_evals - evals == sim.n_steps - steps
    assert sim.n_steps - steps > 5 * steps  # the smaller eta took effect
    fresh = evolve("hermite", *(np.array(a) for a in (sim.pos, sim.vel)), mass, 1.0, 0.003)
    assert fresh.n_force_evals == fresh.n_steps + 1


def test_switching_method_starts_the_new_one_afresh():
    pos, vel, mass = hierarchical_triple()
    sim = Simulation(pos, vel, mass, "hermite", 0.01)
    sim.integrate(1.0)
    snapshot = (sim.pos, sim.vel)
    sim.set_method("ias15")
    assert sim.param == METHODS["ias15"].default and sim.method == "ias15"
    evals = sim.n_force_evals
    sim.integrate(1.5)
    fresh = Simulation(*snapshot, mass, "ias15")
    fresh.integrate(0.5)
    assert np.array_equal(sim.pos, fresh.pos) and np.array_equal(sim.vel, fresh.vel)
    assert sim.n_force_evals - evals == fresh.n_force_evals


@pytest.mark.parametrize("method", ["ias15", "hermite", "dopri5", "yoshida4"])
def test_copy_and_pickle_continue_bit_for_bit(method):
    pos, vel, mass = paper_triple(np.random.default_rng(PAPER_SEED + 1))
    sim = Simulation(pos, vel, mass, method, METHODS[method].default)
    for k in range(1, 6):
        sim.integrate(k * PAPER_INTERVAL)
    copies = [sim.copy(), pickle.loads(pickle.dumps(sim))]
    for other in [sim, *copies]:
        other.param = 0.5 * METHODS[method].default
        for k in range(6, 12):
            other.integrate(k * PAPER_INTERVAL)
    for other in copies:
        assert np.array_equal(other.pos, sim.pos) and np.array_equal(other.vel, sim.vel)
        assert (other.t, other.n_steps, other.n_force_evals) == (sim.t, sim.n_steps, sim.n_force_evals)
    assert not np.shares_memory(copies[0]._state, sim._state)


def test_max_steps_stops_and_the_next_call_continues():
    pos, vel, mass = hierarchical_triple()
    sim = Simulation(pos, vel, mass, "hermite", 0.003, max_steps=50)
    assert sim.integrate(5.0) == Status.MAX_STEPS
    assert 0.0 < sim.t < 5.0 and sim.n_steps == 50
    while sim.t < 5.0:
        assert sim.integrate(5.0) in (Status.OK, Status.MAX_STEPS)
    assert sim.t == 5.0 and sim.status == Status.OK


def test_bad_input_gets_the_errors_of_evolve():
    pos, vel, mass = hierarchical_triple()
    for args, kwargs in [
        ((pos[:, :2], vel, mass), {}),
        ((pos, vel, -mass), {}),
        ((np.where(np.eye(3, dtype=bool), np.nan, pos), vel, mass), {}),
        ((np.zeros((3, 3)), vel, mass), {}),
        ((pos, vel, mass, "leapfrog", 0.0), {}),
        ((pos, vel, mass, "leapfrog", np.inf), {}),
        ((pos, vel, mass, "no-such-method"), {}),
        ((pos, vel, mass), {"softening": -1.0}),
        ((pos, vel, mass), {"max_steps": 0}),
    ]:
        with pytest.raises(ValueError) as from_simulation:
            Simulation(*args, **kwargs)
        method, param = (list(args[3:]) + ["ias15", 1e-9])[:2] if len(args) > 3 else ("ias15", 1e-9)
        with pytest.raises(ValueError) as from_evolve:
            evolve(method, *args[:3], 1.0, param, **kwargs)
        assert str(from_simulation.value) == str(from_evolve.value)
    sim = Simulation(pos, vel, mass)
    sim.integrate(1.0)
    for t in (0.5, np.nan, np.inf):
        with pytest.raises(ValueError, match="must be finite and >= the current time 1.0"):
            sim.integrate(t)
    with pytest.raises(ValueError, match="epsilon = -1.0 must be finite and > 0"):
        sim.param = -1.0
    assert sim.param == 1e-9 and sim.t == 1.0
