"""Stage 5 of an evaluation: the :class:`Report` and its outputs (CSV, JSON, the terminal tables).

Outputs go into one folder: ``episodes.csv`` (one row per method x initial condition),
``summary.csv`` (one row per method), ``summary.json`` (settings, every method's statistics and
the verdicts) and the figures of :mod:`agents.plots`. :func:`prepare_output` checks the folder
before any work: it must be writable, and results already there are replaced only when asked.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.evaluation.methods import ROLES, MethodSpec
from agents.evaluation.metrics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    COST_AXES,
    DEFAULT_TOLERANCE,
    LOG_ERROR_CEILING,
    LOG_ERROR_FLOOR,
    Estimate,
    MethodSummary,
    Verdict,
    summarize,
    verdict,
)
from agents.evaluation.runs import EvaluationError, Run, Settings
from agents.rollout import RolloutResult

EPISODE_COLUMNS = ("method", "role", "seed", "final_energy_error", "abs_final_energy_error", "max_energy_error",
                   "force_evals", "integrator_steps", "wall_time", "intervals", "episode_return", "mean_param",
                   "end", "failed", "deployed_wall_time")


def episode_rows(specs: Sequence[MethodSpec], results: Mapping[str, RolloutResult]) -> list[dict[str, Any]]:
    """One row per method x initial condition, columns :data:`EPISODE_COLUMNS`."""
    rows = []
    for spec in specs:
        r = results[spec.name]
        for i, seed in enumerate(r.seeds):
            rows.append({
                "method": spec.name, "role": spec.role, "seed": int(seed),
                "final_energy_error": float(r.final_energy_error[i]),
                "abs_final_energy_error": abs(float(r.final_energy_error[i])),
                "max_energy_error": float(r.max_energy_error[i]),
                "force_evals": int(r.force_evals[i]), "integrator_steps": int(r.integrator_steps[i]),
                "wall_time": float(r.wall_time[i]), "intervals": int(r.intervals[i]),
                "episode_return": float(r.episode_return[i]), "mean_param": float(10.0 ** r.mean_log_param[i]),
                "end": str(r.end[i]), "failed": bool(r.failed[i]),
                "deployed_wall_time": float(r.deployed_wall_time[i]),
            })
    return rows


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV; floats written with ``repr`` so equal numbers give equal text."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


#: Every file an evaluation writes into its output folder (tables and figures).
OUTPUT_FILES = ("episodes.csv", "summary.csv", "summary.json", "error_cost.png", "time_series.png", "orbits.png")


def prepare_output(output: Path, *, force: bool = False) -> None:
    """Check ``output`` before any work; raises :class:`EvaluationError` with one line.

    It must be a folder (or not exist yet) under a writable folder. If it already holds an
    evaluation's files, they are deleted with ``force`` (so no old figure survives beside new
    tables), else refused.
    """
    if output.exists() and not output.is_dir():
        raise EvaluationError(f"--output {output} is a file, not a folder")
    existing = output if output.exists() else next((p for p in output.parents if p.exists()), Path("."))
    if not existing.is_dir():
        raise EvaluationError(f"--output {output}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise EvaluationError(f"--output {output} is not writable: creating a file in {existing} fails "
                              f"({exc.strerror or exc})") from None
    old = [output / name for name in OUTPUT_FILES if (output / name).exists()]
    if old and not force:
        raise EvaluationError(f"--output {output} already holds results ({', '.join(p.name for p in old)}); "
                              f"pass --force to replace them")
    for path in old:
        os.remove(path)


@dataclass
class Report:
    """What an evaluation produced, as written to disk and printed.

    ``tolerance`` is the error threshold of the fraction above tolerance. ``verdicts`` holds one
    :class:`~agents.evaluation.metrics.Verdict` per cost axis the results carry (force evaluations
    always; deployed wall time when every policy and fixed episode has one).
    """

    run: Run
    settings: Settings
    seeds: list[int]
    specs: list[MethodSpec]
    results: dict[str, RolloutResult]
    tolerance: float = DEFAULT_TOLERANCE
    summaries: list[MethodSummary] = field(init=False)
    verdicts: dict[str, Verdict] = field(init=False)

    def __post_init__(self) -> None:
        self.summaries = [summarize(s, self.results[s.name], self.tolerance) for s in self.specs]
        found = {axis: verdict(self.summaries, axis, self.tolerance) for axis in COST_AXES}
        self.verdicts = {axis: v for axis, v in found.items() if v is not None}


def _verdict_document(v: Verdict) -> dict[str, Any]:
    document = asdict(v)
    for s, stat in zip(v.statistics, document["statistics"], strict=True):
        stat["comparison"].update(beats_closest=s.comparison.beats_closest, passes=s.comparison.passes)
    document["statistics"] = {stat.pop("statistic"): stat for stat in document["statistics"]}
    return document


def write_outputs(report: Report, output: Path) -> list[Path]:
    """``episodes.csv``, ``summary.csv`` and ``summary.json`` into ``output``; returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    episodes, summary_csv, summary_json = output / "episodes.csv", output / "summary.csv", output / "summary.json"
    write_csv(episodes, episode_rows(report.specs, report.results), EPISODE_COLUMNS)
    rows = [s.row() for s in report.summaries]
    write_csv(summary_csv, rows, list(rows[0]))
    document = {
        "model": str(report.run.model_path), "algo": report.run.algo, "env": report.run.env_id,
        "training_seed": report.run.seed, "trained_integrator": report.run.integrator,
        "env_kwargs": report.settings.env_kwargs,
        "n_intervals": report.settings.n_intervals, "n_initial_conditions": len(report.seeds),
        "seeds": {"first": report.seeds[0], "last": report.seeds[-1], "split": "TEST_SEEDS"},
        "statistics": {
            "tolerance": report.tolerance, "log_error_floor": LOG_ERROR_FLOOR, "log_error_ceiling": LOG_ERROR_CEILING,
            "non_finite_error": "inf", "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED,
                                                     "confidence": CONFIDENCE, "method": "percentile"},
            "front": "fixed actions interpolated at the policy's cost: log-log for errors, linear in log cost for "
                     "the fraction above tolerance and the mean log10 error; 'outside' beyond their cost range",
        },
        "methods": rows,
        "comparison": {axis: _verdict_document(report.verdicts[axis]) if axis in report.verdicts else None
                       for axis in COST_AXES},
    }
    summary_json.write_text(json.dumps(_json_safe(document), indent=2, default=str) + "\n")
    return [episodes, summary_csv, summary_json]


