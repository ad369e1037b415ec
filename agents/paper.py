"""Reproduce Saz Ulibarrena & Portegies Zwart (2025) on this code and judge its four claims.

:func:`reproduce` runs the stages behind ``python reproduce.py`` and writes everything into one folder:

1. train the paper's agent on ``ThreeBodyPaper-v0`` (``dqn.yml``'s entry) and the project's default
   agent on ``ThreeBody-v0`` (or reuse given run folders);
2. evaluate the paper's agent on the test systems against the 10 fixed ``eta``, the AMUSE default
   0.03 and IAS15 (``evaluation/``: ``evaluate.py``'s outputs), and the project's agent on the same systems;
3. the transfer study: the Hermite-trained policy on six other integrators, each action index mapped to
   the method's own parameter range (``transfer/<method>/``);
4. the paper's figures and ``summary.json``: the fixed, default, reference, policy and transfer rows,
   the time of each stage, and one verdict per claim ("holds", "holds in part", "does not hold") with
   the figures behind it (:func:`judge_claims`).

Costs: force evaluations (deterministic) and deployed wall time (one system at a time, the policy's
decision included, compiled; :mod:`threebody_env.deployment`). Times are of a shared machine.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import integrators
from agents import evaluation
from agents.evaluation.metrics import episode_errors
from agents.evaluation.report import write_json
from agents.plots import plot_error_cost, save_all
from agents.rollout import RolloutResult
from agents.seeds import TEST_SEEDS, seeds_from
from agents.training import TrainArgs, prepare, train
from agents.transfer import evaluate_set, figure, markdown, table_rows

PAPER_ENV = "ThreeBodyPaper-v0"
PROJECT_ENV = "ThreeBody-v0"
PAPER_INTEGRATOR = "hermite"  # the paper's fixed mu are Hermite's; evaluation adds IAS15's grid (the union front)
#: The transfer study's methods (the paper: other variable-step codes, and Symple at fixed steps).
TRANSFER_METHODS = ("hermite_aarseth", "adaptive_leapfrog", "dopri5", "ias15", "leapfrog", "yoshida4")
#: The fixed ``eta`` of the paper's main figure besides the policy: cheapest, nearest the AMUSE default, finest.
FIGURE_ETAS = (0.1, 0.0215, 1e-4)
FINEST, CHEAPEST, NEAREST_DEFAULT = "eta=0.0001", "eta=0.1", "eta=0.0215"

#: The paper's values, read by eye from its figures (per run of 30 yr = 300 intervals).
PAPER_VALUES: dict[str, Any] = {
    "wall_time_per_run_s": {"RL": [0.11, 0.12], "eta=0.1": [0.11, 0.12], "eta=0.0001": [0.13, 0.9],
                            "eta=0.0001 median": [0.25, 0.3]},
    "final_error": {"RL bulk": [1e-12, 1e-10], "RL tail": [1e-9, 1e-2], "eta=0.03 (default)": [1e-8, 1e-5]},
}
#: The paper's ratio of median wall time per run, eta = 1e-4 over eta = 0.1 (0.275 s / 0.115 s).
PAPER_WALL_RATIO = 0.275 / 0.115

# How the claims are judged (docs/paper.md says why).
SAME_COST = 1.5  # "about the same cost": median cost per run within this factor
ACCURACY_DECADE = 10.0  # reported: runs whose error is at most this factor above eta = 1e-4's on the same system
MOST = 0.5  # "most systems": more than this fraction
DESIRED_ACCURACY = 1e-10  # the upper end of the paper's RL error band
UNIT_AGREEMENT = 3.0  # two cost ratios agree within this factor


@dataclass(frozen=True)
class Plan:
    """The sizes of one reproduction: training steps, test systems and intervals of each stage."""

    n_timesteps: int | None  # the paper agent's training steps (None: dqn.yml's, the paper's 2000 x 100)
    project_timesteps: int | None  # the project agent's (None: dqn.yml's default)
    n_ics: int  # test systems of the main evaluation
    n_intervals: int  # intervals per evaluation episode (the paper: 300 = 30 yr)
    transfer_n_ics: int
    transfer_n_intervals: int
    eval_freq: int  # validation during training (0: none)
    eval_episodes: int
    seed: int = 0


FULL = Plan(None, None, 100, 300, 100, 300, 50_000, 50)
QUICK = Plan(8_000, 8_000, 20, 300, 10, 100, 4_000, 10)


def _timed(timings: dict[str, float], stage: str, work: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = work()
    timings[stage] = round(time.perf_counter() - start, 1)
    print(f"[reproduce] {stage}: {timings[stage]:.0f} s", flush=True)
    return value


def train_agent(env_id: str, plan: Plan, log_folder: Path, n_timesteps: int | None) -> Path:
    """Train ``dqn.yml``'s agent for ``env_id`` into ``log_folder`` with the plan's seed and validation."""
    args = TrainArgs(algo="dqn", env=env_id, n_timesteps=n_timesteps, seed=plan.seed, eval_freq=plan.eval_freq,
                     eval_episodes=plan.eval_episodes, log_folder=str(log_folder), progress=False)
    return train(prepare(args))


def evaluate_paper_agent(run_dir: Path, seeds: list[int], n_intervals: int, out: Path,
                         progress: bool) -> evaluation.Report:
    """The paper's agent against the 10 fixed ``eta``, the default 0.03, IAS15's grid (the union front, as
    ``evaluate.py`` judges every policy) and (with REBOUND) REBOUND's IAS15; ``evaluate.py``'s tables and figures
    into ``out``."""
    run = evaluation.load_run(run_dir)
    settings = evaluation.evaluation_settings(run, n_intervals=n_intervals)
    reference = importlib.util.find_spec("rebound") is not None
    specs = evaluation.method_specs(run, settings, reference=reference)
    results = evaluation.evaluate(specs, seeds, settings, n_traces=3, progress=progress)
    report = evaluation.Report(run, settings, seeds, specs, results)
    evaluation.prepare_output(out, force=True)
    evaluation.write_outputs(report, out)
    save_all(report, out)
    return report


def evaluate_policy_only(run_dir: Path, seeds: list[int], n_intervals: int, progress: bool) -> dict[str, Any]:
    """Summary row of a run's policy on ``seeds`` in its own settings (the project's agent on the paper's systems)."""
    run = evaluation.load_run(run_dir)
    settings = evaluation.evaluation_settings(run, n_intervals=n_intervals)
    spec = evaluation.policy_spec(run, settings)
    result = evaluation.evaluate([spec], seeds, settings, n_traces=0, progress=progress)[spec.name]
    return {**evaluation.summarize(spec, result).row(), **_per_run(result), "run": str(run_dir),
            "param_range": list(settings.config.param_range), "n_actions": settings.config.n_actions}


