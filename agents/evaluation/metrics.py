"""Stage 4 of an evaluation: per-method statistics and the verdict against the fixed-parameter front.

Units: energy errors are relative, |E - E0| / |E0|; costs are totals over the initial conditions,
in force evaluations (deterministic) or seconds of deployed wall time (one system at a time, one
decision per interval; present when the results carry it).

Error conventions (every statistic uses the same per-episode error):

- A failed episode counts with the error it had when it stopped (a run that crossed the error
  limit counts with its error there, above the limit).
- A non-finite final error (the integration blew up) counts as ``+inf``: worse than any finite
  error in the median, p90, maximum and fraction above tolerance.
- The mean of log10 error clips each error into [:data:`LOG_ERROR_FLOOR`, :data:`LOG_ERROR_CEILING`]
  = [1e-16, 1]: below 1e-16 (double round-off, or an exact 0) nothing is measured, and from 1 up
  (|dE| >= |E0|, the run is lost, including ``inf``) every loss counts the same, so one blow-up
  moves the mean by a bounded 16 / n decades at most.

Each statistic carries a 95 % bootstrap interval over initial conditions: :data:`BOOTSTRAP_RESAMPLES`
resamples with replacement drawn from a fixed seed, the same resamples for every method (they ran on
the same initial conditions), the interval being the 2.5th and 97.5th percentiles of the resampled
statistic (the percentile method).

The verdict (:func:`verdict`) places the policy against the fixed actions' front at the policy's
cost: each statistic of the fixed actions is interpolated between the two fixed actions whose costs
bracket the policy's, linearly in (log cost, log statistic) for the error statistics, in (log cost,
statistic) for the fraction above tolerance and the mean log10 error (already a logarithm). Outside
the front's cost range there is no extrapolation: the position is "outside". The policy is "below"
the front when its whole bootstrap interval lies below the front's value, "above" when it lies
above, and "on" when the interval contains it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from agents.evaluation.methods import MethodSpec
from agents.rollout import RolloutResult

#: The cost axes a verdict can be taken on: total force evaluations, total deployed wall time [s].
CostAxis = Literal["force_evals", "deployed_wall_time"]
COST_AXES: tuple[CostAxis, ...] = ("force_evals", "deployed_wall_time")

DEFAULT_TOLERANCE = 1e-8
LOG_ERROR_FLOOR = 1e-16
LOG_ERROR_CEILING = 1.0
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20_251_129
CONFIDENCE = 0.95

#: The error statistics, in table order; the fraction and the mean log are interpolated linearly
#: in their own value, the others in its logarithm.
STATISTICS = ("median", "p90", "max", "fraction_above_tolerance", "mean_log10")
_LINEAR_STATISTICS = ("fraction_above_tolerance", "mean_log10")


@dataclass(frozen=True)
class Percentiles:
    """Median and 10th/90th percentiles of a per-episode quantity (NaN when there are no episodes)."""

    median: float
    p10: float
    p90: float

    @classmethod
    def of(cls, values: np.ndarray) -> Percentiles:
        if values.size == 0:
            return cls(math.nan, math.nan, math.nan)
        p10, median, p90 = np.percentile(values, [10, 50, 90])
        return cls(float(median), float(p10), float(p90))


@dataclass(frozen=True)
class Estimate:
    """A statistic over the initial conditions and its bootstrap interval [``low``, ``high``]."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ErrorStatistics:
    """The final |dE/E0| of one method's episodes, summarised (see the module's error conventions)."""

    median: Estimate
    p90: Estimate
    max: Estimate
    fraction_above_tolerance: Estimate  # share of episodes with error > tolerance, in [0, 1]
    mean_log10: Estimate  # mean of log10 of the error clipped into [LOG_ERROR_FLOOR, LOG_ERROR_CEILING]

    def get(self, statistic: str) -> Estimate:
        return getattr(self, statistic)


