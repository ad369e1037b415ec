"""Evaluate a trained policy against every fixed parameter on the same unseen initial conditions.

The pipeline behind ``evaluate.py``: :func:`load_run` reads a run folder (or a model file and the
``args.yml`` beside it), :func:`method_specs` lists the policy and its baselines as plain
:class:`MethodSpec` values, :func:`run_chunk` runs one method on one chunk of seeds (a pure
function of spec, seeds and :class:`Settings`, so chunks may run anywhere, e.g. as Dask tasks),
:func:`summarize` and :func:`compare_with_fixed` turn per-episode results into the verdict, and
:func:`write_outputs` / :func:`print_table` report it.

Units: energy errors are relative, |E - E0| / |E0|; cost is force evaluations (deterministic),
wall time in seconds beside it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from gymnasium import spaces
from gymnasium.envs.registration import registry

import integrators
from agents.algorithms import ALGOS
from agents.baselines import FixedActionPolicy, fixed_action_baselines, parameter_baseline
from agents.rollout import RolloutResult, rollout
from threebody_env import ThreeBodyVectorEnv
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig

#: Method kinds, in the order tables list ties: the trained policy, one fixed action of the
#: action set, the method's conventional default, the high-accuracy reference (REBOUND IAS15).
KINDS = ("policy", "fixed", "default", "reference")


class EvaluationError(ValueError):
    """A problem with the user's input (missing run, incompatible model, bad option): one-line message."""


@dataclass(frozen=True)
class Run:
    """A trained model and how it was trained: ``args.yml`` of its run folder."""

    model_path: Path
    run_dir: Path
    algo: str
    env_id: str
    env_kwargs: dict[str, Any]
    seed: int | None

    @property
    def integrator(self) -> str:
        """The method the model was trained on."""
        return {**registry[self.env_id].kwargs, **self.env_kwargs}.get("integrator", EnvConfig.integrator)


@dataclass(frozen=True)
class Settings:
    """Everything besides the method and the seeds that fixes an episode's outcome."""

    env_kwargs: dict[str, Any]
    n_steps: int = 300


@dataclass(frozen=True)
class MethodSpec:
    """A method to evaluate, as plain data (picklable, cheap to ship to a worker).

    ``kind`` is one of :data:`KINDS`. A policy names its model file and algorithm (and may carry
    the file's bytes, ``model_data``, for workers that cannot read it); a fixed or default
    baseline its ``action`` (index, or continuous value in [-1, 1]) and ``action_mode``.
    """

    name: str
    kind: str
    model_path: str | None = None
    algo: str | None = None
    action: float | None = None
    action_mode: str | None = None
    model_data: bytes | None = field(default=None, repr=False)

    def with_model_data(self) -> MethodSpec:
        """This spec with its model file's bytes inside (a policy), or itself (a baseline)."""
        if self.kind != "policy" or self.model_data is not None:
            return self
        return replace(self, model_data=Path(self.model_path).read_bytes())


# ---------------------------------------------------------------- loading a run and its methods


