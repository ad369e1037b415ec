"""Hyperparameter optimisation with Optuna: ``python train.py --optimize --n-trials N``.

Each trial trains one run (``-n`` steps, the other ``train.py`` settings as given) with
hyperparameters drawn from the algorithm's ``search_space`` in ``agents/hyperparams/<algo>.yml``
by Optuna's TPE sampler, on top of that file's entry for the environment. Entries of a search space::

    learning_rate: {low: 1.0e-5, high: 1.0e-2, log: true, prefix: "lin_"}   # a float, as "lin_<x>"
    batch_size: [64, 128, 256, 512]                                        # one of these values
    n_steps: {low: 1, high: 5, int: true}                                  # an integer

The score is the verdict's statistic on the validation initial conditions, not the raw return:
the policy's mean log10 final energy error minus that of the fixed-action front at the policy's
cost (total force evaluations), interpolated as :func:`agents.evaluation.metrics.interpolate_front`
does, i.e. log10 of the verdict's ratio for ``mean_log10``. Negative is better than every fixed
action at that cost; one unit is one decade. A policy cheaper or dearer than every fixed action is
compared with the nearest end of the front. Lower is better; every validation reports it to the
median pruner, which stops a trial scoring worse than the median of earlier trials at that step.

Trials share a study through ``--storage``: a journal file (any path; safe on a shared file
system, so Slurm array jobs can join one study) or an RDB URL such as ``sqlite:///study.db`` or
``postgresql://...``. Without it the study lives in ``<log_folder>/optuna/<study>/study.journal``,
so a killed study continues where it stopped when started again. Outputs go to
``<log_folder>/optuna/<study>/``: the trials' run folders under ``trials/``, ``trials.csv`` and
``best_hyperparams.yml`` (the best trial's hyperparameters, for ``train.py -conf``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from agents.hyperparameters import HYPERPARAMS_DIR, load_hyperparams
from agents.rollout import RolloutResult
from agents.seeds import VALIDATION_SEEDS, seeds_from
from agents.training import PreparedRun, TrainArgs, plain, prepare, train
from threebody_env import EVALUATION_EPISODE_STEPS

#: Trials the median pruner lets finish before it prunes, and the share of a trial's steps before it may.
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_FRACTION = 1 / 3
BEST_FILE = "best_hyperparams.yml"


@dataclass(frozen=True)
class StudySettings:
    """What ``--optimize`` was asked for, besides the ``train.py`` arguments every trial shares."""

    n_trials: int
    study_name: str | None = None
    storage: str | None = None  # a journal file path or an RDB URL; None: a journal in the study folder


def search_space(algo: str, path: Path | None = None) -> dict[str, Any]:
    """The ``search_space`` mapping of ``<algo>.yml`` (or ``path``), checked; ``ValueError`` if absent or bad."""
    path = path or HYPERPARAMS_DIR / f"{algo}.yml"
    space = (yaml.safe_load(path.read_text()) or {}).get("search_space")
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{path} has no search_space for --optimize")
    for name, entry in space.items():
        if isinstance(entry, list) and entry:
            continue
        if not (isinstance(entry, dict) and {"low", "high"} <= set(entry) <= {"low", "high", "log", "int", "prefix"}
                and entry["low"] < entry["high"]):
            raise ValueError(f"{path}: search_space entry {name}={entry!r} must be a list of choices or "
                             "{low, high[, log, int, prefix]} with low < high")
    return space


def suggest(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameters drawn for an Optuna ``trial`` from ``space`` (see the module's format)."""
    params: dict[str, Any] = {}
    for name, entry in space.items():
        if isinstance(entry, list):
            params[name] = trial.suggest_categorical(name, entry)
        elif entry.get("int"):
            params[name] = trial.suggest_int(name, int(entry["low"]), int(entry["high"]), log=bool(entry.get("log")))
        else:
            value = trial.suggest_float(name, float(entry["low"]), float(entry["high"]), log=bool(entry.get("log")))
            params[name] = f"{entry['prefix']}{value:.6g}" if "prefix" in entry else value
    return params


@dataclass(frozen=True)
class Front:
    """The fixed actions' total force evaluations and mean log10 final errors on the validation set."""

    costs: tuple[float, ...]
    mean_log10: tuple[float, ...]

    def score(self, result: RolloutResult) -> float:
        """The policy's mean log10 final error minus the front's at its cost (nearest end outside)."""
        from agents.evaluation.metrics import episode_errors, error_statistics, interpolate_front

        policy = error_statistics(episode_errors(result))
        cost = min(max(float(result.force_evals.sum()), min(self.costs)), max(self.costs))
        return policy.mean_log10.value - interpolate_front(self.costs, self.mean_log10, cost, log_value=False)


def fixed_action_front(env_kwargs: dict[str, Any], n_episodes: int) -> Front:
    """Every fixed action of the environment's discrete action set on the first ``n_episodes``
    validation initial conditions, for as many intervals as a validation episode.

    The front is the trained method's own (as a sweep's): a trial is scored against the parameters of the
    integrator it steers; ``evaluate.py`` then judges the chosen run against the union of every method's."""
    from agents import evaluation

    settings = evaluation.Settings(evaluation.checked_config(env_kwargs), EVALUATION_EPISODE_STEPS, deployed=False)
    own = [evaluation.BaselineMethod(settings.config.method.name)]
    fixed = [s for s in evaluation.baseline_specs(settings.config, reference=False, baselines=own)
             if s.role == "fixed"]
    results = evaluation.evaluate(fixed, seeds_from(VALIDATION_SEEDS, n_episodes), settings, n_traces=0,
                                  progress=False)
    summaries = [evaluation.summarize(s, results[s.name]) for s in fixed]
    return Front(tuple(float(s.force_evals_total) for s in summaries),
                 tuple(s.final_error.mean_log10.value for s in summaries))