def episode_errors(result: RolloutResult) -> np.ndarray:
    """|final dE/E0| per episode, non-finite values as ``+inf``."""
    errors = np.abs(result.final_energy_error.astype(float))
    return np.where(np.isfinite(errors), errors, np.inf)


def bootstrap_blocks(n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                     max_elements: int = 2_000_000) -> Iterator[np.ndarray]:
    """Indices of ``resamples`` bootstrap samples of ``n`` initial conditions drawn with replacement,
    in blocks of (at most ``max_elements`` / n, n) to bound memory. Depends only on its arguments:
    every method of an evaluation gets the same resamples (they ran on the same initial conditions)."""
    if n < 1:
        raise ValueError(f"bootstrap needs at least one episode, got n={n}")
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, max_elements // n))
    for start in range(0, resamples, block):
        yield rng.integers(0, n, size=(min(block, resamples - start), n))


_HUGE = np.finfo(float).max


def _percentile(values: np.ndarray, q: Sequence[float], axis: int = -1) -> np.ndarray:
    """``np.percentile`` (linear) that reads ``inf`` as a value above all others: interpolating
    towards ``inf`` gives ``inf`` (NumPy gives NaN when the weight is exactly 0 or both are inf)."""
    infinite = np.isinf(values)
    if not infinite.any():
        return np.percentile(values, q, axis=axis)
    result = np.percentile(np.where(infinite, _HUGE, values), q, axis=axis)
    return np.where(result > 1e300, np.inf, result)


def _statistics(errors: np.ndarray, tolerance: float) -> dict[str, np.ndarray]:
    """Each statistic along the last axis of ``errors`` (one row per sample)."""
    logs = np.log10(np.clip(errors, LOG_ERROR_FLOOR, LOG_ERROR_CEILING))
    p50, p90 = _percentile(errors, [50, 90])
    return {"median": p50, "p90": p90, "max": errors.max(axis=-1),
            "fraction_above_tolerance": (errors > tolerance).mean(axis=-1), "mean_log10": logs.mean(axis=-1)}


def error_statistics(errors: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                     indices: Iterable[np.ndarray] | None = None) -> ErrorStatistics:
    """The statistics of ``errors`` (E,) (from :func:`episode_errors`) with bootstrap intervals over
    resamples given as blocks of index rows, ``indices`` (default :func:`bootstrap_blocks` of E);
    vectorised over the resamples of a block."""
    errors = np.asarray(errors, dtype=float)
    point = _statistics(errors, tolerance)
    blocks = bootstrap_blocks(errors.size) if indices is None else indices
    parts = [_statistics(errors[block], tolerance) for block in blocks]
    tail = 100 * (1 - CONFIDENCE) / 2
    estimates = {}
    for name in STATISTICS:
        low, high = _percentile(np.concatenate([p[name] for p in parts]), [tail, 100 - tail])
        estimates[name] = Estimate(float(point[name]), float(low), float(high))
    return ErrorStatistics(**estimates)


@dataclass(frozen=True)
class MethodSummary:
    """One method's episodes aggregated: error statistics, costs, wall time, failures by reason."""

    method: str
    role: str
    episodes: int
    final_error: ErrorStatistics
    max_error: Percentiles  # of the largest |dE/E0| at any interval end
    force_evals_total: int
    force_evals: Percentiles
    integrator_steps_total: int
    integrator_steps: Percentiles
    wall_time_total: float  # batched integration only, seconds
    wall_time: Percentiles
    deployed_wall_time_total: float  # NaN unless every episode carries a deployed wall time
    mean_param_median: float  # median over episodes of the geometric mean parameter
    failure_rate: float
    failures: str  # "reason:count;..." for the failed episodes

    def cost(self, axis: CostAxis) -> float:
        """Total cost on ``axis`` (NaN when the results do not carry it)."""
        if axis not in COST_AXES:
            raise ValueError(f"cost axis {axis!r} is unknown; choose from {COST_AXES}")
        return float(self.force_evals_total) if axis == "force_evals" else self.deployed_wall_time_total

    def row(self) -> dict[str, Any]:
        """Flat columns for CSV and JSON: ``final_error_median``, ``final_error_median_low``, ..."""
        return _flatten(self)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Estimate):
        return {prefix: value.value, f"{prefix}_low": value.low, f"{prefix}_high": value.high}
    if hasattr(value, "__dataclass_fields__"):
        row: dict[str, Any] = {}
        for f in fields(value):
            row.update(_flatten(getattr(value, f.name), f"{prefix}_{f.name}" if prefix else f.name))
        return row
    return {prefix: value}