def run_transfer(run_dir: Path, seeds: list[int], n_intervals: int, out: Path, progress: bool) -> list[dict[str, Any]]:
    """The transfer study: the policy on each of :data:`TRANSFER_METHODS`, against that method's own fixed
    parameters (the action indices mapped to its range); rows of :func:`agents.transfer.table_rows`."""
    runs = {"paper": evaluation.load_run(run_dir)}
    for method in TRANSFER_METHODS:
        print(f"[reproduce] transfer to {method}", flush=True)
        evaluate_set(runs, {}, seeds, n_intervals, out / method, batch_size=1024, integrator=method,
                     deployed=False, progress=progress)
    rows = table_rows(out, list(TRANSFER_METHODS), ["paper"])
    for row in rows:
        info = integrators.METHODS[row["systems"]]
        row.update(method=row["systems"], step_control=info.step_control, param=info.param,
                   param_range=list(info.param_range))
    return rows


# ---------------------------------------------------------------- figures


def plot_paper_error_cost(report: evaluation.Report, path: Path) -> Path:
    """The paper's main figure: final error against cost per run with marginal histograms, for the policy and
    eta = 0.1, 0.0215 and 1e-4; force evaluations left, deployed wall time right."""
    wanted = {f"eta={eta:.3g}" for eta in FIGURE_ETAS}
    specs = [s for s in report.specs if s.role == "policy" or s.name in wanted]
    subset = evaluation.Report(report.run, report.settings, report.seeds, specs,
                               {s.name: report.results[s.name] for s in specs}, report.tolerance)
    return plot_error_cost(subset, path)


