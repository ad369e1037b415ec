"""The evaluation's figures (PNG, matplotlib's Agg canvas, no display needed).

- ``error_cost.png``: final |dE/E0| against cost, one point per episode and method, each
  method's median as a large marker and its 90th-percentile error as a hollow one above it,
  marginal histograms; force evaluations left, wall time right.
- ``time_series.png``: |dE/E0| and the chosen parameter against time for the traced episodes,
  the policy beside the method's default (and IAS15's error when present).
- ``orbits.png``: the orbits of the policy's first traced episode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from agents.evaluation import MethodSpec, Report
from controller.features import ERROR_FLOOR
from threebody_env.render import EpisodeHistory, plot_episode

_MARKERS = {"policy": "*", "fixed": "o", "default": "D", "reference": "s"}
_FIXED_COST_FLOOR = 1e-9  # seconds: wall time shown for episodes too quick to time
_ERROR_CEILING = 1.0  # errors of failed episodes (past the limit, possibly inf) are drawn here


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def method_styles(specs: list[MethodSpec]) -> dict[str, dict]:
    """Colour and marker of each method: the policy red, fixed actions along viridis (small
    parameter dark), the default black, the reference grey."""
    fixed = [s for s in specs if s.role == "fixed"]
    cmap = colormaps["viridis"]
    colours = {s.name: to_hex(cmap(0.9 * k / max(len(fixed) - 1, 1))) for k, s in enumerate(fixed)}
    colours.update({s.name: {"policy": "#d62728", "default": "#000000", "reference": "#7f7f7f"}[s.role]
                    for s in specs if s.role != "fixed"})
    return {s.name: {"color": colours[s.name], "marker": _MARKERS[s.role], "role": s.role} for s in specs}


def _log_bins(values: list[np.ndarray], n: int = 30) -> np.ndarray:
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values])
    lo, hi = np.log10(finite.min()), np.log10(finite.max())
    return np.logspace(lo - 0.05, hi + 0.05, n)


def _error_cost_panel(fig: Figure, cell, report: Report, styles: dict[str, dict], cost_of, cost_label: str) -> None:
    """One scatter of final error against cost with marginal histograms, in gridspec ``cell``."""
    grid = cell.subgridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), hspace=0.05, wspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    right = fig.add_subplot(grid[1, 1], sharey=ax)
    errors = {s.name: np.clip(np.nan_to_num(np.abs(report.results[s.name].final_energy_error), nan=np.inf),
                              ERROR_FLOOR, _ERROR_CEILING) for s in report.specs}
    costs = {s.name: np.maximum(cost_of(report.results[s.name]), _FIXED_COST_FLOOR) for s in report.specs}
    cost_bins, error_bins = _log_bins(list(costs.values())), _log_bins(list(errors.values()))
    for spec in report.specs:
        style, x, y = styles[spec.name], costs[spec.name], errors[spec.name]
        policy = spec.role == "policy"
        ax.scatter(x, y, s=14 if policy else 8, color=style["color"], marker="o", alpha=0.55 if policy else 0.3,
                   linewidths=0, zorder=3 if policy else 2)
        median_x, median_y, p90_y = np.median(x), np.median(y), np.percentile(y, 90)
        ax.plot([median_x, median_x], [median_y, p90_y], color=style["color"], lw=2.0 if policy else 1.0, zorder=4)
        ax.scatter(median_x, median_y, s=320 if policy else 110, color=style["color"], marker=style["marker"],
                   edgecolors="white" if style["role"] == "default" else "black", linewidths=1.0, zorder=5,
                   label=spec.name)
        ax.scatter(median_x, p90_y, s=200 if policy else 70, facecolors="none", edgecolors=style["color"],
                   marker=style["marker"], linewidths=1.8 if policy else 1.2, zorder=5)
        top.hist(x, bins=cost_bins.tolist(), histtype="step", color=style["color"], lw=2.2 if policy else 1.0)
        right.hist(y, bins=error_bins.tolist(), histtype="step", color=style["color"], lw=2.2 if policy else 1.0,
                   orientation="horizontal")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(cost_label)
    ax.set_ylabel(f"final |dE/E0| per episode (failures drawn at {_ERROR_CEILING:g})")
    ax.grid(True, which="major", alpha=0.3)
    top.set_ylabel("episodes")
    right.set_xlabel("episodes")
    top.tick_params(labelbottom=False)
    right.tick_params(labelleft=False)


def _deployed_or_own_wall_time(result) -> np.ndarray:
    """The deployed wall time of each episode, or the integration's own where it was not deployed."""
    return np.where(np.isfinite(result.deployed_wall_time), result.deployed_wall_time, result.wall_time)


