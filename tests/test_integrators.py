"""Physics and contract tests of the ``integrators`` package.

The oracle is scipy's DOP853 at rtol = atol = 1e-13. Initial conditions are defined here:
the figure-eight (Chenciner & Montgomery 2000), the Pythagorean problem (Burrau 1913) and a
smooth hierarchical triple (inner binary e = 0.75 heading to pericentre, third body at r ~ 4).
"""

import numpy as np
import pytest
from conftest import dop853

import integrators
from integrators import METHODS, Status, evolve

PERIOD_EIGHT = 6.32591398
ORDER_METHODS = list(METHODS)


def figure_eight():
    x1 = np.array([0.97000436, -0.24308753, 0.0])
    v2 = np.array([-0.93240737, -0.86473146, 0.0])
    return np.array([x1, np.zeros(3), -x1]), np.array([-v2 / 2, v2, -v2 / 2]), np.ones(3)


def pythagorean():
    pos = np.array([[1.0, 3.0, 0.0], [-2.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
    return pos, np.zeros((3, 3)), np.array([3.0, 4.0, 5.0])


def hierarchical_triple():
    """Inner binary (1, 0.8) released at apocentre 1.2 with half the circular speed (e = 0.75),
    third body 0.5 at distance ~4, slightly inclined; centre-of-mass frame."""
    mass = np.array([1.0, 0.8, 0.5])
    mu, r0 = 1.8, 1.2
    vc = 0.5 * np.sqrt(mu / r0)
    pos = np.array([[-0.8 / mu * r0, 0, 0], [1.0 / mu * r0, 0, 0], [0.3, 4.0, 0.4]])
    vel = np.array([[0, -0.8 / mu * vc, 0], [0, 1.0 / mu * vc, 0], [-np.sqrt(2.3 / 4.0), 0, 0.05]])
    pos -= mass @ pos / mass.sum()
    vel -= mass @ vel / mass.sum()
    return pos, vel, mass


# ---------------------------------------------------------------------------------------------
# Convergence order
# ---------------------------------------------------------------------------------------------

# Parameter grids in the asymptotic regime of the hierarchical triple over 1.2 time units,
# with errors well above the oracle's (~1e-12).
ORDER_GRIDS = {
    "hermite": np.logspace(-1.5, -2.5, 5),
    "hermite_aarseth": np.logspace(-3, -5, 5),
    "adaptive_leapfrog": np.logspace(-2, -3, 5),
    "dopri5": np.logspace(-6, -10, 9),  # variable step counts are small: fit over more points
    "leapfrog": np.logspace(-2, -3, 5),
    "yoshida4": np.logspace(-2, -3, 5),
    "rk4": np.logspace(-2, -3, 5),
}


@pytest.fixture(scope="module")
def triple_reference():
    pos, vel, mass = hierarchical_triple()
    return (pos, vel, mass), dop853(pos, vel, mass, 1.2)


@pytest.mark.parametrize("method", list(ORDER_GRIDS))  # IAS15's order: tests/test_ias15.py
def test_convergence_order(method, triple_reference):
    (pos, vel, mass), (ref_pos, ref_vel) = triple_reference
    duration = 1.2
    log_h, log_err = [], []
    for param in ORDER_GRIDS[method]:
        r = evolve(method, pos, vel, mass, duration, param)
        assert r.status == Status.OK
        err = max(np.abs(r.pos - ref_pos).max(), np.abs(r.vel - ref_vel).max())
        log_h.append(np.log(duration / r.n_steps))
        log_err.append(np.log(err))
    order = np.polyfit(log_h, log_err, 1)[0]
    assert abs(order - METHODS[method].order) < 0.3, f"{method}: measured order {order:.2f}"


# ---------------------------------------------------------------------------------------------
# Conservation laws, reversibility, classic orbits
# ---------------------------------------------------------------------------------------------

# A small parameter per method; the figure-eight then closes to < 1e-6 after one period.
SMALL_PARAM = {
    "hermite": 1e-3,
    "hermite_aarseth": 1e-6,
    "adaptive_leapfrog": 1e-4,
    "dopri5": 1e-11,
    "leapfrog": 2e-4,
    "yoshida4": 2e-3,
    "rk4": 2e-3,
    "ias15": 1e-9,
    "ias15_global": 1e-9,
}


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_figure_eight_returns_after_one_period(method):
    pos, vel, mass = figure_eight()
    r = evolve(method, pos, vel, mass, PERIOD_EIGHT, SMALL_PARAM[method])
    assert r.status == Status.OK
    assert np.abs(r.pos - pos).max() < 1e-6
    assert np.abs(r.vel - vel).max() < 1e-6


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_linear_momentum_conserved(method):
    pos, vel, mass = hierarchical_triple()
    vel = vel + 0.1  # a moving centre of mass: momentum is conserved, not merely zero
    p0 = integrators.momentum(pos, vel, mass)
    r = evolve(method, pos, vel, mass, 3.0, METHODS[method].default)
    assert np.abs(integrators.momentum(r.pos, r.vel, mass) - p0).max() < 1e-12


@pytest.mark.parametrize("method", ["leapfrog", "yoshida4", "adaptive_leapfrog"])
def test_angular_momentum_conserved_by_kick_drift_methods(method):
    pos, vel, mass = hierarchical_triple()
    l0 = integrators.angular_momentum(pos, vel, mass)
    r = evolve(method, pos, vel, mass, 3.0, METHODS[method].default)
    assert np.abs(integrators.angular_momentum(r.pos, r.vel, mass) - l0).max() < 1e-12


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_energy_and_angular_momentum_errors_shrink_with_parameter(method):
    pos, vel, mass = figure_eight()
    e0 = integrators.energy(pos, vel, mass)
    l0 = integrators.angular_momentum(pos, vel, mass)
    lo, hi = METHODS[method].param_range
    coarse = np.sqrt(lo * hi) if method != "dopri5" else 1e-7
    errors = []
    for param in (coarse, coarse / 8):
        r = evolve(method, pos, vel, mass, PERIOD_EIGHT, param)
        assert r.status == Status.OK
        de = abs(integrators.energy(r.pos, r.vel, mass) - e0) / abs(e0)
        dl = np.abs(integrators.angular_momentum(r.pos, r.vel, mass) - l0).max()
        errors.append((de, dl))
    (de_coarse, dl_coarse), (de_fine, dl_fine) = errors
    assert de_coarse < 1e-2
    assert de_fine < de_coarse / 3 or de_fine < 1e-13
    assert dl_fine <= dl_coarse or dl_fine < 1e-13


def test_softened_energy_conserved():
    """Accelerations derive from the Plummer potential: a close pass conserves softened energy."""
    pos, vel, mass = pythagorean()
    eps = 0.1
    e0 = integrators.energy(pos, vel, mass, softening=eps)
    r = evolve("yoshida4", pos, vel, mass, 5.0, 1e-4, softening=eps)
    assert abs(integrators.energy(r.pos, r.vel, mass, softening=eps) - e0) < 1e-8 * abs(e0)


@pytest.mark.parametrize("method", ["leapfrog", "yoshida4"])
def test_time_reversible(method):
    pos, vel, mass = hierarchical_triple()
    dt = 1e-2
    forward = evolve(method, pos, vel, mass, 200 * dt, dt)
    back = evolve(method, forward.pos, -forward.vel, mass, 200 * dt, dt)
    assert np.abs(back.pos - pos).max() < 1e-10
    assert np.abs(-back.vel - vel).max() < 1e-10


def test_pythagorean_hermite_matches_dop853():
    pos, vel, mass = pythagorean()
    ref_pos, _ = dop853(pos, vel, mass, 10.0)
    r = evolve("hermite", pos, vel, mass, 10.0, 3e-3)
    assert r.status == Status.OK
    assert np.abs(r.pos - ref_pos).max() < 1e-6


def test_hermite_close_pair_far_from_origin_keeps_its_digits():
    """A pair 0.01 apart at ~3 from the origin, passing at pericentre 1e-4: ~1e5 steps each
    rounding positions of order 3. With compensated sums the energy error stays at 1e-10 and a
    smaller eta still helps (with plain sums: 3e-8 at eta = 1e-3, 5e-8 at 1e-4)."""
    pos = np.array([[3.0, 1.0, 0.0], [3.01, 1.0, 0.0], [-4.0, 2.0, 0.0]])
    vel = np.array([[0.0, -1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mass = np.array([1.0, 1.0, 0.5])
    e0 = integrators.energy(pos, vel, mass)
    errors = []
    for eta in (1e-3, 1e-4):
        r = evolve("hermite", pos, vel, mass, 0.01, eta, max_steps=2_000_000)
        assert r.status == Status.OK
        errors.append(abs(integrators.energy(r.pos, r.vel, mass) - e0) / abs(e0))
    assert errors[0] < 1e-10 and errors[1] < errors[0]


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_zero_acceleration_and_zero_jerk_starts(method):
    """The figure-eight's middle body has a = 0 at t = 0; the Pythagorean bodies start at rest
    (zero jerk). Both must take finite, positive steps."""
    for pos, vel, mass in (figure_eight(), pythagorean()):
        r = evolve(method, pos, vel, mass, 0.5, METHODS[method].default)
        assert r.status == Status.OK and r.n_steps >= 1


def test_min_timescale():
    pos, vel, mass = pythagorean()
    # At rest: only free-fall times; the closest pair is bodies 1, 2 (r = 3, m = 9).
    assert integrators.min_timescale(pos, vel, mass) == pytest.approx(np.sqrt(27 / 9))
    vel = np.zeros((3, 3))
    vel[2, 0] = 100.0
    assert integrators.min_timescale(pos, vel, mass) == pytest.approx(3 / 100)


# ---------------------------------------------------------------------------------------------
# Contract: landing on duration, counts, inputs, kernels, batch
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ORDER_METHODS)
@pytest.mark.parametrize("duration", [1.0884, 0.3, 1e-3, 2.0 * 0.1])
def test_lands_exactly_on_duration(method, duration):
    pos, vel, mass = hierarchical_triple()
    param = METHODS[method].default if METHODS[method].step_control == "variable" else 0.1
    r = evolve(method, pos, vel, mass, duration, param)
    assert r.status == Status.OK
    assert r.time == duration
    assert r.n_steps >= 1
    if METHODS[method].step_control == "fixed":  # last step merged or shortened, never a sliver
        assert r.n_steps == max(1, int(np.ceil(duration / param - 1e-9)))


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_force_evaluation_counts(method):
    pos, vel, mass = hierarchical_triple()
    r = evolve(method, pos, vel, mass, 1.0, METHODS[method].default)
    per_step = {"yoshida4": 3, "rk4": 4}.get(method, 1)
    if method == "rk4":
        assert r.n_force_evals == 4 * r.n_steps
    elif method.startswith("ias15"):  # one per step start, 7 per predictor-corrector iteration
        assert (r.n_force_evals - r.n_steps) % 7 == 0 and r.n_force_evals >= 8 * r.n_steps
    elif method == "dopri5":  # 1 initial + 6 per attempt, rejected attempts included
        assert (r.n_force_evals - 1) % 6 == 0 and r.n_force_evals >= 1 + 6 * r.n_steps
    else:
        assert r.n_force_evals == 1 + per_step * r.n_steps
    again = evolve(method, pos, vel, mass, 1.0, METHODS[method].default)
    assert (again.n_steps, again.n_force_evals) == (r.n_steps, r.n_force_evals)
    assert np.array_equal(again.pos, r.pos)


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_zero_duration_takes_no_step(method):
    pos, vel, mass = hierarchical_triple()
    r = evolve(method, pos, vel, mass, 0.0, METHODS[method].default)
    assert (r.n_steps, r.n_force_evals, r.status, r.time) == (0, 0, Status.OK, 0.0)
    assert np.array_equal(r.pos, pos) and np.array_equal(r.vel, vel)


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_max_steps_stops_short(method):
    pos, vel, mass = hierarchical_triple()
    r = evolve(method, pos, vel, mass, 1.0, METHODS[method].param_range[0], max_steps=5)
    assert r.status == Status.MAX_STEPS
    assert r.n_steps <= 5 and 0.0 < r.time < 1.0


def test_inputs_untouched_and_outputs_new():
    pos, vel, mass = hierarchical_triple()
    pos32 = pos.astype(np.float32)  # converted, not modified
    copies = pos.copy(), vel.copy(), mass.copy(), pos32.copy()
    r = evolve("hermite", pos32, vel, mass, 1.0, 0.03)
    assert r.pos.dtype == np.float64 and r.pos.flags.c_contiguous
    for a, b in zip((pos, vel, mass, pos32), copies, strict=True):
        assert np.array_equal(a, b)
    assert not np.shares_memory(r.pos, pos32) and not np.shares_memory(r.vel, vel)


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_kernel_matches_evolve(method):
    pos, vel, mass = hierarchical_triple()
    param = METHODS[method].default
    r = evolve(method, pos, vel, mass, 1.0884, param, softening=0.01, max_steps=10_000)
    p, v = pos.copy(), vel.copy()
    mid = METHODS[method].method_id
    out = integrators.evolve_kernel(mid, p, v, mass, 1.0884, param, 0.01, 10_000)
    assert tuple(out) == (r.n_steps, r.n_force_evals, r.status)
    assert np.array_equal(p, r.pos) and np.array_equal(v, r.vel)


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_batch_matches_kernel_bitwise(method):
    rng = np.random.default_rng(0)
    b_count = 6
    pos = rng.uniform(-5, 5, (b_count, 3, 3))
    vel = rng.uniform(-0.3, 0.3, (b_count, 3, 3))
    mass = rng.uniform(0.2, 1.0, (b_count, 3))
    lo, hi = METHODS[method].param_range
    params = np.geomspace(np.sqrt(lo * hi), hi, b_count)
    active = np.array([True, False, True, True, False, True])
    bp, bv = pos.copy(), vel.copy()
    mid = METHODS[method].method_id
    steps, evals, status = integrators.evolve_batch(mid, bp, bv, mass, 1.0884, params, 0.0, 50_000,
                                                    active)
    assert steps.dtype == np.int64 and evals.dtype == np.int64 and status.dtype == np.int64
    for b in range(b_count):
        if not active[b]:
            assert (steps[b], evals[b], status[b]) == (0, 0, 0)
            assert np.array_equal(bp[b], pos[b]) and np.array_equal(bv[b], vel[b])
            continue
        p, v = pos[b].copy(), vel[b].copy()
        out = integrators.evolve_kernel(mid, p, v, mass[b], 1.0884, params[b], 0.0, 50_000)
        assert tuple(out) == (steps[b], evals[b], status[b])
        assert np.array_equal(p, bp[b]) and np.array_equal(v, bv[b])
    energies = integrators.energy_batch(pos, vel, mass, 0.0)
    taus = integrators.min_timescale_batch(pos, vel, mass)
    for b in range(b_count):
        assert energies[b] == integrators.energy(pos[b], vel[b], mass[b])
        assert taus[b] == integrators.min_timescale(pos[b], vel[b], mass[b])


def test_methods_table():
    assert list(METHODS) == ["hermite", "hermite_aarseth", "adaptive_leapfrog", "dopri5",
                             "leapfrog", "yoshida4", "rk4", "ias15", "ias15_global"]
    # Force evaluations per step tell the schemes apart: id i must run row i's scheme, not a neighbour's.
    evals_per_steps = {"hermite": lambda s: s + 1, "hermite_aarseth": lambda s: s + 1,
                       "adaptive_leapfrog": lambda s: s + 1, "dopri5": lambda s: 6 * s + 1, "leapfrog": lambda s: s + 1,
                       "yoshida4": lambda s: 3 * s + 1, "rk4": lambda s: 4 * s, "ias15": None, "ias15_global": None}
    pythagorean = (np.array([[1.0, 3.0, 0.0], [-2.0, -1.0, 0.0], [1.0, -1.0, 0.0]]), np.zeros((3, 3)),
                   np.arange(3.0, 6.0))
    for i, info in enumerate(METHODS.values()):
        pos, vel, mass = (a.copy() for a in pythagorean)
        steps, evals, _ = integrators.evolve_kernel(info.method_id, pos, vel, mass, 0.3, info.default, 0.0, 100_000)
        expected = evals_per_steps[info.name]
        assert evals == expected(steps) if expected else evals > 7 * steps, (i, info.name, steps, evals)
        assert info.param_range[0] < info.default < info.param_range[1]
        assert (info.param == "dt") == (info.step_control == "fixed")
    assert [info.param for info in METHODS.values()] == ["eta"] * 3 + ["tol"] + ["dt"] * 3 + ["epsilon"] * 2
    assert METHODS["hermite"].default == 0.03


@pytest.mark.parametrize("method", list(METHODS))
def test_method_id_reaches_its_rows_driver(method):
    """The compiled dispatch is built from the table: id i runs row i's driver, which marks the state
    record as its own; a record of another method is started afresh, not misread."""
    pos, vel, mass = hierarchical_triple()
    info = METHODS[method]
    state = np.zeros(integrators.state_size(3))
    fresh = integrators.evolve_kernel(info.method_id, pos.copy(), vel.copy(), mass, 0.5, info.default, 0.0, 10**5)
    p, v = pos.copy(), vel.copy()
    other = METHODS["rk4" if method != "rk4" else "hermite"]
    integrators.advance_kernel(other.method_id, p.copy(), v.copy(), mass, 0.5, other.default, 0.0, 10**5, state)
    assert state[0] == other.method_id + 1
    out = integrators.advance_kernel(info.method_id, p, v, mass, 0.5, info.default, 0.0, 10**5, state)
    assert state[0] == info.method_id + 1
    assert tuple(out) == tuple(fresh)


def test_advance_methods_gives_each_system_its_own_methods_advance_kernel():
    """A batch of systems on different methods, one inactive, each carrying a state record over two
    intervals: every active system ends bit for bit where advance_kernel with its own method leaves it;
    the inactive one is untouched and reports zeros."""
    pos, vel, mass = hierarchical_triple()
    chosen = [METHODS[name] for name in ("ias15", "hermite", "dopri5", "ias15")]
    ids = np.array([info.method_id for info in chosen], dtype=np.int64)
    params = np.array([info.default for info in chosen])
    active = np.array([True, True, True, False])
    b_pos, b_vel = np.array([pos] * 4), np.array([vel] * 4)
    b_mass, states = np.array([mass] * 4), np.zeros((4, integrators.state_size(3)))
    for _ in range(2):
        out = integrators.advance_methods(ids, b_pos, b_vel, b_mass, 0.5, params, 0.0, 10**5, active, states)
    for k, info in enumerate(chosen[:3]):
        p, v, state = pos.copy(), vel.copy(), np.zeros(integrators.state_size(3))
        for _ in range(2):
            expected = integrators.advance_kernel(info.method_id, p, v, mass, 0.5, info.default, 0.0, 10**5, state)
        assert tuple(o[k] for o in out) == tuple(expected)
        np.testing.assert_array_equal(b_pos[k], p)
        np.testing.assert_array_equal(states[k], state)
    assert [o[3] for o in out] == [0, 0, 0]
    np.testing.assert_array_equal(b_pos[3], pos)


# ---------------------------------------------------------------------------------------------
# Bad inputs and near-collisions
# ---------------------------------------------------------------------------------------------

_P, _V, _M = pythagorean()


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="foo"), "unknown method 'foo'"),
        (dict(pos=_P[:, :2]), "(3, 2)"),
        (dict(pos=_P[:1], vel=_V[:1], mass=_M[:1]), "N >= 2"),
        (dict(vel=_V[:2]), "(2, 3)"),
        (dict(mass=_M[:2]), "(2,)"),
        (dict(pos=_with(_P, (1, 0), np.nan)), "pos[1, 0] = nan"),
        (dict(vel=_with(_V, (2, 1), np.inf)), "vel[2, 1] = inf"),
        (dict(mass=_with(_M, 1, -1.0)), "mass[1] = -1.0 must be > 0"),
        (dict(mass=_with(_M, 0, 0.0)), "mass[0] = 0.0"),
        (dict(pos=_with(_P, 2, _P[0])), "bodies 0 and 2"),
        (dict(duration=-1.0), "duration = -1.0"),
        (dict(duration=np.inf), "duration = inf"),
        (dict(param=0.0), "eta = 0.0"),
        (dict(param=np.nan), "eta = nan"),
        (dict(softening=-0.1), "softening = -0.1"),
        (dict(max_steps=0), "max_steps = 0"),
        (dict(max_steps=2.5), "max_steps = 2.5"),
    ],
)
def test_bad_input_raises_naming_the_value(kwargs, message):
    args = dict(method="hermite", pos=_P, vel=_V, mass=_M, duration=1.0, param=0.03)
    args.update(kwargs)
    options = {k: args.pop(k) for k in ("softening", "max_steps") if k in args}
    with pytest.raises(ValueError) as info:
        evolve(*args.values(), **options)
    assert message in str(info.value)


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_near_head_on_start_finishes_with_a_status(method):
    """Two bodies at rest 1e-3 apart fall together: every method stops within max_steps."""
    pos = np.array([[0.0, 0.0, 0.0], [1e-3, 0.0, 0.0], [10.0, 3.0, 0.0]])
    vel = np.zeros((3, 3))
    mass = np.ones(3)
    r = evolve(method, pos, vel, mass, 10.0, METHODS[method].default, max_steps=2000)
    assert r.status in (Status.OK, Status.MAX_STEPS, Status.NON_FINITE)
    assert r.n_steps <= 2000


@pytest.mark.parametrize("method", ORDER_METHODS)
def test_non_finite_state_stops_the_kernel(method):
    """evolve_kernel does not validate: a NaN state must end in NON_FINITE, not loop."""
    pos, vel, mass = hierarchical_triple()
    pos[1, 0] = np.nan
    steps, _, status = integrators.evolve_kernel(METHODS[method].method_id, pos, vel, mass, 1.0,
                                                 METHODS[method].default, 0.0, 100_000)
    assert status == Status.NON_FINITE
    assert steps <= 1
