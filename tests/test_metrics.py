"""The verdict's statistics against values computed by hand on small synthetic tables.

Each table is a few RolloutResults built from explicit arrays: no environment, no model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.evaluation import (
    Estimate,
    MethodSpec,
    episode_rows,
    error_statistics,
    front_value,
    interpolate_front,
    lower_envelope,
    overall_call,
    summarize,
    verdict,
)
from agents.evaluation.metrics import bootstrap_blocks, episode_errors, position, ratio
from agents.rollout import RolloutResult


def result(name: str, errors, force_evals, deployed=None, end=None, local=None) -> RolloutResult:
    """A RolloutResult of len(errors) episodes with the given final errors and force evaluations
    (and deployed wall times and summed local errors when given)."""
    n = len(errors)
    return RolloutResult(
        name=name, seeds=np.arange(n, dtype=np.int64), final_energy_error=np.asarray(errors, dtype=float),
        max_energy_error=np.abs(np.asarray(errors, dtype=float)), force_evals=np.asarray(force_evals, dtype=np.int64),
        integrator_steps=np.asarray(force_evals, dtype=np.int64), wall_time=np.full(n, 1e-3),
        intervals=np.full(n, 10), episode_return=np.zeros(n),
        end=np.asarray(end if end is not None else ["time_limit"] * n), mean_log_param=np.full(n, -2.0),
        deployed_wall_time=None if deployed is None else np.asarray(deployed, dtype=float),
        local_error=None if local is None else np.asarray(local, dtype=float),
    )


# The policy's five final errors, sorted: 1e-17, 1e-12, 1e-10, 1e-9, 1e-7 (signs do not matter).
POLICY_ERRORS = [1e-12, -1e-10, 1e-9, -1e-7, 1e-17]


def test_point_statistics_by_hand():
    stats = error_statistics(np.abs(POLICY_ERRORS), tolerance=1e-8)
    assert stats.median.value == 1e-10
    # p90 of 5 values, linear: position 0.9 * 4 = 3.6, 60 % of the way from 1e-9 to 1e-7
    assert stats.p90.value == pytest.approx(1e-9 + 0.6 * (1e-7 - 1e-9), rel=1e-12)
    assert stats.max.value == 1e-7
    assert stats.fraction_above_tolerance.value == 0.2  # only 1e-7 exceeds 1e-8
    # log10: 1e-17 floored to 1e-16 -> (-16 - 12 - 10 - 9 - 7) / 5
    assert stats.mean_log10.value == pytest.approx(-54 / 5, abs=1e-12)
    assert error_statistics(np.abs(POLICY_ERRORS), tolerance=1e-11).fraction_above_tolerance.value == 0.6


def test_failed_and_non_finite_episodes_count_as_documented():
    """A failure counts with the error it stopped at; NaN counts as +inf, and as 1 (log10 = 0) in the mean log."""
    r = result("p", [1e-10, np.nan, -2.0], [10, 10, 10], end=["time_limit", "non_finite", "energy_limit"])
    errors = episode_errors(r)
    assert errors[0] == 1e-10 and errors[1] == np.inf and errors[2] == 2.0
    stats = error_statistics(errors, tolerance=1e-8)
    assert stats.median.value == 2.0 and stats.max.value == np.inf and stats.p90.value == np.inf
    assert stats.fraction_above_tolerance.value == pytest.approx(2 / 3)
    assert stats.mean_log10.value == pytest.approx((-10 + 0 + 0) / 3)  # 2.0 and inf both clip to 1
    summary = summarize(MethodSpec("p", "policy"), r)
    assert summary.failure_rate == pytest.approx(2 / 3) and summary.failures == "energy_limit:1;non_finite:1"


def test_bootstrap_interval_by_hand_from_given_resamples():
    """Three explicit resamples: all copies of episode 0, all of episode 3, and a permutation."""
    errors = np.array([1e-12, 1e-10, 1e-9, 1e-7, 1e-16])
    indices = np.array([[0] * 5, [3] * 5, [1, 2, 3, 4, 0]])
    stats = error_statistics(errors, tolerance=1e-8, indices=[indices[:2], indices[2:]])  # two blocks
    # resampled medians 1e-12, 1e-7, 1e-10; sorted, the 2.5th percentile lies 5 % of the way from
    # the first to the second, the 97.5th 95 % of the way from the second to the third
    assert stats.median.low == pytest.approx(1e-12 + 0.05 * (1e-10 - 1e-12), rel=1e-12)
    assert stats.median.high == pytest.approx(1e-10 + 0.95 * (1e-7 - 1e-10), rel=1e-12)
    # resampled fractions above 1e-8: 0, 1, 0.2
    assert stats.fraction_above_tolerance.low == pytest.approx(0.05 * 0.2)
    assert stats.fraction_above_tolerance.high == pytest.approx(0.2 + 0.95 * 0.8)


def test_bootstrap_is_reproducible_and_contains_the_point_estimate():
    rng = np.random.default_rng(3)
    errors = 10.0 ** rng.uniform(-14, -6, size=40)
    a, b = error_statistics(errors), error_statistics(errors)
    assert a == b  # seeded: the same intervals every time
    blocks = list(bootstrap_blocks(40, resamples=1000, max_elements=12_000))  # 300 resamples per block
    assert [b.shape for b in blocks] == [(300, 40)] * 3 + [(100, 40)]
    again = bootstrap_blocks(40, resamples=1000, max_elements=12_000)
    assert all(np.array_equal(x, y) for x, y in zip(blocks, again, strict=True))
    for name in ("median", "p90", "max", "fraction_above_tolerance", "mean_log10"):
        e = a.get(name)
        assert e.low <= e.value <= e.high, name
    assert a.median.low < a.median.high  # 40 spread-out errors: a real interval
    constant = error_statistics(np.full(6, 3e-9))
    assert constant.median == Estimate(3e-9, 3e-9, 3e-9) and constant.mean_log10.low == constant.mean_log10.high


def test_front_interpolation_by_hand():
    costs, medians, fractions = [100.0, 1000.0, 10000.0], [1e-6, 1e-8, 1e-12], [1.0, 0.5, 0.0]
    middle = 10**2.5  # halfway between 100 and 1000 on a log scale
    assert interpolate_front(costs, medians, middle, log_value=True) == pytest.approx(1e-7, rel=1e-12)
    assert interpolate_front(costs, fractions, middle, log_value=False) == pytest.approx(0.75, rel=1e-12)
    three_quarters = 10**3.75  # 75 % of the way from 1e3 to 1e4: log10 median -8 - 0.75 * 4 = -11
    assert interpolate_front(costs, medians, three_quarters, log_value=True) == pytest.approx(1e-11, rel=1e-12)
    assert interpolate_front(costs, fractions, three_quarters, log_value=False) == pytest.approx(0.125, rel=1e-12)
    assert interpolate_front(costs, medians, 1000.0, log_value=True) == 1e-8  # on a fixed action: its value
    assert interpolate_front(costs[::-1], medians[::-1], middle, log_value=True) == pytest.approx(1e-7, rel=1e-12)
    for outside in (99.0, 10001.0):  # no extrapolation
        assert math.isnan(interpolate_front(costs, medians, outside, log_value=True))


def test_below_on_above_and_ratios():
    assert position(Estimate(1e-9, 5e-10, 2e-9), 1e-8) == "below"
    assert position(Estimate(1e-9, 5e-10, 2e-8), 1e-8) == "on"
    assert position(Estimate(1e-9, 5e-10, 1e-8), 1e-8) == "on"  # the interval's edge touches the front
    assert position(Estimate(1e-7, 5e-8, 2e-7), 1e-8) == "above"
    assert position(Estimate(1e-7, 5e-8, 2e-7), math.nan) == "outside"
    assert ratio("median", 1e-9, 1e-8) == pytest.approx(0.1)
    assert ratio("mean_log10", -10.0, -9.0) == pytest.approx(0.1)  # ratio of geometric means
    assert ratio("fraction_above_tolerance", 0.2, 0.4) == pytest.approx(0.5)
    assert ratio("fraction_above_tolerance", 0.0, 0.0) == 1.0
    assert ratio("fraction_above_tolerance", 0.1, 0.0) == math.inf
    assert ratio("median", 0.0, 1e-12) == pytest.approx(1e-4)  # errors floored at 1e-16


def _table(policy_errors, policy_evals, deployed=None):
    """Three fixed actions of constant error (a: 1e-6 for 100 force evals in total, b: 1e-10 for
    10^4, c: 1e-14 for 10^6) and a policy, on four initial conditions."""
    fixed_deployed = {"a": [0.25] * 4, "b": [2.5] * 4, "c": [25.0] * 4} if deployed is not None else {}
    rows = [(MethodSpec("a", "fixed"), result("a", [1e-6] * 4, [25] * 4, fixed_deployed.get("a"))),
            (MethodSpec("b", "fixed"), result("b", [1e-10] * 4, [2500] * 4, fixed_deployed.get("b"))),
            (MethodSpec("c", "fixed"), result("c", [1e-14] * 4, [250_000] * 4, fixed_deployed.get("c"))),
            (MethodSpec("policy", "policy"), result("policy", policy_errors, policy_evals, deployed))]
    return [summarize(spec, r, tolerance=1e-8) for spec, r in rows], rows


def test_verdict_on_a_synthetic_table():
    """A policy at 1200 force evals: log10 of the front's errors is -6 - 4 * log10(1200 / 100) / 2."""
    summaries, _ = _table([1e-9] * 4, [300] * 4)
    v = verdict(summaries, "force_evals", tolerance=1e-8)
    front_error = 10 ** (-6 - 2 * math.log10(12))
    w = math.log10(12) / 2  # the policy's place between a and b in log cost
    assert v.policy_cost == 1200 and v.front_cost_range == (100.0, 1_000_000.0)
    for name in ("median", "p90", "max"):
        s = v.get(name)
        assert s.front == pytest.approx(front_error, rel=1e-9) and s.position == "below"
        assert s.ratio == pytest.approx(1e-9 / front_error, rel=1e-9)
        # b (10^4) is closer than a (100) to 1200 in log cost, and 10x more accurate: below the front,
        # not below the closest fixed action
        assert s.comparison.dominated_by == () and s.comparison.closest == "b" and not s.comparison.beats_closest
    fraction = v.get("fraction_above_tolerance")  # a misses 1e-8 in every run, b never
    assert fraction.front == pytest.approx(1 - w, rel=1e-9)
    assert fraction.policy.value == 0 and fraction.position == "below"
    mean_log = v.get("mean_log10")
    assert mean_log.front == pytest.approx(-6 - 4 * w, rel=1e-9) and mean_log.policy.value == pytest.approx(-9)
    assert mean_log.ratio == pytest.approx(10 ** (-9 - (-6 - 4 * w)), rel=1e-9)
    assert verdict(summaries, "deployed_wall_time") is None  # not measured: no wall-time verdict


