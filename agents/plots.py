"""The evaluation's figures (PNG, matplotlib's Agg canvas, no display needed).

- ``error_cost.png``: error against cost per episode, force evaluations left, deployed wall time
  right; the final |dE/E0| on top and, when measured, the summed local error below. Each baseline
  method's fixed front (median of each fixed parameter, p90 dotted) in its own colour, the union
  envelope of their medians dashed black, the policy as a star at its median with its p90 (hollow)
  above it and its episodes as dots; every marker at the method's mean cost per episode, the cost
  the verdict judges.
- ``time_series.png``: |dE/E0| and the chosen parameter against time for the traced episodes,
  the policy beside the defaults (and IAS15's error when present).
- ``orbits.png``: the orbits of the policy's first traced episode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from agents.evaluation import FRONT_ROLES, MethodSpec, Report, describe_episodes, lower_envelope
from agents.evaluation.metrics import Measure, episode_errors
from agents.rollout import RolloutResult
from controller.features import ERROR_FLOOR
from threebody_env.render import EpisodeHistory, plot_episode

_MARKERS = {"policy": "*", "fixed": "o", "default": "D", "reference": "s"}
_FIXED_COST_FLOOR = 1e-9  # seconds: wall time shown for episodes too quick to time
_ERROR_CEILING = 1.0  # errors of failed episodes (past the limit, possibly inf) are drawn here
#: One colour per baseline method, in the order the evaluation lists them (tab10 without red and grey,
#: which the policy and the reference keep).
_METHOD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
_ROLE_COLOURS = {"policy": "#d62728", "reference": "#7f7f7f"}
_MEASURE_LABELS = {"energy_error": "final |dE/E0|", "local_error": "summed local error"}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def method_styles(specs: list[MethodSpec]) -> dict[str, dict]:
    """Colour and marker of each method: the policy red, the reference grey, every fixed choice and
    default in its method's colour (one per integrator), markers by role."""
    integrators = list(dict.fromkeys(s.integrator for s in specs if s.role in FRONT_ROLES))
    colours = {name: _METHOD_COLOURS[k % len(_METHOD_COLOURS)] for k, name in enumerate(integrators)}
    return {s.name: {"color": _ROLE_COLOURS.get(s.role) or colours[s.integrator], "marker": _MARKERS[s.role],
                     "role": s.role, "integrator": s.integrator} for s in specs}


def _log_bins(values: list[np.ndarray], n: int = 30) -> np.ndarray:
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values])
    lo, hi = np.log10(finite.min()), np.log10(finite.max())
    return np.logspace(lo - 0.05, hi + 0.05, n)