def summarize(spec: MethodSpec, result: RolloutResult, tolerance: float = DEFAULT_TOLERANCE) -> MethodSummary:
    """Aggregate one method's episodes into a :class:`MethodSummary`."""
    ends, counts = np.unique(result.end[result.failed], return_counts=True)
    deployed = result.deployed_wall_time
    return MethodSummary(
        method=spec.name, role=spec.role, episodes=int(result.seeds.size),
        final_error=error_statistics(episode_errors(result), tolerance),
        max_error=Percentiles.of(result.max_energy_error),
        force_evals_total=int(result.force_evals.sum()), force_evals=Percentiles.of(result.force_evals.astype(float)),
        integrator_steps_total=int(result.integrator_steps.sum()),
        integrator_steps=Percentiles.of(result.integrator_steps.astype(float)),
        wall_time_total=float(result.wall_time.sum()), wall_time=Percentiles.of(result.wall_time),
        deployed_wall_time_total=float(deployed.sum()) if np.all(np.isfinite(deployed)) else math.nan,
        mean_param_median=float(np.median(10.0 ** result.mean_log_param)),
        failure_rate=float(result.failed.mean()),
        failures=";".join(f"{end}:{n}" for end, n in zip(ends, counts, strict=True)),
    )


# ---------------------------------------------------------------- domination and the closest fixed action


@dataclass(frozen=True)
class Comparison:
    """Is the policy dominated on one statistic (some fixed action has both a lower cost and a lower
    value), and is it lower than the fixed action closest to it in cost (closest on a log scale)?"""

    policy_value: float
    policy_cost: float
    dominated_by: tuple[str, ...]
    closest: str
    closest_value: float
    closest_cost: float

    @property
    def beats_closest(self) -> bool:
        return self.policy_value < self.closest_value

    @property
    def passes(self) -> bool:
        return not self.dominated_by and self.beats_closest


def compare_with_fixed(policy: tuple[float, float], fixed: Mapping[str, tuple[float, float]]) -> Comparison:
    """Compare ``policy`` = (statistic, total cost) with each fixed action's pair (lower is better).

    A fixed action dominates when both its statistic and its cost are strictly lower. The closest
    in cost minimises |log(cost / policy cost)|.
    """
    if not fixed:
        raise ValueError("compare_with_fixed needs at least one fixed action")
    value, cost = policy
    dominated_by = tuple(name for name, (v, c) in fixed.items() if v < value and c < cost)
    closest = min(fixed, key=lambda name: abs(math.log(max(fixed[name][1], 1e-300) / max(cost, 1e-300))))
    return Comparison(value, cost, dominated_by, closest, *fixed[closest])


# ---------------------------------------------------------------- the front at the policy's cost


