"""Reproduce Saz Ulibarrena & Portegies Zwart (2025) in one command and judge its claims (docs/paper.md).

    python reproduce.py            # the full run: the paper's 2000 x 100 training, 100 test systems x 300 intervals
    python reproduce.py --quick    # a short version for checking (under 15 minutes on 2 cores)
    python reproduce.py --paper-run logs/paper/train/dqn/ThreeBodyPaper-v0_1   # reuse a trained agent

Writes OUT/summary.json (fixed, default, reference, policy and transfer rows, the time of each stage
and one verdict per claim), OUT/error_cost.png, OUT/trajectories.png, OUT/transfer.png,
OUT/transfer.md, evaluate.py's outputs in OUT/evaluation/, the transfer study in OUT/transfer/ and
the training runs in OUT/train/.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from agents.paper import FULL, QUICK, claims_table, reproduce


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short training and fewer test systems")
    parser.add_argument("--out", type=Path, help="output folder (default logs/paper, or logs/paper-quick)")
    parser.add_argument("--paper-run", type=Path, help="a trained ThreeBodyPaper-v0 run to use, not train")
    parser.add_argument("--project-run", type=Path, help="a trained ThreeBody-v0 run folder to compare with")
    parser.add_argument("--no-project", action="store_true", help="neither train nor evaluate the project's agent")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--n-ics", type=int, help="test systems of the main evaluation (full 100, quick 20)")
    parser.add_argument("--transfer-n-ics", type=int, help="test systems per transfer method (full 100, quick 10)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.no_project and args.project_run is not None:
        parser.error("--no-project and --project-run exclude each other")
    for flag, path in (("--paper-run", args.paper_run), ("--project-run", args.project_run)):
        if path is not None and not path.is_dir():
            parser.error(f"{flag} {path} is not a run folder")
    plan = dataclasses.replace(QUICK if args.quick else FULL, seed=args.seed)
    for name in ("n_ics", "transfer_n_ics"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
        if value is not None:
            plan = dataclasses.replace(plan, **{name: value})
    if args.no_project:
        plan = dataclasses.replace(plan, project_timesteps=0)
    out = args.out or Path("logs/paper-quick" if args.quick else "logs/paper")
    try:
        document = reproduce(plan, out, paper_run=args.paper_run, project_run=args.project_run,
                             progress=not args.no_progress)
    except ValueError as error:
        sys.exit(f"reproduce.py: {error}")
    print(claims_table(document))
    print(f"Wrote {out / 'summary.json'}; stages took {document['seconds']} s")


if __name__ == "__main__":
    main()