def study_folder(args: TrainArgs, name: str) -> Path:
    return Path(args.log_folder) / "optuna" / name


def open_study(settings: StudySettings, args: TrainArgs) -> Any:
    """The Optuna study (created, or joined when the storage holds it): TPE seeded with ``args.seed``,
    median pruner, minimising the score."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    name = settings.study_name or f"{args.algo}-{args.env}"
    storage: Any = settings.storage
    if storage is None or "://" not in storage:
        path = Path(storage or study_folder(args, name) / "study.journal")
        path.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(path)))
    n_timesteps = int(load_hyperparams(args.algo, args.env, args.hyperparams, args.conf_file)["n_timesteps"]
                      if args.n_timesteps is None else args.n_timesteps)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                         n_warmup_steps=int(n_timesteps * PRUNER_WARMUP_FRACTION))
    try:
        return optuna.create_study(study_name=name, storage=storage, pruner=pruner, direction="minimize",
                                   sampler=optuna.samplers.TPESampler(seed=args.seed), load_if_exists=True)
    except Exception as error:  # an RDB URL of an unknown dialect, an unreachable database, a bad journal
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"--storage {settings.storage!r}: cannot open the study ({reason})") from None


def objective(args: TrainArgs, space: Mapping[str, Any], front: Front, folder: Path) -> Callable[[Any], float]:
    """The function Optuna calls per trial: train with the drawn hyperparameters, return the last score."""
    import optuna

    def run_trial(trial: Any) -> float:
        params = suggest(trial, space)
        trial_args = replace(args, hyperparams={**args.hyperparams, **params}, log_folder=str(folder / "trials"),
                             progress=False, checkpoint_freq=0)
        run = prepare(trial_args)
        scores: list[float] = []
        pruned: list[int] = []  # the step at which the pruner stopped the trial

        def report(timesteps: int, result: RolloutResult) -> bool:
            scores.append(front.score(result))
            trial.report(scores[-1], timesteps)
            if timesteps < run.n_timesteps and trial.should_prune():
                pruned.append(timesteps)
            return not pruned

        run_dir = train(run, on_validation=report)
        trial.set_user_attr("run_dir", str(run_dir))
        if pruned:
            raise optuna.TrialPruned(f"score {scores[-1]:.3g} at step {pruned[0]}")
        if not scores or not math.isfinite(scores[-1]):
            raise ValueError(f"trial {trial.number} has no finite validation score")
        return scores[-1]

    return run_trial


def optimize(run: PreparedRun, settings: StudySettings) -> Path:
    """Run ``settings.n_trials`` trials of the study (joining it if it exists), then write the study's
    trials table and its best hyperparameters so far; returns the path of the latter."""
    args = run.args
    if args.eval_freq <= 0 or args.eval_episodes <= 0:
        raise ValueError("--optimize scores trials on validation: --eval-freq and --eval-episodes must be > 0")
    if settings.n_trials < 1:
        raise ValueError(f"--n-trials must be >= 1, got {settings.n_trials}")
    space = search_space(args.algo)
    study = open_study(settings, args)
    folder = study_folder(args, study.study_name)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Study {study.study_name!r}: {len(study.trials)} trials so far; scoring the fixed actions on "
          f"{args.eval_episodes} validation initial conditions ...")
    front = fixed_action_front(run.env_kwargs, args.eval_episodes)
    study.optimize(objective(args, space, front, folder), n_trials=settings.n_trials, show_progress_bar=args.progress,
                   catch=(ValueError,))
    write_trials(study, folder / "trials.csv", list(space))
    return write_best(study, run, folder)


def write_trials(study: Any, path: Path, names: list[str]) -> None:
    """One row per trial of the study: number, state, score, hyperparameters, run folder."""
    from agents.evaluation.report import write_csv

    rows = [{"number": t.number, "state": t.state.name, "score": t.value, **t.params,
             "run_dir": t.user_attrs.get("run_dir", "")} for t in study.trials]
    write_csv(path, rows, ["number", "state", "score", *names, "run_dir"])


def write_best(study: Any, run: PreparedRun, folder: Path) -> Path:
    """``best_hyperparams.yml``: the environment's entry of the hyperparameter file with the best
    trial's values put in, keyed by the environment id (the layout ``train.py -conf`` reads)."""
    try:
        best = study.best_trial
    except ValueError:
        raise ValueError(f"study {study.study_name!r} has no finished trial yet") from None
    base = load_hyperparams(run.args.algo, run.args.env, run.args.hyperparams, run.args.conf_file)
    path = folder / BEST_FILE
    header = (f"# Best of study {study.study_name!r}: trial {best.number}, score {best.value:.4g} (mean log10 error "
              f"minus the fixed-action front's at its cost), trials of {run.n_timesteps} steps.\n")
    entry = {**base, **suggest(optuna_fixed(best.params), search_space(run.args.algo))}
    path.write_text(header + yaml.safe_dump({run.args.env: plain(entry)}, sort_keys=False))
    print(f"Best trial {best.number}: score {best.value:.4g}, {best.params}\nWrote {path}; "
          f"train with it: python train.py --algo {run.args.algo} --env {run.args.env} -conf {path}")
    return path


def optuna_fixed(params: Mapping[str, Any]) -> Any:
    """A stand-in trial that 'suggests' exactly ``params`` (to turn a best trial back into hyperparameters)."""
    import optuna

    return optuna.trial.FixedTrial(dict(params))
