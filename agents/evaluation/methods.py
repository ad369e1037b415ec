"""Stage 2 of an evaluation: the methods compared, as plain :class:`MethodSpec` values.

The trained policy; every fixed (method, parameter) of each baseline method's grid and that
method's conventional default (Hermite and IAS15 always, plus the policy's own method, unless the
user chooses: :func:`parse_baselines`); and (optionally) REBOUND IAS15. Specs are data, cheap to
pickle, so a scheduler may ship them to workers (:mod:`agents.evaluation.schedule` runs them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import integrators
from agents.baselines import fixed_action_baselines, parameter_baseline
from agents.evaluation.runs import EvaluationError, Run, Settings
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig

#: Method roles, in the order tables list ties: the trained policy, one fixed action of a method's
#: grid, a method's conventional default, the high-accuracy reference (REBOUND IAS15).
ROLES = ("policy", "fixed", "default", "reference")
#: The methods every policy is judged against, besides its own: the ones a user would pick.
DEFAULT_BASELINES = ("hermite", "ias15")


@dataclass(frozen=True)
class MethodSpec:
    """A method to evaluate, as plain data (picklable, cheap to ship to a worker).

    ``role`` is one of :data:`ROLES`. A policy names its model file and algorithm (and may carry
    the file's bytes, ``model_data``, for workers that cannot read it); a fixed or default
    baseline its ``action`` (index, or continuous value in [-1, 1]) and ``action_mode``, and the
    environment it acts in: ``integrator``, ``param_range`` and ``n_actions`` (None: the
    evaluation's own, as for the policy's method).
    """

    name: str
    role: str
    model_path: str | None = None
    algo: str | None = None
    action: float | None = None
    action_mode: str | None = None
    model_data: bytes | None = field(default=None, repr=False)
    integrator: str | tuple[str, ...] | None = None  # a tuple: a meta policy's methods
    param_range: tuple[float, float] | None = None
    n_actions: int | None = None

    def with_model_data(self) -> MethodSpec:
        """This spec with its model file's bytes inside (a policy), or itself (a baseline)."""
        if self.role != "policy" or self.model_data is not None:
            return self
        if self.model_path is None:
            raise ValueError(f"policy {self.name!r} names no model file")
        return replace(self, model_data=Path(self.model_path).read_bytes())

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with this method's integrator and action grid in place of the evaluation's."""
        changes = {name: value for name in ("integrator", "param_range", "n_actions")
                   if (value := getattr(self, name)) is not None}
        return replace(settings, config=replace(settings.config, **changes)) if changes else settings


@dataclass(frozen=True)
class BaselineMethod:
    """A method whose fixed parameters are baselines: its name and the size of its grid (None: the
    evaluation's grid for the policy's own method, else the environment's default grid of 3 values
    per decade of the method's range)."""

    integrator: str
    n_points: int | None = None


def parse_baselines(words: Sequence[str]) -> list[BaselineMethod]:
    """``METHOD`` or ``METHOD:N`` words (``--baselines``) as :class:`BaselineMethod` values, each
    method once; raises :class:`EvaluationError` in one line for an unknown method or a bad N."""
    methods: dict[str, BaselineMethod] = {}
    for word in words:
        name, sep, count = word.partition(":")
        if name not in integrators.METHODS:
            raise EvaluationError(f"--baselines: unknown method {name!r}; choose from {', '.join(integrators.METHODS)}")
        if sep and not (count.isdigit() and int(count) >= 2):
            raise EvaluationError(f"--baselines {word}: the number of grid points must be an integer >= 2")
        if name in methods:
            raise EvaluationError(f"--baselines names {name} twice")
        methods[name] = BaselineMethod(name, int(count) if sep else None)
    return list(methods.values())


def baseline_methods(config: EnvConfig, chosen: Sequence[BaselineMethod] | None = None) -> list[BaselineMethod]:
    """``chosen``, or by default the policy's own method(s) (``config.integrator``) then :data:`DEFAULT_BASELINES`."""
    if chosen is not None:
        return list(chosen)
    own = [config.integrator] if isinstance(config.integrator, str) else list(config.integrator)
    names = dict.fromkeys([*own, *DEFAULT_BASELINES])
    return [BaselineMethod(name) for name in names]


def policy_spec(run: Run, settings: Settings) -> MethodSpec:
    """The run's trained model as a method, acting on the evaluation's integrator (``settings``): its own, or
    another one in a transfer, its action indices mapped to that method's range."""
    return MethodSpec(f"policy ({run.algo})", "policy", model_path=str(run.model_path), algo=run.algo,
                      integrator=settings.config.integrator)


def method_specs(run: Run, settings: Settings, *, reference: bool,
                 baselines: Sequence[BaselineMethod] | None = None) -> list[MethodSpec]:
    """The policy followed by :func:`baseline_specs`."""
    return [policy_spec(run, settings),
            *baseline_specs(settings.config, reference=reference, baselines=baselines)]


def baseline_specs(config: EnvConfig, *, reference: bool,
                   baselines: Sequence[BaselineMethod] | None = None) -> list[MethodSpec]:
    """For each of :func:`baseline_methods`: every fixed action of its discrete grid and its default
    (unless outside the grid's range, or on the grid); then (``reference=True``) REBOUND IAS15.

    The policy's own method (``config.integrator``) keeps the evaluation's grid (a discrete model's
    action k is baseline k) and its names ("eta=0.001"); another method gets its own range and
    grid, and its name before the parameter ("ias15 epsilon=1e-09").
    """
    specs = []
    for method in baseline_methods(config, baselines):
        own = method.integrator == config.integrator
        grid_kwargs: dict[str, Any] = {"action_mode": "discrete", "integrator": method.integrator,
                                       "param_range": config.param_range if own else None,
                                       "n_actions": method.n_points or (config.n_actions if own else None)}
        grid = replace(config, **grid_kwargs)
        changes = {} if own and method.n_points is None else {"param_range": grid.param_range,
                                                               "n_actions": grid.n_actions}
        specs += _grid_specs(grid, "" if own else f"{method.integrator} ", changes)
    if reference:
        from agents.rebound_baseline import IAS15_NAME

        specs.append(MethodSpec(IAS15_NAME, "reference"))
    return specs


def _grid_specs(grid: EnvConfig, prefix: str, changes: dict[str, Any]) -> list[MethodSpec]:
    """The fixed actions of ``grid`` (a discrete config) and its method's default, named with
    ``prefix``; a default on the grid is that grid point, named "(default)"."""
    actions = ActionMap(grid)
    param, default = grid.method.param, grid.method.default
    policies = [(p, "fixed") for p in fixed_action_baselines(actions, param)]
    values = actions.to_params(np.arange(len(policies)))
    on_grid = [k for k, value in enumerate(values) if math.isclose(value, default, rel_tol=1e-9)]
    if on_grid:
        policies[on_grid[0]][0].name += " (default)"
    else:
        try:
            policies.append((parameter_baseline(actions, param, default), "default"))
        except ValueError:
            pass  # the default lies outside a user-chosen range: the fixed actions cover the range
    return [MethodSpec(prefix + p.name, role, action=p.action, action_mode=p.action_mode, integrator=grid.integrator,
                       **changes) for p, role in policies]
