"""Train a stable-baselines3 agent on threebody_env, rl-baselines3-zoo style.

:func:`train` builds (or loads) the model from ``agents/hyperparams/<algo>.yml``, trains it on the
batched environment, validates it on held-out initial conditions and writes the run folder
``<log_folder>/<algo>/<env>_<k>/``:

- ``model.zip`` (final model), ``best_model.zip`` (best mean return on validation)
- ``controller.npz``, ``best_controller.npz``: the same policies as torch-free controllers (:mod:`agents.export`)
- ``args.yml`` (the run's arguments), ``config.yml`` (the resolved hyperparameters)
- ``evaluations.npz`` (validation history), ``episodes.npz`` (training episodes), ``tb/`` (tensorboard)
- ``learning_curve.png``
"""

from __future__ import annotations

import inspect
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.callbacks import CallbackList

import threebody_env
from agents.algorithms import ALGOS, check_algo
from agents.callbacks import EpisodeLogCallback, ValidationCallback, plot_learning_curve
from agents.export import export_run
from agents.policies import OPTIMIZERS, adamp_policy_kwargs
from agents.seeds import VALIDATION_SEEDS, check_training_seed, seeds_from
from threebody_env import EVALUATION_EPISODE_STEPS, EnvConfig
from threebody_env.sb3 import make_sb3_vec_env

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
#: Keys of a hyperparameter entry that are not arguments of the algorithm's constructor.
RUN_KEYS = ("n_timesteps", "policy", "n_envs")
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
    try:
        EnvConfig(**kwargs)
    except TypeError as error:
        raise ValueError(f"bad --env-kwargs: {error}") from None
    return kwargs


