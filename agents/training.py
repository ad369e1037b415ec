"""Train a stable-baselines3 agent on threebody_env, rl-baselines3-zoo style.

:func:`train` builds (or loads) the model from ``agents/hyperparams/<algo>.yml``, trains it on the
batched environment, validates it on held-out initial conditions and writes the run folder
``<log_folder>/<algo>/<env>_<k>/``:

- ``model.zip`` (final model), ``best_model.zip`` (best mean return on validation)
- ``controller.npz``, ``best_controller.npz``: the same policies as torch-free controllers (:mod:`agents.export`)
- ``args.yml`` (the run's arguments), ``config.yml`` (the resolved hyperparameters)
- ``evaluations.npz`` (validation history), ``episodes.npz`` (training episodes), ``tb/`` (tensorboard)
- ``learning_curve.png``

Ctrl-C stops training cleanly and saves; a run that crashed holds ``FAILED.txt`` and no model.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import os
import re
import sys
import tempfile
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
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

import threebody_env
from agents.algorithms import ALGOS, check_algo
from agents.callbacks import EpisodeLogCallback, StopOnInterrupt, ValidationCallback, plot_learning_curve
from agents.export import export_run
from agents.policies import OPTIMIZERS, SharedLayerMlp, adamp_policy_kwargs
from agents.seeds import VALIDATION_SEEDS, check_training_seed, seeds_from
from threebody_env import EVALUATION_EPISODE_STEPS, EnvConfig
from threebody_env.sb3 import make_sb3_vec_env

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
#: Keys of a hyperparameter entry that are not arguments of the algorithm's constructor.
RUN_KEYS = ("n_timesteps", "policy", "n_envs", "episode_intervals")
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
    EnvConfig(**kwargs)  # ValueError naming a bad value, or a misspelt setting with the nearest names
    return kwargs


def load_hyperparams(algo: str, env_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``env_id`` entry of ``<algo>.yml`` (else its ``default``), updated by ``overrides``.

    Raises ``ValueError`` for a key that is neither a run key (n_timesteps, policy, n_envs,
    episode_intervals: the length of a training episode) nor an argument of the algorithm's constructor.
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
        policy_kwargs = evaluate_policy_kwargs(policy_kwargs)
    if not isinstance(policy_kwargs, dict):
        raise ValueError(f"policy_kwargs must be a dict; got {policy_kwargs!r}")
    check_net_arch(policy_kwargs.get("net_arch", [1]))
    if optimizer == "adamp":
        policy_kwargs = adamp_policy_kwargs(policy_kwargs, algo)
    kwargs["policy_kwargs"] = policy_kwargs
    kwargs.update(n_step_buffer_kwargs(ALGOS[algo], kwargs))
    for key in ("learning_rate", "clip_range"):
        value = kwargs.get(key)
        if isinstance(value, str):
            match = re.fullmatch(r"lin_([0-9.eE+-]+)", value)
            if match is None:
                raise ValueError(f"{key}={value!r}: expected a number or 'lin_<number>'")
            start = float(match.group(1))
            kwargs[key] = lambda progress_remaining, start=start: progress_remaining * start
    return kwargs


#: What a policy_kwargs expression may name: the zoo writes ``dict(net_arch=[64, 64], activation_fn=nn.ReLU)``;
#: ``SharedLayerMlp`` is the paper's network (``features_extractor_class``, dqn.yml's ThreeBodyPaper-v0).
POLICY_KWARGS_NAMES = {"dict": dict, "nn": torch.nn, "th": torch, "torch": torch, "SharedLayerMlp": SharedLayerMlp}


def evaluate_policy_kwargs(text: str) -> dict[str, Any]:
    """Evaluate a zoo-style ``policy_kwargs`` expression without running arbitrary code.

    Allowed: literals, lists, tuples, dicts, calls of ``dict`` only, and the names of
    :data:`POLICY_KWARGS_NAMES` with public attributes as values (``nn.Tanh``,
    ``th.optim.RMSprop``); no builtins, no other calls, no ``_`` attributes.
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"policy_kwargs={text!r} does not evaluate: {error}") from None
    allowed = (ast.Expression, ast.Call, ast.keyword, ast.Name, ast.Attribute, ast.Load, ast.Constant, ast.List,
               ast.Tuple, ast.Dict, ast.UnaryOp, ast.USub, ast.UAdd)
    for node in ast.walk(tree):
        bad = (not isinstance(node, allowed)
               or (isinstance(node, ast.Name) and node.id not in POLICY_KWARGS_NAMES)
               or (isinstance(node, ast.Attribute) and node.attr.startswith("_"))
               or (isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "dict")))
        if bad:
            names = sorted(set(POLICY_KWARGS_NAMES) - {"dict"})
            shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise ValueError(f"policy_kwargs={text!r}: {shown} is not allowed; use literals, dict(...) and {names}")
    try:
        return eval(compile(tree, "<policy_kwargs>", "eval"), {"__builtins__": {}, **POLICY_KWARGS_NAMES})
    except Exception as error:
        raise ValueError(f"policy_kwargs={text!r} does not evaluate: {error}") from None


