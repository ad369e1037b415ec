"""The hindsight oracle of ``benchmarks/oracle.py`` (issue 17, item 2): its rules, per-system best,
beam search and room against the union front.

The oracle for the rules and the beam search is the fixed choice itself: a rule that never (or always)
switches, a fallback that always redoes, and a beam of one action must each reproduce a fixed run, bit for
bit where the arithmetic is the same.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import integrators
from agents.evaluation import front_value

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "oracle.py"
_SPEC = importlib.util.spec_from_file_location("oracle", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
oracle = importlib.util.module_from_spec(_SPEC)
sys.modules["oracle"] = oracle  # dataclasses resolve their module by name
_SPEC.loader.exec_module(oracle)

N_INTERVALS = 6
HERMITE_A = (oracle.HERMITE, 4.64e-3)
IAS15_A = (oracle.IAS15, 1e-7)


@pytest.fixture(scope="module")
def ics():
    """Three paper triples (test seeds)."""
    return oracle.initial_conditions([0, 1, 2])


@pytest.fixture(scope="module")
def interval():
    return oracle.natural_interval(oracle.resolve_sampler("paper", None, None))


def run(kind, threshold, a, b, ics, interval):
    pos0, vel0, mass, *_ = ics
    return oracle.run_rule(kind, threshold, a, b, pos0, vel0, mass, interval, N_INTERVALS)


def test_fixed_rule_is_advance_kernel_with_the_state_carried(ics, interval):
    """FIXED is one advance_kernel call per interval, carrying the state record, as the environment does."""
    pos0, vel0, mass, *_ = ics
    sp, sv, evals, used_b, done, energy = run(oracle.FIXED, 0.0, IAS15_A, IAS15_A, ics, interval)
    for s in range(pos0.shape[0]):
        pos, vel = pos0[s].copy(), vel0[s].copy()
        state = np.zeros(integrators.state_size(pos.shape[0]))
        for t in range(N_INTERVALS):
            _, cost, status = integrators.advance_kernel(IAS15_A[0], pos, vel, mass[s], interval, IAS15_A[1], 0.0,
                                                         oracle.MAX_STEPS, state)
            assert status == 0 and cost == evals[s, t]
            np.testing.assert_array_equal(pos, sp[s, t + 1])
            np.testing.assert_array_equal(vel, sv[s, t + 1])
        e0 = integrators.energy_kernel(pos0[s], vel0[s], mass[s], 0.0)
        assert energy[s] == (integrators.energy_kernel(pos, vel, mass[s], 0.0) - e0) / abs(e0)
    assert (done == N_INTERVALS).all() and not used_b.any()


def test_timescale_rule_at_its_extremes_is_either_fixed_choice(ics, interval):
    """Below a threshold of 0 no interval qualifies (a throughout); below infinity every one does (b)."""
    never = run(oracle.TIMESCALE_RULE, 0.0, IAS15_A, HERMITE_A, ics, interval)
    always = run(oracle.TIMESCALE_RULE, math.inf, IAS15_A, HERMITE_A, ics, interval)
    for rule, fixed in ((never, run(oracle.FIXED, 0.0, IAS15_A, IAS15_A, ics, interval)),
                        (always, run(oracle.FIXED, 0.0, HERMITE_A, HERMITE_A, ics, interval))):
        for got, want in zip(rule[:3] + rule[4:], fixed[:3] + fixed[4:], strict=True):
            np.testing.assert_array_equal(got, want)
    assert not never[3].any() and always[3].all()


def test_fallback_that_always_redoes_follows_b_and_pays_for_both(ics, interval):
    """Redoing every interval restores the start state (record included), so the trajectory is b's, each
    interval costing b's work plus a fresh a's."""
    redo = run(oracle.FALLBACK_RULE, -1.0, IAS15_A, HERMITE_A, ics, interval)
    fixed_b = run(oracle.FIXED, 0.0, HERMITE_A, HERMITE_A, ics, interval)
    np.testing.assert_array_equal(redo[1], fixed_b[1])
    np.testing.assert_array_equal(redo[5], fixed_b[5])
    assert redo[3].all() and (redo[2] > fixed_b[2]).all()
    never = run(oracle.FALLBACK_RULE, 1e12, IAS15_A, HERMITE_A, ics, interval)
    np.testing.assert_array_equal(never[2], run(oracle.FIXED, 0.0, IAS15_A, IAS15_A, ics, interval)[2])


def test_beam_of_one_action_is_that_fixed_choice(ics, interval):
    """A beam with one action has one schedule: its cost and energy error are the fixed run's, bit for bit,
    and its local error is the one episodes_of_rule measures (same reference, other bookkeeping)."""
    fixed = oracle.episodes_of_rule("ias15", oracle.FIXED, 0.0, IAS15_A, IAS15_A, ics, interval, N_INTERVALS)
    beam = oracle.beam_search(ics, [IAS15_A], 0.1, 2, interval, N_INTERVALS)
    np.testing.assert_array_equal(beam.cost, fixed.cost)
    np.testing.assert_array_equal(beam.energy, fixed.energy)
    np.testing.assert_allclose(beam.local, fixed.local, rtol=1e-12)
    assert beam.share_b == 0.0
    assert np.all(fixed.local > 0) and np.all(np.isfinite(fixed.local))


def test_a_beam_as_wide_as_every_schedule_is_no_worse_than_either_fixed_choice(ics, interval):
    """Two actions over N intervals make 2^N schedules; a beam that wide keeps them all, so with no weight
    on cost its best final score is at most that of either pure schedule, on every system."""
    tight, loose = (oracle.IAS15, 1e-9), (oracle.IAS15, 1e-4)
    beam = oracle.beam_search(ics, [tight, loose], 0.0, 2**N_INTERVALS, interval, N_INTERVALS)

    def score(episodes):
        return np.log10(np.maximum(np.maximum(episodes.energy, episodes.local), 1e-16))

    for choice in (tight, loose):
        fixed = oracle.episodes_of_rule("f", oracle.FIXED, 0.0, choice, choice, ics, interval, N_INTERVALS)
        assert np.all(score(beam) <= score(fixed) + 1e-9)


def episodes(label, cost, energy, local):
    return oracle.Episodes(label, np.array(cost, float), np.array(energy, float), np.array(local, float))


def test_per_system_best_takes_the_cheapest_choice_as_good_on_both_measures():
    cheap = episodes("cheap", [10, 10, 10], [1e-9, 1e-12, 1e-12], [1e-9, 1e-12, 1e-9])
    mid = episodes("mid", [20, 20, 20], [1e-11, 1e-11, 1e-11], [1e-11, 1e-11, 1e-11])
    dear = episodes("dear", [40, 40, 40], [1e-13, 1e-13, 1e-13], [1e-13, 1e-13, 1e-13])
    best = oracle.per_system_best(mid, [cheap, mid, dear])
    # system 0: only mid and dear are as good, mid is cheaper; 1: cheap is better on both; 2: cheap's local
    # error is worse, so mid
    np.testing.assert_array_equal(best.cost, [20, 10, 20])
    np.testing.assert_array_equal(best.energy, [1e-11, 1e-12, 1e-11])
    np.testing.assert_array_equal(best.local, [1e-11, 1e-12, 1e-11])
    assert "its cost / 1.20" in best.label


def test_room_row_reads_the_union_front():
    """A point on a fixed choice has room 1 (0 for the fraction); half the error at the same cost, 2x;
    one cheaper than every fixed choice is outside (NaN)."""
    fixed = [episodes("a", [10] * 4, [1e-8, 1e-9, 1e-7, 2e-8], [1e-9] * 4),
             episodes("b", [30] * 4, [1e-10, 1e-11, 1e-9, 2e-10], [1e-11] * 4)]
    on = oracle.room_row(fixed[1], fixed)
    assert on["energy_median_room"] == pytest.approx(1.0)
    assert on["energy_mean_log10_room"] == pytest.approx(1.0)
    assert on["energy_fraction_above_room"] == 0.0
    half = episodes("half", [30] * 4, [5e-11, 5e-12, 5e-10, 1e-10], [1e-11] * 4)
    assert oracle.room_row(half, fixed)["energy_median_room"] == pytest.approx(2.0)
    assert oracle.room_row(half, fixed)["energy_mean_log10_room"] == pytest.approx(2.0)
    cheap = episodes("cheap", [5] * 4, [1e-12] * 4, [1e-12] * 4)
    assert math.isnan(oracle.room_row(cheap, fixed)["local_p90_room"])
    # between the two fixed costs the front is the log-log interpolation evaluate.py uses
    mid = episodes("mid", [np.sqrt(10 * 30)] * 4, [1e-10] * 4, [1e-10] * 4)
    front = front_value([10, 30], [1e-9, 1e-11], np.sqrt(10 * 30), log_value=True)
    assert front == pytest.approx(1e-10)
    assert oracle.room_row(mid, fixed)["local_median_room"] == pytest.approx(1.0)


def test_a_failed_episode_counts_as_infinitely_bad():
    stats = oracle.statistics(np.array([1e-12, np.inf, 1e-10, 1e-11]))
    assert stats["fraction_above"] == 0.25
    assert stats["mean_log10"] == pytest.approx((-12 + 0 - 10 - 11) / 4)  # a failure at the ceiling, 1
    assert oracle.statistics(np.array([np.inf] * 3))["median"] > 1e299
