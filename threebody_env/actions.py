"""Map agent actions to the integrator's time-step parameter, on a logarithmic scale."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from gymnasium import spaces

from controller.network import continuous_parameters
from threebody_env.config import EnvConfig


class ActionMap:
    """Translate actions into parameter values (``eta``, ``tol`` or ``dt``) and back.

    - ``discrete``: ``Discrete(n_actions)``; action k is the k-th of ``n_actions`` values
      log-spaced over ``param_range``, smallest first.
    - ``continuous``: ``Box(-1, 1, (1,), float32)``; -1 is the low end of the range, +1 the high
      end, linear in log10 of the parameter.

    With several methods (``config.methods``, discrete only) action k is the k-th (method, parameter)
    pair of ``config.grid``: ``method_of`` (A,) int64 holds each action's method index (into
    ``config.methods``), ``values`` its parameter, and ``log_ranges`` (M, 2) each method's log10 range.
    """

    def __init__(self, config: EnvConfig) -> None:
        self.mode = config.action_mode
        self.log_low, self.log_high = np.log10(config.param_range)
        self.n_methods = len(config.methods)
        self.log_ranges = np.log10([m.param_range for m in config.methods]) if self.n_methods > 1 else None
        if self.mode == "discrete":
            self.space: spaces.Space = spaces.Discrete(config.n_actions)
            self.method_of, values = config.grid
            self.values: np.ndarray | None = (np.logspace(self.log_low, self.log_high, config.n_actions)
                                              if self.n_methods == 1 else values)
            self._value_list = self.values.tolist()
            self._method_list = self.method_of.tolist()
        else:
            self.space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
            self.values = None
            self._value_list = []

    def to_param(self, action: Any) -> float:
        """The parameter for one action: an integer (or shape-(1,) array) or a (1,) continuous array.

        A Python or NumPy integer in range is looked up directly (the single environment's common
        case); anything else goes through :meth:`to_params`. Raises ``ValueError`` naming the action.
        """
        if type(action) is not bool:
            try:
                index = operator.index(action)
            except TypeError:
                index = -1
            if 0 <= index < len(self._value_list):
                return self._value_list[index]
        array = np.asarray(action)
        if array.size != 1 or array.ndim > 1:
            raise ValueError(f"expected one action of shape {self.space.shape}; got {action!r}")
        return float(self.to_params(array)[0])

    def to_method(self, action: Any) -> int:
        """The method index (into ``config.methods``) of one valid discrete action: 0 with one method."""
        return self._method_list[operator.index(np.asarray(action).reshape(-1)[0])] if self.n_methods > 1 else 0

    def to_methods(self, actions: np.ndarray) -> np.ndarray:
        """Method indices (int64, shape (B,)) of a batch of valid discrete actions (call after :meth:`to_params`)."""
        return self.method_of[np.asarray(actions).reshape(-1)]

    def to_params(self, actions: np.ndarray) -> np.ndarray:
        """Parameters (float64, shape (B,)) for a batch of actions (shape (B,) or (B, 1))."""
        if self.values is not None:
            index = np.asarray(actions).reshape(-1)
            if not np.issubdtype(index.dtype, np.integer) or index.min() < 0 or index.max() >= self.values.size:
                raise ValueError(f"discrete actions must be integers in [0, {self.values.size}); got {actions!r}")
            return self.values[index]
        u = np.asarray(actions, dtype=np.float64).reshape(-1)
        if not np.isfinite(u).all():
            raise ValueError(f"continuous actions must be finite; got {actions!r}")
        u = np.minimum(np.maximum(u, -1.0), 1.0)  # np.clip, bit for bit on finite values, at a third of the cost
        return continuous_parameters(u, float(self.log_low), float(self.log_high))

    def normalized(self, params: np.ndarray) -> np.ndarray:
        """Position of ``params`` in the log range, scaled to [-1, 1] (the continuous action)."""
        fraction = (np.log10(params) - self.log_low) / (self.log_high - self.log_low)
        return 2.0 * fraction - 1.0