def _error_cost_panel(fig: Figure, cell, report: Report, styles: dict[str, dict],
                      cost_of: Callable[[RolloutResult], np.ndarray], cost_label: str, measure: Measure) -> None:
    """One panel of ``measure`` against cost in gridspec ``cell``: each method's fixed front, the union
    envelope, the policy and the reference, and marginal histograms of the policy's and the
    reference's episodes."""
    grid = cell.subgridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), hspace=0.05, wspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    right = fig.add_subplot(grid[1, 1], sharey=ax)
    specs = [s for s in report.specs if measure == "energy_error" or s.role != "reference"]  # REBOUND: no local error
    errors = {s.name: np.clip(episode_errors(report.results[s.name], measure), ERROR_FLOOR, _ERROR_CEILING)
              for s in specs}
    costs = {s.name: np.maximum(cost_of(report.results[s.name]), _FIXED_COST_FLOOR) for s in specs}
    points = {s.name: (costs[s.name].mean(), np.median(errors[s.name]), np.percentile(errors[s.name], 90))
              for s in specs}
    shown = [s for s in specs if s.role not in FRONT_ROLES]
    cost_bins, error_bins = _log_bins([costs[s.name] for s in shown]), _log_bins([errors[s.name] for s in specs])
    front = [s for s in specs if s.role in FRONT_ROLES]
    for integrator in dict.fromkeys(s.integrator for s in front):
        own = sorted((points[s.name] for s in front if s.integrator == integrator), key=lambda p: p[0])
        x, median, p90 = (np.array(column) for column in zip(*own, strict=True))
        colour = styles[next(s.name for s in front if s.integrator == integrator)]["color"]
        ax.plot(x, median, color=colour, lw=1.3, marker="o", ms=4, zorder=3, label=f"{integrator}: fixed medians")
        ax.plot(x, p90, color=colour, lw=0.9, ls=":", marker="o", ms=4, mfc="none", zorder=3,
                label=f"{integrator}: fixed p90s")
    for s in front:
        if s.role == "default":
            ax.scatter(*points[s.name][:2], s=60, color=styles[s.name]["color"], marker="D", edgecolors="black",
                       linewidths=0.8, zorder=4, label=s.name)
    x, y = (np.array([points[s.name][k] for s in front]) for k in (0, 1))
    envelope = lower_envelope(x.tolist(), y.tolist())
    ax.plot(x[envelope], y[envelope], color="black", lw=1.6, ls="--", zorder=4, label="union envelope of the medians")
    for spec in shown:
        style, (cost, median, p90) = styles[spec.name], points[spec.name]
        policy = spec.role == "policy"
        if policy:
            ax.scatter(costs[spec.name], errors[spec.name], s=10, color=style["color"], alpha=0.35, linewidths=0,
                       zorder=2)
        ax.plot([cost, cost], [median, p90], color=style["color"], lw=2.0 if policy else 1.0, zorder=5)
        ax.scatter(cost, median, s=320 if policy else 90, color=style["color"], marker=style["marker"],
                   edgecolors="black", linewidths=1.0, zorder=6, label=f"{spec.name}: median")
        ax.scatter(cost, p90, s=200 if policy else 70, facecolors="none", edgecolors=style["color"],
                   marker=style["marker"], linewidths=1.8 if policy else 1.2, zorder=7, label=f"{spec.name}: p90")
        if policy:  # the two markers may overlap: name them beside the star
            ax.annotate(f"median {median:.2g}", (cost, median), xytext=(12, -10), textcoords="offset points",
                        fontsize=8, color=style["color"])
            ax.annotate(f"p90 {p90:.2g}", (cost, p90), xytext=(12, 4), textcoords="offset points", fontsize=8,
                        color=style["color"])
        top.hist(costs[spec.name], bins=cost_bins.tolist(), histtype="step", color=style["color"],
                 lw=2.2 if policy else 1.0)
        right.hist(errors[spec.name], bins=error_bins.tolist(), histtype="step", color=style["color"],
                   lw=2.2 if policy else 1.0, orientation="horizontal")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(cost_label)
    ax.set_ylabel(f"{_MEASURE_LABELS[measure]} per episode (failures at {_ERROR_CEILING:g})")
    ax.grid(True, which="major", alpha=0.3)
    top.set_ylabel("episodes")
    right.set_xlabel("episodes")
    top.tick_params(labelbottom=False)
    right.tick_params(labelleft=False)


def _deployed_or_own_wall_time(result: RolloutResult) -> np.ndarray:
    """The deployed wall time of each episode, or the integration's own where it was not deployed."""
    return np.where(np.isfinite(result.deployed_wall_time), result.deployed_wall_time, result.wall_time)


def plot_error_cost(report: Report, path: Path) -> Path:
    """The paper's main figure: error against force evaluations (left) and wall time (right),
    deployed wall time when the evaluation measured it; the local error in a second row when measured."""
    styles = method_styles(report.specs)
    measures: list[Measure] = ["energy_error"]
    if any(s.local_error is not None for s in report.summaries):
        measures.append("local_error")
    fig = _figure(15, 1.5 + 6.5 * len(measures))
    outer = fig.add_gridspec(len(measures), 2, wspace=0.22, hspace=0.3, left=0.06, right=0.98,
                             top=1 - 0.6 / fig.get_figheight(), bottom=1.9 / fig.get_figheight())
    deployed = any(np.isfinite(r.deployed_wall_time).all() for r in report.results.values())
    wall: tuple[Callable[[RolloutResult], np.ndarray], str] = (
        (_deployed_or_own_wall_time, "deployed wall time per episode [s] (one system, decisions included)") if deployed
        else (lambda r: r.wall_time, "integrator wall time per episode [s]"))
    for row, measure in enumerate(measures):
        _error_cost_panel(fig, outer[row, 0], report, styles, lambda r: r.force_evals.astype(float),
                          "force evaluations per episode", measure)
        _error_cost_panel(fig, outer[row, 1], report, styles, *wall, measure)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False,
               title="markers at each method's mean cost per episode (the verdict's cost); small dots: the policy's "
                     "episodes", title_fontsize=9)
    fig.suptitle(f"{report.run.algo} policy vs every fixed (method, parameter): "
                 f"{describe_episodes(report.settings, len(report.seeds))}", fontsize=10)
    fig.savefig(path)
    return path


def plot_time_series(report: Report, path: Path) -> Path | None:
    """|dE/E0| and the parameter against time for each traced episode: policy, default, IAS15."""
    styles = method_styles(report.specs)
    shown = [s for s in report.specs if s.role in ("policy", "default", "reference")]
    own = report.settings.config.integrator  # parameters of other methods have another scale: errors only
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
            if spec.role != "reference" and spec.integrator == own:
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
