"""Hyperparameters of a training run: the per-algorithm YAML files, their checks, and the
keyword arguments they become (rl-baselines3-zoo conventions).

Everything here fails with a one-line ``ValueError`` before any work: unknown keys, values out of
the ranges SB3 takes on trust, a replay buffer larger than memory, an unsafe ``policy_kwargs``.
"""

from __future__ import annotations

import ast
import inspect
import math
import os
import re
from pathlib import Path
from typing import Any

import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from agents.algorithms import ALGOS
from agents.policies import OPTIMIZERS, SharedLayerMlp, adamp_policy_kwargs

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"
#: Keys of a hyperparameter entry that are not arguments of the algorithm's constructor.
RUN_KEYS = ("n_timesteps", "policy", "n_envs", "episode_intervals")


def load_hyperparams(algo: str, env_id: str, overrides: dict[str, Any], path: str | Path | None = None
                     ) -> dict[str, Any]:
    """The ``env_id`` entry of ``<algo>.yml`` (or of the file ``path``, ``-conf``), else its
    ``default``, updated by ``overrides``.

    Raises ``ValueError`` for a file without either entry, or a key that is neither a run key
    (n_timesteps, policy, n_envs, episode_intervals: the length of a training episode) nor an
    argument of the algorithm's constructor.
    """
    path = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    try:
        table = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read hyperparameters from {path}: {str(error).splitlines()[0]}") from None
    entry = table.get(env_id, table.get("default")) if isinstance(table, dict) else None
    if not isinstance(entry, dict):
        raise ValueError(f"{path} has no mapping for {env_id!r} nor a 'default' one")
    params = {**entry, **overrides}
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
