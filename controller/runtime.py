"""A trained policy as a torch-free controller: its file format, loading and decisions.

``controller.npz`` (written by ``agents.export``) holds the network's arrays in the layout of
:mod:`controller.network` and a JSON ``metadata`` string: the algorithm, the environment settings
the policy was trained with (``env_kwargs``, observation, action mode, integrator) and the
resolved settings of a deployed episode (:class:`~controller.episode.EpisodeSettings`). Nothing
else is needed to use it: ``Controller.load(run_dir)`` then ``controller.parameter(observation)``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from controller.episode import EpisodeSettings
from controller.network import BAD_SHAPE, OK, decide_batch, decide_into, scratch
from controller.observer import Observer

FORMAT = "threebody-controller/1"
#: The arrays of a controller file, in the order of the policy tuple (see :mod:`controller.network`).
ARRAYS = ("sizes", "weights", "biases", "norm_weights", "norm_biases", "activations", "norm_eps", "values", "log_range")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: A run folder's controllers in order of preference: the one of ``best_model.zip``, then the final model's.
RUN_CONTROLLERS = ("best_controller.npz", "controller.npz")


def controller_path(model_path: str | Path) -> Path:
    """Where the controller of an SB3 model file lives: ``model.zip`` -> ``controller.npz``,
    ``best_model.zip`` -> ``best_controller.npz`` (any other ``<name>.zip`` -> ``<name>.controller.npz``)."""
    model_path = Path(model_path)
    stem = model_path.stem
    name = stem.replace("model", "controller") if stem in ("model", "best_model") else f"{stem}.controller"
    return model_path.with_name(f"{name}.npz")


class Controller:
    """A policy network that picks the integrator parameter from an observation, in compiled code.

    ``policy`` is the tuple of :mod:`controller.network` (pass it to ``controller.network.decide``
    from your own Numba code); ``metadata`` the dict stored with it. Decisions are deterministic:
    the argmax of a discrete policy's outputs, the (tanh-squashed or clipped) mean of a continuous
    one, as SB3's ``predict(deterministic=True)``.
    """

    def __init__(self, arrays: dict[str, np.ndarray], metadata: dict[str, Any], dtype: DTypeLike = np.float32) -> None:
        dtype = np.dtype(dtype)
        if dtype not in _FLOATS:
            raise ValueError(f"dtype={dtype} must be float32 or float64")
        missing = [name for name in ARRAYS if name not in arrays]
        if missing:
            raise ValueError(f"controller arrays lack {missing}")
        a = {name: np.ascontiguousarray(arrays[name]) for name in ARRAYS}
        for name in ("sizes", "activations"):
            a[name] = a[name].astype(np.int64)
        for name in ("weights", "biases", "norm_weights", "norm_biases"):
            a[name] = a[name].astype(dtype)
        for name in ("norm_eps", "values", "log_range"):
            a[name] = a[name].astype(np.float64)
        _check_shapes(a)
        self.policy = tuple(a[name] for name in ARRAYS)
        self.metadata = metadata
        self.dtype = dtype
        self._buffers = scratch(self.policy)

    # ------------------------------------------------------------------ files

    @classmethod
    def load(cls, path: str | Path, dtype: DTypeLike = np.float32) -> Controller:
        """Load from a ``.npz``, a run folder or an SB3 model file (the controller beside it).

        A run folder gives the controller of the model ``evaluate.py`` evaluates: ``best_controller.npz``
        (the model selected on validation) when present, else ``controller.npz`` (the final model, which
        stays loadable by its own path). ``dtype``: the precision of the forward pass (float32 as
        trained, or float64).

        Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for one that is not a controller.
        """
        path = Path(path)
        if path.is_dir():
            present = [path / name for name in RUN_CONTROLLERS if (path / name).is_file()]
            path = present[0] if present else path / RUN_CONTROLLERS[-1]
        elif path.suffix == ".zip":
            path = controller_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no controller at {path}; write one with `python -m agents.export <run folder>`")
        if not zipfile.is_zipfile(path):  # np.load would suggest allow_pickle=True: misleading and unsafe
            raise ValueError(f"cannot read controller {path}: not a .npz archive (agents.export writes them)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise ValueError(f"cannot read controller {path}: {error}") from None
        file_format = str(arrays.pop("format", ""))
        if file_format != FORMAT:
            raise ValueError(f"{path} is not a controller file of format {FORMAT!r} (format: {file_format!r})")
        try:
            metadata = json.loads(str(arrays.pop("metadata")))
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} has no readable metadata: {error}") from None
        try:
            return cls(arrays, metadata, dtype)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def save(self, path: str | Path) -> Path:
        """Write the controller (float32 weights unless it was loaded as float64) to ``path``."""
        path = Path(path)
        arrays: dict[str, Any] = dict(zip(ARRAYS, self.policy, strict=True))
        np.savez(path, format=np.array(FORMAT), metadata=np.array(json.dumps(self.metadata)), **arrays)
        return path

    # ------------------------------------------------------------------ description

    @property
    def observation_size(self) -> int:
        return int(self.policy[0][0])

    @property
    def discrete(self) -> bool:
        return self.policy[7].size > 0

    @property
    def n_actions(self) -> int | None:
        """The number of discrete actions, or None for a continuous action."""
        return int(self.policy[7].size) if self.discrete else None

    @property
    def observation(self) -> str:
        """The observation setting the policy was trained on ("summary", "full", "paper")."""
        return self.metadata.get("observation", "summary")

    @property
    def episode_settings(self) -> EpisodeSettings:
        """The settings of an episode in the environment the policy was trained in (integrator, interval, ...)."""
        values = self.metadata.get("episode")
        if not values:
            raise ValueError("this controller's metadata has no episode settings (trained with cost='wall_time'?)")
        return EpisodeSettings.from_dict(values)

    def observer(self, pos: np.ndarray, vel: np.ndarray, mass: np.ndarray) -> Observer:
        """An :class:`~controller.observer.Observer` of the system (pos, vel, mass) at reset, in this
        controller's episode settings: it builds the observations to pass to :meth:`parameter` from your own loop."""
        return Observer(self.episode_settings, pos, vel, mass)

    def __repr__(self) -> str:
        layers = "-".join(str(int(s)) for s in self.policy[0])
        action = f"{self.n_actions} discrete actions" if self.discrete else "continuous action"
        return f"Controller({self.metadata.get('algo', '?')}, {layers}, {action}, {self.dtype}, {self.observation!r})"

    # ------------------------------------------------------------------ decisions

    def action(self, observation: np.ndarray) -> int | float:
        """The deterministic action for one observation (D,): an index, or a value in [-1, 1]."""
        action = self._decide(observation)[0]
        return int(action) if self.discrete else action

    def parameter(self, observation: np.ndarray) -> float:
        """The integrator parameter (e.g. Hermite's ``eta``) the policy picks for one observation (D,)."""
        return self._decide(observation)[1]

    @property
    def methods(self) -> list[str]:
        """The integrator methods the policy chooses among, in action order (one for a single-method policy)."""
        integrator = self.metadata.get("integrator", "hermite")
        return [integrator] if isinstance(integrator, str) else list(integrator)

    def decision(self, observation: np.ndarray) -> tuple[str, float]:
        """(method name, parameter) the policy picks for one observation (D,): the method is always the
        controller's one for a single-method policy, and the action's for a meta policy (ThreeBodyMeta-v0)."""
        action, parameter = self._decide(observation)
        methods = self.methods
        if len(methods) == 1:
            return methods[0], parameter
        return methods[self.episode_settings.action_methods[int(action)]], parameter

    def actions(self, observations: np.ndarray) -> np.ndarray:
        """Actions for a batch (B, D): (B,) int64 indices, or (B, 1) float64 values in [-1, 1] (SB3's shapes)."""
        actions, _ = self._decide_batch(observations)
        return actions.astype(np.int64) if self.discrete else actions[:, None]

    def parameters(self, observations: np.ndarray) -> np.ndarray:
        """Integrator parameters (B,) float64 for a batch of observations (B, D)."""
        return self._decide_batch(observations)[1]

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray | int | float, None]:
        """SB3's ``predict`` signature (deterministic only), so a controller can stand in for a model."""
        if not deterministic:
            raise ValueError("a controller only acts deterministically")
        observation = np.asarray(observation)
        if observation.ndim == 1:
            return np.asarray(self.actions(observation[None])[0]), None
        return self.actions(observation), None

    def _decide(self, observation: np.ndarray) -> tuple[float, float]:
        obs = observation
        if not (type(obs) is np.ndarray and obs.ndim == 1 and obs.dtype in _FLOATS):
            obs = self._as_array(observation, 1)
        status, action, parameter = decide_into(self.policy, obs, self._buffers)
        if status != OK:
            raise self._bad_observation(obs, status)
        return action, parameter

    def _decide_batch(self, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = self._as_array(observations, 2)
        actions = np.empty(obs.shape[0])
        parameters = np.empty(obs.shape[0])
        status, row = decide_batch(self.policy, obs, actions, parameters)
        if status != OK:
            raise self._bad_observation(obs[row], status, row)
        return actions, parameters

    def _as_array(self, observation: Any, ndim: int) -> np.ndarray:
        obs = np.asarray(observation)
        if not np.issubdtype(obs.dtype, np.number) or np.iscomplexobj(obs):
            raise ValueError(f"observation must be real numbers; got dtype {obs.dtype}")
        expected = (self.observation_size,) if ndim == 1 else ("B", self.observation_size)
        if obs.ndim != ndim or obs.shape[-1] != self.observation_size:
            raise ValueError(f"observation has shape {obs.shape}; this controller expects {expected} "
                             f"({self.observation!r} observation)")
        return np.ascontiguousarray(obs if obs.dtype in _FLOATS else obs.astype(np.float64))

    def _bad_observation(self, obs: np.ndarray, status: int, row: int | None = None) -> ValueError:
        where = "observation" if row is None else f"observation row {row}"
        if status == BAD_SHAPE:
            return ValueError(f"{where} has shape {obs.shape}; this controller expects ({self.observation_size},) "
                              f"({self.observation!r} observation)")
        index = int(np.flatnonzero(~np.isfinite(obs))[0])
        return ValueError(f"{where}[{index}] = {obs[index]} is not finite")


def _check_shapes(a: dict[str, np.ndarray]) -> None:
    """``ValueError`` unless the arrays form a consistent network (see :mod:`controller.network`)."""
    sizes = a["sizes"]
    n_layers = sizes.size - 1
    if sizes.ndim != 1 or n_layers < 1 or sizes.min() < 1:
        raise ValueError(f"sizes={sizes.tolist()} must list at least two positive layer widths")
    width = int(sizes.max())
    expected = {"weights": (n_layers, width, width), "biases": (n_layers, width), "norm_weights": (n_layers, width),
                "norm_biases": (n_layers, width), "activations": (n_layers,), "norm_eps": (n_layers,),
                "log_range": (2,)}
    for name, shape in expected.items():
        if a[name].shape != shape:
            raise ValueError(f"{name} has shape {a[name].shape}; sizes {sizes.tolist()} need {shape}")
    if a["values"].ndim != 1 or a["values"].size not in (0, sizes[-1]):
        raise ValueError(f"values has shape {a['values'].shape}; a discrete head of {sizes[-1]} outputs needs "
                         f"({sizes[-1]},), a continuous one (0,)")
    if a["values"].size == 0 and sizes[-1] != 1:
        raise ValueError(f"a continuous controller needs 1 output; sizes are {sizes.tolist()}")
    if not np.all(np.isin(a["activations"], (0, 1, 2))):
        raise ValueError(f"activations={a['activations'].tolist()} must be codes 0 (identity), 1 (relu), 2 (tanh)")
    floats = [a[name] for name in ("weights", "biases", "norm_weights", "norm_biases", "norm_eps", "log_range")]
    if not all(np.all(np.isfinite(x)) for x in floats) or not np.all(a["values"] > 0):
        raise ValueError("weights, LayerNorm and action-map values must be finite, parameter values > 0")
