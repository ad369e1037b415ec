"""Sweeps: train and evaluate one agent per point of a grid of settings, locally or on Dask.

A sweep file (YAML) names the output folder, the ``train.py`` settings every point shares, the
grid (every combination is a point; a dotted key such as ``env_kwargs.cost_weight`` reaches into
a mapping) and the evaluation::

    output: sweeps/cost_weight
    train: {algo: dqn, n_timesteps: 30000, eval_freq: 0}
    grid:
      seed: [0, 1]
      env_kwargs.cost_weight: [0.0001, 0.0002, 0.0004]
    evaluate: {n_ics: 100, n_intervals: 300}

Each point trains into ``<output>/points/<name>/`` and evaluates its final model on the first
``n_ics`` test initial conditions; its summary goes to ``result.json`` there. A point that
already has one is skipped on a rerun; a point that raised is reported (``error.txt``) and
retried on the next run. A point is safe to run again after a kill (a lost Dask worker, a
preempted job): it reuses a run its earlier attempt finished training, continues one that was
killed from its latest checkpoint (to the same model, :mod:`agents.checkpoints`), and starts
afresh otherwise, so its row does not depend on how often it was interrupted. All points land in
``<output>/results.csv`` and ``<output>/sweep.png`` (median final |dE/E0| against total force
evaluations, with the fixed actions for reference).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import shutil
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agents.seeds import TEST_SEEDS, seeds_from

if TYPE_CHECKING:
    from agents.evaluation import MethodSummary
    from agents.training import TrainArgs

#: Columns of ``results.csv``, after the grid's own keys.
RESULT_COLUMNS = ("status", "final_error_median", "final_error_p90", "force_evals_total", "failure_rate",
                  "episode_return_mean", "run_dir", "error")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file."""

    output: Path
    train: dict[str, Any]
    grid: dict[str, list[Any]]
    n_ics: int = 100
    n_intervals: int = 300

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        """Read and check a sweep file; ``ValueError`` with a one-line reason if it is unusable."""
        from agents.training import TrainArgs

        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no sweep file at {path}")
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("grid"), dict) or not doc["grid"]:
            raise ValueError(f"{path} needs a non-empty 'grid' mapping of setting -> list of values")
        unknown = set(doc) - {"output", "train", "grid", "evaluate"}
        if unknown:
            raise ValueError(f"{path}: unknown sections {sorted(unknown)}; expected output, train, grid, evaluate")
        allowed = {f.name for f in fields(TrainArgs)} - {"log_folder", "progress", "trained_agent"}
        train = dict(doc.get("train") or {})
        grid = {str(k): v for k, v in doc["grid"].items()}
        for key in list(train) + [k.split(".")[0] for k in grid]:
            if key not in allowed:
                raise ValueError(f"{path}: {key!r} is not a train.py setting; choose from {sorted(allowed)}")
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{path}: grid entry {key!r} must be a non-empty list, got {values!r}")
        evaluate = dict(doc.get("evaluate") or {})
        if "n_steps" in evaluate:  # its name in 0.1: deprecated, removed in the next release
            warnings.warn(f"{path}: 'evaluate: n_steps' is deprecated; call it n_intervals", FutureWarning,
                          stacklevel=2)
            evaluate.setdefault("n_intervals", evaluate.pop("n_steps"))
        n_ics, n_intervals = int(evaluate.pop("n_ics", 100)), int(evaluate.pop("n_intervals", 300))
        if evaluate or n_ics < 1 or n_intervals < 1:
            raise ValueError(f"{path}: 'evaluate' takes n_ics >= 1 and n_intervals >= 1 only")
        output = Path(doc.get("output") or Path("sweeps") / path.stem)
        spec = cls(output, train, grid, n_ics, n_intervals)
        spec.check_points(path)
        return spec

    def check_points(self, path: Path) -> None:
        """Check the names of every point's environment settings and hyperparameters before any point runs:
        a misspelt grid key (``env_kwargs.cost_wieght``) fails here once, not in every point. Values are
        checked when a point runs, and a bad one fails that point only."""
        from agents.training import TrainArgs, load_hyperparams
        from threebody_env.config import check_setting_names

        for point in self.points():
            settings = train_settings(self, point)
            try:
                check_setting_names(settings.get("env_kwargs") or {})
                load_hyperparams(settings.get("algo", TrainArgs.algo), settings.get("env", TrainArgs.env),
                                 settings.get("hyperparams") or {})
            except (ValueError, FileNotFoundError, KeyError) as exc:
                raise ValueError(f"{path}: point {point_name(point)}: {exc}") from None

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid, as {dotted key: value}, in file order."""
        keys = list(self.grid)
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(self.grid[k] for k in keys))]


def point_name(point: Mapping[str, Any]) -> str:
    """A folder name for a point, e.g. ``seed=0,cost_weight=0.0001``."""
    text = ",".join(f"{key.split('.')[-1]}={value}" for key, value in point.items())
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)


def train_settings(spec: SweepSpec, point: Mapping[str, Any]) -> dict[str, Any]:
    """The shared ``train`` settings with the point's values put in (dotted keys into mappings)."""
    settings = copy.deepcopy(spec.train)
    for key, value in point.items():
        *parents, leaf = key.split(".")
        target = settings
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return settings


