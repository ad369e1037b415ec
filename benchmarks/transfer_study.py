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
from pathlib import Path
from typing import Any

from agents import evaluation
from agents.seeds import TEST_SEEDS, seeds_from
from agents.train_cli import parse_key_values
from agents.transfer import evaluate_set, figure, markdown, table_rows


def systems_sets(sizes: list[int], common: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The evaluation settings by label: the paper's triples, then Plummer spheres of each N, over ``common``."""
    return {"paper": {**common, "initial_conditions": "paper"},
            **{f"plummer{n}": {**common, "initial_conditions": "plummer", "n_bodies": n} for n in sizes}}


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
    runs = {name: evaluation.load_run(path) for name, path in zip(names, args.runs, strict=True)}
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