def check_net_arch(net_arch: Any) -> None:
    """``ValueError`` unless ``net_arch`` is a list of layer widths >= 1, or a dict of such lists (pi, vf, qf)."""
    layers = [w for v in net_arch.values() for w in v] if isinstance(net_arch, dict) else net_arch
    if not isinstance(layers, (list, tuple)) or not all(_is_int(w) and w >= 1 for w in layers):
        raise ValueError(f"net_arch={net_arch!r} must be a list of layer widths >= 1 (or a dict of such lists)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Bounds of the numeric hyperparameters that SB3 takes on trust: (integer?, low, high), inclusive.
HYPERPARAM_BOUNDS: dict[str, tuple[bool, float, float]] = {
    "learning_rate": (False, 1e-12, 10.0), "clip_range": (False, 1e-12, 10.0),
    "gamma": (False, 0.0, 1.0), "gae_lambda": (False, 0.0, 1.0), "tau": (False, 1e-12, 1.0),
    "exploration_fraction": (False, 0.0, 1.0), "exploration_initial_eps": (False, 0.0, 1.0),
    "exploration_final_eps": (False, 0.0, 1.0), "vf_coef": (False, 0.0, math.inf),
    "max_grad_norm": (False, 1e-12, math.inf), "ent_coef": (False, 0.0, math.inf),
    "batch_size": (True, 1, math.inf), "buffer_size": (True, 1, math.inf), "learning_starts": (True, 0, math.inf),
    "n_steps": (True, 1, math.inf), "n_epochs": (True, 1, math.inf), "train_freq": (True, 1, math.inf),
    "gradient_steps": (True, -1, math.inf), "target_update_interval": (True, 1, math.inf),
    "episode_intervals": (True, 1, 10**6),
}
#: Bytes per transition a replay buffer holds besides two observations (action, reward, done, timeout).
_TRANSITION_OVERHEAD = 64


def check_hyperparams(params: dict[str, Any], obs_size: int) -> None:
    """``ValueError`` naming the first out-of-range value of :data:`HYPERPARAM_BOUNDS`, or a replay
    buffer that cannot fit in this machine's memory (``obs_size`` float32 numbers per observation).

    Schedules ``lin_<x>`` are checked on x; non-numeric settings SB3 accepts (``ent_coef: auto``,
    ``train_freq: [4, "episode"]``) are left to it.
    """
    for name, (integer, low, high) in HYPERPARAM_BOUNDS.items():
        value = params.get(name)
        if isinstance(value, str) and name in ("learning_rate", "clip_range"):
            match = re.fullmatch(r"lin_([0-9.eE+-]+)", value)
            value = float(match.group(1)) if match else value
        if value is None or isinstance(value, (str, list, tuple)) and name in ("ent_coef", "train_freq"):
            continue
        kind_ok = _is_int(value) if integer else isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (kind_ok and low <= value <= high) or (name == "gradient_steps" and value == 0):
            bounds = f"{'an integer' if integer else 'a number'} in [{low:g}, {high:g}]"
            zero = " other than 0" if name == "gradient_steps" else ""
            raise ValueError(f"{name}={params[name]!r} must be {bounds}{zero}")
    buffer_size = params.get("buffer_size")
    if buffer_size is not None:
        needed = buffer_size * (2 * 4 * obs_size + _TRANSITION_OVERHEAD)
        available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if needed > available:
            raise ValueError(f"buffer_size={buffer_size!r} needs ~{needed / 2**30:.3g} GiB; this machine has "
                             f"{available / 2**30:.3g} GiB")


def check_device(device: str) -> None:
    """``ValueError`` unless torch understands ``device`` ("cpu", "cuda", "cuda:1", "auto", ...)."""
    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"--device {device!r} is not a torch device ({error}); try cpu, cuda or auto") from None