def run_point(spec: SweepSpec, point: Mapping[str, Any]) -> dict[str, Any]:
    """Train and evaluate one point (a Dask task, or a call in the local loop); returns its row.

    An exception is caught and reported in the row (``status="failed"``, ``error``) and in
    ``error.txt``, so one bad point never hides the others.
    """
    folder = spec.output / "points" / point_name(point)
    folder.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {**point, "status": "failed"}
    try:
        row.update(_train_and_evaluate(spec, point, folder))
        row["status"] = "done"
        (folder / "result.json").write_text(json.dumps(row, indent=2, default=str) + "\n")
        (folder / "error.txt").unlink(missing_ok=True)
    except Exception as exc:  # reported, not raised: the sweep goes on
        row["error"] = f"{type(exc).__name__}: {exc}"
        (folder / "error.txt").write_text(traceback.format_exc())
    return row


def _train_and_evaluate(spec: SweepSpec, point: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    from agents import evaluation
    from agents.training import TrainArgs

    run_dir = trained_run(TrainArgs(**train_settings(spec, point), log_folder=str(folder), progress=False))
    run = evaluation.load_run(run_dir / "model.zip")
    settings = evaluation.evaluation_settings(run, n_intervals=spec.n_intervals)
    policy = evaluation.policy_spec(run, settings)
    seeds = seeds_from(TEST_SEEDS, spec.n_ics)
    result = evaluation.evaluate([policy], seeds, settings, n_traces=0, progress=False)[policy.name]
    summary = evaluation.summarize(policy, result)
    return {
        "final_error_median": summary.final_error.median.value, "final_error_p90": summary.final_error.p90.value,
        "force_evals_total": summary.force_evals_total, "failure_rate": summary.failure_rate,
        "episode_return_mean": float(result.episode_return.mean()), "run_dir": str(run_dir),
    }


def trained_run(args: TrainArgs) -> Path:
    """The run folder of a point trained as ``args``: an earlier attempt's if it holds a model, the
    earlier attempt continued from its checkpoint if it was killed, else a new run (an attempt that
    crashed or was killed before its first checkpoint is removed first)."""
    from agents.checkpoints import latest_checkpoint
    from agents.training import FAILED_MARKER, prepare, prepare_resume, train

    for run_dir in sorted(Path(args.log_folder).glob(f"{args.algo}/{args.env}_*")):
        if (run_dir / "model.zip").is_file():
            return run_dir
        if latest_checkpoint(run_dir) is not None and not (run_dir / FAILED_MARKER).exists():
            return train(*prepare_resume(run_dir, progress=False))
        shutil.rmtree(run_dir)
    return train(prepare(args))


def finished_row(spec: SweepSpec, point: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved row of a point that finished in an earlier run, else ``None``."""
    saved = spec.output / "points" / point_name(point) / "result.json"
    return json.loads(saved.read_text()) if saved.is_file() else None


def run_sweep(spec: SweepSpec, client=None, progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every point's row, in grid order: finished points read back, the others run.

    With a Dask ``client`` each remaining point is one task of :func:`agents.distributed.map_on_dask`;
    without one they run here, one after the other.
    """
    from tqdm.auto import tqdm

    points = spec.points()
    rows: list[dict[str, Any] | None] = [finished_row(spec, p) for p in points]
    todo = [i for i, row in enumerate(rows) if row is None]
    with tqdm(total=len(points), initial=len(points) - len(todo), desc="sweep", unit="point",
              disable=not progress) as bar:
        def finish(i: int, row: dict[str, Any]) -> None:
            rows[i] = row
            bar.update()
            if on_row is not None:
                on_row(row)

        if client is None:
            for i in todo:
                finish(i, run_point(spec, points[i]))
        else:
            from agents.distributed import TaskFailure, map_on_dask

            def done(k: int, outcome: dict[str, Any] | TaskFailure) -> None:
                if isinstance(outcome, TaskFailure):  # the worker itself died: still a reported failure
                    error = outcome.error
                    outcome = {**points[todo[k]], "status": "failed", "error": f"{type(error).__name__}: {error}"}
                finish(todo[k], outcome)

            map_on_dask(client, run_point, [(spec, points[i]) for i in todo], on_done=done, fail_fast=False)
    finished = [row for row in rows if row is not None]
    assert len(finished) == len(rows)  # every point either was read back or has just run
    return finished


def write_results(spec: SweepSpec, rows: Sequence[Mapping[str, Any]]) -> Path:
    """``<output>/results.csv``: one row per point, grid keys first."""
    from agents.evaluation.report import write_csv

    path = spec.output / "results.csv"
    spec.output.mkdir(parents=True, exist_ok=True)
    write_csv(path, rows, [*spec.grid, *RESULT_COLUMNS])
    return path


def fixed_action_reference(spec: SweepSpec) -> list[MethodSummary]:
    """Every fixed action of the sweep's environment on the same test initial conditions (for the plot)."""
    from agents import evaluation
    from agents.training import resolve_env_kwargs

    env_kwargs = resolve_env_kwargs(spec.train.get("env", "ThreeBody-v0"), spec.train.get("env_kwargs", {}))
    config = evaluation.checked_config({**env_kwargs, "record_wall_time": True})
    settings = evaluation.Settings(config, spec.n_intervals)
    own = [evaluation.BaselineMethod(config.method.name)]  # the sweep's own method: its figure has one front
    baselines = [s for s in evaluation.baseline_specs(settings.config, reference=False, baselines=own)
                 if s.role == "fixed"]
    results = evaluation.evaluate(baselines, seeds_from(TEST_SEEDS, spec.n_ics), settings, n_traces=0, progress=False)
    return [evaluation.summarize(s, results[s.name]) for s in baselines]


def plot_sweep(spec: SweepSpec, rows: Sequence[Mapping[str, Any]], fixed: Sequence[MethodSummary]) -> Path:
    """``<output>/sweep.png``: each finished point's median final |dE/E0| against its total force
    evaluations, labelled by its settings, over the fixed actions' curve."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.5), dpi=110)
    ax = fig.add_subplot()
    if fixed:
        ax.plot([f.force_evals_total for f in fixed], [f.final_error.median.value for f in fixed], "o-",
                color="grey", ms=4, lw=1, label="fixed actions")
    done = [r for r in rows if r.get("status") == "done"]
    for number, row in enumerate(done, start=1):  # a number beside each point, its settings in the legend
        ax.plot(row["force_evals_total"], row["final_error_median"], "*", ms=12,
                label=f"{number}: {point_name({k: row[k] for k in spec.grid})}")
        ax.annotate(str(number), (row["force_evals_total"], row["final_error_median"]), fontsize=8,
                    xytext=(5, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"total force evaluations ({spec.n_ics} test initial conditions x {spec.n_intervals} intervals)")
    ax.set_ylabel("median final |dE/E0|")
    failed = len(rows) - len(done)
    ax.set_title(f"sweep {spec.output.name}: {len(done)} points" + (f", {failed} failed" if failed else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, borderaxespad=0.0)
    fig.tight_layout()
    path = spec.output / "sweep.png"
    fig.savefig(path)
    return path