def load_run(path: str | Path) -> Run:
    """Read a run folder (``best_model.zip`` preferred over ``model.zip``) or a model file."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / "best_model.zip", path / "model.zip"]
        model_path = next((p for p in candidates if p.is_file()), None)
        if model_path is None:
            raise EvaluationError(f"{path} holds neither best_model.zip nor model.zip")
    elif path.is_file():
        model_path = path
    else:
        raise EvaluationError(f"no run folder or model file at {path}")
    run_dir = model_path.parent
    args_file = run_dir / "args.yml"
    if not args_file.is_file():
        raise EvaluationError(f"{args_file} is missing: it says which algorithm and environment trained the model")
    try:
        args = yaml.safe_load(args_file.read_text())
    except yaml.YAMLError as exc:
        raise EvaluationError(f"{args_file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(args, dict) or "algo" not in args or "env" not in args:
        raise EvaluationError(f"{args_file} must be a mapping with at least 'algo' and 'env'")
    if args["algo"] not in ALGOS:
        raise EvaluationError(f"{args_file}: unknown algo {args['algo']!r}; known: {sorted(ALGOS)}")
    if args["env"] not in registry:
        raise EvaluationError(f"{args_file}: unknown environment {args['env']!r}")
    env_kwargs = args.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict):
        raise EvaluationError(f"{args_file}: env_kwargs must be a mapping, got {env_kwargs!r}")
    return Run(model_path, run_dir, args["algo"], args["env"], dict(env_kwargs), args.get("seed"))


def evaluation_env_kwargs(run: Run, overrides: Mapping[str, Any], integrator: str | None) -> dict[str, Any]:
    """The environment settings for evaluation: the registered id's, the run's, then ``overrides``.

    With ``integrator`` (the transfer experiment) the method changes and its own parameter range
    applies, unless ``overrides`` set ``param_range``. A discrete model keeps its number of actions
    whatever the range, so action k keeps its place in it. Wall time is always recorded. Raises
    :class:`EvaluationError` for invalid settings.
    """
    kwargs = {**registry[run.env_id].kwargs, **run.env_kwargs, "integrator": run.integrator}
    trained = _checked_config(kwargs)
    if trained.action_mode == "discrete":
        kwargs["n_actions"] = trained.n_actions
    if integrator is not None and integrator != run.integrator:
        if integrator not in integrators.METHODS:
            raise EvaluationError(f"unknown integrator {integrator!r}; choose from {', '.join(integrators.METHODS)}")
        kwargs.pop("param_range", None)
        kwargs["integrator"] = integrator
    kwargs.update(overrides)
    kwargs["record_wall_time"] = True
    _checked_config(kwargs)
    return kwargs


def _checked_config(kwargs: Mapping[str, Any]) -> EnvConfig:
    """``EnvConfig(**kwargs)``, or :class:`EvaluationError` saying why the settings are invalid."""
    try:
        return EnvConfig(**kwargs)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"invalid environment settings: {exc}") from None


def check_compatible(run: Run, env_kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`EvaluationError` unless the model's spaces equal the environment's."""
    model = _load_model(run.algo, str(run.model_path))
    env = ThreeBodyVectorEnv(num_envs=1, **env_kwargs)
    pairs = (("observation", model.observation_space, env.single_observation_space),
             ("action", model.action_space, env.single_action_space))
    for what, theirs, ours in pairs:
        if not _same_space(theirs, ours):
            raise EvaluationError(f"model {run.model_path} is incompatible with the environment: its {what} "
                                  f"space is {theirs}, the environment's is {ours}")


def _same_space(a: spaces.Space, b: spaces.Space) -> bool:
    if isinstance(a, spaces.Discrete) and isinstance(b, spaces.Discrete):
        return a.n == b.n
    if isinstance(a, spaces.Box) and isinstance(b, spaces.Box):
        return a.shape == b.shape
    return False


@functools.lru_cache(maxsize=4)
def _load_model(algo: str, model_path: str):
    """The SB3 model on CPU, loaded once per process (chunks of one run share it)."""
    try:
        return ALGOS[algo].load(model_path, device="cpu")
    except Exception as exc:  # a corrupt or foreign zip: say which file, not SB3's internals
        raise EvaluationError(f"cannot load {model_path} as a {algo} model: {exc}") from None


@functools.lru_cache(maxsize=4)
def _load_model_data(algo: str, data: bytes):
    """The SB3 model from the bytes of its .zip, loaded once per process (bytes hash by content)."""
    return ALGOS[algo].load(io.BytesIO(data), device="cpu")


def method_specs(run: Run, env_kwargs: Mapping[str, Any], *, reference: bool) -> list[MethodSpec]:
    """The policy followed by :func:`baseline_specs`."""
    policy = MethodSpec(f"policy ({run.algo})", "policy", model_path=str(run.model_path), algo=run.algo)
    return [policy, *baseline_specs(env_kwargs, reference=reference)]


def baseline_specs(env_kwargs: Mapping[str, Any], *, reference: bool) -> list[MethodSpec]:
    """Every fixed action of a discrete set (of the configured size), the method's default, and
    (``reference=True``) REBOUND IAS15, in that order."""
    config = EnvConfig(**{**env_kwargs, "action_mode": "discrete"})
    actions = ActionMap(config)
    param = config.method.param
    specs = [_spec(p, "fixed") for p in fixed_action_baselines(actions, param)]
    try:
        specs.append(_spec(parameter_baseline(actions, param, config.method.default), "default"))
    except ValueError:
        pass  # the default lies outside a user-chosen range: the fixed actions cover the range
    if reference:
        from agents.rebound_baseline import IAS15_NAME

        specs.append(MethodSpec(IAS15_NAME, "reference"))
    return specs


