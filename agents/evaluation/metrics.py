"""Stage 4 of an evaluation: per-method statistics and the verdict against the union front.

Units: costs are totals over the initial conditions, in force evaluations (deterministic) or
seconds of deployed wall time (one system at a time, one decision per interval; present when the
results carry it). Two accuracy measures (:data:`ACCURACY_MEASURES`), each per episode:

- ``energy_error``: the final relative energy error |E - E0| / |E0|;
- ``local_error``: the local error summed over the episode's intervals, each the phase-space
  distance of the method's end state from an independent reference integration of the same
  interval from the same start state (measured only when asked: it costs one reference
  integration per interval). No controller observes it or is rewarded on it, and no method
  conserves it by construction, so it cannot be steered the way the energy error can.

Error conventions (every statistic of a measure uses the same per-episode value):

- A failed episode counts with the error it had when it stopped (a run that crossed the error
  limit counts with its error there, above the limit).
- A non-finite error (the integration blew up) counts as ``+inf``: worse than any finite
  error in the median, p90, maximum and fraction above tolerance.
- The mean of log10 error clips each error into [:data:`LOG_ERROR_FLOOR`, :data:`LOG_ERROR_CEILING`]
  = [1e-16, 1]: below 1e-16 (double round-off, or an exact 0) nothing is measured, and from 1 up
  (|dE| >= |E0|, the run is lost, including ``inf``) every loss counts the same, so one blow-up
  moves the mean by a bounded 16 / n decades at most.

Each statistic carries a 95 % bootstrap interval over initial conditions: :data:`BOOTSTRAP_RESAMPLES`
resamples with replacement drawn from a fixed seed, the same resamples for every method (they ran on
the same initial conditions), the interval being the 2.5th and 97.5th percentiles of the resampled
statistic (the percentile method).

The verdict (:func:`verdict`) places the policy against the union front at the policy's cost: the
lower envelope (:func:`lower_envelope`) of every fixed (method, parameter) point, whatever its
method, joined between consecutive envelope points linearly in (log cost, log statistic) for the
error statistics, in (log cost, statistic) for the fraction above tolerance and the mean log10
error (already a logarithm). Past the envelope's best point the front stays at that value (a fixed
choice reaches it for less). Below the cheapest fixed choice there is no extrapolation: the
position is "outside". The policy is "below" the front when its whole bootstrap interval lies
below the front's value, "above" when it lies above, and "on" when the interval contains it.
:func:`overall_call` combines the verdicts of both measures and both cost axes into one call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from agents.evaluation.methods import MethodSpec
from agents.rollout import RolloutResult

#: The cost axes a verdict can be taken on: total force evaluations, total deployed wall time [s].
CostAxis = Literal["force_evals", "deployed_wall_time"]
COST_AXES: tuple[CostAxis, ...] = ("force_evals", "deployed_wall_time")
#: The accuracy measures a verdict can be taken on (see the module's docstring).
Measure = Literal["energy_error", "local_error"]
ACCURACY_MEASURES: tuple[Measure, ...] = ("energy_error", "local_error")
#: The roles that make up the front: every fixed (method, parameter), grid points and defaults alike.
FRONT_ROLES = ("fixed", "default")
#: The statistics a win must hold on, per measure (the bar of issue 17): the tails and the typical
#: run of the energy error; the typical run and the tail of the local error.
DECIDING_STATISTICS: dict[str, tuple[str, ...]] = {"energy_error": ("median", "p90", "mean_log10"),
                                                  "local_error": ("median", "p90")}

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
    """One accuracy measure of a method's episodes, summarised (see the module's error conventions)."""

    median: Estimate
    p90: Estimate
    max: Estimate
    fraction_above_tolerance: Estimate  # share of episodes with error > tolerance, in [0, 1]
    mean_log10: Estimate  # mean of log10 of the error clipped into [LOG_ERROR_FLOOR, LOG_ERROR_CEILING]

    def get(self, statistic: str) -> Estimate:
        return getattr(self, statistic)


def episode_errors(result: RolloutResult, measure: Measure = "energy_error") -> np.ndarray:
    """|final dE/E0| (or the summed local error) per episode, non-finite values as ``+inf``."""
    values = result.final_energy_error if measure == "energy_error" else result.local_error
    errors = np.abs(values.astype(float))
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
    integrator: str  # the method's integrator ("" for the REBOUND reference)
    episodes: int
    final_error: ErrorStatistics  # of the final |dE/E0|
    local_error: ErrorStatistics | None  # of the summed local error; None when not measured
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

    def accuracy(self, measure: Measure) -> ErrorStatistics | None:
        """The statistics of ``measure``: the final energy error, or the local error (None unless measured)."""
        if measure not in ACCURACY_MEASURES:
            raise ValueError(f"accuracy measure {measure!r} is unknown; choose from {ACCURACY_MEASURES}")
        return self.final_error if measure == "energy_error" else self.local_error

    def row(self) -> dict[str, Any]:
        """Flat columns for CSV and JSON: ``final_error_median``, ``final_error_median_low``, ...
        (``local_error_median``, ... are NaN when the local error was not measured)."""
        return _flatten(self if self.local_error is not None else replace(self, local_error=_NOT_MEASURED))


_NOT_MEASURED = ErrorStatistics(*[Estimate(math.nan, math.nan, math.nan)] * len(STATISTICS))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Estimate):
        return {prefix: value.value, f"{prefix}_low": value.low, f"{prefix}_high": value.high}
    if hasattr(value, "__dataclass_fields__"):
        row: dict[str, Any] = {}
        for f in fields(value):
            row.update(_flatten(getattr(value, f.name), f"{prefix}_{f.name}" if prefix else f.name))
        return row
    return {prefix: value}


def integrator_name(integrator: str | tuple[str, ...] | None) -> str:
    """A spec's integrator as one name: a meta policy's methods joined by "+" ("" for none)."""
    return integrator if isinstance(integrator, str) else "+".join(integrator or ())


def summarize(spec: MethodSpec, result: RolloutResult, tolerance: float = DEFAULT_TOLERANCE) -> MethodSummary:
    """Aggregate one method's episodes into a :class:`MethodSummary` (the local error's statistics
    when every episode carries one). ``tolerance`` applies to both measures."""
    ends, counts = np.unique(result.end[result.failed], return_counts=True)
    deployed = result.deployed_wall_time
    measured = not np.isnan(result.local_error).any()
    return MethodSummary(
        method=spec.name, role=spec.role, integrator=integrator_name(spec.integrator), episodes=int(result.seeds.size),
        final_error=error_statistics(episode_errors(result), tolerance),
        local_error=error_statistics(episode_errors(result, "local_error"), tolerance) if measured else None,
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


# ---------------------------------------------------------------- domination, the closest and the competitor


@dataclass(frozen=True)
class Comparison:
    """The policy against each fixed choice on one statistic (lower is better): is it dominated (some
    fixed choice has both a lower cost and a lower value), is it lower than the fixed choice closest
    to it in cost (closest on a log scale), and which is its competitor, the cheapest fixed choice at
    least as good (``competitor`` is "" when none is)."""

    policy_value: float
    policy_cost: float
    dominated_by: tuple[str, ...]
    closest: str
    closest_value: float
    closest_cost: float
    competitor: str = ""
    competitor_value: float = math.nan
    competitor_cost: float = math.inf

    @property
    def beats_closest(self) -> bool:
        return self.policy_value < self.closest_value

    @property
    def passes(self) -> bool:
        return not self.dominated_by and self.beats_closest

    @property
    def cost_margin(self) -> float:
        """The competitor's cost over the policy's: what a fixed choice at least as good costs, in units
        of the policy's cost (``inf`` when none is as good; below 1, a fixed choice is as good for less)."""
        return self.competitor_cost / self.policy_cost