def n_step_buffer_kwargs(cls: type[BaseAlgorithm], kwargs: dict[str, Any]) -> dict[str, Any]:
    """For an off-policy ``cls`` with ``n_steps`` > 1: the n-step replay buffer spelt out, ``n_steps`` 1.

    SB3 builds the buffer itself from ``n_steps`` but then saves its class, so every later load
    warns that ``n_steps`` "is ignored because a custom replay_buffer_class was passed". Passing
    the class and its ``n_steps``/``gamma`` explicitly (the way SB3's warning asks) gives the same
    buffer, and loading stays quiet; the saved ``config.yml`` keeps ``n_steps`` as written.
    """
    n_steps = kwargs.get("n_steps", 1)
    if not issubclass(cls, OffPolicyAlgorithm) or n_steps == 1 or "replay_buffer_class" in kwargs:
        return {}
    gamma = kwargs.get("gamma", inspect.signature(cls.__init__).parameters["gamma"].default)
    buffer_kwargs = {**kwargs.get("replay_buffer_kwargs", {}), "n_steps": n_steps, "gamma": gamma}
    return {"n_steps": 1, "replay_buffer_class": NStepReplayBuffer, "replay_buffer_kwargs": buffer_kwargs}


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
    obs_space = threebody_env.ThreeBodyVectorEnv(num_envs=1, **env_kwargs).single_observation_space
    check_hyperparams(params, int(np.prod(obs_space.shape or ())))
    check_device(args.device)
    check_log_folder(args.log_folder)
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


def train(run: PreparedRun) -> Path:
    """Train as prepared, write the run folder and return its path.

    Ctrl-C stops training after the current step and saves the model trained so far; a second
    Ctrl-C, or any error, leaves no ``model.zip`` (a crashed run must not look trained) but
    ``FAILED.txt`` naming the error, and re-raises.
    """
    args = run.args
    torch.set_num_threads(TORCH_THREADS)
    run_dir = create_run_dir(args.log_folder, args.algo, args.env)
    try:
        _train_into(run, run_dir)
    except BaseException as error:
        (run_dir / FAILED_MARKER).write_text(f"{type(error).__name__}: {error}\n")
        print(f"Training failed ({type(error).__name__}); {run_dir} holds no model, see {FAILED_MARKER}.",
              file=sys.stderr)
        raise
    return run_dir


def _train_into(run: PreparedRun, run_dir: Path) -> None:
    args = run.args
    saved_args = {**asdict(args), "n_timesteps": run.n_timesteps, "n_envs": run.n_envs, "env_kwargs": run.env_kwargs}
    (run_dir / "args.yml").write_text(yaml.safe_dump(plain(saved_args), sort_keys=False))
    (run_dir / "config.yml").write_text(yaml.safe_dump(plain(run.hyperparams), sort_keys=False))

    episode_intervals = int(run.hyperparams.get("episode_intervals", threebody_env.TRAINING_EPISODE_STEPS))
    env = make_sb3_vec_env(run.n_envs, max_episode_steps=episode_intervals, **run.env_kwargs)
    try:
        model = build_model(run, env, run_dir)
        interrupt = StopOnInterrupt()
        episodes = EpisodeLogCallback()
        callbacks = [interrupt, episodes]
        if args.eval_freq > 0 and args.eval_episodes > 0:
            seeds = seeds_from(VALIDATION_SEEDS, args.eval_episodes)
            callbacks.append(ValidationCallback(run_dir, seeds, run.env_kwargs, args.eval_freq,
                                                EVALUATION_EPISODE_STEPS, interrupt=interrupt))
        start = time.perf_counter()
        with interrupt:
            model.learn(run.n_timesteps, callback=CallbackList(callbacks), progress_bar=args.progress,
                        tb_log_name="run")
    finally:
        env.close()
    if interrupt.requested:
        print("Interrupted: saving the model trained so far.")
    model.save(run_dir / "model.zip")
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
