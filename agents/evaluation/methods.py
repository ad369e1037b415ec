"""Stage 2 of an evaluation: the methods compared, as plain :class:`MethodSpec` values.

The trained policy, every fixed action of the action set, the method's conventional default and
(optionally) the high-accuracy reference, REBOUND IAS15. Specs are data, cheap to pickle, so a
scheduler may ship them to workers (:mod:`agents.evaluation.schedule` runs them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from agents.baselines import FixedActionPolicy, fixed_action_baselines, parameter_baseline
from agents.evaluation.runs import Run, Settings
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig

#: Method roles, in the order tables list ties: the trained policy, one fixed action of the
#: action set, the method's conventional default, the high-accuracy reference (REBOUND IAS15).
ROLES = ("policy", "fixed", "default", "reference")


@dataclass(frozen=True)
class MethodSpec:
    """A method to evaluate, as plain data (picklable, cheap to ship to a worker).

    ``role`` is one of :data:`ROLES`. A policy names its model file and algorithm (and may carry
    the file's bytes, ``model_data``, for workers that cannot read it); a fixed or default
    baseline its ``action`` (index, or continuous value in [-1, 1]) and ``action_mode``.
    """

    name: str
    role: str
    model_path: str | None = None
    algo: str | None = None
    action: float | None = None
    action_mode: str | None = None
    model_data: bytes | None = field(default=None, repr=False)

    def with_model_data(self) -> MethodSpec:
        """This spec with its model file's bytes inside (a policy), or itself (a baseline)."""
        if self.role != "policy" or self.model_data is not None:
            return self
        if self.model_path is None:
            raise ValueError(f"policy {self.name!r} names no model file")
        return replace(self, model_data=Path(self.model_path).read_bytes())


def policy_spec(run: Run) -> MethodSpec:
    """The run's trained model as a method."""
    return MethodSpec(f"policy ({run.algo})", "policy", model_path=str(run.model_path), algo=run.algo)


def method_specs(run: Run, settings: Settings, *, reference: bool) -> list[MethodSpec]:
    """The policy followed by :func:`baseline_specs`."""
    return [policy_spec(run), *baseline_specs(settings.config, reference=reference)]


def baseline_specs(config: EnvConfig, *, reference: bool) -> list[MethodSpec]:
    """Every fixed action of a discrete set (of the configured size), the method's default, and
    (``reference=True``) REBOUND IAS15, in that order."""
    config = replace(config, action_mode="discrete")
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


def _spec(policy: FixedActionPolicy, role: str) -> MethodSpec:
    return MethodSpec(policy.name, role, action=policy.action, action_mode=policy.action_mode)