def compare_with_fixed(policy: tuple[float, float], fixed: Mapping[str, tuple[float, float]]) -> Comparison:
    """Compare ``policy`` = (statistic, total cost) with each fixed choice's pair (lower is better).

    A fixed choice dominates when both its statistic and its cost are strictly lower. The closest
    in cost minimises |log(cost / policy cost)|. The competitor is the cheapest whose statistic is
    at most the policy's.
    """
    if not fixed:
        raise ValueError("compare_with_fixed needs at least one fixed action")
    value, cost = policy
    dominated_by = tuple(name for name, (v, c) in fixed.items() if v < value and c < cost)
    closest = min(fixed, key=lambda name: abs(math.log(max(fixed[name][1], 1e-300) / max(cost, 1e-300))))
    as_good = [name for name, (v, _) in fixed.items() if v <= value]
    competitor = min(as_good, key=lambda name: fixed[name][1], default="")
    rival = fixed[competitor] if competitor else (math.nan, math.inf)
    return Comparison(value, cost, dominated_by, closest, *fixed[closest], competitor, *rival)


# ---------------------------------------------------------------- the union front at the policy's cost


def lower_envelope(costs: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Indices of the points (cost, value) on the lower envelope, by increasing cost: the cheapest
    point, then each point whose value is below that of every cheaper one (lower is better on both),
    so the values strictly decrease. A point that another matches or beats for no more cost is off it."""
    order = np.lexsort((np.asarray(values, dtype=float), np.asarray(costs, dtype=float)))
    kept: list[int] = []
    best = math.inf
    for k in order:
        if not kept or values[k] < best:
            kept.append(k)
            best = values[k]
    return np.asarray(kept, dtype=np.int64)


def front_value(costs: Sequence[float], values: Sequence[float], cost: float, *, log_value: bool) -> float:
    """The union front's value at ``cost``: :func:`interpolate_front` between consecutive points of
    the :func:`lower_envelope`, its best value beyond its last point, NaN below its first."""
    envelope = lower_envelope(costs, values)
    xs, ys = np.asarray(costs, dtype=float)[envelope], np.asarray(values, dtype=float)[envelope]
    if cost > xs[-1]:
        return float(ys[-1])
    return interpolate_front(xs, ys, cost, log_value=log_value)


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
    """The policy against the union front on one statistic, one accuracy measure and one cost axis."""

    statistic: str
    policy: Estimate
    front: float  # the union front's value at the policy's cost; NaN below the cheapest fixed choice
    position: str  # "below", "on", "above" or "outside"
    ratio: float  # policy / front (see :func:`ratio`); NaN outside
    comparison: Comparison


@dataclass(frozen=True)
class Verdict:
    """The policy against the union front of every fixed (method, parameter) on every statistic of
    one accuracy measure, at its cost on one axis. Costs are totals over the initial conditions."""

    cost_axis: str
    tolerance: float
    policy: str
    policy_cost: float
    front_cost_range: tuple[float, float]
    statistics: tuple[StatisticVerdict, ...]
    measure: str = "energy_error"
    episodes: int = 1  # initial conditions, to state costs per episode

    def get(self, statistic: str) -> StatisticVerdict:
        return next(s for s in self.statistics if s.statistic == statistic)


def verdict(summaries: Sequence[MethodSummary], axis: CostAxis = "force_evals",
            tolerance: float = DEFAULT_TOLERANCE, measure: Measure = "energy_error") -> Verdict | None:
    """The policy's :class:`Verdict` on ``measure`` at equal ``axis`` cost, against the union front of
    the fixed choices (roles :data:`FRONT_ROLES`, whatever their method); ``None`` when the policy or
    a fixed choice lacks that cost or measure (a deployed wall time or local error not measured).
    ``tolerance`` only labels the fraction's threshold.

    Past the most expensive fixed choice the front is known only as a bound (no fixed choice was run
    there), so a policy below it is "outside" rather than "below".
    """
    policy = next(s for s in summaries if s.role == "policy")
    fixed = [s for s in summaries if s.role in FRONT_ROLES]
    if not fixed:
        raise ValueError("a verdict needs at least one fixed action")
    costs = [s.cost(axis) for s in fixed]
    cost = policy.cost(axis)
    if not all(math.isfinite(c) and c > 0 for c in [cost, *costs]):
        return None
    policy_stats, fixed_stats = policy.accuracy(measure), [s.accuracy(measure) for s in fixed]
    if policy_stats is None or any(f is None for f in fixed_stats):
        return None
    statistics = []
    for name in STATISTICS:
        estimate = policy_stats.get(name)
        values = [f.get(name).value for f in fixed_stats if f is not None]
        front = front_value(costs, values, cost, log_value=name not in _LINEAR_STATISTICS)
        where = position(estimate, front)
        if where == "below" and cost > max(costs):
            where = "outside"
        pairs = {s.method: (v, c) for s, v, c in zip(fixed, values, costs, strict=True)}
        comparison = compare_with_fixed((estimate.value, cost), pairs)
        statistics.append(StatisticVerdict(name, estimate, front, where, ratio(name, estimate.value, front),
                                           comparison))
    return Verdict(axis, tolerance, policy.method, cost, (min(costs), max(costs)), tuple(statistics), measure,
                   policy.episodes)


_AXIS_WORDS = {"force_evals": "force evaluations", "deployed_wall_time": "deployed wall time"}


@dataclass(frozen=True)
class Call:
    """The verdict's overall call: ``outcome`` "wins", "loses" or "undecided", and why, in one line."""

    outcome: str
    reason: str


def overall_call(verdicts: Mapping[tuple[str, str], Verdict]) -> Call:
    """One call from the verdicts keyed by (measure, cost axis), on the :data:`DECIDING_STATISTICS`.

    The policy loses when on some deciding statistic it lies above the union front or a fixed choice
    dominates it. It wins only when on every deciding statistic of both measures, at both equal
    force evaluations and equal deployed wall time, it lies below the front. Anything else
    (a statistic on the front or outside it, a measure or cost axis not measured) is undecided.
    """
    losses, open_ = [], []
    for measure in ACCURACY_MEASURES:
        for axis in COST_AXES:
            v = verdicts.get((measure, axis))
            if v is None:
                open_.append(f"no {measure.replace('_', ' ')} verdict at equal {_AXIS_WORDS[axis]}")
                continue
            for name in DECIDING_STATISTICS[measure]:
                s = v.get(name)
                where = f"{name.replace('_', ' ')} of the {measure.replace('_', ' ')} at equal {_AXIS_WORDS[axis]}"
                if s.position == "above" or s.comparison.dominated_by:
                    losses.append(f"{where}: {s.comparison.competitor} is as good for "
                                  f"{s.comparison.cost_margin:.2g}x the cost")
                elif s.position != "below":
                    open_.append(f"{where} is {s.position}")
    if losses:
        return Call("loses", "; ".join(losses[:3]) + (f" (and {len(losses) - 3} more)" if len(losses) > 3 else ""))
    if open_:
        return Call("undecided", "; ".join(open_[:3]) + (f" (and {len(open_) - 3} more)" if len(open_) > 3 else ""))
    margin = min(v.get(n).comparison.cost_margin for (m, _), v in verdicts.items() for n in DECIDING_STATISTICS[m])
    return Call("wins", f"below the union front on every deciding statistic of both measures at both costs; "
                        f"the cheapest fixed choice as good costs {margin:.2g}x the policy's")
