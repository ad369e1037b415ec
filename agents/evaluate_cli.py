"""Command line of ``evaluate.py``: parse options, run :mod:`agents.evaluation`, report.

Usage errors and unusable inputs (missing run, incompatible model, unknown integrator) print one
line and exit with status 2, as argparse does for bad options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agents import evaluation
from agents.seeds import TEST_SEEDS, seeds_from
from agents.train_cli import parse_key_values


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= 0")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (0.0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


class DeprecatedAlias(argparse.Action):
    """An option's old name: it still works, for one release, and says so on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new_name: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new_name = new_name

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed in the next release; "
              f"use {self.new_name}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Evaluate a trained time-step policy against every fixed (method, parameter) (and REBOUND "
                    "IAS15) on the same unseen initial conditions: the verdict against the union front of the fixed "
                    "choices, on the energy error (and the local error), at equal force evaluations and equal "
                    "deployed wall time; tables, CSV/JSON and plots.",
    )
    parser.add_argument("run", help="run folder logs/<algo>/<env>_<k> of train.py or rl-zoo3 "
                                    "(best_model.zip preferred), or a model .zip in one")
    parser.add_argument("--n-ics", type=_positive_int, default=100, help="initial conditions from the test seeds")
    parser.add_argument("--n-intervals", type=_positive_int, default=300,
                        help="intervals per episode, each the environment's interval: the family's natural one unless "
                             "--env-kwargs sets it (0.1 yr for the paper's three-body presets, 1/8 crossing time for "
                             "plummer, the shortest orbital period for hierarchical, the innermost planet's period for "
                             "planetary)")
    parser.add_argument("--n-steps", dest="n_intervals", type=_positive_int, default=argparse.SUPPRESS,
                        action=DeprecatedAlias, new_name="--n-intervals", help=argparse.SUPPRESS)
    parser.add_argument("--integrator", help="apply the policy to another method (the transfer experiment)")
    parser.add_argument("--baselines", nargs="+", metavar="METHOD[:N]",
                        help="the methods whose fixed parameters make up the union front, each on its default grid "
                             "(3 values per decade of its range; the policy's own method on the policy's action grid) "
                             "or on N values; default: the policy's method, hermite and ias15")
    parser.add_argument("--local-error", action=argparse.BooleanOptionalAction, default=True,
                        help="measure each episode's local error against the independent reference integrator "
                             "(one reference integration per interval of every method, ~0.1 s of CPU per "
                             "300-interval episode; the overall call needs it; --no-local-error skips it)")
    parser.add_argument("--env-kwargs", nargs="+", default=[], metavar="KEY:VALUE",
                        help="environment settings over the run's (values are Python literals)")
    parser.add_argument("--output", type=Path, help="folder for the results (default <run folder>/evaluation)")
    parser.add_argument("--force", action="store_true",
                        help="replace the results an earlier evaluation left in the output folder")
    parser.add_argument("--tolerance", type=_positive_float, default=evaluation.DEFAULT_TOLERANCE,
                        help="final |dE/E0| counted as a miss in the fraction of runs above tolerance")
    parser.add_argument("--seed-offset", type=_non_negative_int, default=0, help="first test seed used, 0-based")
    parser.add_argument("--batch-size", type=_positive_int, default=1024,
                        help="initial conditions integrated together (>= 100 keeps both cores busy)")
    parser.add_argument("--n-traces", type=_non_negative_int, default=3, help="episodes recorded in full for plots")
    parser.add_argument("--no-reference", action="store_true", help="skip the REBOUND IAS15 reference")
    parser.add_argument("--no-plots", action="store_true", help="write tables only")
    parser.add_argument("--deployed", action=argparse.BooleanOptionalAction, default=True,
                        help="also run every episode deployed (one system at a time, one decision per interval, "
                             "the policy as its torch-free controller) and give the verdict at equal wall time")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    parser.add_argument("--scheduler", help='run the chunks on Dask: "local" starts a LocalCluster, a tcp:// address '
                                            "uses that scheduler (needs the dask extra); default: this process")
    return parser


def default_output(run: evaluation.Run, settings: evaluation.Settings) -> Path:
    """``<run>/evaluation``, or ``<run>/evaluation_<integrator>`` when transferred to another method."""
    integrator = settings.config.integrator
    suffix = "" if integrator == run.integrator else f"_{integrator}"
    return run.run_dir / f"evaluation{suffix}"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        run_evaluation(args)
    except evaluation.EvaluationError as exc:
        print(f"evaluate.py: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_evaluation(args: argparse.Namespace) -> evaluation.Report:
    """Everything ``main`` does once the options parsed; raises :class:`~agents.evaluation.EvaluationError`."""
    from agents import rebound_baseline

    run = evaluation.load_run(args.run)
    try:
        overrides = parse_key_values(args.env_kwargs, "--env-kwargs")
    except ValueError as exc:
        raise evaluation.EvaluationError(str(exc)) from None
    settings = evaluation.evaluation_settings(run, overrides, args.integrator, args.n_intervals, args.deployed,
                                              args.local_error)
    baselines = evaluation.parse_baselines(args.baselines) if args.baselines else None
    evaluation.check_compatible(run, settings)
    try:
        seeds = seeds_from(TEST_SEEDS, args.n_ics, args.seed_offset)
    except ValueError as exc:
        raise evaluation.EvaluationError(str(exc)) from None
    reference = not args.no_reference and rebound_baseline.available()
    specs = evaluation.method_specs(run, settings, reference=reference, baselines=baselines)
    output = args.output or default_output(run, settings)
    evaluation.prepare_output(output, force=args.force)  # the inputs are sound: check (or clear) before the work
    client = None
    if args.scheduler:
        from agents.distributed import connect

        client = connect(args.scheduler)
    try:
        results = evaluation.evaluate(specs, seeds, settings, batch_size=args.batch_size, n_traces=args.n_traces,
                                      progress=args.progress, background_reference=True, client=client)
    except RuntimeError as exc:  # a task failed on the cluster: say which
        raise evaluation.EvaluationError(str(exc)) from None
    finally:
        if client is not None:
            client.close()
    report = evaluation.Report(run, settings, seeds, specs, results, tolerance=args.tolerance)
    evaluation.print_table(report)
    written = evaluation.write_outputs(report, output)
    if not args.no_plots:
        from agents import plots

        written += plots.save_all(report, output)
    print(f"Model {run.model_path}; wrote " + ", ".join(str(p) for p in written))
    return report
