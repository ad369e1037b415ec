"""Transfer study: a triple-trained policy and a cluster-trained policy on systems of N = 3 to 16 bodies.

Both policies (their run folders as ``train.py`` leaves them) are evaluated on the same systems, the
same test seeds and against the same fixed-``eta`` baselines, as ``evaluate.py RUN --env-kwargs ...``
would evaluate each alone: the paper's triples and Plummer spheres (equal masses, virialised, the
family's natural interval of 1/8 crossing time) of each ``--sizes`` N. Each set of systems is
integrated once for all methods, so the two policies share their baselines.

Every set's results land in ``OUT/<systems>/<policy>/`` (``episodes.csv``, ``summary.csv``,
``summary.json``, as ``evaluate.py`` writes them); each method's rollouts are kept in
``OUT/<systems>/rollouts/`` and not integrated again (delete the folder to redo them). Then one
markdown table is printed (per policy x systems: median, p90, fraction above 1e-8, mean log10 of
the final |dE/E0|, force evaluations per episode, and the verdict against the fixed-``eta`` front at
the policy's cost for the median and the mean log10 error) and one figure (the fronts and both
policies, error against cost) is saved.

    nice .venv/bin/python benchmarks/transfer_study.py logs/transfer/dqn/ThreeBody-v0_1 \\
        logs/transfer/dqn/ThreeBody-v0_2 --names triple plummer8 --n-ics 30 --n-intervals 50 --sizes 3 4 8 16 \\
        --env-kwargs target_error:1e-12 error_ceiling:1e-10 cost_weight:0.0001 \\
        --out logs/transfer/study --figure docs/transfer.png
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents import evaluation
from agents.seeds import TEST_SEEDS, seeds_from
from agents.train_cli import parse_key_values

VERDICT_STATISTICS = ("median", "mean_log10")


def systems_sets(sizes: list[int], common: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The evaluation settings by label: the paper's triples, then Plummer spheres of each N, over ``common``."""
    return {"paper": {**common, "initial_conditions": "paper"},
            **{f"plummer{n}": {**common, "initial_conditions": "plummer", "n_bodies": n} for n in sizes}}


def evaluate_set(runs: dict[str, evaluation.Run], overrides: dict[str, Any], seeds: list[int], n_intervals: int,
                 out: Path, batch_size: int, baselines_only: bool = False) -> None:
    """Integrate the policies and the shared baselines on one set of systems; write one report per policy.

    Each method's rollouts are kept in ``out/rollouts/<method>.pkl`` (with the settings they were
    integrated in), so a rerun integrates only what is missing: ``baselines_only`` lets the
    baselines start while the policies still train.
    """
    settings = {name: evaluation.evaluation_settings(run, overrides, n_intervals=n_intervals) for name, run in runs.items()}
    first = next(iter(settings.values()))
    for name, s in settings.items():  # the policies must meet the same systems, or the comparison is void
        if s.env_kwargs != first.env_kwargs:
            raise SystemExit(f"transfer_study: run {name} evaluates in other settings than the first run: "
                             f"{s.env_kwargs} vs {first.env_kwargs}")
    key = repr({"env_kwargs": first.env_kwargs, "n_intervals": n_intervals, "seeds": seeds})
    cache = out / "rollouts"
    if (cache / "settings.txt").is_file() and (cache / "settings.txt").read_text() != key:
        raise SystemExit(f"transfer_study: {cache} holds rollouts of other settings; delete it to start again")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "settings.txt").write_text(key)
    policies = {name: replace(evaluation.policy_spec(run), name=f"policy ({name})") for name, run in runs.items()}
    own = [evaluation.BaselineMethod(first.config.integrator)]  # the study's fixed-eta front, one method
    baselines = evaluation.baseline_specs(first.config, reference=False, baselines=own)
    wanted = baselines if baselines_only else [*policies.values(), *baselines]
    missing = [spec for spec in wanted if not (cache / f"{spec.name}.pkl").is_file()]
    for name, run in runs.items():
        if policies[name] in missing:
            evaluation.check_compatible(run, settings[name])
    if missing:
        print(f"  integrating {', '.join(spec.name for spec in missing)}", flush=True)
        results = evaluation.evaluate(missing, seeds, first, batch_size=batch_size, n_traces=0)
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


def figure(rows: list[dict[str, Any]], labels: list[str], path: Path) -> None:
    """Per set of systems, the fixed-eta front and both policies: median and mean log10 error against cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(labels), figsize=(2.6 * len(labels), 5.0), sharey="row", squeeze=False)
    markers = dict(zip(dict.fromkeys(r["policy"] for r in rows), ("o", "s", "^", "D")))
    for column, label in enumerate(labels):
        subset = [r for r in rows if r["systems"] == label]
        fixed = sorted(subset[0]["fixed"])
        for row, (key, index, ylabel) in enumerate((("median", 1, "median |dE/E0|"),
                                                    ("mean_log10", 2, "mean log10 |dE/E0|"))):
            ax = axes[row][column]
            ax.plot([f[0] for f in fixed], [f[index] for f in fixed],
                    "-", color="0.5", marker=".", label="fixed eta")
            for r in subset:
                ax.plot(r["force_evals"], r[key], markers[r["policy"]], linestyle="none", label=r["policy"],
                        markersize=7, fillstyle="none", markeredgewidth=1.5)
            ax.set_xscale("log")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, one per policy")
    parser.add_argument("--names", nargs="+", help="a short name per run (default run0, run1, ...)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[3, 4, 8, 16], help="Plummer N")
    parser.add_argument("--n-ics", type=int, default=50, help="test initial conditions per set of systems")
    parser.add_argument("--n-intervals", type=int, default=100, help="intervals per episode")
    parser.add_argument("--batch-size", type=int, default=1024, help="initial conditions integrated together")
    parser.add_argument("--out", type=Path, default=Path("logs/transfer/study"), help="results folder")
    parser.add_argument("--figure", type=Path, default=Path("docs/transfer.png"))
    parser.add_argument("--env-kwargs", nargs="+", default=[], metavar="KEY:VALUE",
                        help="settings for every set over the runs' (e.g. one reward for both: it only changes "
                             "the episode_return column, never what a policy does)")
    parser.add_argument("--baselines-only", action="store_true", help="integrate only the fixed-eta baselines")
    args = parser.parse_args()
    names = args.names or [f"run{k}" for k in range(len(args.runs))]
    if len(names) != len(args.runs):
        parser.error(f"--names gives {len(names)} names for {len(args.runs)} runs")
    runs = {name: evaluation.load_run(path) for name, path in zip(names, args.runs)}
    seeds = seeds_from(TEST_SEEDS, args.n_ics, 0)
    sets = systems_sets(args.sizes, parse_key_values(args.env_kwargs, "--env-kwargs"))
    for label, overrides in sets.items():
        print(f"{label}:", flush=True)
        evaluate_set(runs, overrides, seeds, args.n_intervals, args.out / label, args.batch_size, args.baselines_only)
    if args.baselines_only:
        return
    rows = table_rows(args.out, list(sets), names)
    print(markdown(rows))
    figure(rows, list(sets), args.figure)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