def _spec(policy: FixedActionPolicy, kind: str) -> MethodSpec:
    return MethodSpec(policy.name, kind, action=policy.action, action_mode=policy.action_mode)


# ---------------------------------------------------------------- running


def run_chunk(spec: MethodSpec, seeds: Sequence[int], settings: Settings, n_traces: int = 0) -> RolloutResult:
    """One episode of ``spec`` from each seed's initial condition; traces of the first ``n_traces``.

    A pure function of its arguments (apart from wall time): the unit of work a scheduler may ship.
    """
    if spec.kind == "reference":
        from agents.rebound_baseline import rollout_ias15

        return rollout_ias15(seeds, env_kwargs=settings.env_kwargs, n_steps=settings.n_steps,
                             name=spec.name, n_traces=n_traces)
    if spec.kind == "policy" and spec.model_data is not None:
        policy = _load_model_data(spec.algo, spec.model_data)
    elif spec.kind == "policy":
        policy = _load_model(spec.algo, spec.model_path)  # rollout asks SB3's predict for deterministic actions
    else:
        policy = FixedActionPolicy(spec.action, spec.name, spec.action_mode)
    return rollout(policy, seeds, env_kwargs=settings.env_kwargs, n_steps=settings.n_steps, name=spec.name,
                   n_traces=n_traces, batch_size=max(len(seeds), 1))


#: With ``background_reference`` and at least this many initial conditions, the reference
#: (single-threaded REBOUND) runs in a separate process while the Numba baselines run.
BACKGROUND_MIN_SEEDS = 32


def evaluate(specs: Sequence[MethodSpec], seeds: Sequence[int], settings: Settings, *, batch_size: int = 1024,
             n_traces: int = 3, progress: bool = True, background_reference: bool = False,
             client=None) -> dict[str, RolloutResult]:
    """Run every method on the same ``seeds`` in chunks of ``batch_size``; results keyed by name.

    A progress bar (stderr) counts methods x chunks. The first ``n_traces`` episodes are traced.
    ``background_reference`` spawns a worker process for REBOUND (the caller's main module must be
    import-safe, ``if __name__ == "__main__"``). With a Dask ``client`` every (method, chunk) is a
    task on its workers (:mod:`agents.distributed`). Scheduling never changes results, only wall time.
    """
    from concurrent.futures import ProcessPoolExecutor
    from contextlib import nullcontext
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    chunks = [list(seeds[i : i + batch_size]) for i in range(0, len(seeds), batch_size)]
    traced = [max(0, min(n_traces - k * batch_size, len(chunk))) for k, chunk in enumerate(chunks)]
    if client is not None:
        from agents.distributed import run_chunks_on_dask

        tasks = [(spec.with_model_data(), chunk, settings, n) for spec in specs for chunk, n in zip(chunks, traced)]
        with tqdm(total=len(tasks), desc="evaluating on Dask", unit="chunk", disable=not progress) as bar:
            done = run_chunks_on_dask(client, tasks, on_done=bar.update)
        per_spec = len(chunks)
        return {s.name: RolloutResult.concatenate(done[k * per_spec : (k + 1) * per_spec]) for k, s in enumerate(specs)}
    background = [s for s in specs if s.kind == "reference" and background_reference
                  and len(seeds) >= BACKGROUND_MIN_SEEDS]
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn")) if background else nullcontext()
    parts: dict[str, list[RolloutResult]] = {}
    with tqdm(total=len(specs) * len(chunks), desc="evaluating", unit="chunk", disable=not progress) as bar, pool:
        futures = {s.name: [pool.submit(run_chunk, s, c, settings, t) for c, t in zip(chunks, traced)]
                   for s in background}
        for spec in specs:
            if spec.name in futures:
                continue
            bar.set_postfix_str(spec.name)
            parts[spec.name] = []
            for chunk, n in zip(chunks, traced):
                parts[spec.name].append(run_chunk(spec, chunk, settings, n))
                bar.update()
        for name, pending in futures.items():
            bar.set_postfix_str(name)
            parts[name] = []
            for future in pending:
                parts[name].append(future.result())
                bar.update()
    return {s.name: RolloutResult.concatenate(parts[s.name]) for s in specs}


# ---------------------------------------------------------------- metrics


EPISODE_COLUMNS = ("method", "kind", "seed", "final_energy_error", "abs_final_energy_error", "max_energy_error",
                   "force_evals", "integrator_steps", "wall_time", "intervals", "episode_return", "mean_param",
                   "end", "failed")


