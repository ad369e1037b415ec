"""The verdict's statistics against values computed by hand on small synthetic tables.

Each table is a few RolloutResults built from explicit arrays: no environment, no model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.evaluation import (Estimate, MethodSpec, episode_rows, error_statistics, interpolate_front, summarize,
                               verdict)
from agents.evaluation.metrics import bootstrap_blocks, episode_errors, position, ratio
from agents.rollout import RolloutResult


def result(name: str, errors, force_evals, deployed=None, end=None) -> RolloutResult:
    """A RolloutResult of len(errors) episodes with the given final errors and force evaluations."""
    n = len(errors)
    return RolloutResult(
        name=name, seeds=np.arange(n, dtype=np.int64), final_energy_error=np.asarray(errors, dtype=float),
        max_energy_error=np.abs(np.asarray(errors, dtype=float)), force_evals=np.asarray(force_evals, dtype=np.int64),
        integrator_steps=np.asarray(force_evals, dtype=np.int64), wall_time=np.full(n, 1e-3),
        intervals=np.full(n, 10), episode_return=np.zeros(n),
        end=np.asarray(end if end is not None else ["time_limit"] * n), mean_log_param=np.full(n, -2.0),
        deployed_wall_time=None if deployed is None else np.asarray(deployed, dtype=float),
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
    assert all(np.array_equal(x, y) for x, y in zip(blocks, bootstrap_blocks(40, resamples=1000, max_elements=12_000)))
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
