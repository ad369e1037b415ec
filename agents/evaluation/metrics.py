"""Stage 4 of an evaluation: per-method statistics and the verdict against the fixed actions.

Units: energy errors are relative, |E - E0| / |E0|; cost is force evaluations (deterministic),
wall time in seconds beside it. Failed episodes count with the error and cost they had when
they stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from agents.evaluation.methods import MethodSpec
from agents.rollout import RolloutResult


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
class MethodSummary:
    """One method's episodes aggregated: error, cost and wall-time statistics, failures by reason."""

    method: str
    kind: str
    episodes: int
    final_error: Percentiles  # of |final dE/E0|
    max_error: Percentiles  # of the largest |dE/E0| at any interval end
    force_evals_total: int
    force_evals: Percentiles
    integrator_steps_total: int
    integrator_steps: Percentiles
    wall_time_total: float
    wall_time: Percentiles
    mean_param_median: float  # median over episodes of the geometric mean parameter
    failure_rate: float
    failures: str  # "reason:count;..." for the failed episodes

    def row(self) -> dict[str, Any]:
        """Flat columns for CSV and JSON: ``final_error_median``, ``final_error_p10``, ..."""
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Percentiles):
                row.update({f"{f.name}_{k.name}": getattr(value, k.name) for k in fields(value)})
            else:
                row[f.name] = value
        return row


def summarize(spec: MethodSpec, result: RolloutResult) -> MethodSummary:
    """Aggregate one method's episodes into a :class:`MethodSummary`."""
    ends, counts = np.unique(result.end[result.failed], return_counts=True)
    return MethodSummary(
        method=spec.name, kind=spec.kind, episodes=int(result.seeds.size),
        final_error=Percentiles.of(np.abs(result.final_energy_error)),
        max_error=Percentiles.of(result.max_energy_error),
        force_evals_total=int(result.force_evals.sum()), force_evals=Percentiles.of(result.force_evals.astype(float)),
        integrator_steps_total=int(result.integrator_steps.sum()),
        integrator_steps=Percentiles.of(result.integrator_steps.astype(float)),
        wall_time_total=float(result.wall_time.sum()), wall_time=Percentiles.of(result.wall_time),
        mean_param_median=float(np.median(10.0 ** result.mean_log_param)),
        failure_rate=float(result.failed.mean()),
        failures=";".join(f"{end}:{n}" for end, n in zip(ends, counts)),
    )


@dataclass(frozen=True)
class Comparison:
    """The training issue's criterion: is the policy dominated by a fixed action, and does it beat
    the fixed action closest to it in total cost (closest on a log scale)?"""

    policy_error: float
    policy_cost: float
    dominated_by: tuple[str, ...]
    closest: str
    closest_error: float
    closest_cost: float

    @property
    def beats_closest(self) -> bool:
        return self.policy_error < self.closest_error

    @property
    def passes(self) -> bool:
        return not self.dominated_by and self.beats_closest

    def describe(self) -> str:
        """Two lines for the terminal."""
        if self.dominated_by:
            first = (f"DOMINATED by {', '.join(self.dominated_by)}: each has both lower median error and lower "
                     f"total cost.")
        else:
            first = "Not dominated: no fixed action has both lower median error and lower total cost."
        ratio = self.closest_error / self.policy_error if self.policy_error > 0 else math.inf
        verdict = "lower" if self.beats_closest else "NOT lower"
        second = (f"Closest fixed action in total cost: {self.closest} ({self.closest_cost:.4g} vs "
                  f"{self.policy_cost:.4g} force evals); the policy's median |dE/E0| {self.policy_error:.3g} is "
                  f"{verdict} than its {self.closest_error:.3g} (ratio {ratio:.3g}).")
        return first + "\n" + second


def compare_with_fixed(policy: tuple[float, float], fixed: Mapping[str, tuple[float, float]]) -> Comparison:
    """Compare ``policy`` = (median final error, total cost) with each fixed action's pair.

    A fixed action dominates when both its error and its cost are strictly lower. The closest in
    cost minimises |log(cost / policy cost)|.
    """
    if not fixed:
        raise ValueError("compare_with_fixed needs at least one fixed action")
    error, cost = policy
    dominated_by = tuple(name for name, (e, c) in fixed.items() if e < error and c < cost)
    closest = min(fixed, key=lambda name: abs(math.log(max(fixed[name][1], 1e-300) / max(cost, 1e-300))))
    return Comparison(error, cost, dominated_by, closest, *fixed[closest])


def compare_summaries(summaries: Sequence[MethodSummary]) -> Comparison:
    """:func:`compare_with_fixed` on median final error and total force evals."""
    pair = {s.method: (s.final_error.median, s.force_evals_total) for s in summaries}
    policy = next(s.method for s in summaries if s.kind == "policy")
    return compare_with_fixed(pair[policy], {s.method: pair[s.method] for s in summaries if s.kind == "fixed"})
