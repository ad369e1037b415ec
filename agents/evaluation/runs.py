"""Stage 1 of an evaluation: read a run folder and fix the settings every method is evaluated in.

:func:`load_run` reads a run folder of ``train.py`` or rl-zoo3 (or a model file in one) into a
:class:`Run`; :func:`evaluation_settings` turns it, the user's overrides and an optional transfer
integrator into :class:`Settings` (a validated :class:`~threebody_env.config.EnvConfig` and the
number of intervals per episode), the one object every later stage receives.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from gymnasium import spaces
from gymnasium.envs.registration import registry

import integrators
from agents import algorithms
from agents.algorithms import ALGOS
from agents.rollout import LocalErrorFunction, reference_local_errors
from threebody_env import ThreeBodyVectorEnv
from threebody_env.config import EnvConfig, config_kwargs
from threebody_env.env import probe_body_count

#: Settings that belong to one initial-condition family (its size, knobs and natural interval):
#: evaluating on another family starts them from that family's defaults unless the user sets them.
FAMILY_SETTINGS = ("n_bodies", "initial_condition_kwargs", "interval")
#: The observation whose size and meaning do not depend on the number of bodies.
N_AGNOSTIC_OBSERVATION = "summary"


class EvaluationError(ValueError):
    """A problem with the user's input (missing run, incompatible model, bad option): one-line message."""


@dataclass(frozen=True)
class Run:
    """A trained model and how it was trained: ``args.yml`` of its run folder (``env_id`` as registered)."""

    model_path: Path
    run_dir: Path
    algo: str
    env_id: str
    env_kwargs: dict[str, Any]
    seed: int | None

    @property
    def integrator(self) -> str | tuple[str, ...]:
        """The method the model was trained on, or its methods as a tuple (a meta run; ``args.yml`` stores a list)."""
        value = {**registry[self.env_id].kwargs, **self.env_kwargs}.get("integrator", EnvConfig.integrator)
        return value if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Settings:
    """Everything besides the method and the seeds that fixes an episode's outcome: the environment
    (``config``) and the number of intervals per episode (``n_intervals``); whether each method's
    episodes are also run deployed (one system at a time, one decision per interval) to time them;
    and the function that scores each episode's local error (None: not measured)."""

    config: EnvConfig
    n_intervals: int = 300
    deployed: bool = True
    local_error: LocalErrorFunction | None = None

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """``config`` as keyword arguments of the environments (every init field, explicit)."""
        return config_kwargs(self.config)


def load_run(path: str | Path) -> Run:
    """Read a run folder or a model file, of ``train.py`` or of rl-zoo3.

    ``train.py`` keeps ``model.zip`` (and ``best_model.zip``) beside ``args.yml``. rl-zoo3 keeps
    ``<env>.zip`` (and ``best_model.zip`` when it evaluated during training) in the run folder and
    its ``args.yml`` and ``config.yml`` in ``<run>/<env>/``. Either way ``best_model.zip`` is
    preferred, as the model selected on held-out episodes.
    """
    path = Path(path)
    if path.is_dir():
        run_dir, model_path = path, None
    elif path.is_file():
        run_dir, model_path = path.parent, path
    else:
        raise EvaluationError(f"no run folder or model file at {path}")
    args_file = _args_file(run_dir)
    args = read_run_yaml(args_file)
    if not isinstance(args, dict) or "algo" not in args or "env" not in args:
        raise EvaluationError(f"{args_file} must be a mapping with at least 'algo' and 'env'")
    if args["algo"] not in ALGOS:
        raise EvaluationError(f"{args_file}: unknown algo {args['algo']!r}; known: {sorted(ALGOS)}")
    env_id = _registered_id(str(args["env"]), args_file)
    zoo = args_file.parent != run_dir
    if zoo:
        _check_zoo_config(args_file.parent)
    env_kwargs = args.get("env_kwargs") or {}
    if not isinstance(env_kwargs, dict):
        raise EvaluationError(f"{args_file}: env_kwargs must be a mapping, got {env_kwargs!r}")
    if zoo:  # gym.make's own keywords: they shape training episodes, not the environment
        env_kwargs = {k: v for k, v in env_kwargs.items() if k not in _MAKE_KEYWORDS}
    if model_path is None:
        names = ["best_model.zip", "model.zip", f"{_zoo_env_name(str(args['env']))}.zip"]
        model_path = next((run_dir / n for n in names if (run_dir / n).is_file()), None)
        if model_path is None:
            raise EvaluationError(f"{run_dir} holds none of {', '.join(names)}")
    return Run(model_path, run_dir, args["algo"], env_id, dict(env_kwargs), args.get("seed"))


