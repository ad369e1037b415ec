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
    ACCURACY_MEASURES,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    COST_AXES,
    DECIDING_STATISTICS,
    DEFAULT_TOLERANCE,
    FRONT_ROLES,
    LOG_ERROR_CEILING,
    LOG_ERROR_FLOOR,
    Call,
    Estimate,
    MethodSummary,
    Verdict,
    overall_call,
    summarize,
    verdict,
)
from agents.evaluation.runs import EvaluationError, Run, Settings
from agents.rollout import RolloutResult

EPISODE_COLUMNS = ("method", "role", "integrator", "seed", "final_energy_error", "abs_final_energy_error",
                   "max_energy_error", "local_error", "force_evals", "integrator_steps", "wall_time", "intervals",
                   "episode_return", "mean_param", "end", "failed", "deployed_wall_time")


def episode_rows(specs: Sequence[MethodSpec], results: Mapping[str, RolloutResult]) -> list[dict[str, Any]]:
    """One row per method x initial condition, columns :data:`EPISODE_COLUMNS` (``local_error``, the
    episode's summed local error, is NaN unless measured)."""
    rows = []
    for spec in specs:
        r = results[spec.name]
        for i, seed in enumerate(r.seeds):
            rows.append({
                "method": spec.name, "role": spec.role, "integrator": spec.integrator or "", "seed": int(seed),
                "final_energy_error": float(r.final_energy_error[i]),
                "abs_final_energy_error": abs(float(r.final_energy_error[i])),
                "max_energy_error": float(r.max_energy_error[i]), "local_error": float(r.local_error[i]),
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


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """``document`` as strict, indented JSON (NaN and infinities as null; other objects by ``str``)."""
    path.write_text(json.dumps(_json_safe(document), indent=2, default=str) + "\n")


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

    ``tolerance`` is the error threshold of the fraction above tolerance (both measures).
    ``verdicts`` holds one :class:`~agents.evaluation.metrics.Verdict` per (accuracy measure, cost
    axis) the results carry: the energy error always, the local error when measured; force
    evaluations always, deployed wall time when every policy and fixed episode has one. ``call`` is
    their :func:`~agents.evaluation.metrics.overall_call`.
    """

    run: Run
    settings: Settings
    seeds: list[int]
    specs: list[MethodSpec]
    results: dict[str, RolloutResult]
    tolerance: float = DEFAULT_TOLERANCE
    summaries: list[MethodSummary] = field(init=False)
    verdicts: dict[tuple[str, str], Verdict] = field(init=False)
    call: Call = field(init=False)

    def __post_init__(self) -> None:
        self.summaries = [summarize(s, self.results[s.name], self.tolerance) for s in self.specs]
        found = {(measure, axis): verdict(self.summaries, axis, self.tolerance, measure)
                 for measure in ACCURACY_MEASURES for axis in COST_AXES}
        self.verdicts = {key: v for key, v in found.items() if v is not None}
        self.call = overall_call(self.verdicts)


def _verdict_document(v: Verdict) -> dict[str, Any]:
    document = asdict(v)
    for s, stat in zip(v.statistics, document["statistics"], strict=True):
        stat["comparison"].update(beats_closest=s.comparison.beats_closest, passes=s.comparison.passes,
                                  cost_margin=s.comparison.cost_margin)
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
            "front": "the union front: the lower envelope of every fixed (method, parameter) point, interpolated "
                     "at the policy's cost log-log for errors, linear in log cost for the fraction above tolerance "
                     "and the mean log10 error; its best value past its last point; 'outside' below the cheapest "
                     "fixed choice (or below the front past the most expensive one)",
            "deciding_statistics": DECIDING_STATISTICS,
        },
        "baselines": sorted({s.integrator for s in report.summaries if s.role in FRONT_ROLES}),
        "methods": rows,
        "comparison": {measure: {axis: _verdict_document(report.verdicts[measure, axis])
                                 if (measure, axis) in report.verdicts else None for axis in COST_AXES}
                       for measure in ACCURACY_MEASURES},
        "call": asdict(report.call),
    }
    write_json(summary_json, document)
    return [episodes, summary_csv, summary_json]


_STATISTIC_LABELS = {"median": "median", "p90": "p90", "max": "max", "fraction_above_tolerance": "runs above tol",
                     "mean_log10": "mean log10"}
_MEASURE_LABELS = {"energy_error": "final |dE/E0|", "local_error": "summed local error"}
_COST_LABELS = {"force_evals": "force evaluations", "deployed_wall_time": "deployed wall time"}
_INTERVALS = ("median", "p90", "> tol", "mean log10", "local median", "local p90", "local mean log10")
#: What "below", "on", "above" and "outside" mean, printed under the verdicts.
POSITION_LEGEND = ("below / on / above: the policy's 95% interval lies wholly below / across / wholly above the union "
                   "front at its cost; OUTSIDE: its cost is below the cheapest fixed choice (or past the dearest, "
                   "where the front is only a bound), so the front cannot judge it")


def _format(statistic: str, value: float) -> str:
    if statistic == "fraction_above_tolerance":
        return f"{100 * value:.0f}%"
    if statistic == "mean_log10":
        return f"{value:.2f}"
    return f"{value:.2e}"


def _with_interval(statistic: str, estimate: Estimate) -> str:
    value, low, high = (_format(statistic, x) for x in (estimate.value, estimate.low, estimate.high))
    return f"{value} [{low}, {high}]"


def _cost_per_episode(axis: str, total: float, episodes: int) -> str:
    """A total cost as its mean per episode: force evaluations, or deployed wall time in ms."""
    per_episode = total / episodes
    return f"{per_episode:,.0f} force evals" if axis == "force_evals" else f"{1e3 * per_episode:.3g} ms"


def describe_episodes(settings: Settings, n_initial_conditions: int) -> str:
    """"100 test initial conditions of the paper family (N = 3) x 300 intervals of 1.088 N-body time
    units (0.1 yr), ias15": what the tables and figures are about, family, N and interval included."""
    from threebody_env.env import probe_body_count
    from threebody_env.initial_conditions import PAPER_INTERVAL

    config = settings.config
    family = config.initial_conditions if isinstance(config.initial_conditions, str) else "user-supplied"
    years = " (0.1 yr)" if math.isclose(config.interval, PAPER_INTERVAL, rel_tol=1e-12) else ""
    return (f"{n_initial_conditions} test initial conditions of the {family} family (N = {probe_body_count(config)}) x "
            f"{settings.n_intervals} intervals of {config.interval:.4g} N-body time units{years}, "
            f"{config.integrator}")


def print_table(report: Report, console=None) -> None:
    """The methods sorted by force evaluations per episode (the policy highlighted), then one verdict
    table per accuracy measure and cost axis (each statistic below, on or above the union front),
    what the positions mean, and the overall call."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = 300  # a log file or pipe: never squeeze the columns
    deployed = any(math.isfinite(s.deployed_wall_time_total) for s in report.summaries)
    local = any(s.local_error is not None for s in report.summaries)
    table = Table(title=f"{describe_episodes(report.settings, len(report.seeds))}: final |dE/E0|"
                        f"{' and summed local error' if local else ''} per episode with {100 * CONFIDENCE:.0f}% "
                        f"bootstrap intervals; tol = {report.tolerance:g}; costs are means per episode",
                  title_justify="left")
    headers = ["method", "median", "p90", "max", "> tol", "mean log10",
               *(["local median", "local p90", "local mean log10"] if local else []), "force evals / episode",
               "wall ms / episode", *(["deployed ms / episode"] if deployed else []), "failed"]
    widest = max(len(s.method) for s in report.summaries) + 2
    for header in headers:  # the intervals may wrap in a narrow terminal, names and costs not
        table.add_column(escape(header), justify="left" if header == "method" else "right",
                         no_wrap=header not in _INTERVALS,
                         min_width=widest if header == "method" else None)
    for s in sorted(report.summaries, key=lambda s: (s.force_evals_total, ROLES.index(s.role))):
        style = "bold magenta" if s.role == "policy" else ("cyan" if s.role != "fixed" else None)
        e, le = s.final_error, s.local_error
        local_cells = [escape(_with_interval(name, le.get(name))) if le is not None else "-"
                       for name in ("median", "p90", "mean_log10")]
        table.add_row(
            ("> " if s.role == "policy" else "  ") + escape(s.method),
            escape(_with_interval("median", e.median)), escape(_with_interval("p90", e.p90)),
            _format("max", e.max.value),
            escape(_with_interval("fraction_above_tolerance", e.fraction_above_tolerance)),
            escape(_with_interval("mean_log10", e.mean_log10)), *(local_cells if local else []),
            f"{s.force_evals_total / s.episodes:,.0f}", f"{1e3 * s.wall_time_total / s.episodes:.3g}",
            *([f"{1e3 * s.deployed_wall_time_total / s.episodes:.3g}"] if deployed else []),
            f"{100 * s.failure_rate:.0f}%" + (f" ({s.failures})" if s.failures else ""),
            style=style,
        )
    console.print(table)
    for measure in ACCURACY_MEASURES:
        for axis in COST_AXES:
            if (measure, axis) in report.verdicts:
                console.print(_verdict_table(report.verdicts[measure, axis]))
            elif measure == "energy_error" or local:
                console.print(f"No verdict on the {_MEASURE_LABELS[measure]} at equal {_COST_LABELS[axis]}: the "
                              f"results do not carry it.", highlight=False, markup=False)
    console.print(POSITION_LEGEND, highlight=False, markup=False)
    if not local:
        console.print("The local error was not measured (--local-error): without it the policy can lose, not win.",
                      highlight=False, markup=False)
    colour = {"wins": "green", "loses": "red", "undecided": "yellow"}[report.call.outcome]
    console.print(f"[bold]Overall call[/] (against every fixed choice, on both measures, at both costs): the policy "
                  f"[bold {colour}]{report.call.outcome.upper()}[/]: {escape(report.call.reason)}.")


def _verdict_table(v: Verdict):
    from rich.markup import escape
    from rich.table import Table

    lo, hi = v.front_cost_range
    per = lambda total: _cost_per_episode(v.cost_axis, total, v.episodes)  # noqa: E731
    table = Table(title=escape(f"Verdict on the {_MEASURE_LABELS[v.measure]} at equal {_COST_LABELS[v.cost_axis]}: "
                               f"{v.policy} costs {per(v.policy_cost)} per episode (fixed choices span {per(lo)} to "
                               f"{per(hi)}); union front at that cost"),
                  title_justify="left")
    for header in ("statistic", "policy [95% CI]", "union front", "policy is", "ratio", "competitor (cheapest fixed "
                   "as good: cost / policy's)", "dominated by", "closest fixed action"):
        table.add_column(escape(header), justify="left" if header in ("statistic", "dominated by") else "right")
    colours = {"below": "green", "on": "yellow", "above": "red", "outside": "dim"}
    deciding = DECIDING_STATISTICS[v.measure]
    for s in v.statistics:
        c = s.comparison
        front = _format(s.statistic, s.front) if math.isfinite(s.front) else ("inf" if s.front > 0 else "-")
        competitor = (escape(f"{c.competitor}: {_format(s.statistic, c.competitor_value)}, {c.cost_margin:.2g}x")
                      if c.competitor else "[green]none[/]")
        more = ", ..." if len(c.dominated_by) > 1 else ""
        dominated = escape(f"{len(c.dominated_by)}: {c.dominated_by[0]}{more}") if c.dominated_by else "[green]none[/]"
        table.add_row(
            escape(_STATISTIC_LABELS[s.statistic].replace("tol", f"{v.tolerance:g}")) + (" *" if s.statistic in deciding
                                                                                        else ""),
            escape(_with_interval(s.statistic, s.policy)), front,
            f"[{colours[s.position]}]{s.position.upper()}[/]", f"{s.ratio:.3g}" if math.isfinite(s.ratio) else "-",
            competitor, dominated,
            escape(f"{c.closest}: {_format(s.statistic, c.closest_value)}") + (" (policy lower)" if c.beats_closest
                                                                               else " ([red]policy NOT lower[/])"),
        )
    table.caption = "* a deciding statistic of the overall call"
    table.caption_justify = "left"
    return table