_STATISTIC_LABELS = {"median": "median |dE/E0|", "p90": "p90 |dE/E0|", "max": "max |dE/E0|",
                     "fraction_above_tolerance": "runs above tol", "mean_log10": "mean log10 |dE/E0|"}
_COST_LABELS = {"force_evals": "force evaluations", "deployed_wall_time": "deployed wall time [s]"}


def _format(statistic: str, value: float) -> str:
    if statistic == "fraction_above_tolerance":
        return f"{100 * value:.0f}%"
    if statistic == "mean_log10":
        return f"{value:.2f}"
    return f"{value:.2e}"


def _with_interval(statistic: str, estimate: Estimate) -> str:
    value, low, high = (_format(statistic, x) for x in (estimate.value, estimate.low, estimate.high))
    return f"{value} [{low}, {high}]"


def print_table(report: Report, console=None) -> None:
    """The methods sorted by total force evaluations (the policy highlighted), then one verdict
    table per cost axis: each statistic below, on or above the fixed-parameter front."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = 220  # a log file or pipe: never squeeze the columns
    deployed = any(math.isfinite(s.deployed_wall_time_total) for s in report.summaries)
    table = Table(title=f"{len(report.seeds)} test initial conditions x {report.settings.n_intervals} intervals, "
                        f"{report.settings.config.integrator}: final |dE/E0| per episode with "
                        f"{100 * CONFIDENCE:.0f}% bootstrap intervals; tol = {report.tolerance:g}",
                  title_justify="left")
    headers = ["method", "median", "p90", "max", "> tol", "mean log10", "force evals", "wall [s]",
               *(["deployed [s]"] if deployed else []), "failed"]
    for header in headers:
        table.add_column(escape(header), justify="left" if header == "method" else "right", no_wrap=True)
    for s in sorted(report.summaries, key=lambda s: (s.force_evals_total, ROLES.index(s.role))):
        style = "bold magenta" if s.role == "policy" else ("cyan" if s.role != "fixed" else None)
        e = s.final_error
        table.add_row(
            ("> " if s.role == "policy" else "  ") + escape(s.method),
            escape(_with_interval("median", e.median)), escape(_with_interval("p90", e.p90)),
            _format("max", e.max.value),
            escape(_with_interval("fraction_above_tolerance", e.fraction_above_tolerance)),
            escape(_with_interval("mean_log10", e.mean_log10)), f"{s.force_evals_total:,}", f"{s.wall_time_total:.2f}",
            *([f"{s.deployed_wall_time_total:.3g}"] if deployed else []),
            f"{100 * s.failure_rate:.0f}%" + (f" ({s.failures})" if s.failures else ""),
            style=style,
        )
    console.print(table)
    for axis in COST_AXES:
        if axis in report.verdicts:
            console.print(_verdict_table(report.verdicts[axis]))
        else:
            console.print(f"No verdict at equal {_COST_LABELS[axis]}: the results do not carry it.", highlight=False,
                          markup=False)


def _verdict_table(v: Verdict):
    from rich.markup import escape
    from rich.table import Table

    lo, hi = v.front_cost_range
    table = Table(title=escape(f"Verdict at equal {_COST_LABELS[v.cost_axis]}: {v.policy} costs {v.policy_cost:.4g} "
                        f"(fixed actions span {lo:.4g} to {hi:.4g}); front interpolated at that cost"),
                  title_justify="left")
    for header in ("statistic", "policy [95% CI]", "front", "policy is", "ratio", "dominated by",
                   "closest fixed action"):
        table.add_column(escape(header), justify="left" if header in ("statistic", "dominated by") else "right")
    colours = {"below": "green", "on": "yellow", "above": "red", "outside": "dim"}
    for s in v.statistics:
        c = s.comparison
        front = _format(s.statistic, s.front) if math.isfinite(s.front) else ("inf" if s.front > 0 else "-")
        table.add_row(
            escape(_STATISTIC_LABELS[s.statistic].replace("tol", f"{v.tolerance:g}")),
            escape(_with_interval(s.statistic, s.policy)), front,
            f"[{colours[s.position]}]{s.position.upper()}[/]", f"{s.ratio:.3g}" if math.isfinite(s.ratio) else "-",
            escape(", ".join(c.dominated_by)) if c.dominated_by else "[green]none[/]",
            escape(f"{c.closest}: {_format(s.statistic, c.closest_value)}") + (" (policy lower)" if c.beats_closest
                                                                               else " ([red]policy NOT lower[/])"),
        )
    return table
