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
    parameter against time (right), in N-body units (G = 1).

    ``trail`` is how many past interval ends each body's trail shows. The parameter panel shows the
    value applied during each interval (none before the first), over the values the action can take.
    """
    EpisodeFigure(fig, config, len(history.pos[0]), trail=trail).update(history)


class EpisodeFigure:
    """The three panels of :func:`plot_episode`, laid out once and updated in place for each frame
    (a frame then costs one canvas draw, not a new figure)."""

    def __init__(self, fig, config: EnvConfig, n_bodies: int, *, trail: int = 200) -> None:
        from threebody_env.actions import ActionMap

        self.config, self.n_bodies, self.trail = config, n_bodies, trail
        fig.clear()
        grid = fig.add_gridspec(2, 2, width_ratios=(1.1, 1.0))
        self.orbit = fig.add_subplot(grid[:, 0])
        self.error = fig.add_subplot(grid[0, 1])
        self.param = fig.add_subplot(grid[1, 1], sharex=self.error)
        small = n_bodies > 10  # thinner trails and dots, so a cluster stays legible
        self.trails, self.dots = [], []
        for color in body_colors(n_bodies):
            self.trails.append(self.orbit.plot([], [], color=color, lw=0.6 if small else 1.0, alpha=0.7)[0])
            self.dots.append(self.orbit.plot([], [], "o", color=color, ms=3 if small else 6)[0])
        self.orbit.set_aspect("equal", adjustable="box")  # update() sets square limits
        self.orbit.set_xlabel("x [N-body units]")
        self.orbit.set_ylabel("y [N-body units]")

        self.error.set_yscale("log")
        self.error.set_ylim(3e-17, 10.0 * config.max_energy_error)
        self.error.axhline(config.max_energy_error, ls="--", color="grey", lw=0.8)
        (self.error_line,) = self.error.plot([], [], color="tab:red")
        (self.error_now,) = self.error.plot([], [], "o", color="tab:red", ms=4)
        self.error.set_ylabel("|dE/E0|")
        self.error.tick_params(labelbottom=False)

        self.param.set_yscale("log")
        lo, hi = config.param_range
        self.param.set_ylim(lo / 1.5, hi * 1.5)
        values = ActionMap(config).values
        for value in values if values is not None else config.param_range:  # the choices, never an empty panel
            self.param.axhline(value, color="0.85", lw=0.8, zorder=0)
        self.param_steps = self.param.stairs([], [0.0], color="tab:blue", baseline=None)
        self.param.set_ylabel(config.method.param)
        self.param.set_xlabel("time [N-body units]")
        fig.tight_layout()

    def update(self, history: EpisodeHistory) -> None:
        """Show ``history`` (at least its reset sample)."""
        pos = np.asarray(history.pos)[-self.trail:]  # (T, N, 3)
        for body in range(self.n_bodies):
            self.trails[body].set_data(pos[:, body, 0], pos[:, body, 1])
            self.dots[body].set_data(pos[-1:, body, 0], pos[-1:, body, 1])
        xy = pos[..., :2].reshape(-1, 2)
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if xy.size:
            centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
            half = 0.55 * max(float(np.ptp(xy, axis=0).max()), 1e-12)
            self.orbit.set_xlim(centre[0] - half, centre[0] + half)
            self.orbit.set_ylim(centre[1] - half, centre[1] + half)
        t = np.asarray(history.time)
        self.orbit.set_title(f"t = {t[-1]:.2f} N-body time units")

        error = np.maximum(np.abs(np.asarray(history.energy_error)), 1e-16)
        error = np.where(np.isfinite(error), error, 1e300)
        self.error_line.set_data(t, error)
        self.error_now.set_data(t[-1:], error[-1:])
        self.error.set_ylim(3e-17, max(10.0 * self.config.max_energy_error, 3.0 * float(error.max())))
        self.error.set_xlim(t[0], max(t[-1], t[0] + self.config.interval))
        self.param_steps.set_data(np.asarray(history.param[1:]), t)  # interval k applied param k; not reset's


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
        self._panels: EpisodeFigure | None = None

    def draw(self, history: EpisodeHistory) -> np.ndarray | None:
        n_bodies = len(history.pos[0])
        if self._panels is None or self._panels.n_bodies != n_bodies:
            self._panels = EpisodeFigure(self.fig, self.config, n_bodies)
        self._panels.update(history)
        self.fig.canvas.draw()
        if self._plt is not None:
            self._plt.pause(1e-3)
            return None
        return np.asarray(self.fig.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]  # Agg canvas

    def close(self) -> None:
        if self._plt is not None:
            self._plt.close(self.fig)