def episode_rows(specs: Sequence[MethodSpec], results: Mapping[str, RolloutResult]) -> list[dict[str, Any]]:
    """One row per method x initial condition, columns :data:`EPISODE_COLUMNS`."""
    rows = []
    for spec in specs:
        r = results[spec.name]
        for i, seed in enumerate(r.seeds):
            rows.append({
                "method": spec.name, "kind": spec.kind, "seed": int(seed),
                "final_energy_error": float(r.final_energy_error[i]),
                "abs_final_energy_error": abs(float(r.final_energy_error[i])),
                "max_energy_error": float(r.max_energy_error[i]),
                "force_evals": int(r.force_evals[i]), "integrator_steps": int(r.integrator_steps[i]),
                "wall_time": float(r.wall_time[i]), "intervals": int(r.intervals[i]),
                "episode_return": float(r.episode_return[i]), "mean_param": float(10.0 ** r.mean_log_param[i]),
                "end": str(r.end[i]), "failed": bool(r.failed[i]),
            })
    return rows


def _stats(prefix: str, values: np.ndarray) -> dict[str, float]:
    """Median and 10th/90th percentiles (NaN when empty)."""
    if values.size == 0:
        return {f"{prefix}_{s}": math.nan for s in ("median", "p10", "p90")}
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {f"{prefix}_median": float(median), f"{prefix}_p10": float(p10), f"{prefix}_p90": float(p90)}


def summarize(spec: MethodSpec, result: RolloutResult) -> dict[str, Any]:
    """Aggregate one method's episodes: error, cost and wall-time statistics, failures by reason.

    Failed episodes count with the error and cost they had when they stopped.
    """
    ends, counts = np.unique(result.end[result.failed], return_counts=True)
    row: dict[str, Any] = {"method": spec.name, "kind": spec.kind, "episodes": int(result.seeds.size)}
    row.update(_stats("final_error", np.abs(result.final_energy_error)))
    row.update(_stats("max_error", result.max_energy_error))
    row["force_evals_total"] = int(result.force_evals.sum())
    row.update(_stats("force_evals", result.force_evals.astype(float)))
    row["integrator_steps_total"] = int(result.integrator_steps.sum())
    row.update(_stats("integrator_steps", result.integrator_steps.astype(float)))
    row["wall_time_total"] = float(result.wall_time.sum())
    row.update(_stats("wall_time", result.wall_time))
    row["mean_param_median"] = float(np.median(10.0 ** result.mean_log_param))
    row["failure_rate"] = float(result.failed.mean())
    row["failures"] = ";".join(f"{end}:{n}" for end, n in zip(ends, counts))
    return row


@dataclass(frozen=True)
class Comparison:
    """The training issue's criterion: is the policy dominated by a fixed action, and does it beat
    the fixed action closest to it in total cost (closest on a log scale)?"""

    policy_error: float
    policy_cost: float
    dominated_by: tuple[str, ...]
    closest: str
    closest_error: float
    closest_cost: float

    @property
    def beats_closest(self) -> bool:
        return self.policy_error < self.closest_error

    @property
    def passes(self) -> bool:
        return not self.dominated_by and self.beats_closest

    def describe(self) -> str:
        """Two lines for the terminal."""
        if self.dominated_by:
            first = (f"DOMINATED by {', '.join(self.dominated_by)}: each has both lower median error and lower "
                     f"total cost.")
        else:
            first = "Not dominated: no fixed action has both lower median error and lower total cost."
        ratio = self.closest_error / self.policy_error if self.policy_error > 0 else math.inf
        verdict = "lower" if self.beats_closest else "NOT lower"
        second = (f"Closest fixed action in total cost: {self.closest} ({self.closest_cost:.4g} vs "
                  f"{self.policy_cost:.4g} force evals); the policy's median |dE/E0| {self.policy_error:.3g} is "
                  f"{verdict} than its {self.closest_error:.3g} (ratio {ratio:.3g}).")
        return first + "\n" + second


def compare_with_fixed(policy: tuple[float, float], fixed: Mapping[str, tuple[float, float]]) -> Comparison:
    """Compare ``policy`` = (median final error, total cost) with each fixed action's pair.

    A fixed action dominates when both its error and its cost are strictly lower. The closest in
    cost minimises |log(cost / policy cost)|.
    """
    if not fixed:
        raise ValueError("compare_with_fixed needs at least one fixed action")
    error, cost = policy
    dominated_by = tuple(name for name, (e, c) in fixed.items() if e < error and c < cost)
    closest = min(fixed, key=lambda name: abs(math.log(max(fixed[name][1], 1e-300) / max(cost, 1e-300))))
    return Comparison(error, cost, dominated_by, closest, *fixed[closest])