#: Keywords rl-zoo3 may pass in ``--env-kwargs`` that ``gymnasium.make`` takes for itself.
_MAKE_KEYWORDS = ("max_episode_steps", "disable_env_checker")

#: rl-zoo3 settings in ``config.yml`` that change what the model observes; evaluation feeds raw observations.
_OBSERVATION_WRAPPERS = ("normalize", "frame_stack", "env_wrapper", "vec_env_wrapper")


def _args_file(run_dir: Path) -> Path:
    """``args.yml`` beside the model (``train.py``) or in the run's one ``<env>/`` subfolder (rl-zoo3)."""
    if (run_dir / "args.yml").is_file():
        return run_dir / "args.yml"
    zoo = sorted(run_dir.glob("*/args.yml"))
    if len(zoo) == 1:
        return zoo[0]
    if len(zoo) > 1:
        raise EvaluationError(f"{run_dir} holds several rl-zoo3 args.yml ({', '.join(map(str, zoo))}): "
                              "pass the model file instead")
    raise EvaluationError(f"{run_dir / 'args.yml'} is missing (nor is there an rl-zoo3 <env>/args.yml): "
                          "it says which algorithm and environment trained the model")


def _registered_id(env: str, args_file: Path) -> str:
    """The registry id of ``env``: ``ThreeBody-v0`` as is, ``threebody_env:ThreeBody-v0`` without its module."""
    module, sep, env_id = env.rpartition(":")
    if sep and module != "threebody_env":
        raise EvaluationError(f"{args_file}: environment {env!r} is not a threebody_env environment")
    if env_id not in registry:
        raise EvaluationError(f"{args_file}: unknown environment {env!r}")
    if not str(registry[env_id].entry_point).startswith("threebody_env"):
        raise EvaluationError(f"{args_file}: environment {env!r} is not a threebody_env environment")
    return env_id


def _zoo_env_name(env: str) -> str:
    """The name rl-zoo3 gives an environment's model file and folder (huggingface_sb3's ``EnvironmentName``)."""
    return env.replace("/", "-")


def _check_zoo_config(params_dir: Path) -> None:
    """Refuse an rl-zoo3 run whose model saw wrapped observations (normalised, stacked, ...)."""
    config_file = params_dir / "config.yml"
    config = read_run_yaml(config_file) if config_file.is_file() else {}
    wrapped = [k for k in _OBSERVATION_WRAPPERS if isinstance(config, dict) and config.get(k)]
    if (params_dir / "vecnormalize.pkl").is_file() and "normalize" not in wrapped:
        wrapped.append("normalize")
    if wrapped:
        raise EvaluationError(f"{config_file}: the model was trained with {', '.join(wrapped)}, which change its "
                              "observations; evaluate.py feeds the environment's own observations")


class _RunLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the two Python tags rl-zoo3's ``yaml.dump`` writes: ``OrderedDict``
    (its ``args.yml`` and ``config.yml``) and ``tuple`` (values such as ``train_freq``), both built
    as plain data. Any other Python tag stays an error, so a run folder cannot run code."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "OrderedDict expects a sequence of arguments",
                                                node.start_mark)
    args = loader.construct_sequence(node, deep=True)
    if len(args) != 1 or not all(isinstance(p, list) and len(p) == 2 for p in args[0]):
        raise yaml.constructor.ConstructorError(None, None, "OrderedDict expects one list of [key, value] pairs",
                                                node.start_mark)
    return {key: value for key, value in args[0]}


def _tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "a tuple must be a sequence", node.start_mark)
    return tuple(loader.construct_sequence(node, deep=True))


_RunLoader.add_constructor("tag:yaml.org,2002:python/object/apply:collections.OrderedDict", _ordered_dict)
_RunLoader.add_constructor("tag:yaml.org,2002:python/tuple", _tuple)


