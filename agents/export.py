"""Export a trained stable-baselines3 policy to a torch-free controller (``controller.npz``).

The deterministic decision of each algorithm, read from the installed SB3's modules:

- DQN: ``features_extractor`` -> ``q_net.q_net``; argmax of the Q-values.
- PPO, A2C: ``pi_features_extractor`` -> ``mlp_extractor.policy_net`` -> ``action_net``; argmax of
  the logits (Discrete), or the Gaussian's mean clipped to [-1, 1] (Box).
- SAC: ``actor.features_extractor`` -> ``actor.latent_pi`` -> ``actor.mu`` -> tanh.
- TD3: ``actor.features_extractor`` -> ``actor.mu`` (which ends in tanh).

Feature extractors: SB3's ``FlattenExtractor`` on a flat Box, :class:`~agents.policies.LayerNormMlp`
(``--optimizer adamp``) and :class:`~agents.policies.SharedLayerMlp` (the paper's network; its shared
layer is exported as identical copies). Layers: Linear, LayerNorm, ReLU, Tanh. Anything else (CNNs, recurrent
policies, gSDE, other activations, observation normalisation) raises ``ValueError`` naming it.

``python -m agents.export RUN [RUN ...]`` writes ``controller.npz`` beside ``model.zip`` and
``best_controller.npz`` beside ``best_model.zip`` of each run folder; training does it at the end of a run.
With ``--onnx`` it also writes each as an ONNX graph (``controller.onnx``, ``best_controller.onnx``;
:mod:`controller.onnx_export`) for codes that call ONNX Runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import CategoricalDistribution, DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy

from agents.algorithms import ALGOS, load_model
from agents.policies import LayerNormMlp, SharedLayerMlp
from controller import Controller, controller_path
from controller.network import ACTIVATIONS
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig, as_config, config_kwargs
from threebody_env.deployment import episode_settings

MODEL_FILES = ("model.zip", "best_model.zip")


@dataclass
class Layer:
    """One exported layer: ``activation(LayerNorm(W x + b))``; arrays in float32 as trained."""

    weight: np.ndarray  # (n_out, n_in)
    bias: np.ndarray  # (n_out,)
    norm_weight: np.ndarray | None = None
    norm_bias: np.ndarray | None = None
    norm_eps: float = 0.0
    activation: str = "identity"


def policy_modules(model: BaseAlgorithm) -> tuple[list[torch.nn.Module], bool]:
    """The modules of the deterministic action in order, and whether a tanh squashes the output after them."""
    policy = model.policy
    if not isinstance(model.observation_space, gym.spaces.Box) or len(model.observation_space.shape) != 1:
        raise ValueError(f"only flat Box observations can be exported; this model has {model.observation_space}")
    algo = _algo_name(model)
    if algo == "dqn":
        if not isinstance(policy, DQNPolicy):
            raise ValueError(f"cannot export the DQN policy {type(policy).__name__}")
        return [policy.q_net.features_extractor, policy.q_net.q_net], False
    if algo in ("ppo", "a2c"):
        if not isinstance(policy, ActorCriticPolicy) or policy.use_sde:
            raise ValueError(f"cannot export {type(policy).__name__} with use_sde={getattr(policy, 'use_sde', None)}: "
                             "only MLP policies without gSDE")
        if not isinstance(policy.action_dist, (CategoricalDistribution, DiagGaussianDistribution)):
            raise ValueError(f"cannot export the action distribution {type(policy.action_dist).__name__}")
        return [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net], False
    if not isinstance(policy, (SACPolicy, TD3Policy)):
        raise ValueError(f"cannot export the {algo.upper()} policy {type(policy).__name__}")
    actor = policy.actor
    if getattr(actor, "use_sde", False):
        raise ValueError("cannot export a SAC actor with gSDE (use_sde=True)")
    if isinstance(policy, SACPolicy):
        return [policy.actor.features_extractor, policy.actor.latent_pi, policy.actor.mu], True
    return [actor.features_extractor, actor.mu], False  # td3: mu ends in Tanh


def extract_layers(modules: list[torch.nn.Module], squash: bool) -> list[Layer]:
    """The chain of modules as :class:`Layer` values; ``ValueError`` for anything but Linear, LayerNorm, ReLU, Tanh."""
    layers: list[Layer] = []
    for module in _flatten(modules):
        if isinstance(module, torch.nn.Linear):
            weight = module.weight.detach().cpu().numpy().astype(np.float32)
            bias = (module.bias.detach().cpu().numpy() if module.bias is not None else np.zeros(weight.shape[0]))
            layers.append(Layer(weight, bias.astype(np.float32)))
        elif isinstance(module, torch.nn.LayerNorm):
            _attach_norm(layers, module)
        elif isinstance(module, (torch.nn.ReLU, torch.nn.Tanh)):
            _attach_activation(layers, "relu" if isinstance(module, torch.nn.ReLU) else "tanh", module)
        elif not isinstance(module, (torch.nn.Flatten, torch.nn.Identity)):
            raise ValueError(f"cannot export the layer {module}: supported are Linear, LayerNorm, ReLU and Tanh")
    if not layers:
        raise ValueError("the policy has no Linear layer to export")
    if squash:
        _attach_activation(layers, "tanh", "the squashing tanh")
    return layers


def controller_from_model(model: BaseAlgorithm, env_kwargs: EnvConfig | dict[str, Any], *,
                          env_id: str = "ThreeBody-v0", source: str | None = None) -> Controller:
    """``model``'s deterministic policy as a :class:`~controller.Controller` (weights copied, float32).

    ``env_kwargs``: the environment settings the controller acts in (``args.yml``'s for a run; an
    ``EnvConfig`` or its keyword arguments), which fix the action map and the observation it expects.
    Raises ``ValueError`` for a policy the controller cannot represent or settings that do not match
    the model's spaces.
    """
    config = as_config(env_kwargs)
    actions = ActionMap(config)
    layers = extract_layers(*policy_modules(model))
    n_obs = int(model.observation_space.shape[0])  # type: ignore[index]  # a flat Box: policy_modules checked it
    if layers[0].weight.shape[1] != n_obs:
        raise ValueError(f"the first layer reads {layers[0].weight.shape[1]} features; the observation has {n_obs}")
    discrete = isinstance(model.action_space, gym.spaces.Discrete)
    n_out = int(model.action_space.n) if isinstance(model.action_space, gym.spaces.Discrete) else 1
    values = actions.values if actions.values is not None else np.zeros(0)
    if discrete != (actions.values is not None) or (discrete and n_out != values.size):
        raise ValueError(f"the model's action space {model.action_space} does not match env_kwargs {env_kwargs} "
                         f"(action map {actions.space})")
    if layers[-1].weight.shape[0] != n_out:
        raise ValueError(f"the last layer has {layers[-1].weight.shape[0]} outputs; the action needs {n_out}")
    metadata = {
        "algo": _algo_name(model), "env_id": env_id,
        "env_kwargs": config_kwargs(config) if isinstance(env_kwargs, EnvConfig) else env_kwargs,
        "observation": config.observation,
        "action_mode": config.action_mode, "integrator": config.integrator,
        "param": config.method.param if len(config.methods) == 1 else [m.param for m in config.methods],
        "param_range": list(config.param_range), "source": source,
        "episode": episode_settings(config).to_dict() if config.cost == "force_evals" else None,
    }
    arrays = _pack(layers, values, (actions.log_low, actions.log_high))
    return Controller(arrays, json.loads(json.dumps(metadata, default=str)))


def export_model(model: BaseAlgorithm, env_kwargs: dict[str, Any], path: str | Path, *, env_id: str = "ThreeBody-v0",
                 source: str | None = None) -> Path:
    """Write :func:`controller_from_model` of ``model`` to ``path``; returns the path."""
    return controller_from_model(model, env_kwargs, env_id=env_id, source=source).save(path)


def export_run(run: str | Path, *, onnx: bool = False) -> list[Path]:
    """Export ``model.zip`` and ``best_model.zip`` of a run folder (those present) beside themselves.

    Reads the algorithm, environment id and settings from the run's ``args.yml``. ``onnx``: write
    each controller as ``<name>.onnx`` too (needs the ``onnx`` extra). Returns the files written.
    """
    run = Path(run)
    args_file = run / "args.yml"
    if not args_file.is_file():
        raise FileNotFoundError(f"{run} is not a run folder: it has no args.yml")
    args = yaml.safe_load(args_file.read_text())
    algo, env_kwargs = args["algo"], dict(args.get("env_kwargs") or {})
    if (run / "vecnormalize.pkl").exists():
        raise ValueError(f"{run} normalises observations (vecnormalize.pkl); a controller cannot reproduce that")
    models = [run / name for name in MODEL_FILES if (run / name).is_file()]
    if not models:
        raise FileNotFoundError(f"{run} has none of {MODEL_FILES}")
    written = []
    for model_path in models:
        model = load_model(algo, model_path)
        path = export_model(model, env_kwargs, controller_path(model_path), env_id=args.get("env", ""),
                            source=model_path.name)
        written.append(path)
        if onnx:
            try:
                from controller.onnx_export import save_onnx  # the onnx package is an optional extra
            except ModuleNotFoundError as error:
                raise ValueError(f"--onnx needs the onnx package ({error}): pip install -e '.[onnx]'") from None
            written.append(save_onnx(Controller.load(path), path.with_suffix(".onnx")))
    return written


def _algo_name(model: BaseAlgorithm) -> str:
    for name, cls in ALGOS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"cannot export a {type(model).__name__}; supported are {sorted(ALGOS)}")


def _flatten(modules: list[torch.nn.Module]) -> list[torch.nn.Module]:
    """The leaf modules in order: Sequentials and the supported feature extractors opened up."""
    leaves: list[torch.nn.Module] = []
    for module in modules:
        if isinstance(module, torch.nn.Sequential):
            leaves += _flatten(list(module))
        elif isinstance(module, FlattenExtractor):
            leaves.append(module.flatten)
        elif isinstance(module, (LayerNormMlp, SharedLayerMlp)):  # a shared layer unrolls into identical copies
            leaves += _flatten([module.net])
        elif len(list(module.children())) > 0:  # a CNN, a recurrent or a custom extractor
            raise ValueError(f"cannot export {type(module).__name__}: only MLP policies (Linear, LayerNorm, ReLU, "
                             "Tanh) on a flat observation")
        else:
            leaves.append(module)
    return leaves


def _attach_norm(layers: list[Layer], norm: torch.nn.LayerNorm) -> None:
    last = layers[-1] if layers else None
    if last is None or last.norm_weight is not None or last.activation != "identity":
        raise ValueError(f"cannot export {norm}: a LayerNorm must follow a Linear layer directly")
    n_out = last.weight.shape[0]
    if not norm.eps > 0:
        raise ValueError(f"cannot export {norm}: its eps must be > 0")
    if tuple(norm.normalized_shape) != (n_out,):
        raise ValueError(f"cannot export {norm}: it normalises {tuple(norm.normalized_shape)}, the layer has {n_out}")
    ones = np.ones(n_out, dtype=np.float32)
    last.norm_weight = norm.weight.detach().cpu().numpy().astype(np.float32) if norm.weight is not None else ones
    last.norm_bias = norm.bias.detach().cpu().numpy().astype(np.float32) if norm.bias is not None else 0 * ones
    last.norm_eps = float(norm.eps)


def _attach_activation(layers: list[Layer], name: str, module: Any) -> None:
    if not layers or layers[-1].activation != "identity":
        raise ValueError(f"cannot export {module}: an activation must follow a Linear layer (or its LayerNorm)")
    layers[-1].activation = name


def _pack(layers: list[Layer], values: np.ndarray, log_range: tuple[float, float]) -> dict[str, np.ndarray]:
    """The arrays of a controller file (see :mod:`controller.network`), zero-padded to the widest layer."""
    sizes = np.array([layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in layers], dtype=np.int64)
    for k, layer in enumerate(layers[1:], start=1):
        if layer.weight.shape[1] != sizes[k]:
            raise ValueError(f"layer {k} reads {layer.weight.shape[1]} inputs; the layer before gives {sizes[k]}")
    n, width = len(layers), int(sizes.max())
    arrays = {name: np.zeros((n, width), dtype=np.float32) for name in ("biases", "norm_weights", "norm_biases")}
    arrays["weights"] = np.zeros((n, width, width), dtype=np.float32)
    for k, layer in enumerate(layers):
        n_out, n_in = layer.weight.shape
        arrays["weights"][k, :n_out, :n_in] = layer.weight
        arrays["biases"][k, :n_out] = layer.bias
        if layer.norm_weight is not None:
            arrays["norm_weights"][k, :n_out] = layer.norm_weight
            arrays["norm_biases"][k, :n_out] = layer.norm_bias
    return {
        "sizes": sizes, **arrays,
        "activations": np.array([ACTIVATIONS[layer.activation] for layer in layers], dtype=np.int64),
        "norm_eps": np.array([layer.norm_eps for layer in layers]),
        "values": np.asarray(values, dtype=np.float64), "log_range": np.array(log_range, dtype=np.float64),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.export RUN [RUN ...]``: write the controllers of run folders; errors exit 2 with one line."""
    parser = argparse.ArgumentParser(prog="python -m agents.export", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (with args.yml and model.zip)")
    parser.add_argument("--onnx", action="store_true",
                        help="also write each controller as an ONNX graph (controller.onnx; needs the onnx extra)")
    args = parser.parse_args(argv)
    for run in args.runs:
        try:
            for path in export_run(run, onnx=args.onnx):
                print(f"Wrote {path}")
        except (FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None


if __name__ == "__main__":
    main()