def compare_summaries(summaries: Sequence[Mapping[str, Any]]) -> Comparison:
    """:func:`compare_with_fixed` on the rows of :func:`summarize` (median final error, total force evals)."""
    pair = {s["method"]: (s["final_error_median"], s["force_evals_total"]) for s in summaries}
    policy = next(s["method"] for s in summaries if s["kind"] == "policy")
    return compare_with_fixed(pair[policy], {s["method"]: pair[s["method"]] for s in summaries if s["kind"] == "fixed"})


# ---------------------------------------------------------------- output


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV; floats written with ``repr`` so equal numbers give equal text."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class Report:
    """What an evaluation produced, as written to disk and printed."""

    run: Run
    settings: Settings
    seeds: list[int]
    specs: list[MethodSpec]
    results: dict[str, RolloutResult]
    summaries: list[dict[str, Any]] = field(init=False)
    comparison: Comparison = field(init=False)

    def __post_init__(self) -> None:
        self.summaries = [summarize(s, self.results[s.name]) for s in self.specs]
        self.comparison = compare_summaries(self.summaries)


def write_outputs(report: Report, output: Path) -> list[Path]:
    """``episodes.csv``, ``summary.csv`` and ``summary.json`` into ``output``; returns their paths."""
    output.mkdir(parents=True, exist_ok=True)
    episodes, summary_csv, summary_json = output / "episodes.csv", output / "summary.csv", output / "summary.json"
    write_csv(episodes, episode_rows(report.specs, report.results), EPISODE_COLUMNS)
    write_csv(summary_csv, report.summaries, list(report.summaries[0]))
    c = report.comparison
    document = {
        "model": str(report.run.model_path), "algo": report.run.algo, "env": report.run.env_id,
        "training_seed": report.run.seed, "trained_integrator": report.run.integrator,
        "env_kwargs": {k: v for k, v in report.settings.env_kwargs.items()},
        "n_steps": report.settings.n_steps, "n_initial_conditions": len(report.seeds),
        "seeds": {"first": report.seeds[0], "last": report.seeds[-1], "split": "TEST_SEEDS"},
        "methods": report.summaries,
        "comparison": {**asdict(c), "beats_closest": c.beats_closest, "passes": c.passes},
    }
    summary_json.write_text(json.dumps(_json_safe(document), indent=2, default=str) + "\n")
    return [episodes, summary_csv, summary_json]


def print_table(report: Report, console=None) -> None:
    """The summary table sorted by total force evaluations, the policy highlighted, then the verdict."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = 200  # a log file or pipe: never squeeze the columns
    cfg = EnvConfig(**report.settings.env_kwargs)
    table = Table(title=f"{len(report.seeds)} test initial conditions x {report.settings.n_steps} intervals, "
                        f"{cfg.integrator}; medians per episode except total force evals and wall time",
                  title_justify="left")
    for header in ("method", "|dE/E0| median [p10, p90]", "max |dE/E0|", "force evals", "evals/ep",
                   "steps/ep", "wall [s]", "failed"):
        table.add_column(escape(header), justify="left" if header == "method" else "right", no_wrap=True)
    for s in sorted(report.summaries, key=lambda s: (s["force_evals_total"], KINDS.index(s["kind"]))):
        style = "bold magenta" if s["kind"] == "policy" else ("cyan" if s["kind"] != "fixed" else None)
        table.add_row(
            ("> " if s["kind"] == "policy" else "  ") + escape(s["method"]),
            escape(f"{s['final_error_median']:.2e} [{s['final_error_p10']:.1e}, {s['final_error_p90']:.1e}]"),
            f"{s['max_error_median']:.2e}", f"{s['force_evals_total']:,}", f"{s['force_evals_median']:,.0f}",
            f"{s['integrator_steps_median']:,.0f}", f"{s['wall_time_total']:.2f}",
            f"{100 * s['failure_rate']:.0f}%" + (f" ({s['failures']})" if s["failures"] else ""),
            style=style,
        )
    console.print(table)
    console.print(report.comparison.describe(), highlight=False)
