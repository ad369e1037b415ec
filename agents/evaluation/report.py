"""Stage 5 of an evaluation: the :class:`Report` and its outputs (CSV, JSON, the terminal table)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.evaluation.methods import KINDS, MethodSpec
from agents.evaluation.metrics import Comparison, MethodSummary, compare_summaries, summarize
from agents.evaluation.runs import Run, Settings
from agents.rollout import RolloutResult

EPISODE_COLUMNS = ("method", "kind", "seed", "final_energy_error", "abs_final_energy_error", "max_energy_error",
                   "force_evals", "integrator_steps", "wall_time", "intervals", "episode_return", "mean_param",
                   "end", "failed")


def episode_rows(specs: Sequence[MethodSpec], results: Mapping[str, RolloutResult]) -> list[dict[str, Any]]:
    """One row per method x initial condition, columns :data:`EPISODE_COLUMNS`."""
    rows = []
    for spec in specs:
        r = results[spec.name]
        for i, seed in enumerate(r.seeds):
            rows.append({
                "method": spec.name, "kind": spec.kind, "seed": int(seed),
                "final_energy_error": float(r.final_energy_error[i]),
                "abs_final_energy_error": abs(float(r.final_energy_error[i])),
                "max_energy_error": float(r.max_energy_error[i]),
                "force_evals": int(r.force_evals[i]), "integrator_steps": int(r.integrator_steps[i]),
                "wall_time": float(r.wall_time[i]), "intervals": int(r.intervals[i]),
                "episode_return": float(r.episode_return[i]), "mean_param": float(10.0 ** r.mean_log_param[i]),
                "end": str(r.end[i]), "failed": bool(r.failed[i]),
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


@dataclass
class Report:
    """What an evaluation produced, as written to disk and printed."""

    run: Run
    settings: Settings
    seeds: list[int]
    specs: list[MethodSpec]
    results: dict[str, RolloutResult]
    summaries: list[MethodSummary] = field(init=False)
    comparison: Comparison = field(init=False)

    def __post_init__(self) -> None:
        self.summaries = [summarize(s, self.results[s.name]) for s in self.specs]
        self.comparison = compare_summaries(self.summaries)


def write_outputs(report: Report, output: Path) -> list[Path]:
    """``episodes.csv``, ``summary.csv`` and ``summary.json`` into ``output``; returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    episodes, summary_csv, summary_json = output / "episodes.csv", output / "summary.csv", output / "summary.json"
    write_csv(episodes, episode_rows(report.specs, report.results), EPISODE_COLUMNS)
    rows = [s.row() for s in report.summaries]
    write_csv(summary_csv, rows, list(rows[0]))
    c = report.comparison
    document = {
        "model": str(report.run.model_path), "algo": report.run.algo, "env": report.run.env_id,
        "training_seed": report.run.seed, "trained_integrator": report.run.integrator,
        "env_kwargs": report.settings.env_kwargs,
        "n_steps": report.settings.n_steps, "n_initial_conditions": len(report.seeds),
        "seeds": {"first": report.seeds[0], "last": report.seeds[-1], "split": "TEST_SEEDS"},
        "methods": rows,
        "comparison": {**asdict(c), "beats_closest": c.beats_closest, "passes": c.passes},
    }
    summary_json.write_text(json.dumps(_json_safe(document), indent=2, default=str) + "\n")
    return [episodes, summary_csv, summary_json]


def print_table(report: Report, console=None) -> None:
    """The summary table sorted by total force evaluations, the policy highlighted, then the verdict."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = 200  # a log file or pipe: never squeeze the columns
    table = Table(title=f"{len(report.seeds)} test initial conditions x {report.settings.n_steps} intervals, "
                        f"{report.settings.config.integrator}; medians per episode except total force evals and "
                        f"wall time", title_justify="left")
    for header in ("method", "|dE/E0| median [p10, p90]", "max |dE/E0|", "force evals", "evals/ep",
                   "steps/ep", "wall [s]", "failed"):
        table.add_column(escape(header), justify="left" if header == "method" else "right", no_wrap=True)
    for s in sorted(report.summaries, key=lambda s: (s.force_evals_total, KINDS.index(s.kind))):
        style = "bold magenta" if s.kind == "policy" else ("cyan" if s.kind != "fixed" else None)
        table.add_row(
            ("> " if s.kind == "policy" else "  ") + escape(s.method),
            escape(f"{s.final_error.median:.2e} [{s.final_error.p10:.1e}, {s.final_error.p90:.1e}]"),
            f"{s.max_error.median:.2e}", f"{s.force_evals_total:,}", f"{s.force_evals.median:,.0f}",
            f"{s.integrator_steps.median:,.0f}", f"{s.wall_time_total:.2f}",
            f"{100 * s.failure_rate:.0f}%" + (f" ({s.failures})" if s.failures else ""),
            style=style,
        )
    console.print(table)
    console.print(report.comparison.describe(), highlight=False)