def plot_error_cost(report: Report, path: Path) -> Path:
    """The paper's main figure: energy error against force evaluations (left) and wall time (right),
    deployed wall time when the evaluation measured it."""
    styles = method_styles(report.specs)
    fig = _figure(15, 7.5)
    outer = fig.add_gridspec(1, 2, wspace=0.22, left=0.06, right=0.98, top=0.9, bottom=0.22)
    _error_cost_panel(fig, outer[0], report, styles, lambda r: r.force_evals.astype(float),
                      "force evaluations per episode")
    if any(np.isfinite(r.deployed_wall_time).all() for r in report.results.values()):
        # one system at a time, decisions included; REBOUND (not deployed) integrates one system at a time anyway
        _error_cost_panel(fig, outer[1], report, styles, _deployed_or_own_wall_time,
                          "deployed wall time per episode [s] (one system, decisions included)")
    else:
        _error_cost_panel(fig, outer[1], report, styles, lambda r: r.wall_time, "integrator wall time per episode [s]")
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=9, frameon=False,
               title="each method's median (filled) and 90th percentile (hollow, joined by a line) of the error "
                     "at its median cost; small dots: single episodes", title_fontsize=9)
    cfg = report.settings.config
    fig.suptitle(f"{report.run.algo} policy vs fixed {cfg.method.param} on {len(report.seeds)} test initial "
                 f"conditions, {report.settings.n_intervals} intervals, {cfg.integrator}")
    fig.savefig(path)
    return path


def plot_time_series(report: Report, path: Path) -> Path | None:
    """|dE/E0| and the parameter against time for each traced episode: policy, default, IAS15."""
    styles = method_styles(report.specs)
    shown = [s for s in report.specs if s.role in ("policy", "default", "reference")]
    n = min(len(report.results[s.name].traces) for s in shown)
    if n == 0:
        return None
    cfg = report.settings.config
    fig = _figure(4.6 * n + 1, 6.5)
    axes = fig.subplots(2, n, sharex="col", squeeze=False)
    for col in range(n):
        for spec in shown:
            trace = report.results[spec.name].traces[col]
            style = styles[spec.name]
            axes[0, col].semilogy(trace.time, np.maximum(np.abs(trace.energy_error), ERROR_FLOOR), color=style["color"],
                                  lw=1.4, label=spec.name)
            if spec.role != "reference":
                axes[1, col].step(trace.time, trace.param, where="pre", color=style["color"], lw=1.2)
        axes[0, col].set_title(f"test seed {report.results[shown[0].name].traces[col].seed}")
        axes[1, col].set_yscale("log")
        axes[1, col].set_ylim(*cfg.param_range)
        axes[1, col].set_xlabel("time [N-body units]")
        axes[0, col].grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("|dE/E0|")
    axes[1, 0].set_ylabel(f"{cfg.method.param} chosen")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_orbits(report: Report, path: Path) -> Path | None:
    """The policy's first traced episode: orbits, |dE/E0| and the parameter (the env's renderer)."""
    policy = next(s for s in report.specs if s.role == "policy")
    traces = report.results[policy.name].traces
    if not traces:
        return None
    trace = traces[0]
    history = EpisodeHistory(time=list(trace.time), pos=list(trace.pos), energy_error=list(trace.energy_error),
                             param=list(trace.param))
    fig = _figure(11, 5.5)
    plot_episode(fig, history, report.settings.config, trail=len(trace.time))
    fig.suptitle(f"{policy.name}, test seed {trace.seed}")
    fig.tight_layout()
    fig.savefig(path)
    return path


def save_all(report: Report, output: Path) -> list[Path]:
    """Write the three figures into ``output``; returns the paths written."""
    written = [plot_error_cost(report, output / "error_cost.png"),
               plot_time_series(report, output / "time_series.png"),
               plot_orbits(report, output / "orbits.png")]
    return [p for p in written if p is not None]