def test_tail_verdict_and_domination():
    """One run in four at 1e-5: the median stays below the front, the tail is dominated by a."""
    summaries, _ = _table([1e-9, 1e-9, 1e-9, 1e-5], [300] * 4)
    v = verdict(summaries, "force_evals", tolerance=1e-8)
    assert v.get("median").position == "on"  # two resampled outliers lift the median's bound past the front
    p90 = v.get("p90")
    assert p90.policy.value == pytest.approx(1e-9 + 0.7 * (1e-5 - 1e-9), rel=1e-12)  # position 0.9 * 3 = 2.7
    assert p90.comparison.dominated_by == ("a",) and not p90.comparison.passes
    maximum = v.get("max")
    # a resample without the outlier (probability 0.75^4 = 32 %) has max 1e-9: the interval spans the front
    assert maximum.policy == Estimate(1e-5, 1e-9, 1e-5) and maximum.position == "on"
    assert maximum.comparison.dominated_by == ("a",)
    assert v.get("median").comparison.dominated_by == ()
    assert v.get("fraction_above_tolerance").policy.value == 0.25


def test_deployed_wall_time_plugs_in_as_a_cost_axis():
    """With a deployed time on every episode, a second verdict on that axis. The fixed actions take
    1, 10 and 100 s in total; the policy sqrt(10) s, halfway between a and b in log time, where the
    front's median is sqrt(1e-6 * 1e-10) = 1e-8."""
    summaries, rows = _table([1e-9] * 4, [300] * 4, deployed=[0.25 * 10**0.5] * 4)
    v = verdict(summaries, "deployed_wall_time", tolerance=1e-8)
    assert v is not None and v.policy_cost == pytest.approx(10**0.5)
    assert v.get("median").front == pytest.approx(1e-8, rel=1e-9) and v.get("median").position == "below"
    assert verdict(summaries, "force_evals").get("median").front != v.get("median").front
    spec, policy = rows[-1]
    assert [row["deployed_wall_time"] for row in episode_rows([spec], {spec.name: policy})] == \
           pytest.approx([0.25 * 10**0.5] * 4)
    with pytest.raises(ValueError, match="cost axis"):
        summaries[0].cost("seconds")


