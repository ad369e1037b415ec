"""Train a stable-baselines3 agent on threebody_env, rl-baselines3-zoo style.

:func:`train` builds (or loads) the model from ``agents/hyperparams/<algo>.yml``, trains it on the
batched environment, validates it on held-out initial conditions and writes the run folder
``<log_folder>/<algo>/<env>_<k>/``:

- ``model.zip`` (final model), ``best_model.zip`` (best mean return on validation)
- ``controller.npz``, ``best_controller.npz``: the same policies as torch-free controllers (:mod:`agents.export`)
- ``args.yml`` (the run's arguments), ``config.yml`` (the resolved hyperparameters)
- ``evaluations.npz`` (validation history), ``episodes.npz`` (training episodes), ``tb/`` (tensorboard)
- ``learning_curve.png``, ``checkpoints/step_<n>/`` (the latest checkpoint, :mod:`agents.checkpoints`)

Ctrl-C stops training cleanly and saves; a run that crashed holds ``FAILED.txt`` and no model.
:func:`prepare_resume` and :func:`train` continue a killed run from its latest checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

import threebody_env
from agents.algorithms import ALGOS, check_algo, load_model
from agents.callbacks import EpisodeLogCallback, StopOnInterrupt, ValidationCallback, plot_learning_curve
from agents.checkpoints import (
    CheckpointCallback,
    checkpoint_steps,
    default_freq,
    latest_checkpoint,
    load_checkpoint,
    write_atomically,
)
from agents.export import export_run
from agents.hyperparameters import algo_kwargs, check_hyperparams, load_hyperparams
from agents.rollout import RolloutResult
from agents.seeds import VALIDATION_SEEDS, check_training_seed, seeds_from
from threebody_env import EVALUATION_EPISODE_STEPS, EnvConfig
from threebody_env.sb3 import make_sb3_vec_env

#: Threads torch uses: fixed, so that a seed gives the same model on the same machine.
TORCH_THREADS = 1


@dataclass
class TrainArgs:
    """What ``train.py`` was asked to do; saved as ``args.yml``. ``None`` means "from the YAML"."""

    algo: str = "dqn"
    env: str = "ThreeBody-v0"
    n_timesteps: int | None = None
    seed: int = 0
    n_envs: int | None = None
    eval_freq: int = 50_000
    eval_episodes: int = 50
    log_folder: str = "logs"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparams: dict[str, Any] = field(default_factory=dict)
    trained_agent: str | None = None
    optimizer: str = "adam"
    device: str = "cpu"
    progress: bool = True
    checkpoint_freq: int | None = None  # steps between checkpoints; None: about 10 % of the run; 0: none
    conf_file: str | None = None  # a hyperparameter file in place of agents/hyperparams/<algo>.yml (-conf)


def env_action_mode(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """The action mode of a registered threebody_env id with ``env_kwargs``; ``ValueError`` if unknown."""
    spec = gym.registry.get(env_id)
    if spec is None or not str(spec.entry_point).startswith("threebody_env"):
        ours = sorted(k for k, s in gym.registry.items() if str(s.entry_point).startswith("threebody_env"))
        raise ValueError(f"unknown environment {env_id!r}; choose from {ours}")
    return {**spec.kwargs, **env_kwargs}.get("action_mode", "discrete")


def resolve_env_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The id's registered settings updated by ``env_kwargs``, validated by building an ``EnvConfig``."""
    kwargs = {**gym.registry[env_id].kwargs, **env_kwargs}
    EnvConfig(**kwargs)  # ValueError naming a bad value, or a misspelt setting with the nearest names
    return kwargs


def check_device(device: str) -> None:
    """``ValueError`` unless torch understands ``device`` ("cpu", "cuda", "cuda:1", "auto", ...)."""
    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"--device {device!r} is not a torch device ({error}); try cpu, cuda or auto") from None


def create_run_dir(log_folder: str | Path, algo: str, env_id: str) -> Path:
    """Create and return ``<log_folder>/<algo>/<env_id>_<k>``, k one more than the largest existing (from 1).

    The folder is made with ``exist_ok=False``: a run that loses the race for k to another run
    started at the same moment takes the next k instead of sharing or crashing.
    """
    base = Path(log_folder) / algo
    base.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"{re.escape(env_id)}_(\d+)")
    taken = [int(m.group(1)) for p in base.glob(f"{env_id}_*") if (m := pattern.fullmatch(p.name))]
    k = max(taken, default=0) + 1
    while True:
        try:
            (base / f"{env_id}_{k}").mkdir()
            return base / f"{env_id}_{k}"
        except FileExistsError:
            k += 1


def check_log_folder(log_folder: str | Path) -> None:
    """``ValueError`` unless run folders can be made under ``log_folder`` (checked without leaving anything)."""
    path = Path(log_folder).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"-f/--log-folder {str(log_folder)!r}: {existing} is a file, not a folder")
    try:  # os.access says yes to root even on a read-only file system: make and remove a probe instead
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=existing))
    except OSError as error:
        raise ValueError(f"-f/--log-folder {str(log_folder)!r}: cannot write in {existing} "
                         f"({error.strerror})") from None


