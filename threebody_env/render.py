"""Pictures of an episode: orbits with trails, energy error and chosen parameter against time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from threebody_env.config import EnvConfig


@dataclass
class EpisodeHistory:
    """What one system did this episode, sampled at interval ends (system 0 of a batch)."""

    time: list[float] = field(default_factory=list)
    pos: list[np.ndarray] = field(default_factory=list)  # each (N, 3)
    energy_error: list[float] = field(default_factory=list)
    param: list[float] = field(default_factory=list)

    def start(self, systems, index: int = 0) -> None:
        self.time, self.pos, self.energy_error, self.param = [], [], [], []
        self.record(systems, index)

    def record(self, systems, index: int = 0) -> None:
        self.time.append(float(systems.time[index]))
        self.pos.append(systems.pos[index].copy())
        self.energy_error.append(float(systems.energy_error[index]))
        self.param.append(float(systems.param[index]))


def plot_episode(fig, history: EpisodeHistory, config: EnvConfig, *, trail: int = 200) -> None:
    """Draw ``history`` on ``fig``: orbits of its N bodies projected on xy (left), |dE/E0| and the
    parameter against time (right).

    ``trail`` is how many past interval ends each body's trail shows. The parameter panel shows
    the value applied during each interval, the first point being the reference parameter.
    """
    fig.clear()
    grid = fig.add_gridspec(2, 2, width_ratios=(1.1, 1.0))
    ax_orbit = fig.add_subplot(grid[:, 0])
    ax_error = fig.add_subplot(grid[0, 1])
    ax_param = fig.add_subplot(grid[1, 1], sharex=ax_error)

    pos = np.asarray(history.pos)  # (T, N, 3)
    colors = body_colors(pos.shape[1])
    small = pos.shape[1] > 10  # thinner trails and dots, so a cluster stays legible
    for body, color in enumerate(colors):
        ax_orbit.plot(pos[-trail:, body, 0], pos[-trail:, body, 1], color=color, lw=0.6 if small else 1.0, alpha=0.7)
        ax_orbit.plot(pos[-1, body, 0], pos[-1, body, 1], "o", color=color, ms=3 if small else 6)
    ax_orbit.set_aspect("equal", adjustable="datalim")
    ax_orbit.set_xlabel("x [N-body units]")
    ax_orbit.set_ylabel("y [N-body units]")
    ax_orbit.set_title(f"t = {history.time[-1]:.2f}")

    t = np.asarray(history.time)
    error = np.maximum(np.abs(np.asarray(history.energy_error)), 1e-16)
    ax_error.semilogy(t, error, color="tab:red")
    ax_error.axhline(config.max_energy_error, ls="--", color="grey", lw=0.8)
    ax_error.set_ylabel("|dE/E0|")
    ax_param.step(t, history.param, where="pre", color="tab:blue")
    ax_param.set_yscale("log")
    ax_param.set_ylim(*config.param_range)
    ax_param.set_ylabel(config.method.param)
    ax_param.set_xlabel("time [N-body units]")
    fig.tight_layout()


def body_colors(n_bodies: int) -> np.ndarray:
    """One RGBA colour per body, (N, 4): matplotlib's ten distinct colours, or a continuous map for more bodies."""
    from matplotlib import colormaps

    if n_bodies <= 10:
        return colormaps["tab10"](np.arange(n_bodies))
    return colormaps["turbo"](np.linspace(0.05, 0.95, n_bodies))


class EpisodeRenderer:
    """Matplotlib figure for ``render()``: an RGB array (Agg) or a live window ("human")."""

    def __init__(self, config: EnvConfig, *, interactive: bool) -> None:
        import matplotlib

        if not interactive:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=(9, 4.5), dpi=80)
            FigureCanvasAgg(self.fig)
            self._plt = None
        else:
            import matplotlib.pyplot as plt

            matplotlib.interactive(True)
            self.fig = plt.figure(figsize=(9, 4.5), dpi=80)
            self._plt = plt
        self.config = config

    def draw(self, history: EpisodeHistory) -> np.ndarray | None:
        plot_episode(self.fig, history, self.config)
        self.fig.canvas.draw()
        if self._plt is not None:
            self._plt.pause(1e-3)
            return None
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]  # Agg canvas

    def close(self) -> None:
        if self._plt is not None:
            self._plt.close(self.fig)