# ---------------------------------------------------------------- the union front


def test_lower_envelope_drops_dominated_points_and_orders_by_cost():
    costs = [10.0, 1.0, 100.0, 5.0, 50.0, 100.0, 1.0]
    values = [1e-8, 1e-6, 1e-12, 1e-5, 1e-7, 1e-13, 1e-4]
    # by cost: (1, 1e-6) beats (1, 1e-4) at equal cost; (5, 1e-5) is worse than a cheaper point;
    # (10, 1e-8); (50, 1e-7) is worse than the cheaper 1e-8; (100, 1e-13) beats (100, 1e-12)
    assert lower_envelope(costs, values).tolist() == [1, 0, 5]
    assert lower_envelope([3.0], [0.5]).tolist() == [0]
    assert lower_envelope([1.0, 2.0], [0.0, 0.0]).tolist() == [0]  # a tie in value: the cheaper only
    assert lower_envelope([1.0, 2.0], [np.inf, 1.0]).tolist() == [0, 1]  # a lost cheapest point still opens it


def test_union_front_of_two_interleaving_methods_by_hand():
    """Method H: (100, 1e-6), (1000, 1e-9), (10^4, 1e-12); method I: (300, 1e-10), (3000, 1e-9.5).
    The envelope is H 100, I 300, H 10^4: H 1000 and I 3000 lie above it (I 300 is better for less)."""
    costs = [100.0, 1000.0, 10_000.0, 300.0, 3000.0]
    values = [1e-6, 1e-9, 1e-12, 1e-10, 10**-9.5]
    assert lower_envelope(costs, values).tolist() == [0, 3, 2]
    # halfway between 300 and 10^4 in log cost: halfway between -10 and -12 in log value
    assert front_value(costs, values, math.sqrt(300 * 10_000), log_value=True) == pytest.approx(1e-11, rel=1e-9)
    # at 1000 the front is the I-H segment, below H's own point there
    at_1000 = front_value(costs, values, 1000.0, log_value=True)
    assert at_1000 == pytest.approx(10 ** (-10 - 2 * math.log10(1000 / 300) / math.log10(10_000 / 300)), rel=1e-9)
    assert at_1000 < 1e-9
    assert front_value(costs, values, 100.0, log_value=True) == 1e-6
    assert front_value(costs, values, 1e6, log_value=True) == 1e-12  # past the best point: its value
    assert math.isnan(front_value(costs, values, 99.0, log_value=True))  # below the cheapest: no front
    linear = front_value(costs, [-6.0, -9.0, -12.0, -10.0, -9.5], math.sqrt(300 * 10_000), log_value=False)
    assert linear == pytest.approx(-11.0)


