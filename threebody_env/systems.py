"""The state of B independent N-body systems, advanced one environment interval at a time.

Both :class:`~threebody_env.ThreeBodyEnv` (B = 1) and :class:`~threebody_env.ThreeBodyVectorEnv`
hold one :class:`SystemBatch`, so a single environment and one slot of the vector environment run
the same code: the same Numba kernel, the same energy bookkeeping, bit for bit.
"""

from __future__ import annotations

import time

import numpy as np

import integrators
from threebody_env.config import EnvConfig
from threebody_env.initial_conditions import InitialCondition

#: ``info["status"]`` strings, indexed by :class:`integrators.Status`.
STATUS_NAMES = np.array([status.name.lower() for status in integrators.Status])


class SystemBatch:
    """Positions, velocities, energies and cost counters of ``num_systems`` systems of N bodies.

    Arrays have a leading batch axis: ``pos``/``vel`` (B, N, 3) float64, ``mass`` (B, N); the
    per-system scalars below are (B,). Energy errors are relative to the initial energy:
    (E - E0) / |E0|, signed.
    """

    def __init__(self, config: EnvConfig, num_systems: int, n_bodies: int) -> None:
        self.config = config
        self.method_id = config.method.method_id
        b, n = num_systems, n_bodies
        self.pos = np.zeros((b, n, 3))
        self.vel = np.zeros((b, n, 3))
        self.mass = np.ones((b, n))
        self.energy0 = np.ones(b)
        self.length_scale = np.ones(b)  # mass-weighted RMS radius at reset
        self.speed_scale = np.ones(b)  # sqrt(G M / length_scale)
        self.reference_cost = np.ones(b)  # cost of one interval at the cost reference parameter, from reset
        self.time = np.zeros(b)
        self.intervals = np.zeros(b, dtype=np.int64)
        self.energy_error = np.zeros(b)  # (E - E0) / |E0| now
        self.previous_energy_error = np.zeros(b)  # ... at the end of the interval before
        self.step_energy_error = np.zeros(b)
        self.accumulated_error = np.zeros(b)  # sum over intervals of |step_energy_error|: no cancellation
        self.previous_accumulated_error = np.zeros(b)
        self.param = np.full(b, config.reference_param)
        self.cost = np.zeros(b)  # cost of the last interval, in the configured cost unit
        self.n_steps = np.zeros(b, dtype=np.int64)
        self.n_force_evals = np.zeros(b, dtype=np.int64)
        self.episode_force_evals = np.zeros(b, dtype=np.int64)
        self.wall_time = np.zeros(b)
        self.status = np.zeros(b, dtype=np.int64)

    @property
    def n_bodies(self) -> int:
        return self.pos.shape[1]

    def reset(self, index: int, initial_condition: InitialCondition) -> None:
        """Start system ``index`` from ``initial_condition`` = (pos, vel, mass), used as is."""
        pos, vel, mass = validate_initial_condition(initial_condition, self.n_bodies)
        energy0 = integrators.energy(pos, vel, mass, self.config.softening)
        if not np.isfinite(energy0) or energy0 == 0.0:
            raise ValueError(f"initial energy {energy0!r} must be finite and non-zero: the relative energy error needs it")
        self.pos[index], self.vel[index], self.mass[index] = pos, vel, mass
        self.energy0[index] = energy0
        total_mass = mass.sum()
        com = (mass[:, None] * pos).sum(axis=0) / total_mass
        radius = np.sqrt((mass * ((pos - com) ** 2).sum(axis=1)).sum() / total_mass)
        self.length_scale[index] = radius
        self.speed_scale[index] = np.sqrt(total_mass / radius)
        self.time[index] = 0.0
        self.intervals[index] = 0
        self.energy_error[index] = self.previous_energy_error[index] = self.step_energy_error[index] = 0.0
        self.accumulated_error[index] = self.previous_accumulated_error[index] = 0.0
        self.param[index] = self.config.reference_param
        self.n_steps[index] = self.n_force_evals[index] = self.episode_force_evals[index] = self.status[index] = 0
        self.wall_time[index] = 0.0
        reference = self._measure_reference_cost(pos, vel, mass)
        self.reference_cost[index] = self.cost[index] = reference

    def _measure_reference_cost(self, pos: np.ndarray, vel: np.ndarray, mass: np.ndarray) -> float:
        """Cost of integrating one interval from this state at the cost reference parameter (on copies)."""
        cfg = self.config
        start = time.perf_counter()
        _, n_evals, _ = integrators.evolve_kernel(
            self.method_id, pos.copy(), vel.copy(), mass, cfg.interval, cfg.cost_reference_param,
            cfg.softening, cfg.max_integrator_steps,
        )
        elapsed = time.perf_counter() - start
        return float(max(n_evals, 1) if cfg.cost == "force_evals" else max(elapsed, 1e-9))

    def advance(self, params: np.ndarray, active: np.ndarray) -> None:
        """Integrate the ``active`` systems over one interval with their ``params`` (both (B,))."""
        cfg = self.config
        start = time.perf_counter()
        if active.size == 1:  # one system: skip the parallel kernel's thread launch
            result = integrators.evolve_kernel(
                self.method_id, self.pos[0], self.vel[0], self.mass[0], cfg.interval, float(params[0]),
                cfg.softening, cfg.max_integrator_steps,
            ) if active[0] else (0, 0, 0)
            n_steps, n_evals, status = (np.array([value]) for value in result)
        else:
            n_steps, n_evals, status = integrators.evolve_batch(
                self.method_id, self.pos, self.vel, self.mass, cfg.interval, params,
                cfg.softening, cfg.max_integrator_steps, active,
            )
        elapsed = time.perf_counter() - start
        # Systems share the kernel call: apportion its wall time by their share of the work.
        share = n_evals[active] / max(int(n_evals[active].sum()), 1)
        energy = integrators.energy_batch(self.pos, self.vel, self.mass, cfg.softening)

        a = active
        self.n_steps[a], self.n_force_evals[a], self.status[a] = n_steps[a], n_evals[a], status[a]
        self.episode_force_evals[a] += n_evals[a]
        self.wall_time[a] = elapsed * share if cfg.record_wall_time else 0.0
        self.param[a] = params[a]
        self.time[a] += cfg.interval
        self.intervals[a] += 1
        error = (energy[a] - self.energy0[a]) / np.abs(self.energy0[a])
        error = np.where(np.isfinite(error), error, np.inf)
        self.step_energy_error[a] = np.where(np.isfinite(error), error - self.energy_error[a], np.inf)
        self.previous_energy_error[a] = self.energy_error[a]
        self.energy_error[a] = error
        self.previous_accumulated_error[a] = self.accumulated_error[a]
        self.accumulated_error[a] += np.abs(self.step_energy_error[a])
        self.cost[a] = self.n_force_evals[a] if cfg.cost == "force_evals" else self.wall_time[a]

    def failed(self) -> np.ndarray:
        """(B,) bool: the energy error is over the limit, the state is not finite, or the budget ran out."""
        return (np.abs(self.energy_error) > self.config.max_energy_error) | (self.status != integrators.Status.OK)

    def info_arrays(self) -> dict[str, np.ndarray]:
        """The per-interval diagnostics of every system, each a fresh (B,) array."""
        return {
            "energy_error": self.energy_error.copy(),
            "step_energy_error": self.step_energy_error.copy(),
            "n_force_evals": self.n_force_evals.copy(),
            "episode_force_evals": self.episode_force_evals.copy(),
            "n_steps": self.n_steps.copy(),
            "wall_time": self.wall_time.copy(),
            "param": self.param.copy(),
            "time": self.time.copy(),
            "status": STATUS_NAMES[self.status],
        }

    def info(self, index: int) -> dict:
        """The diagnostics of system ``index`` as plain Python values (the single env's ``info``)."""
        return {key: value[index].item() for key, value in self.info_arrays().items()}


def validate_initial_condition(initial_condition: InitialCondition, n_bodies: int | None = None) -> InitialCondition:
    """Return float64 copies of (pos, vel, mass) after checking them (:func:`integrators.as_state`)
    and, when given, that there are ``n_bodies`` bodies. Raises ``ValueError`` naming the problem."""
    try:
        pos, vel, mass = initial_condition
    except (TypeError, ValueError):
        raise ValueError(f"an initial condition must be a tuple (pos, vel, mass); got {initial_condition!r}") from None
    pos, vel, mass = integrators.as_state(pos, vel, mass)
    if n_bodies is not None and pos.shape[0] != n_bodies:
        raise ValueError(f"initial condition has {pos.shape[0]} bodies; this environment was built for {n_bodies}")
    return pos, vel, mass