def interpolate_front(costs: Sequence[float], values: Sequence[float], cost: float, *, log_value: bool) -> float:
    """The front's value at ``cost``: linear in log cost between the two fixed actions whose costs
    bracket it, and in log value when ``log_value`` (values floored at :data:`LOG_ERROR_FLOOR`).
    NaN outside [min cost, max cost]: no extrapolation."""
    order = np.argsort(costs, kind="stable")
    xs = np.log(np.asarray(costs, dtype=float)[order])
    ys = np.asarray(values, dtype=float)[order]
    if not (len(xs) and xs[0] <= math.log(cost) <= xs[-1]):
        return math.nan
    x = math.log(cost)
    right = int(np.searchsorted(xs, x, side="left"))
    if xs[right] == x:
        return float(ys[right])
    left = right - 1
    w = (x - xs[left]) / (xs[right] - xs[left])
    a, b = ys[left], ys[right]
    if log_value:
        a, b = math.log(max(a, LOG_ERROR_FLOOR)), math.log(max(b, LOG_ERROR_FLOOR))
    if math.isinf(a) or math.isinf(b):  # a lost fixed action: the front is as bad on this span
        mixed = math.inf
    else:
        mixed = (1 - w) * a + w * b
    return float(math.exp(mixed)) if log_value else float(mixed)


def position(estimate: Estimate, front: float) -> str:
    """"below", "on" or "above" the front's value (by the bootstrap interval), or "outside" (NaN)."""
    if math.isnan(front):
        return "outside"
    if estimate.high < front:
        return "below"
    if estimate.low > front:
        return "above"
    return "on"


def ratio(statistic: str, policy: float, front: float) -> float:
    """The policy's value over the front's: below 1 is better. For the mean log10 error the ratio of
    geometric means, 10 ** (policy - front); for errors, both floored at :data:`LOG_ERROR_FLOOR`."""
    if math.isnan(front):
        return math.nan
    if statistic == "mean_log10":
        return 10.0 ** (policy - front)
    if statistic != "fraction_above_tolerance":
        policy, front = max(policy, LOG_ERROR_FLOOR), max(front, LOG_ERROR_FLOOR)
    if front == 0:
        return 1.0 if policy == 0 else math.inf
    return policy / front


@dataclass(frozen=True)
class StatisticVerdict:
    """The policy against the fixed actions on one statistic and one cost axis."""

    statistic: str
    policy: Estimate
    front: float  # the front's interpolated value at the policy's cost; NaN outside its cost range
    position: str  # "below", "on", "above" or "outside"
    ratio: float  # policy / front (see :func:`ratio`); NaN outside
    comparison: Comparison


@dataclass(frozen=True)
class Verdict:
    """The policy against the fixed-parameter front on every statistic, at its cost on one axis."""

    cost_axis: str
    tolerance: float
    policy: str
    policy_cost: float
    front_cost_range: tuple[float, float]
    statistics: tuple[StatisticVerdict, ...]

    def get(self, statistic: str) -> StatisticVerdict:
        return next(s for s in self.statistics if s.statistic == statistic)


def verdict(summaries: Sequence[MethodSummary], axis: CostAxis = "force_evals",
            tolerance: float = DEFAULT_TOLERANCE) -> Verdict | None:
    """The policy's :class:`Verdict` on ``axis``; ``None`` when the policy or a fixed action lacks that
    cost (a deployed wall time not measured). ``tolerance`` only labels the fraction's threshold."""
    policy = next(s for s in summaries if s.role == "policy")
    fixed = [s for s in summaries if s.role == "fixed"]
    if not fixed:
        raise ValueError("a verdict needs at least one fixed action")
    costs = [s.cost(axis) for s in fixed]
    cost = policy.cost(axis)
    if not all(math.isfinite(c) and c > 0 for c in [cost, *costs]):
        return None
    statistics = []
    for name in STATISTICS:
        estimate = policy.final_error.get(name)
        values = [s.final_error.get(name).value for s in fixed]
        front = interpolate_front(costs, values, cost, log_value=name not in _LINEAR_STATISTICS)
        pairs = {s.method: (v, c) for s, v, c in zip(fixed, values, costs, strict=True)}
        comparison = compare_with_fixed((estimate.value, cost), pairs)
        statistics.append(StatisticVerdict(name, estimate, front, position(estimate, front),
                                           ratio(name, estimate.value, front), comparison))
    return Verdict(axis, tolerance, policy.method, cost, (min(costs), max(costs)), tuple(statistics))