def read_run_yaml(path: Path) -> Any:
    """A run's YAML file (``train.py``'s plain YAML or rl-zoo3's), or :class:`EvaluationError` in one line."""
    try:
        return yaml.load(path.read_text(), Loader=_RunLoader)
    except yaml.YAMLError as exc:
        raise EvaluationError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def evaluation_settings(run: Run, overrides: Mapping[str, Any] | None = None, integrator: str | None = None,
                        n_intervals: int = 300, deployed: bool = True, local_error: bool = False) -> Settings:
    """The settings for evaluation: the registered id's environment, the run's, then ``overrides``.

    With ``integrator`` (the transfer experiment) the method changes and its own parameter range
    applies, unless ``overrides`` set ``param_range``. A discrete model keeps its number of actions
    whatever the range, so action k keeps its place in it. With another ``initial_conditions``
    (transfer to other systems) the run's :data:`FAMILY_SETTINGS` are dropped, so the new family
    starts from its own defaults (N, knobs, natural interval) plus whatever ``overrides`` set; the
    same family keeps the run's. Wall time is always recorded, and with ``deployed`` also the
    deployed wall time of every episode; with ``local_error`` each episode's local error against the
    independent reference (:func:`~agents.rollout.reference_local_errors`). Raises
    :class:`EvaluationError` for invalid settings, and
    for a number of bodies the model's observation cannot take (:func:`check_transferable`).
    """
    kwargs = {**registry[run.env_id].kwargs, **run.env_kwargs, "integrator": run.integrator}
    trained = checked_config(kwargs)
    if trained.action_mode == "discrete":
        kwargs["n_actions"] = trained.n_actions
    if integrator is not None and integrator != run.integrator:
        if integrator not in integrators.METHODS:
            raise EvaluationError(f"unknown integrator {integrator!r}; choose from {', '.join(integrators.METHODS)}")
        kwargs.pop("param_range", None)
        kwargs["integrator"] = integrator
    overrides = dict(overrides or {})
    if overrides.get("initial_conditions", trained.initial_conditions) != trained.initial_conditions:
        for name in FAMILY_SETTINGS:  # the run's knobs were for its own family: they may not even exist here
            kwargs.pop(name, None)
    kwargs.update(overrides)
    kwargs["record_wall_time"] = True
    settings = Settings(checked_config(kwargs), n_intervals, deployed, reference_local_errors if local_error else None)
    check_transferable(trained, settings.config)
    return settings


def check_transferable(trained: EnvConfig, config: EnvConfig) -> None:
    """Raise :class:`EvaluationError` if ``config`` has another number of bodies than ``trained`` and its
    observation depends on it ("full" has 6 N + 6 values, "paper" is for three bodies)."""
    if config.observation == N_AGNOSTIC_OBSERVATION:
        return
    try:
        n_trained, n_requested = probe_body_count(trained), probe_body_count(config)
    except ValueError as exc:
        raise EvaluationError(f"invalid initial conditions: {exc}") from None
    if n_trained != n_requested:
        raise EvaluationError(f"observation={config.observation!r} depends on the number of bodies: a model trained on "
                              f"N = {n_trained} cannot be evaluated on N = {n_requested}; only "
                              f"observation={N_AGNOSTIC_OBSERVATION!r} transfers across N")


def checked_config(kwargs: Mapping[str, Any]) -> EnvConfig:
    """``EnvConfig(**kwargs)``, or :class:`EvaluationError` saying why the settings are invalid."""
    try:
        return EnvConfig(**kwargs)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"invalid environment settings: {exc}") from None


def check_compatible(run: Run, settings: Settings) -> None:
    """Raise :class:`EvaluationError` unless the model's spaces equal the environment's."""
    model = load_model(run.algo, str(run.model_path))
    env = ThreeBodyVectorEnv(num_envs=1, config=settings.config)
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
def load_model(algo: str, model_path: str):
    """The SB3 model on CPU, loaded once per process (chunks of one run share it)."""
    try:
        return algorithms.load_model(algo, model_path)
    except ValueError as exc:  # a corrupt or foreign zip: say which file and why, not SB3's internals
        raise EvaluationError(str(exc)) from None


@functools.lru_cache(maxsize=4)
def load_model_data(algo: str, data: bytes):
    """The SB3 model from the bytes of its .zip, loaded once per process (bytes hash by content)."""
    return algorithms.load_model(algo, io.BytesIO(data))
