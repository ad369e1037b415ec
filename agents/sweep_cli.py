"""Command line of ``sweep.py``: run a sweep file locally or on a Dask scheduler, then report."""

from __future__ import annotations

import argparse
import sys

from agents import sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train and evaluate one agent per point of a grid of settings (see agents/sweep.py "
                    "for the file format); finished points are skipped on a rerun.",
    )
    parser.add_argument("sweep_file", help="YAML sweep file, e.g. examples/sweep_cost_weight.yml")
    parser.add_argument("--scheduler", help='"local" starts a Dask LocalCluster; a tcp:// address uses that '
                                            "scheduler; without it the points run here, one after another")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        spec = sweep.SweepSpec.load(args.sweep_file)
    except ValueError as exc:
        print(f"sweep.py: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    client = None
    if args.scheduler:
        from agents.distributed import connect

        client = connect(args.scheduler)
    try:
        rows = sweep.run_sweep(spec, client, progress=args.progress)
    finally:
        if client is not None:
            client.close()
    written = [sweep.write_results(spec, rows), sweep.plot_sweep(spec, rows, sweep.fixed_action_reference(spec))]
    for row in rows:
        point = sweep.point_name({k: row[k] for k in spec.grid})
        if row["status"] == "done":
            print(f"{point:40s} median |dE/E0| {row['final_error_median']:.3g}  "
                  f"force evals {row['force_evals_total']:,}")
        else:
            print(f"{point:40s} FAILED: {row.get('error', '?')}")
    print("Wrote " + ", ".join(str(p) for p in written))
    failed = sum(row["status"] != "done" for row in rows)
    if failed:
        print(f"{failed} of {len(rows)} points failed; rerun the same command to retry them.", file=sys.stderr)
        raise SystemExit(1)
