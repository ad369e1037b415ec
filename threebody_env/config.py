"""Validated configuration shared by the single and the batched environment."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

import integrators
from threebody_env.initial_conditions import Sampler, natural_interval, resolve_sampler

ACTION_MODES = ("discrete", "continuous")
OBSERVATIONS = ("summary", "full", "paper")
REWARDS = ("interval", "accumulated", "final", "paper")
COSTS = ("force_evals", "wall_time")
#: Largest step budget per interval: the kernels count in int64, and a larger budget is a hang anyway.
MAX_INTEGRATOR_STEPS = 10**12
#: Most values a discrete action set may have: the set is an array (2**70 values raised OverflowError).
MAX_ACTIONS = 10**6
#: Largest weight of a reward term: keeps every reward finite (one interval's cost ratio stays far below 1e290).
MAX_REWARD_WEIGHT = 1e6


@dataclass(frozen=True)
class EnvConfig:
    """Every setting of a :class:`~threebody_env.ThreeBodyEnv`; invalid values raise ``ValueError``.

    Times are in N-body units (G = 1). ``initial_conditions`` names a preset or a family of
    :mod:`threebody_env.initial_conditions` (or is a callable ``rng -> (pos, vel, mass)``);
    ``n_bodies`` (None: the family's default) and ``initial_condition_kwargs`` (the family's
    knobs, e.g. ``{"mass_function": "kroupa"}``) configure a family, and are checked here.
    ``interval`` defaults to the family's natural interval (the paper's 0.1 yr for the three-body
    presets and callables; 1/8 crossing time for "plummer"; the shortest orbital period for
    "hierarchical"; the innermost planet's period for "planetary").
    ``info["wall_time"]`` reads 0.0 unless ``record_wall_time`` is true: wall time is the one
    non-deterministic output, and Gymnasium's checker wants info to repeat exactly for a seed.
    ``record_wall_time=None`` (default) records it only for ``cost="wall_time"``, which needs it.
    ``record_local_error=True`` adds ``info["local_error"]`` and ``info["episode_local_error"]``, the
    distance from an independent reference integration of each interval (:mod:`threebody_env.local_error`;
    one reference integration per interval, so off by default).

    ``integrator`` may also be a list of two or more methods (the meta environment, ``ThreeBodyMeta-v0``):
    the discrete action then chooses a (method, parameter) pair, each method's default grid (3 values
    per decade over its range) concatenated in the order given (:attr:`grid`); ``param_range`` and
    ``n_actions`` must then be left None (or hold what they resolve to): the first method's range and
    the total number of pairs. ``method`` is the first method, the one "run last" at reset; ``methods`` lists them all.
    """

    integrator: str | tuple[str, ...] = "hermite"
    action_mode: str = "discrete"
    # Four settings accept None, resolved in __post_init__: once built, the config holds the value, so
    # their types are the resolved ones (hence the ignores).
    n_actions: int = None  # type: ignore[assignment]  # None: 3 per decade of param_range, the paper's spacing
    param_range: tuple[float, float] = None  # type: ignore[assignment]  # None: the method's range
    interval: float = None  # type: ignore[assignment]  # None: the initial conditions' natural interval
    initial_conditions: str | Sampler = "paper"
    n_bodies: int | None = None  # None: the family's default (3 for the presets)
    initial_condition_kwargs: Mapping[str, Any] | None = None  # the family's knobs
    observation: str = "summary"
    reward: str = "final"
    cost: str = "force_evals"
    max_energy_error: float = 0.1
    target_error: float = 1e-16  # errors below it are not charged (double round-off)
    error_ceiling: float = 0.1  # 'final' and 'accumulated' stop charging error beyond it (a lost episode)
    cost_weight: float = 3e-5  # calibrated for reward='final' on 300-interval episodes; 'interval' wants ~0.1
    failure_penalty: float = 20.0
    paper_weights: tuple[float, float] = (3000.0, 4.0)
    softening: float = 0.0
    record_wall_time: bool = None  # type: ignore[assignment]  # None: only when cost="wall_time"
    max_integrator_steps: int = 500_000
    record_local_error: bool = False
    method: integrators.MethodInfo = field(init=False, repr=False)
    methods: tuple[integrators.MethodInfo, ...] = field(init=False, repr=False)
    sampler: Sampler = field(init=False, repr=False)

    def __new__(cls, *args: Any, **kwargs: Any) -> EnvConfig:
        """Refuse a misspelt setting with a ``ValueError`` naming the nearest ones (before the dataclass's
        own ``__init__``, whose ``TypeError`` would name no alternative)."""
        check_setting_names(kwargs)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        names = _method_names(self.integrator)
        if not isinstance(self.integrator, str):
            object.__setattr__(self, "integrator", names)
            pairs = sum(len(_default_grid(integrators.METHODS[name].param_range)) for name in names)
            first_range = integrators.METHODS[names[0]].param_range
            resolved = (self.param_range is None or _pair("param_range", self.param_range) == first_range) and \
                self.n_actions in (None, pairs)  # a config written out (config_kwargs) holds the resolved values
            if self.action_mode != "discrete" or not resolved:
                raise ValueError(f"integrator={list(names)!r} chooses among methods with a discrete action over "
                                 "each method's default grid: leave action_mode, param_range and n_actions alone")
        methods = tuple(integrators.METHODS[name] for name in names)
        method = methods[0]
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "methods", methods)
        if self.initial_condition_kwargs is not None and not isinstance(self.initial_condition_kwargs, Mapping):
            raise ValueError(f"initial_condition_kwargs={self.initial_condition_kwargs!r} must be a mapping "
                             f"of knob: value")
        sampler = resolve_sampler(self.initial_conditions, self.n_bodies, self.initial_condition_kwargs)
        object.__setattr__(self, "sampler", sampler)
        if self.interval is None:
            object.__setattr__(self, "interval", natural_interval(sampler))
        _choice("action_mode", self.action_mode, ACTION_MODES)
        _choice("observation", self.observation, OBSERVATIONS)
        _choice("reward", self.reward, REWARDS)
        _choice("cost", self.cost, COSTS)
        lo, hi = _pair("param_range", self.param_range if self.param_range is not None else method.param_range)
        if not (0.0 < lo < hi and math.isfinite(hi) and math.isfinite(hi / lo)):
            raise ValueError(f"param_range=({lo!r}, {hi!r}) must satisfy 0 < low < high < inf, high / low finite")
        object.__setattr__(self, "param_range", (lo, hi))
        if self.n_actions is None:
            object.__setattr__(self, "n_actions", sum(len(_default_grid(m.param_range)) for m in methods)
                               if len(methods) > 1 else _default_count(lo, hi))
        if not (is_integer(self.n_actions) and 2 <= self.n_actions <= MAX_ACTIONS):
            raise ValueError(f"n_actions={self.n_actions!r} must be an integer in [2, {MAX_ACTIONS:.0e}] (for a finer "
                             "choice use action_mode='continuous')")
        for name in ("interval", "max_energy_error", "target_error", "error_ceiling", "cost_weight", "failure_penalty"):
            _positive(name, getattr(self, name), allow_zero=name in ("cost_weight", "failure_penalty"))
        _positive("softening", self.softening, allow_zero=True)
        for name in ("interval", "max_energy_error", "target_error", "error_ceiling", "cost_weight", "failure_penalty",
                     "softening"):  # an int (interval=1) would make Numba compile the kernels again for int arguments
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("cost_weight", "failure_penalty"):
            if getattr(self, name) > MAX_REWARD_WEIGHT:
                raise ValueError(f"{name}={getattr(self, name)!r} must be at most {MAX_REWARD_WEIGHT:g}, "
                                 "so that rewards stay finite")
        weights = _pair("paper_weights", self.paper_weights)
        if not all(math.isfinite(w) and abs(w) <= MAX_REWARD_WEIGHT for w in weights):
            raise ValueError(f"paper_weights={self.paper_weights!r} must be two finite numbers of magnitude at most "
                             f"{MAX_REWARD_WEIGHT:g}")
        object.__setattr__(self, "paper_weights", weights)
        if not (is_integer(self.max_integrator_steps) and 1 <= self.max_integrator_steps <= MAX_INTEGRATOR_STEPS):
            raise ValueError(f"max_integrator_steps={self.max_integrator_steps!r} must be an integer in "
                             f"[1, {MAX_INTEGRATOR_STEPS:.0e}]")
        if not self.target_error < self.error_ceiling:
            raise ValueError(f"error_ceiling={self.error_ceiling!r} must exceed target_error={self.target_error!r}")
        if self.record_wall_time is None:
            object.__setattr__(self, "record_wall_time", self.cost == "wall_time")
        if not isinstance(self.record_wall_time, (bool, np.bool_)):
            raise ValueError(f"record_wall_time={self.record_wall_time!r} must be True, False or None")
        if not isinstance(self.record_local_error, (bool, np.bool_)):
            raise ValueError(f"record_local_error={self.record_local_error!r} must be True or False")
        if self.cost == "wall_time" and not self.record_wall_time:
            raise ValueError("cost='wall_time' charges the measured wall time, so it needs record_wall_time=True "
                             "(or None, the default)")
        if len(methods) > 1 and self.observation == "paper":
            raise ValueError("observation='paper' does not say which method ran; with several methods use "
                             "'summary' or 'full'")
        if self.reward == "paper" and hi >= 1.0:
            raise ValueError(f"reward='paper' divides by |log10 param|, so param_range=({lo}, {hi}) must stay below 1")
        if self.reward == "paper" and self.max_energy_error >= 1.0:
            raise ValueError(f"reward='paper' divides by |log10 e|^3 for errors e up to max_energy_error, so "
                             f"max_energy_error={self.max_energy_error!r} must stay below 1")

    @property
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """The discrete actions: (method index into ``methods`` (A,) int64, parameter (A,) float64).

        One method: its ``n_actions`` values log-spaced over ``param_range``, smallest first. Several:
        each method's default grid in turn (e.g. Hermite's 7 values of eta, then IAS15's 19 of epsilon).
        """
        if len(self.methods) == 1:
            lo, hi = np.log10(self.param_range)
            return np.zeros(self.n_actions, dtype=np.int64), np.logspace(lo, hi, self.n_actions)
        grids = [_default_grid(m.param_range) for m in self.methods]
        return (np.concatenate([np.full(len(g), i, dtype=np.int64) for i, g in enumerate(grids)]),
                np.concatenate(grids))

    @property
    def reference_param(self) -> float:
        """The method's conventional parameter, clipped into ``param_range``: the "last parameter" at reset."""
        lo, hi = self.param_range
        return float(np.clip(self.method.default, lo, hi))

    @property
    def cost_reference_param(self) -> float:
        """The geometric middle of ``param_range``: one interval at it is the reward's unit of cost."""
        lo, hi = self.param_range
        return float(np.sqrt(lo * hi))