def plot_trajectories(report: evaluation.Report, path: Path) -> Path | None:
    """The policy's traced episodes: the three orbits coloured by the ``eta`` chosen along them (top), and
    |dE/E0| against time beside eta = 0.1 and 1e-4 on the same system (bottom)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    policy = next(s for s in report.specs if s.role == "policy")
    traces = report.results[policy.name].traces
    if not traces:
        return None
    fig = Figure(figsize=(4.2 * len(traces) + 1.2, 7.5), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(traces), squeeze=False, gridspec_kw={"height_ratios": (1.4, 1)})
    norm = LogNorm(*report.settings.config.param_range)
    points = None
    for col, trace in enumerate(traces):
        ax = axes[0, col]
        eta = trace.param[1:]  # the value applied during the interval that ends at each point
        for body in range(trace.pos.shape[1]):
            ax.plot(trace.pos[:, body, 0], trace.pos[:, body, 1], color="0.8", lw=0.6, zorder=1)
            points = ax.scatter(trace.pos[1:, body, 0], trace.pos[1:, body, 1], c=eta, s=5, cmap="viridis",
                                norm=norm, zorder=2)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"test seed {trace.seed}", fontsize=10)
        ax.set_xlabel("x [au]")
        bottom = axes[1, col]
        for name, colour in ((policy.name, "#d62728"), (CHEAPEST, "#fde725"), (FINEST, "#440154")):
            other = next((t for t in report.results[name].traces if t.seed == trace.seed), None) \
                if name in report.results else None
            if other is not None:
                bottom.semilogy(other.time, np.maximum(np.abs(other.energy_error), 1e-16), color=colour, lw=1.2,
                                label=name)
        bottom.set_xlabel("time [N-body units]")
        bottom.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("y [au]")
    axes[1, 0].set_ylabel("|dE/E0|")
    axes[1, 0].legend(fontsize=8, loc="lower right")
    if points is not None:
        fig.colorbar(points, ax=axes[0, :].tolist(), label="eta chosen by the policy", shrink=0.8)
    fig.savefig(path)
    return path


# ---------------------------------------------------------------- the claims


def _per_run(result: RolloutResult) -> dict[str, float]:
    """Median costs per run: force evaluations and deployed wall time [s] (NaN if not deployed)."""
    deployed = result.deployed_wall_time
    wall = float(np.median(deployed)) if np.isfinite(deployed).all() else math.nan
    return {"force_evals_per_run_median": float(np.median(result.force_evals)),
            "deployed_wall_time_per_run_median": wall}


def _errors(result: RolloutResult) -> np.ndarray:
    """|final dE/E0| per run, non-finite as inf (as the evaluation's statistics count them)."""
    return episode_errors(result)


def _verdict(parts: list[bool]) -> str:
    return "holds" if all(parts) else ("holds in part" if any(parts) else "does not hold")


def claim_cost_and_accuracy(results: dict[str, RolloutResult], policy: str) -> dict[str, Any]:
    """Claim 1: the policy costs about as much wall time as eta = 0.1 and reaches the paper's accuracy band
    (final error at most :data:`DESIRED_ACCURACY`) on most systems. Also reported: how often it comes within
    a decade of eta = 1e-4 on the same system (our eta = 1e-4 sits at round-off, below the paper's band)."""
    rl, cheap, fine = (_per_run(results[n]) for n in (policy, CHEAPEST, FINEST))
    rl_errors, fine_errors = _errors(results[policy]), _errors(results[FINEST])
    within_decade = float(np.mean(rl_errors <= ACCURACY_DECADE * np.maximum(fine_errors, 1e-16)))
    in_band = float(np.mean(rl_errors <= DESIRED_ACCURACY))
    wall_ratio = rl["deployed_wall_time_per_run_median"] / cheap["deployed_wall_time_per_run_median"]
    force_ratio = rl["force_evals_per_run_median"] / cheap["force_evals_per_run_median"]
    cost_ok, accuracy_ok = wall_ratio <= SAME_COST, in_band > MOST
    return {
        "claim": "1. Cost and accuracy: RL costs about the wall time of the cheapest fixed eta (0.1) and, on most "
                 "systems, reaches the accuracy of eta = 1e-4 (final error mostly 1e-12 to 1e-10)",
        "paper": {"wall_time_per_run_s": PAPER_VALUES["wall_time_per_run_s"],
                  "final_error_rl": PAPER_VALUES["final_error"]["RL bulk"],
                  "final_error_rl_tail": PAPER_VALUES["final_error"]["RL tail"]},
        "ours": {
            "deployed_wall_time_per_run_median_s": {"RL": rl["deployed_wall_time_per_run_median"],
                                                    CHEAPEST: cheap["deployed_wall_time_per_run_median"],
                                                    FINEST: fine["deployed_wall_time_per_run_median"]},
            "force_evals_per_run_median": {"RL": rl["force_evals_per_run_median"],
                                           CHEAPEST: cheap["force_evals_per_run_median"],
                                           FINEST: fine["force_evals_per_run_median"]},
            "rl_over_cheapest_wall_time": wall_ratio, "rl_over_cheapest_force_evals": force_ratio,
            "final_error_median": {"RL": float(np.median(rl_errors)), FINEST: float(np.median(fine_errors)),
                                   CHEAPEST: float(np.median(_errors(results[CHEAPEST])))},
            "rl_final_error_p90": float(np.percentile(rl_errors, 90)),
            f"rl_fraction_at_most_{DESIRED_ACCURACY:g}": in_band,
            "rl_fraction_above_1e-9": float(np.mean(rl_errors > 1e-9)),
            "rl_fraction_within_10x_of_eta_1e-4": within_decade,
        },
        "criteria": f"cost: RL's median deployed wall time per run at most {SAME_COST}x eta = 0.1's; accuracy: RL's "
                    f"final error at most {DESIRED_ACCURACY:g} on more than {MOST:.0%} of systems",
        "parts": {"cost": cost_ok, "accuracy": accuracy_ok},
        "verdict": _verdict([cost_ok, accuracy_ok]),
    }


def claim_default(report: evaluation.Report, policy: str) -> dict[str, Any]:
    """Claim 2: the policy is better than the AMUSE default eta = 0.03: more accurate (median and mean log10
    error, by their bootstrap intervals) at no more than :data:`SAME_COST` times its wall time."""
    summaries = {s.method: s for s in report.summaries}
    default = next(s for s in report.summaries if s.role == "default")
    rl = summaries[policy]
    more_accurate = all(rl.final_error.get(stat).high < default.final_error.get(stat).low
                        for stat in ("median", "mean_log10"))
    rl_cost, default_cost = (_per_run(report.results[n]) for n in (policy, default.method))
    wall_ratio = rl_cost["deployed_wall_time_per_run_median"] / default_cost["deployed_wall_time_per_run_median"]
    cheap_enough = wall_ratio <= SAME_COST
    nearest = summaries.get(NEAREST_DEFAULT)
    return {
        "claim": "2. The common default: RL is better than the AMUSE default eta = 0.03 (nearest action 0.0215)",
        "paper": {"final_error_default": PAPER_VALUES["final_error"]["eta=0.03 (default)"]},
        "ours": {
            "final_error_median": {"RL": rl.final_error.median.value, default.method: default.final_error.median.value,
                                   **({NEAREST_DEFAULT: nearest.final_error.median.value} if nearest else {})},
            "final_error_p10_p90_default": [float(np.percentile(_errors(report.results[default.method]), q))
                                            for q in (10, 90)],
            "mean_log10_error": {"RL": rl.final_error.mean_log10.value,
                                 default.method: default.final_error.mean_log10.value},
            "rl_over_default_wall_time": wall_ratio,
            "rl_over_default_force_evals": rl_cost["force_evals_per_run_median"]
            / default_cost["force_evals_per_run_median"],
        },
        "criteria": "more accurate: RL's 95 % bootstrap interval of the median and of the mean log10 error lies below "
                    f"the default's; no costlier: RL's median deployed wall time per run at most {SAME_COST}x the "
                    "default's",
        "parts": {"more_accurate": more_accurate, "no_costlier": cheap_enough},
        "verdict": "does not hold" if not more_accurate else _verdict([more_accurate, cheap_enough]),
    }


def claim_transfer(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Claim 3: transferred without retraining, the policy works on variable-step methods (no fixed parameter of
    the method is both cheaper and more accurate, on the median and the mean log10 error) and does not reach
    :data:`DESIRED_ACCURACY` (median) on fixed-step methods."""
    per_method = {}
    expected = []
    for row in rows:
        works = not row["dominated_median"] and not row["dominated_mean_log10"]
        reaches = row["median"] <= DESIRED_ACCURACY
        as_paper = works if row["step_control"] == "variable" else not reaches
        expected.append(as_paper)
        per_method[row["method"]] = {
            "step_control": row["step_control"], "param": row["param"], "param_range": row["param_range"],
            "median": row["median"], "p90": row["p90"], "mean_log10": row["mean_log10"],
            "force_evals_per_run": row["force_evals"], "median_vs_front": list(row["verdict_median"]),
            "dominated_by": {"median": row["dominated_median"], "mean_log10": row["dominated_mean_log10"]},
            "works (not dominated)": works, f"median <= {DESIRED_ACCURACY:g}": reaches, "as the paper says": as_paper,
        }
    return {
        "claim": "3. Transfer: without retraining the policy works for other variable-step integrators, and does "
                 "not reach the desired accuracy with a fixed-step one",
        "paper": "works for the variable-step codes; Symple (dt from 1e-7 to 1e-2 yr) misses the desired accuracy",
        "ours": per_method,
        "criteria": f"variable step: not dominated by the method's own fixed parameters (median and mean log10 "
                    f"error at equal force evaluations); fixed step: median final error above {DESIRED_ACCURACY:g}",
        "parts": {m: v["as the paper says"] for m, v in per_method.items()},
        "verdict": _verdict(expected),
    }


def claim_cost_unit(report: evaluation.Report, policy: str) -> dict[str, Any]:
    """Claim 4: wall-clock time around each integrator call as the cost. Judged by whether it ranks work as
    force evaluations do: the ratio eta = 1e-4 / eta = 0.1 per run in the paper's wall time against ours."""
    results = report.results
    fine, cheap, rl = (_per_run(results[n]) for n in (FINEST, CHEAPEST, policy))
    force_ratio = fine["force_evals_per_run_median"] / cheap["force_evals_per_run_median"]
    wall_ratio = fine["deployed_wall_time_per_run_median"] / cheap["deployed_wall_time_per_run_median"]
    fixed_names = [s.method for s in report.summaries if s.role == "fixed" and s.integrator == PAPER_INTEGRATOR]
    seconds_per_eval = float(np.median([np.median(results[n].deployed_wall_time / results[n].force_evals)
                                   for n in fixed_names]))
    integration = rl["force_evals_per_run_median"] * seconds_per_eval
    decisions = max(rl["deployed_wall_time_per_run_median"] - integration, 0.0)

    def agree(a: float, b: float) -> bool:
        return 1 / UNIT_AGREEMENT <= a / b <= UNIT_AGREEMENT

    tracks_work, like_ours = agree(PAPER_WALL_RATIO, force_ratio), agree(PAPER_WALL_RATIO, wall_ratio)
    return {
        "claim": "4. Cost unit: the cost is wall-clock seconds around each integrator call",
        "paper": {"wall_ratio_eta_1e-4_over_0.1": PAPER_WALL_RATIO},
        "ours": {"force_evals_ratio_eta_1e-4_over_0.1": force_ratio,
                 "deployed_wall_ratio_eta_1e-4_over_0.1": wall_ratio,
                 "seconds_per_force_evaluation_deployed": seconds_per_eval,
                 "rl_decision_seconds_per_run": decisions,
                 "rl_decision_share_of_deployed_wall_time": decisions / rl["deployed_wall_time_per_run_median"]},
        "criteria": f"holds if the paper's wall-time ratio agrees within {UNIT_AGREEMENT:g}x with our force-evaluation "
                    "ratio (the unit measures integration work); in part if only with our deployed wall-time ratio; "
                    "else does not hold (the unit measures per-call overhead, not integration)",
        "parts": {"tracks_force_evaluations": tracks_work, "matches_our_wall_time": like_ours},
        "verdict": "holds" if tracks_work else ("holds in part" if like_ours else "does not hold"),
    }


def judge_claims(report: evaluation.Report, transfer_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per claim of the paper, with the figures behind its verdict."""
    policy = next(s.name for s in report.specs if s.role == "policy")
    return [claim_cost_and_accuracy(report.results, policy), claim_default(report, policy),
            claim_transfer(transfer_rows), claim_cost_unit(report, policy)]


# ---------------------------------------------------------------- the whole run


def reproduce(plan: Plan, out: Path, *, paper_run: Path | None = None, project_run: Path | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Every stage of the reproduction into ``out``; returns (and writes) the ``summary.json`` document.

    ``paper_run`` / ``project_run``: run folders to reuse instead of training (``project_run`` may be
    ``None`` and is then trained unless ``plan.project_timesteps`` is 0).
    """
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    if paper_run is None:
        paper_run = _timed(timings, "train_paper_agent",
                           lambda: train_agent(PAPER_ENV, plan, out / "train", plan.n_timesteps))
    if project_run is None and plan.project_timesteps != 0:
        project_run = _timed(timings, "train_project_agent",
                             lambda: train_agent(PROJECT_ENV, plan, out / "train", plan.project_timesteps))
    seeds = seeds_from(TEST_SEEDS, plan.n_ics)
    report = _timed(timings, "evaluate",
                    lambda: evaluate_paper_agent(paper_run, seeds, plan.n_intervals, out / "evaluation", progress))
    project = None
    if project_run is not None:
        project = _timed(timings, "evaluate_project_agent",
                         lambda: evaluate_policy_only(project_run, seeds, plan.n_intervals, progress))
    transfer_seeds = seeds_from(TEST_SEEDS, plan.transfer_n_ics)
    rows = _timed(timings, "transfer", lambda: run_transfer(paper_run, transfer_seeds, plan.transfer_n_intervals,
                                                           out / "transfer", progress))
    figures = {"error_cost": plot_paper_error_cost(report, out / "error_cost.png"),
               "trajectories": plot_trajectories(report, out / "trajectories.png"),
               "transfer": out / "transfer.png"}
    figure(rows, list(TRANSFER_METHODS), out / "transfer.png", fixed_label="fixed parameter")
    (out / "transfer.md").write_text(markdown(rows) + "\n")
    by_role = {role: [{**s.row(), **_per_run(report.results[s.method])} for s in report.summaries if s.role == role]
               for role in evaluation.ROLES}
    document = {
        "paper": "Saz Ulibarrena & Portegies Zwart (2025), Reinforcement Learning for Adaptive Time-Stepping in "
                 "the Chaotic Gravitational Three-Body Problem",
        "plan": asdict(plan), "paper_run": str(paper_run), "project_run": str(project_run) if project_run else None,
        "env": PAPER_ENV, "n_initial_conditions": len(seeds), "n_intervals": plan.n_intervals,
        "seconds": timings,
        "policy": by_role["policy"][0],
        "fixed": [row for row in by_role["fixed"] if row["integrator"] == PAPER_INTEGRATOR],
        "ias15": [row for row in by_role["fixed"] if row["integrator"] == "ias15"], "default": by_role["default"],
        "reference": by_role["reference"], "project_policy": project,
        "transfer": [{k: v for k, v in row.items() if k != "fixed"} for row in rows],
        "claims": judge_claims(report, rows),
        "figures": {name: str(path) for name, path in figures.items() if path is not None},
    }
    write_json(out / "summary.json", document)
    return document


def claims_table(document: dict[str, Any]) -> str:
    """The claims and their verdicts as a markdown table."""
    lines = ["| claim | verdict |", "|---|---|"]
    lines += [f"| {c['claim']} | {c['verdict']} |" for c in document["claims"]]
    return "\n".join(lines)