def load_hyperparams(algo: str, env_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``env_id`` entry of ``<algo>.yml`` (else its ``default``), updated by ``overrides``.

    Raises ``ValueError`` for a key that is neither a run key (n_timesteps, policy, n_envs) nor an
    argument of the algorithm's constructor.
    """
    with open(HYPERPARAMS_DIR / f"{algo}.yml") as f:
        table = yaml.safe_load(f)
    params = {**table.get(env_id, table["default"]), **overrides}
    allowed = set(inspect.signature(ALGOS[algo].__init__).parameters) | set(RUN_KEYS)
    unknown = sorted(set(params) - allowed - {"self", "env"})
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown} for {algo}")
    return params


def algo_kwargs(params: dict[str, Any], algo: str, optimizer: str) -> dict[str, Any]:
    """Constructor keyword arguments from resolved hyperparameters: strings evaluated, schedules built.

    As in the zoo, ``policy_kwargs`` may be a Python expression string (``"dict(net_arch=[64, 64])"``)
    and a learning rate ``"lin_<value>"`` decays linearly to 0.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {list(OPTIMIZERS)}")
    kwargs = {k: v for k, v in params.items() if k not in RUN_KEYS}
    policy_kwargs = kwargs.get("policy_kwargs", {})
    if isinstance(policy_kwargs, str):
        try:
            policy_kwargs = eval(policy_kwargs, {"dict": dict, "nn": torch.nn})  # the zoo's convention
        except Exception as error:
            raise ValueError(f"policy_kwargs={policy_kwargs!r} does not evaluate: {error}") from None
    if not isinstance(policy_kwargs, dict):
        raise ValueError(f"policy_kwargs must be a dict; got {policy_kwargs!r}")
    if optimizer == "adamp":
        policy_kwargs = adamp_policy_kwargs(policy_kwargs, algo)
    kwargs["policy_kwargs"] = policy_kwargs
    for key in ("learning_rate", "clip_range"):
        value = kwargs.get(key)
        if isinstance(value, str):
            match = re.fullmatch(r"lin_([0-9.eE+-]+)", value)
            if match is None:
                raise ValueError(f"{key}={value!r}: expected a number or 'lin_<number>'")
            start = float(match.group(1))
            kwargs[key] = lambda progress_remaining, start=start: progress_remaining * start
    return kwargs


def next_run_dir(log_folder: str | Path, algo: str, env_id: str) -> Path:
    """``<log_folder>/<algo>/<env_id>_<k>`` with k one more than the largest existing (from 1)."""
    base = Path(log_folder) / algo
    taken = [int(m.group(1)) for p in base.glob(f"{env_id}_*") if (m := re.fullmatch(rf"{re.escape(env_id)}_(\d+)", p.name))]
    return base / f"{env_id}_{max(taken, default=0) + 1}"


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
    cls = check_algo(args.algo, env_action_mode(args.env, args.env_kwargs))
    env_kwargs = resolve_env_kwargs(args.env, args.env_kwargs)
    params = load_hyperparams(args.algo, args.env, args.hyperparams)
    n_envs = int(params.get("n_envs", 1) if args.n_envs is None else args.n_envs)
    n_timesteps = int(params["n_timesteps"] if args.n_timesteps is None else args.n_timesteps)
    params = {**params, "n_envs": n_envs, "n_timesteps": n_timesteps}
    check_training_seed(args.seed, n_envs)
    if n_envs < 1 or n_timesteps < 1 or args.eval_freq < 0 or args.eval_episodes < 0:
        raise ValueError("--n-envs and -n must be >= 1, --eval-freq and --eval-episodes >= 0")
    algo_kwargs(params, args.algo, args.optimizer)  # fails early on a bad policy_kwargs or schedule
    if args.trained_agent is not None:
        check_trained_agent(cls, args.trained_agent, env_kwargs)
    return PreparedRun(args, params, env_kwargs, n_timesteps, n_envs)


def check_trained_agent(cls: type[BaseAlgorithm], path: str, env_kwargs: dict[str, Any]) -> None:
    """Raise ``FileNotFoundError`` / ``ValueError`` unless ``path`` is a ``cls`` model for this environment."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no model to continue from at {path!r}")
    try:
        model = cls.load(path, device="cpu")
    except Exception as error:  # a zip of another algorithm or no model at all fails in many ways
        raise ValueError(f"cannot load {path} as a {cls.__name__} model: {error}") from None
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
    common = {"seed": args.seed, "device": args.device, "tensorboard_log": str(run_dir / "tb"), "verbose": 0}
    if args.trained_agent is None:
        return cls(run.hyperparams["policy"], env, **kwargs, **common)
    kwargs.pop("policy_kwargs")  # the architecture is the saved one
    model = cls.load(args.trained_agent, env=env, **kwargs, **common)
    if isinstance(model.replay_buffer, NStepReplayBuffer):
        # SB3 rebuilds a saved n-step buffer with the saved gamma and n_steps, not the ones in force now
        model.replay_buffer.n_steps, model.replay_buffer.gamma = model.n_steps, model.gamma
        model.replay_buffer_kwargs.update(n_steps=model.n_steps, gamma=model.gamma)
    return model


def plain(value: Any) -> Any:
    """``value`` with tuples as lists, so that ``yaml.safe_dump`` writes it and ``safe_load`` reads it back."""
    return json.loads(json.dumps(value))


def train(run: PreparedRun) -> Path:
    """Train as prepared, write the run folder and return its path. Ctrl-C still saves the model."""
    args = run.args
    torch.set_num_threads(TORCH_THREADS)
    run_dir = next_run_dir(args.log_folder, args.algo, args.env)
    run_dir.mkdir(parents=True)
    saved_args = {**asdict(args), "n_timesteps": run.n_timesteps, "n_envs": run.n_envs, "env_kwargs": run.env_kwargs}
    (run_dir / "args.yml").write_text(yaml.safe_dump(plain(saved_args), sort_keys=False))
    (run_dir / "config.yml").write_text(yaml.safe_dump(plain(run.hyperparams), sort_keys=False))

    env = make_sb3_vec_env(run.n_envs, max_episode_steps=threebody_env.TRAINING_EPISODE_STEPS, **run.env_kwargs)
    model = build_model(run, env, run_dir)
    episodes = EpisodeLogCallback()
    callbacks = [episodes]
    if args.eval_freq > 0 and args.eval_episodes > 0:
        seeds = seeds_from(VALIDATION_SEEDS, args.eval_episodes)
        callbacks.append(ValidationCallback(run_dir, seeds, run.env_kwargs, args.eval_freq, EVALUATION_EPISODE_STEPS))
    start = time.perf_counter()
    try:
        model.learn(run.n_timesteps, callback=CallbackList(callbacks), progress_bar=args.progress, tb_log_name="run")
    except KeyboardInterrupt:
        print("Interrupted: saving the model trained so far.")
    finally:
        model.save(run_dir / "model.zip")
        curve = episodes.arrays()
        np.savez(run_dir / "episodes.npz", **curve)
        plot_learning_curve(curve, run_dir / "learning_curve.png")
        env.close()
    print(f"Trained {args.algo} on {args.env} for {model.num_timesteps} steps in {time.perf_counter() - start:.0f} s.")
    best = run_dir / "best_model.zip"
    print(f"Model: {run_dir / 'model.zip'}" + (f" (best on validation: {best})" if best.exists() else ""))
    try:
        controllers = export_run(run_dir)
        print(f"Torch-free controller: {controllers[0]} (load it with controller.Controller.load)")
    except ValueError as error:  # a policy the controller cannot represent: the SB3 model is still saved
        print(f"No controller exported: {error}")
    print(f"Evaluate it with: python evaluate.py {run_dir}")
    return run_dir
