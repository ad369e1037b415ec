"""Evaluate trained policies on other systems or other integrators against each set's own fixed parameters.

Used by ``benchmarks/transfer_study.py`` (triple- and cluster-trained policies on Plummer spheres) and by
:mod:`agents.paper` (the paper's Hermite-trained policy on six other integrators). :func:`evaluate_set`
integrates once per set and writes ``evaluate.py``'s outputs per policy; :func:`table_rows` reads them
back, :func:`markdown` and :func:`figure` show them.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents import evaluation

#: The statistics whose verdict against the fixed-parameter front the tables and figures show.
VERDICT_STATISTICS = ("median", "mean_log10")


def evaluate_set(runs: dict[str, evaluation.Run], overrides: dict[str, Any], seeds: list[int], n_intervals: int,
                 out: Path, batch_size: int, baselines_only: bool = False, *, integrator: str | None = None,
                 deployed: bool = True, progress: bool = True) -> None:
    """Integrate the policies and the shared baselines on one set of systems; write one report per policy.

    ``overrides`` change the runs' environment settings (another family of systems); ``integrator``
    applies the policies to another method, each action index mapped to that method's own range
    (:func:`agents.evaluation.evaluation_settings`); ``deployed`` also times every episode deployed.
    Each method's rollouts are kept in ``out/rollouts/<method>.pkl`` (with the settings they were
    integrated in), so a rerun integrates only what is missing: ``baselines_only`` lets the
    baselines start while the policies still train.
    """
    settings = {name: evaluation.evaluation_settings(run, overrides, integrator=integrator, n_intervals=n_intervals,
                                                     deployed=deployed)
                for name, run in runs.items()}
    first = next(iter(settings.values()))
    for name, s in settings.items():  # the policies must meet the same systems, or the comparison is void
        if s.env_kwargs != first.env_kwargs:
            raise ValueError(f"transfer: run {name} evaluates in other settings than the first run: "
                             f"{s.env_kwargs} vs {first.env_kwargs}")
    key = repr({"env_kwargs": first.env_kwargs, "n_intervals": n_intervals, "seeds": seeds})
    cache = out / "rollouts"
    if (cache / "settings.txt").is_file() and (cache / "settings.txt").read_text() != key:
        raise ValueError(f"transfer: {cache} holds rollouts of other settings; delete it to start again")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "settings.txt").write_text(key)
    policies = {name: replace(evaluation.policy_spec(run, settings[name]), name=f"policy ({name})")
                for name, run in runs.items()}
    own = [evaluation.BaselineMethod(first.config.method.name)]  # the study's fixed-eta front, one method
    baselines = evaluation.baseline_specs(first.config, reference=False, baselines=own)
    wanted = baselines if baselines_only else [*policies.values(), *baselines]
    missing = [spec for spec in wanted if not (cache / f"{spec.name}.pkl").is_file()]
    for name, run in runs.items():
        if policies[name] in missing:
            evaluation.check_compatible(run, settings[name])
    if missing:
        print(f"  integrating {', '.join(spec.name for spec in missing)}", flush=True)
        results = evaluation.evaluate(missing, seeds, first, batch_size=batch_size, n_traces=0, progress=progress)
        for spec in missing:
            (cache / f"{spec.name}.pkl").write_bytes(pickle.dumps(results[spec.name]))
    if baselines_only:
        return
    for name, run in runs.items():
        specs = [policies[name], *baselines]
        results = {spec.name: pickle.loads((cache / f"{spec.name}.pkl").read_bytes()) for spec in specs}
        evaluation.write_outputs(evaluation.Report(run, first, seeds, specs, results), out / name)


def table_rows(out: Path, labels: list[str], policies: list[str]) -> list[dict[str, Any]]:
    """One row per policy x systems, read from the summary.json files."""
    rows = []
    for name in policies:
        for label in labels:
            document = json.loads((out / label / name / "summary.json").read_text())
            policy = next(m for m in document["methods"] if m["role"] == "policy")
            verdict = document["comparison"]["energy_error"]["force_evals"]["statistics"]
            rows.append({
                "policy": name, "systems": label, "n_ics": document["n_initial_conditions"],
                "median": policy["final_error_median"], "p90": policy["final_error_p90"],
                "above": policy["final_error_fraction_above_tolerance"], "mean_log10": policy["final_error_mean_log10"],
                "force_evals": policy["force_evals_total"] / document["n_initial_conditions"],
                **{f"verdict_{s}": (verdict[s]["position"], verdict[s]["ratio"]) for s in VERDICT_STATISTICS},
                **{f"dominated_{s}": verdict[s]["comparison"]["dominated_by"] for s in VERDICT_STATISTICS},
                "fixed": [(m["force_evals_total"] / document["n_initial_conditions"], m["final_error_median"],
                           m["final_error_mean_log10"], m["method"])
                          for m in document["methods"] if m["role"] == "fixed"],
            })
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The study's table: one line per policy x systems."""
    def verdict(position: str, ratio: float) -> str:
        return position if math.isnan(ratio) else f"{position} ({ratio:.2g})"

    lines = ["| policy | systems | median | p90 | above 1e-8 | mean log10 | force evals / episode | "
             "median vs front | mean log10 vs front |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['policy']} | {r['systems']} | {r['median']:.2g} | {r['p90']:.2g} | {r['above']:.0%} | "
                     f"{r['mean_log10']:.2f} | {r['force_evals']:.3g} | {verdict(*r['verdict_median'])} | "
                     f"{verdict(*r['verdict_mean_log10'])} |")
    return "\n".join(lines)


def figure(rows: list[dict[str, Any]], labels: list[str], path: Path, fixed_label: str = "fixed eta") -> None:
    """Per set of systems (or method), the fixed-parameter front and the policies: median and mean log10
    error against force evaluations per episode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(2, len(labels), figsize=(2.6 * len(labels), 5.0), sharey="row", squeeze=False)
    markers = dict(zip(dict.fromkeys(r["policy"] for r in rows), ("o", "s", "^", "D"), strict=False))
    for column, label in enumerate(labels):
        subset = [r for r in rows if r["systems"] == label]
        fixed = sorted(subset[0]["fixed"])
        for row, (key, index, ylabel) in enumerate((("median", 1, "median |dE/E0|"),
                                                    ("mean_log10", 2, "mean log10 |dE/E0|"))):
            ax = axes[row][column]
            ax.plot([f[0] for f in fixed], [f[index] for f in fixed],
                    "-", color="0.5", marker=".", label=fixed_label)
            for r in subset:
                ax.plot(r["force_evals"], r[key], markers[r["policy"]], linestyle="none", label=r["policy"],
                        markersize=7, fillstyle="none", markeredgewidth=1.5)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap on a narrow cost span
            if key == "median":
                ax.set_yscale("log")
                ax.set_title(label.replace("plummer", "Plummer N="), fontsize=10)
            else:
                ax.set_xlabel("force evals / episode", fontsize=9)
            if column == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            ax.tick_params(labelsize=8)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