def _union_table(policy_errors, policy_local, policy_evals=300, policy_deployed=None, local=True):
    """Two interleaving methods on four initial conditions, every episode alike: H at 25, 250, 2500 force
    evals per episode (energy 1e-6, 1e-9, 1e-12), I at 75 and 750 (1e-10, 1e-9.5); local errors 10x the
    energy errors; deployed seconds per episode = force evals / 100. Then the policy."""
    rows = [("H a", 25, 1e-6), ("H b", 250, 1e-9), ("H c", 2500, 1e-12), ("I a", 75, 1e-10), ("I b", 750, 10**-9.5)]
    specs = [(MethodSpec(name, "fixed", integrator=name[0]),
              result(name, [e] * 4, [c] * 4, [c / 100] * 4, local=[10 * e] * 4 if local else None))
             for name, c, e in rows]
    deployed = policy_deployed if policy_deployed is not None else policy_evals / 100
    specs.append((MethodSpec("policy", "policy", integrator="H"),
                  result("policy", policy_errors, [policy_evals] * 4, [deployed] * 4,
                         local=policy_local if local else None)))
    return [summarize(spec, r, tolerance=1e-8) for spec, r in specs]


def _verdicts(summaries):
    found = {(m, a): verdict(summaries, a, 1e-8, m) for m in ("energy_error", "local_error")
             for a in ("force_evals", "deployed_wall_time")}
    return {k: v for k, v in found.items() if v is not None}