@dataclass
class PreparedRun:
    """Everything checked and built before training starts (so bad arguments fail before any work)."""

    args: TrainArgs
    hyperparams: dict[str, Any]
    env_kwargs: dict[str, Any]
    n_timesteps: int
    n_envs: int


def prepare(args: TrainArgs) -> PreparedRun:
    """Validate ``args`` and resolve hyperparameters; ``ValueError`` / ``FileNotFoundError`` with a clear message."""
    check_algo(args.algo, env_action_mode(args.env, args.env_kwargs))
    env_kwargs = resolve_env_kwargs(args.env, args.env_kwargs)
    params = load_hyperparams(args.algo, args.env, args.hyperparams, args.conf_file)
    n_envs = int(params.get("n_envs", 1) if args.n_envs is None else args.n_envs)
    n_timesteps = int(params["n_timesteps"] if args.n_timesteps is None else args.n_timesteps)
    params = {**params, "n_envs": n_envs, "n_timesteps": n_timesteps}
    check_training_seed(args.seed, n_envs)
    if n_envs < 1 or n_timesteps < 1 or min(args.eval_freq, args.eval_episodes, args.checkpoint_freq or 0) < 0:
        raise ValueError("--n-envs and -n must be >= 1, --eval-freq, --eval-episodes and --checkpoint-freq >= 0")
    algo_kwargs(params, args.algo, args.optimizer)  # fails early on a bad policy_kwargs or schedule
    obs_space = threebody_env.ThreeBodyVectorEnv(num_envs=1, **env_kwargs).single_observation_space
    check_hyperparams(params, int(np.prod(obs_space.shape or ())))
    check_device(args.device)
    check_log_folder(args.log_folder)
    if args.trained_agent is not None:
        check_trained_agent(args.algo, args.trained_agent, env_kwargs)
    return PreparedRun(args, params, env_kwargs, n_timesteps, n_envs)


