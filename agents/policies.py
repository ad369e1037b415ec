"""The LayerNorm network and AdamP optimizer behind ``--optimizer adamp``.

AdamP (Heo et al. 2021, "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
Scale-invariant Weights") removes the radial part of each update of a scale-invariant weight.
A weight is scale-invariant when a normalization follows it, so every hidden layer here is
``Linear(bias=False) -> LayerNorm -> ReLU`` (a bias before the norm would break the invariance).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from adamp import AdamP
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

OPTIMIZERS = ("adam", "adamp")


class LayerNormMlp(BaseFeaturesExtractor):
    """Hidden layers ``Linear(bias=False) -> LayerNorm -> ReLU`` of the widths ``net_arch``."""

    def __init__(self, observation_space: gym.spaces.Box, net_arch: tuple[int, ...] = (64, 64)) -> None:
        super().__init__(observation_space, features_dim=net_arch[-1])
        layers: list[torch.nn.Module] = []
        width = int(observation_space.shape[0])
        for size in net_arch:
            layers += [torch.nn.Linear(width, size, bias=False), torch.nn.LayerNorm(size), torch.nn.ReLU()]
            width = size
        self.net = torch.nn.Sequential(*layers)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


def adamp_policy_kwargs(policy_kwargs: dict[str, Any], algo: str) -> dict[str, Any]:
    """``policy_kwargs`` rewritten for a LayerNorm network trained with AdamP.

    The hidden layers of ``net_arch`` move into :class:`LayerNormMlp`; the heads read its output
    directly. SAC and TD3 critics take the action besides the features, so they keep their own
    (plain) hidden layers, on which AdamP acts as Adam. ``eps=1e-5`` is passed explicitly, as
    AdamP's own default is 1e-8 (SB3 gives its on-policy Adam 1e-5).
    """
    kwargs = dict(policy_kwargs)
    net_arch = kwargs.pop("net_arch", [64, 64])
    hidden = list(net_arch.get("pi", [64, 64]) if isinstance(net_arch, dict) else net_arch)
    critic = list(net_arch.get("qf", hidden) if isinstance(net_arch, dict) else hidden)
    kwargs["features_extractor_class"] = LayerNormMlp
    kwargs["features_extractor_kwargs"] = {"net_arch": tuple(hidden)}
    kwargs["net_arch"] = {"pi": [], "qf": critic} if algo in ("sac", "td3") else []
    kwargs["optimizer_class"] = AdamP
    kwargs["optimizer_kwargs"] = {"eps": 1e-5, **kwargs.get("optimizer_kwargs", {})}
    return kwargs


class SharedLayerMlp(BaseFeaturesExtractor):
    """The paper's Q-network body: ``Linear(D, width) -> ReLU``, then one ``Linear(width, width) -> ReLU``
    applied ``repeats`` times with the same weights (Saz Ulibarrena & Portegies Zwart 2025).

    The shared layer sits ``repeats`` times in one ``Sequential``: autograd sums its gradients over
    the uses, ``parameters()`` lists it once (13 -> 200, 9 x 200 -> 10 has 45,010 parameters), and
    the controller export unrolls it into ``repeats`` identical layers.
    """

    def __init__(self, observation_space: gym.spaces.Box, width: int = 200, repeats: int = 9) -> None:
        super().__init__(observation_space, features_dim=width)
        if repeats < 1 or width < 1:
            raise ValueError(f"SharedLayerMlp needs width >= 1 and repeats >= 1; got width={width}, repeats={repeats}")
        shared = torch.nn.Linear(width, width)
        relu = torch.nn.ReLU()
        first = [torch.nn.Linear(int(observation_space.shape[0]), width), relu]
        self.net = torch.nn.Sequential(*first, *[module for _ in range(repeats) for module in (shared, relu)])

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)
