"""Training callbacks: validation on held-out initial conditions, the per-episode learning curve, Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.checkpoints import write_atomically
from agents.rollout import RolloutResult, rollout


class ValidationCallback(BaseCallback):
    """Every ``eval_freq`` steps run the deterministic policy on the validation initial conditions.

    One episode of ``n_intervals`` intervals per seed (batched :func:`~agents.rollout.rollout`). The
    history goes to ``<run>/evaluations.npz`` (timesteps, median final |dE/E0|, total force
    evaluations, mean return) and tensorboard; the model with the best mean return so far is saved
    as ``<run>/best_model.zip``. The mean return is the environment's own trade-off of error and cost.
    Files are replaced atomically (a kill never leaves half of one). ``on_result(timesteps, result)``,
    if given, sees every validation's episodes; returning False stops training (a pruned trial).
    """

    def __init__(self, run_dir: Path, seeds: list[int], env_kwargs: dict[str, Any], eval_freq: int, n_intervals: int,
                 interrupt: StopOnInterrupt | None = None,
                 on_result: Callable[[int, RolloutResult], bool] | None = None) -> None:
        super().__init__()
        self.interrupt = interrupt  # no last validation after Ctrl-C: the user wants out
        self.on_result = on_result
        self.run_dir = Path(run_dir)
        self.seeds = seeds
        self.env_kwargs = env_kwargs
        self.eval_freq = eval_freq
        self.n_intervals = n_intervals
        self.history: dict[str, list[float]] = {key: [] for key in ("timesteps", "median_energy_error", "force_evals",
                                                                    "mean_return")}
        self.best_return = -np.inf
        self._next = eval_freq

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the history, the best return and the next validation's step."""
        return {"history": self.history, "best_return": self.best_return, "next": self._next}

    def restore(self, state: dict[str, Any]) -> None:
        self.history, self.best_return, self._next = state["history"], state["best_return"], state["next"]

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next += self.eval_freq
            return self.evaluate()
        return True

    def _on_training_end(self) -> None:
        if self.interrupt is not None and self.interrupt.requested:
            return
        if not self.history["timesteps"] or self.history["timesteps"][-1] != self.num_timesteps:
            self.evaluate()

    def evaluate(self) -> bool:
        """Validate the current policy now; record it, and save it if it is the best so far.
        Returns ``on_result``'s answer (True without one): whether training goes on."""
        result = rollout(self.model, self.seeds, env_kwargs=self.env_kwargs, n_intervals=self.n_intervals,
                         name="validation")
        row = {
            "timesteps": self.num_timesteps,
            "median_energy_error": float(np.median(np.abs(result.final_energy_error))),
            "force_evals": float(result.force_evals.sum()),
            "mean_return": float(result.episode_return.mean()),
        }
        for key, value in row.items():
            self.history[key].append(value)
            if key != "timesteps":
                self.logger.record(f"validation/{key}", value)
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in self.history.items()}  # Any: savez's **kwds
        write_atomically(self.run_dir / "evaluations.npz", lambda path: np.savez(path, **arrays))
        if row["mean_return"] > self.best_return:
            self.best_return = row["mean_return"]
            write_atomically(self.run_dir / "best_model.zip", self.model.save)
        return True if self.on_result is None else self.on_result(self.num_timesteps, result)


class StopOnInterrupt(BaseCallback):
    """Ctrl-C stops training cleanly after the current step; a second Ctrl-C aborts at once.

    Used as a context manager around ``model.learn``: it installs a SIGINT handler that only sets
    ``requested``, and ``_on_step`` then ends training. Without it, a KeyboardInterrupt raised
    while the parallel Numba kernel runs surfaces as ``SystemError`` (about half of the
    interrupts), which no ``except KeyboardInterrupt`` catches. Outside the main thread (a Dask
    worker) signals cannot be handled and the callback does nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:  # the second Ctrl-C: the default behaviour
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.requested = True
        print("\nInterrupted: stopping after this step and saving (Ctrl-C again to abort without saving).",
              file=sys.stderr, flush=True)

    def _on_step(self) -> bool:
        return not self.requested


class EpisodeLogCallback(BaseCallback):
    """Collect VecMonitor's episode records (return, length, final error, force evaluations) with the step count."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: dict[str, list[float]] = {"timesteps": [], "reward": [], "energy_error": [], "force_evals": []}

    def state(self) -> dict[str, Any]:
        return {"episodes": self.episodes}

    def restore(self, state: dict[str, Any]) -> None:
        self.episodes = state["episodes"]

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.episodes["timesteps"].append(self.num_timesteps)
                self.episodes["reward"].append(info["episode"]["r"])
                self.episodes["energy_error"].append(abs(info["energy_error"]))
                self.episodes["force_evals"].append(info["episode_force_evals"])
        return True

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: np.asarray(values, dtype=np.float64) for key, values in self.episodes.items()}


def plot_learning_curve(episodes: dict[str, np.ndarray], path: Path, window: int = 100) -> None:
    """Episode reward, final |dE/E0| and force evaluations against timesteps (running median), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("reward", "episode reward", False), ("energy_error", "final |dE/E0|", True),
              ("force_evals", "force evaluations per episode", True)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 8), sharex=True)
    t = episodes["timesteps"]
    for ax, (key, label, log) in zip(axes, panels, strict=True):
        y = episodes[key]
        ax.plot(t, y, ".", ms=2, alpha=0.3, color="tab:blue")
        if len(y) >= window:
            smooth = np.array([np.median(y[i - window : i]) for i in range(window, len(y) + 1)])
            ax.plot(t[window - 1 :], smooth, color="tab:red", label=f"running median of {window}")
            ax.legend(loc="best", fontsize=8)
        if log:
            ax.set_yscale("log")
        elif len(y):
            ax.set_ylim(np.nanpercentile(y, 1), np.nanmax(y) + 0.05 * np.ptp(y))  # early outliers hide the trend
        ax.set_ylabel(label)
    axes[-1].set_xlabel("timesteps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