def as_config(settings: EnvConfig | Mapping[str, Any] | None) -> EnvConfig:
    """``settings`` as an :class:`EnvConfig`: the object itself when it is one (validated once, passed on
    between stages), else one built from the keyword arguments (``None``: the defaults)."""
    return settings if isinstance(settings, EnvConfig) else EnvConfig(**(settings or {}))


def config_kwargs(config: EnvConfig) -> dict[str, Any]:
    """``config`` as keyword arguments (every setting, explicit): for files and metadata, not between stages."""
    return {f.name: getattr(config, f.name) for f in fields(config) if f.init}


def setting_names() -> list[str]:
    """The names of every environment setting (the keyword arguments of ``EnvConfig`` and ``gym.make``)."""
    return [f.name for f in fields(EnvConfig) if f.init]


def check_setting_names(names: Iterable[str]) -> None:
    """``ValueError`` for the first name that is not an environment setting, with the nearest names."""
    known = setting_names()
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else f"the settings are {', '.join(known)}"
            raise ValueError(f"unknown environment setting {name!r}: {hint}")


def settings_help() -> str:
    """One line per environment setting, ``name=default``, for a command line's ``--help``."""
    return "\n".join(f"  {f.name}={f.default!r}" for f in fields(EnvConfig) if f.init)


