"""Checkpoints of a training run, written atomically, and what ``train.py --resume RUN`` restores.

Every ``freq`` steps :class:`CheckpointCallback` writes ``<run>/checkpoints/step_<n>/``:

- ``model.zip``: weights, optimiser state, step count, schedules and the last observations (SB3's save);
- ``replay_buffer.pkl``: the replay buffer (off-policy algorithms only);
- ``state.pkl``: the training environments mid-episode, ``VecMonitor``'s running episode sums, the
  callbacks' state (validation history and best score, the learning curve so far) and the random
  states (Python, NumPy's global generator, torch, the action space's generator).

A checkpoint is written into ``checkpoints/.partial-step_<n>/``, every file flushed to disk, and
then renamed to ``step_<n>`` (a rename is atomic on POSIX): a kill at any moment leaves either the
whole new checkpoint or none of it, and :func:`latest_checkpoint` only ever sees whole ones. The
previous checkpoint is removed after the new one is in place, so one is always there.

Checkpoints are taken at the start of a rollout (SB3's ``on_rollout_start``), where every step so
far has been stored and trained on, so a resumed run continues exactly where the checkpoint left
it: with the same seed, the same total number of steps and one thread, it ends with the same
parameters as a run that was never interrupted (``tests/test_resume.py`` checks it).
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecMonitor

from threebody_env.sb3 import EPISODE_INFO_KEYS

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"step_(\d+)")
#: Share of the run between two checkpoints when ``--checkpoint-freq`` is not given.
DEFAULT_FRACTION = 0.1
#: ``VecMonitor``'s per-environment running sums, which a resumed run must continue from.
_MONITOR_FIELDS = ("episode_returns", "episode_lengths", "episode_count")


class Stateful(Protocol):
    """A callback whose progress a checkpoint keeps: a picklable ``state()`` and its ``restore``."""

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


def default_freq(n_timesteps: int) -> int:
    """Steps between checkpoints by default: about a tenth of the run (at least 1)."""
    return max(1, round(n_timesteps * DEFAULT_FRACTION))


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``path`` (same suffix, for savers that add one),
    flushed to disk, then renamed onto ``path``: readers see the old file or the new, never half."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(tmp)
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The whole checkpoint of ``run_dir`` with the most steps, or ``None`` (partial ones are ignored)."""
    folder = Path(run_dir) / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in folder.glob("step_*") if (m := _NAME.fullmatch(p.name)) and p.is_dir()]
    return max(found)[1] if found else None


def checkpoint_steps(checkpoint: Path) -> int:
    """The step count a checkpoint folder was taken at (from its name)."""
    match = _NAME.fullmatch(checkpoint.name)
    if match is None:
        raise ValueError(f"{checkpoint} is not a checkpoint folder (step_<n>)")
    return int(match.group(1))


def _random_states(model: BaseAlgorithm) -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "action_space": model.action_space.np_random.bit_generator.state}


def _set_random_states(model: BaseAlgorithm, states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    model.action_space.np_random.bit_generator.state = states["action_space"]


def save_checkpoint(model: BaseAlgorithm, run_dir: Path, callbacks: dict[str, Stateful]) -> Path:
    """Write the checkpoint of ``model`` (trained on a ``VecMonitor`` env) at its current step count
    under ``run_dir`` atomically, remove older ones, and return its folder."""
    folder = Path(run_dir) / CHECKPOINTS
    name = f"step_{model.num_timesteps:012d}"
    partial = folder / f".partial-{name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save(partial / "model.zip")
    if isinstance(model, OffPolicyAlgorithm):
        model.save_replay_buffer(partial / "replay_buffer.pkl")
    env = model.get_env()
    if not isinstance(env, VecMonitor):
        raise TypeError(f"checkpoints expect the training env inside VecMonitor, got {type(env).__name__}")
    state = {"venv": env.venv, "monitor": {key: getattr(env, key) for key in _MONITOR_FIELDS},
             "callbacks": {key: cb.state() for key, cb in callbacks.items()}, "random": _random_states(model)}
    with open(partial / "state.pkl", "wb") as f:
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
    for path in partial.iterdir():
        _fsync(path)
    final = folder / name
    shutil.rmtree(final, ignore_errors=True)  # the same step again (a resumed run re-reaching it)
    os.replace(partial, final)
    _fsync(folder)
    for older in folder.glob("step_*"):
        if older != final and _NAME.fullmatch(older.name) and checkpoint_steps(older) < model.num_timesteps:
            shutil.rmtree(older, ignore_errors=True)
    return final


def load_checkpoint(checkpoint: Path, cls: type[BaseAlgorithm], device: str, tensorboard_log: str
                    ) -> tuple[BaseAlgorithm, VecMonitor, dict[str, dict[str, Any]]]:
    """The model of ``checkpoint`` on its own training environments (returned too), exactly as saved
    (random states included), and the callbacks' saved states by name. ``ValueError`` if damaged."""
    try:
        with open(checkpoint / "state.pkl", "rb") as f:
            state = pickle.load(f)  # our own file, written by save_checkpoint
        env = VecMonitor(state["venv"], info_keywords=EPISODE_INFO_KEYS)
        for key, value in state["monitor"].items():
            setattr(env, key, value)
        model = cls.load(checkpoint / "model.zip", device=device, tensorboard_log=tensorboard_log)
        model.set_env(env, force_reset=False)  # keep the saved last observations: the envs continue mid-episode
        if isinstance(model, OffPolicyAlgorithm):
            model.load_replay_buffer(checkpoint / "replay_buffer.pkl")
    except Exception as error:  # a damaged or foreign checkpoint fails in many ways
        reason = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(f"cannot load checkpoint {checkpoint}: {type(error).__name__} {reason}") from None
    _set_random_states(model, state["random"])  # after load, which reseeds everything from the run's seed
    return model, env, state["callbacks"]


class CheckpointCallback(BaseCallback):
    """Save a checkpoint at the first rollout start at or after every ``freq`` steps, and at the end
    of a run that reached its total (so that ``--resume -n <more>`` can extend it); not after an
    interrupted one, which stops in the middle of a step.

    ``callbacks`` are the stateful callbacks saved with it, by name. Put this callback after them.
    """

    def __init__(self, run_dir: Path, freq: int, callbacks: dict[str, Stateful]) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.freq = freq
        self.callbacks = callbacks
        self.next = freq

    def state(self) -> dict[str, Any]:
        return {"next": self.next}

    def restore(self, state: dict[str, Any]) -> None:
        self.next = state["next"]

    def _on_rollout_start(self) -> None:
        if self.num_timesteps >= self.next:
            while self.next <= self.num_timesteps:
                self.next += self.freq
            save_checkpoint(self.model, self.run_dir, {**self.callbacks, "checkpoint": self})

    def _on_training_end(self) -> None:
        if self.num_timesteps >= self.model._total_timesteps:  # SB3 has no public name for the run's total
            save_checkpoint(self.model, self.run_dir, {**self.callbacks, "checkpoint": self})

    def _on_step(self) -> bool:
        return True