def check_trained_agent(algo: str, path: str, env_kwargs: dict[str, Any]) -> None:
    """Raise ``FileNotFoundError`` / ``ValueError`` unless ``path`` is an ``algo`` model for this environment."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no model to continue from at {path!r}")
    model = load_model(algo, path)
    env = threebody_env.ThreeBodyVectorEnv(num_envs=1, **env_kwargs)
    if (model.observation_space, model.action_space) != (env.single_observation_space, env.single_action_space):
        raise ValueError(f"{path} was trained with observation space {model.observation_space} and action space "
                         f"{model.action_space}; this environment has {env.single_observation_space} and "
                         f"{env.single_action_space}")


def build_model(run: PreparedRun, env, run_dir: Path) -> BaseAlgorithm:
    """A new model from the hyperparameters, or the ``-i`` model continued on ``env``."""
    args = run.args
    cls = check_algo(args.algo, run.env_kwargs.get("action_mode", "discrete"))
    kwargs = algo_kwargs(run.hyperparams, args.algo, args.optimizer)
    common: dict[str, Any] = {"seed": args.seed, "device": args.device, "tensorboard_log": str(run_dir / "tb"),
                              "verbose": 0}
    if args.trained_agent is None:
        return cls(run.hyperparams["policy"], env, **kwargs, **common)
    kwargs.pop("policy_kwargs")  # the architecture is the saved one
    # The replay buffer is rebuilt from the kwargs in force, n-step settings included (n_step_buffer_kwargs).
    return cls.load(args.trained_agent, env=env, **kwargs, **common)


def plain(value: Any) -> Any:
    """``value`` with tuples as lists, so that ``yaml.safe_dump`` writes it and ``safe_load`` reads it back."""
    return json.loads(json.dumps(value))


#: Written into a run folder whose training crashed (or was aborted by a second Ctrl-C); such a folder has no model.
FAILED_MARKER = "FAILED.txt"


def prepare_resume(run_dir: str | Path, n_timesteps: int | None = None, progress: bool = True
                   ) -> tuple[PreparedRun, Path]:
    """The run of folder ``run_dir`` prepared again from its ``args.yml`` and ``config.yml`` (``-n``
    may raise its total), and the latest checkpoint to continue it from; one-line errors otherwise."""
    run_dir = Path(run_dir)
    if not (run_dir / "args.yml").is_file() or not (run_dir / "config.yml").is_file():
        raise FileNotFoundError(f"--resume {str(run_dir)!r} is not a run folder: it has no args.yml and config.yml")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"--resume: {run_dir} has no checkpoint (checkpoints/step_<n>) to continue from")
    saved = {**yaml.safe_load((run_dir / "args.yml").read_text()), "progress": progress, "trained_agent": None,
             "hyperparams": yaml.safe_load((run_dir / "config.yml").read_text()), "log_folder": str(run_dir.parent)}
    try:
        args = TrainArgs(**{**saved, "n_timesteps": n_timesteps or saved["n_timesteps"]})
    except TypeError as error:
        raise ValueError(f"--resume: {run_dir / 'args.yml'} does not hold train.py's arguments ({error})") from None
    run = prepare(args)
    steps = checkpoint_steps(checkpoint)  # at the total with no model.zip: killed while finishing, so finish
    if run.n_timesteps < steps or (run.n_timesteps == steps and (run_dir / "model.zip").exists()):
        raise ValueError(f"--resume: {run_dir} has trained {steps} of its {run.n_timesteps} "
                         "steps; pass -n above that to train on")
    return run, checkpoint


def train(run: PreparedRun, checkpoint: Path | None = None,
          on_validation: Callable[[int, RolloutResult], bool] | None = None) -> Path:
    """Train as prepared, write the run folder and return its path. With ``checkpoint`` (from
    :func:`prepare_resume`) continue that run in its own folder; ``on_validation`` goes to
    :class:`~agents.callbacks.ValidationCallback` (an Optuna trial's pruning).

    Ctrl-C stops training after the current step and saves the model trained so far; a second
    Ctrl-C, or any error, leaves no ``model.zip`` (a crashed run must not look trained) but
    ``FAILED.txt`` naming the error, and re-raises.
    """
    args = run.args
    torch.set_num_threads(TORCH_THREADS)
    run_dir = create_run_dir(args.log_folder, args.algo, args.env) if checkpoint is None else checkpoint.parents[1]
    try:
        _train_into(run, run_dir, checkpoint, on_validation)
    except BaseException as error:
        (run_dir / FAILED_MARKER).write_text(f"{type(error).__name__}: {error}\n")
        print(f"Training failed ({type(error).__name__}); {run_dir} holds no model, see {FAILED_MARKER}.",
              file=sys.stderr)
        raise
    (run_dir / FAILED_MARKER).unlink(missing_ok=True)  # a resumed run that finished is no longer a failed one
    return run_dir


def _train_into(run: PreparedRun, run_dir: Path, checkpoint: Path | None,
                on_validation: Callable[[int, RolloutResult], bool] | None) -> None:
    args = run.args
    if checkpoint is None:
        saved_args = {**asdict(args), "n_timesteps": run.n_timesteps, "n_envs": run.n_envs,
                      "env_kwargs": run.env_kwargs}
        (run_dir / "args.yml").write_text(yaml.safe_dump(plain(saved_args), sort_keys=False))
        (run_dir / "config.yml").write_text(yaml.safe_dump(plain(run.hyperparams), sort_keys=False))
        episode_intervals = int(run.hyperparams.get("episode_intervals", threebody_env.TRAINING_EPISODE_STEPS))
        env = make_sb3_vec_env(run.n_envs, max_episode_steps=episode_intervals, **run.env_kwargs)
        saved_states: dict[str, Any] = {}
    else:
        model, env, saved_states = load_checkpoint(checkpoint, ALGOS[args.algo], args.device, str(run_dir / "tb"))
    try:
        if checkpoint is None:
            model = build_model(run, env, run_dir)
        interrupt = StopOnInterrupt()
        episodes = EpisodeLogCallback()
        callbacks: list[BaseCallback] = [interrupt, episodes]
        stateful: dict[str, Any] = {"episodes": episodes}
        if args.eval_freq > 0 and args.eval_episodes > 0:
            seeds = seeds_from(VALIDATION_SEEDS, args.eval_episodes)
            stateful["validation"] = ValidationCallback(run_dir, seeds, run.env_kwargs, args.eval_freq,
                                                        EVALUATION_EPISODE_STEPS, interrupt, on_validation)
            callbacks.append(stateful["validation"])
        freq = default_freq(run.n_timesteps) if args.checkpoint_freq is None else args.checkpoint_freq
        if freq > 0:  # last: its checkpoints hold the others' states after this step
            callbacks.append(CheckpointCallback(run_dir, freq, dict(stateful)))
            stateful["checkpoint"] = callbacks[-1]
        for name, state in saved_states.items():
            stateful[name].restore(state)
        start = time.perf_counter()
        with interrupt:
            model.learn(run.n_timesteps - model.num_timesteps if checkpoint else run.n_timesteps,
                        callback=CallbackList(callbacks), progress_bar=args.progress, tb_log_name="run",
                        reset_num_timesteps=checkpoint is None)
    finally:
        env.close()
    if interrupt.requested:
        print("Interrupted: saving the model trained so far.")
    write_atomically(run_dir / "model.zip", model.save)
    curve: dict[str, Any] = episodes.arrays()  # Any: savez's **kwds
    np.savez(run_dir / "episodes.npz", **curve)
    plot_learning_curve(curve, run_dir / "learning_curve.png")
    print(f"Trained {args.algo} on {args.env} for {model.num_timesteps} steps in {time.perf_counter() - start:.0f} s.")
    best = run_dir / "best_model.zip"
    print(f"Model: {run_dir / 'model.zip'}" + (f" (best on validation: {best})" if best.exists() else ""))
    try:
        controllers = export_run(run_dir)
        print(f"Torch-free controller: {controllers[0]} (load it with controller.Controller.load)")
    except ValueError as error:  # a policy the controller cannot represent: the SB3 model is still saved
        print(f"No controller exported: {error}")
    print(f"Evaluate it with: python evaluate.py {run_dir}")