def _method_names(integrator: object) -> tuple[str, ...]:
    """The method name(s) of ``integrator`` (a name, or a list of two or more distinct names), checked."""
    value: Any = integrator
    try:
        names: tuple = (value,) if isinstance(value, str) else tuple(value)
    except TypeError:
        names = (value,)
    unknown = [name for name in names if name not in integrators.METHODS]
    if unknown or not names:
        raise ValueError(f"integrator={integrator!r} is unknown; choose from {list(integrators.METHODS)} "
                         "(one name, or a list of two or more)")
    if not isinstance(integrator, str) and (len(names) < 2 or len(set(names)) != len(names)):
        raise ValueError(f"integrator={integrator!r}: a list needs two or more distinct methods")
    return names


def _default_count(lo: float, hi: float) -> int:
    """Number of values in the default grid over [lo, hi]: 3 per decade (the paper's spacing), at least 2."""
    return max(2, round(3 * math.log10(hi / lo)) + 1)


def _default_grid(param_range: tuple[float, float]) -> np.ndarray:
    """A method's default grid: :func:`_default_count` values log-spaced over its range."""
    lo, hi = param_range
    return np.logspace(np.log10(lo), np.log10(hi), _default_count(lo, hi))


def _choice(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{name}={value!r} is unknown; choose from {list(options)}")


def is_integer(value: object) -> bool:
    """A Python or NumPy integer, and not a bool (``True`` is an ``int`` to Python, not a count to us)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """A Python or NumPy real number, and not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _pair(name: str, value: Any) -> tuple[float, float]:
    """``value`` as two floats; ``ValueError`` naming it unless it is a sequence of two real numbers."""
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a pair of numbers") from None
    if not (_is_real(first) and _is_real(second)):
        raise ValueError(f"{name}={value!r} must be a pair of numbers")
    return float(first), float(second)


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = _is_real(value) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name}={value!r} must be a finite number {'>= 0' if allow_zero else '> 0'}")