def test_union_verdict_below_on_above_outside_and_the_competitor():
    """The policy at 300 evals per episode (1200 total), where the front runs from I a (300 total) to
    H c (10^4 total): log10 front = -10 - 2 * log10(1200 / 300) / log10(10^4 / 300)."""
    front = 10 ** (-10 - 2 * math.log10(4) / math.log10(10_000 / 300))
    below = _verdicts(_union_table([1e-12] * 4, [1e-11] * 4))
    for (measure, axis), v in below.items():
        scale = 10 if measure == "local_error" else 1
        median = v.get("median")
        assert median.front == pytest.approx(scale * front, rel=1e-9), (measure, axis)
        assert median.position == "below" and median.comparison.dominated_by == ()
        # the cheapest fixed choice as good as 1e-12 is H c, at 2500 / 300 of the policy's cost
        assert median.comparison.competitor == "H c" and median.comparison.cost_margin == pytest.approx(25 / 3)
    assert set(below) == {(m, a) for m in ("energy_error", "local_error")
                          for a in ("force_evals", "deployed_wall_time")}
    above = _verdicts(_union_table([1e-9] * 4, [1e-8] * 4))[("energy_error", "force_evals")].get("median")
    # I a is as good (1e-10 < 1e-9) at a quarter of the cost: above the front and dominated
    assert above.position == "above" and above.comparison.dominated_by == ("I a",)
    assert above.comparison.competitor == "I a" and above.comparison.cost_margin == pytest.approx(0.25)
    on = _verdicts(_union_table([front / 10, front / 10, front * 10, front * 10], [1e-11] * 4))
    assert on[("energy_error", "force_evals")].get("median").position == "on"
    cheap = _verdicts(_union_table([1e-12] * 4, [1e-11] * 4, policy_evals=10))  # below the cheapest, H a at 25
    assert all(v.get("median").position == "outside" for v in cheap.values())
    dear = _verdicts(_union_table([1e-13] * 4, [1e-12] * 4, policy_evals=5000))  # past the dearest, H c at 2500
    assert dear[("energy_error", "force_evals")].get("median").position == "outside"  # below a bound only
    assert dear[("energy_error", "force_evals")].get("median").front == 1e-12
    beaten = _verdicts(_union_table([1e-11] * 4, [1e-10] * 4, policy_evals=5000))
    assert beaten[("energy_error", "force_evals")].get("median").position == "above"


def test_cost_axes_judge_separately():
    """The same policy, 300 evals per episode but 30 s deployed (as dear as H c): below the front at
    equal force evaluations, dominated at equal deployed wall time."""
    v = _verdicts(_union_table([1e-11] * 4, [1e-10] * 4, policy_deployed=30.0))
    assert v[("energy_error", "force_evals")].get("median").position == "below"
    slow = v[("energy_error", "deployed_wall_time")].get("median")
    assert slow.position == "above" and slow.comparison.competitor == "H c"
    assert slow.comparison.cost_margin == pytest.approx(25 / 30)
    call = overall_call(v)
    assert call.outcome == "loses" and "equal deployed wall time" in call.reason and "H c" in call.reason


def test_overall_call_needs_both_measures_and_both_axes():
    wins = overall_call(_verdicts(_union_table([1e-12] * 4, [1e-11] * 4)))
    assert wins.outcome == "wins" and "8.3x" in wins.reason  # H c, the cheapest as good, costs 25/3 of the policy
    # better energy error, worse local error: the local error decides
    local_loss = overall_call(_verdicts(_union_table([1e-12] * 4, [1e-8] * 4)))
    assert local_loss.outcome == "loses" and "local error" in local_loss.reason
    # the local error not measured: no win, whatever the energy error says
    unmeasured = _verdicts(_union_table([1e-12] * 4, None, local=False))
    assert set(unmeasured) == {("energy_error", "force_evals"), ("energy_error", "deployed_wall_time")}
    call = overall_call(unmeasured)
    assert call.outcome == "undecided" and "no local error verdict" in call.reason
    no_time = {k: v for k, v in _verdicts(_union_table([1e-12] * 4, [1e-11] * 4)).items() if k[1] == "force_evals"}
    assert overall_call(no_time).outcome == "undecided"
    # cheaper than every fixed choice and not beaten: outside the front, so undecided rather than won
    cheap = overall_call(_verdicts(_union_table([1e-12] * 4, [1e-11] * 4, policy_evals=10)))
    assert cheap.outcome == "undecided" and "median of the energy error at equal force evaluations is outside" \
        in cheap.reason


def test_local_error_statistics_and_rows():
    """The local error is summarised like the energy error; rows carry NaN columns when it is absent
    (NaN in a result means not measured; a blown-up episode's local error is inf)."""
    with_local = summarize(MethodSpec("p", "policy"), result("p", [1e-10] * 3, [5] * 3, local=[1e-9, 2e-9, np.inf]))
    assert with_local.local_error is not None
    assert with_local.local_error.median.value == 2e-9 and with_local.local_error.max.value == np.inf  # a lost run
    assert with_local.accuracy("local_error") is with_local.local_error
    without = summarize(MethodSpec("p", "policy"), result("p", [1e-10] * 3, [5] * 3))
    assert without.local_error is None and without.accuracy("local_error") is None
    assert list(without.row()) == list(with_local.row())  # the same columns in the same order
    assert math.isnan(without.row()["local_error_median"]) and with_local.row()["local_error_median"] == 2e-9
    with pytest.raises(ValueError, match="accuracy measure"):
        without.accuracy("angular_momentum")
