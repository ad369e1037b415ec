"""The state of B independent N-body systems, advanced one environment interval at a time.

Both :class:`~threebody_env.ThreeBodyEnv` (B = 1) and :class:`~threebody_env.ThreeBodyVectorEnv`
hold one :class:`SystemBatch`, so a single environment and one slot of the vector environment run
the same code: the same Numba kernel, the same energy bookkeeping, bit for bit. Each system carries
its integrator's state record from one interval to the next (as :class:`integrators.Simulation`
does), whatever parameter the agent picks; reset clears it.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

import integrators
from integrators import energy_kernel
from threebody_env.config import EnvConfig
from threebody_env.initial_conditions import InitialCondition

#: ``info["status"]`` strings, indexed by :class:`integrators.Status`.
STATUS_NAMES = np.array([status.name.lower() for status in integrators.Status])
_STATUS_STRINGS = STATUS_NAMES.tolist()
_OK = int(integrators.Status.OK)

#: Per-system float64 scalars, the rows of ``SystemBatch.floats``.
FLOAT_FIELDS = (
    "energy0", "length_scale", "speed_scale", "reference_cost", "time", "energy_error", "previous_energy_error",
    "step_energy_error", "accumulated_error", "previous_accumulated_error", "param", "cost", "wall_time",
)
#: Per-system int64 counters, the rows of ``SystemBatch.counts`` (``failure`` is 0 or 1: see ``failed()``).
#: ``method`` is the index into ``config.methods`` of the method that ran the last interval (0 at reset).
COUNT_FIELDS = ("intervals", "n_steps", "n_force_evals", "episode_force_evals", "status", "failure", "method")
(_ENERGY0, _LENGTH, _SPEED, _REFERENCE_COST, _TIME, _ERROR, _PREVIOUS_ERROR, _STEP_ERROR, _ACCUMULATED,
 _PREVIOUS_ACCUMULATED, _PARAM, _COST, _WALL_TIME) = range(len(FLOAT_FIELDS))
_INTERVALS, _N_STEPS, _N_EVALS, _EPISODE_EVALS, _STATUS, _FAILED, _METHOD = range(len(COUNT_FIELDS))


class SystemBatch:
    """Positions, velocities, energies and cost counters of ``num_systems`` systems of N bodies.

    Arrays have a leading batch axis: ``pos``/``vel`` (B, N, 3) float64, ``mass`` (B, N), and
    ``states`` (B, ``integrators.state_size(N)``) float64, each system's integrator state record
    (zeros: start afresh; a record of another method is also started afresh, so a system may
    switch methods between intervals). The
    per-system scalars are packed into ``floats`` (len(FLOAT_FIELDS), B) float64 and ``counts``
    (len(COUNT_FIELDS), B) int64, so that one compiled call updates them all; each row is also an
    attribute of the same name, a (B,) view (``energy_error``, ``n_force_evals``, ...; see
    :data:`FLOAT_FIELDS`, :data:`COUNT_FIELDS`). Energy errors are relative to the initial
    energy: (E - E0) / |E0|, signed.
    """

    # The rows of ``floats`` and ``counts`` by name: (B,) views, bound by ``_bind_rows``.
    energy0: np.ndarray
    length_scale: np.ndarray
    speed_scale: np.ndarray
    reference_cost: np.ndarray
    time: np.ndarray
    energy_error: np.ndarray
    previous_energy_error: np.ndarray
    step_energy_error: np.ndarray
    accumulated_error: np.ndarray
    previous_accumulated_error: np.ndarray
    param: np.ndarray
    cost: np.ndarray
    wall_time: np.ndarray
    intervals: np.ndarray
    n_steps: np.ndarray
    n_force_evals: np.ndarray
    episode_force_evals: np.ndarray
    status: np.ndarray
    failure: np.ndarray
    method: np.ndarray

    def __init__(self, config: EnvConfig, num_systems: int, n_bodies: int) -> None:
        self.config = config
        self.method_id = config.method.method_id
        self.method_ids = np.array([m.method_id for m in config.methods], dtype=np.int64)
        self.method_names = np.array([m.name for m in config.methods])
        b, n = num_systems, n_bodies
        self.pos = np.zeros((b, n, 3))
        self.vel = np.zeros((b, n, 3))
        self.mass = np.ones((b, n))
        self.states = np.zeros((b, integrators.state_size(n)))
        self.floats = np.zeros((len(FLOAT_FIELDS), b))
        self.floats[[_ENERGY0, _LENGTH, _SPEED, _REFERENCE_COST]] = 1.0
        self.floats[_PARAM] = config.reference_param
        self.counts = np.zeros((len(COUNT_FIELDS), b), dtype=np.int64)
        self._evolved = np.zeros((3, b), dtype=np.int64)  # (n_steps, n_force_evals, status) of the last call
        self._bind_rows()
        if config.record_wall_time and b > 1:
            # Compile (or load from the cache) the parallel kernel now, not inside the first timed interval
            # (the serial kernel is compiled by reset, which measures the reference cost with it).
            integrators.advance_batch(self.method_id, self.pos, self.vel, self.mass, config.interval, self.param,
                                      config.softening, 1, np.zeros(b, dtype=bool), self.states)

    def _bind_rows(self) -> None:
        """Name each row of ``floats`` and ``counts`` (views, so writes through them reach the batch)."""
        self._first_system = (self.pos[0], self.vel[0], self.mass[0])  # views, for the serial path
        self._first_state = self.states[0]
        for row, name in enumerate(FLOAT_FIELDS):
            setattr(self, name, self.floats[row])
        for row, name in enumerate(COUNT_FIELDS):
            setattr(self, name, self.counts[row])

    def __getstate__(self) -> dict:
        """Pickle and deepcopy the packed arrays only: copied views would no longer share their memory."""
        views = {*FLOAT_FIELDS, *COUNT_FIELDS, "_first_system", "_first_state"}
        return {k: v for k, v in self.__dict__.items() if k not in views}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_rows()

    @property
    def n_bodies(self) -> int:
        return self.pos.shape[1]

    def reset(self, index: int, initial_condition: InitialCondition) -> None:
        """Start system ``index`` from ``initial_condition`` = (pos, vel, mass), used as is."""
        pos, vel, mass = validate_initial_condition(initial_condition, self.n_bodies)
        energy0 = integrators.energy(pos, vel, mass, self.config.softening)
        if not np.isfinite(energy0) or energy0 == 0.0:
            raise ValueError(f"initial energy {energy0!r} must be finite and non-zero: "
                             "the relative energy error needs it")
        self.pos[index], self.vel[index], self.mass[index] = pos, vel, mass
        self.states[index] = 0.0
        total_mass = mass.sum()
        com = (mass[:, None] * pos).sum(axis=0) / total_mass
        radius = np.sqrt((mass * ((pos - com) ** 2).sum(axis=1)).sum() / total_mass)
        self.floats[:, index] = 0.0
        self.counts[:, index] = 0
        self.energy0[index] = energy0
        self.length_scale[index] = radius
        self.speed_scale[index] = np.sqrt(total_mass / radius)
        self.param[index] = self.config.reference_param
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

    def advance(self, params: np.ndarray, active: np.ndarray, methods: np.ndarray | None = None) -> None:
        """Integrate the ``active`` systems over one interval with their ``params`` (both (B,)), each from
        the integrator state its last interval left.

        ``methods`` (B,) int64, each system's method index into ``config.methods`` (None: the first, the
        only one of a single-method config). A system whose method changes starts that method afresh
        (the state record knows its owner); one that keeps it carries its state on. With several methods
        the batch runs one parallel call per method present, over the systems that chose it.
        """
        cfg = self.config
        start = time.perf_counter() if cfg.record_wall_time else 0.0
        if methods is None or len(self.method_ids) == 1:
            self._advance_method(self.method_id, params, active)
        elif active.size == 1:
            self._advance_method(self.method_ids[methods[0]], params, active)
            self.method[active] = methods[active]
        else:
            self._evolved[:] = integrators.advance_methods(
                self.method_ids[methods], self.pos, self.vel, self.mass, cfg.interval, params, cfg.softening,
                cfg.max_integrator_steps, active, self.states,
            )
            self.method[active] = methods[active]
        elapsed = time.perf_counter() - start if cfg.record_wall_time else 0.0
        _account(self.pos, self.vel, self.mass, params, active, self._evolved, self.floats, self.counts,
                 cfg.interval, cfg.softening, cfg.max_energy_error, elapsed, cfg.cost == "force_evals")

    def _advance_method(self, method_id: int, params: np.ndarray, active: np.ndarray) -> None:
        """One method for every active system; ``_evolved`` receives its (n_steps, n_force_evals, status)."""
        cfg = self.config
        if active.size == 1:  # one system: skip the parallel kernel's thread launch
            if active[0]:
                self._evolved[:, 0] = integrators.advance_kernel(
                    method_id, *self._first_system, cfg.interval, params[0], cfg.softening,
                    cfg.max_integrator_steps, self._first_state,
                )
        else:
            self._evolved[:] = integrators.advance_batch(method_id, self.pos, self.vel, self.mass, cfg.interval,
                                                         params, cfg.softening, cfg.max_integrator_steps, active,
                                                         self.states)

    def failed(self) -> np.ndarray:
        """(B,) bool: the energy error is over the limit, the state is not finite, or the budget ran out."""
        return self.counts[_FAILED] != 0

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
            **({"method": self.method_names[self.method]} if len(self.method_ids) > 1 else {}),
        }

    def info(self, index: int) -> dict:
        """The diagnostics of system ``index`` as plain Python values (the single env's ``info``):
        the values of :meth:`info_arrays` at ``index``, read in two calls (this runs every step)."""
        floats = self.floats[:, index].tolist()
        counts = self.counts[:, index].tolist()
        info = {
            "energy_error": floats[_ERROR],
            "step_energy_error": floats[_STEP_ERROR],
            "n_force_evals": counts[_N_EVALS],
            "episode_force_evals": counts[_EPISODE_EVALS],
            "n_steps": counts[_N_STEPS],
            "wall_time": floats[_WALL_TIME],
            "param": floats[_PARAM],
            "time": floats[_TIME],
            "status": _STATUS_STRINGS[counts[_STATUS]],
        }
        if len(self.method_ids) > 1:
            info["method"] = str(self.method_names[counts[_METHOD]])
        return info


@njit(cache=True, error_model="numpy")
def _account(pos, vel, mass, params, active, evolved, floats, counts, interval, softening, max_energy_error,
             elapsed, charge_force_evals):
    """Book one interval of the active systems: energy errors, counters, cost, wall time and failure.

    ``evolved`` (3, B) holds each system's (n_steps, n_force_evals, status) from the integrator;
    ``elapsed`` is the integrator call's wall time (0.0 when not recorded), shared out by force
    evaluations. Only IEEE arithmetic: the results are bitwise those of the NumPy expressions.
    """
    total_evals = 0
    for b in range(pos.shape[0]):
        if active[b]:
            total_evals += evolved[1, b]
    for b in range(pos.shape[0]):
        if not active[b]:
            continue
        n_evals = evolved[1, b]
        counts[_N_STEPS, b] = evolved[0, b]
        counts[_N_EVALS, b] = n_evals
        counts[_STATUS, b] = evolved[2, b]
        counts[_EPISODE_EVALS, b] += n_evals
        counts[_INTERVALS, b] += 1
        floats[_WALL_TIME, b] = elapsed * (n_evals / max(total_evals, 1))
        floats[_PARAM, b] = params[b]
        floats[_TIME, b] += interval
        energy = energy_kernel(pos[b], vel[b], mass[b], softening * softening)
        error = (energy - floats[_ENERGY0, b]) / abs(floats[_ENERGY0, b])
        if not np.isfinite(error):
            error = np.inf
        step = error - floats[_ERROR, b] if np.isfinite(error) else np.inf
        floats[_STEP_ERROR, b] = step
        floats[_PREVIOUS_ERROR, b] = floats[_ERROR, b]
        floats[_ERROR, b] = error
        floats[_PREVIOUS_ACCUMULATED, b] = floats[_ACCUMULATED, b]
        floats[_ACCUMULATED, b] += abs(step)
        floats[_COST, b] = n_evals if charge_force_evals else floats[_WALL_TIME, b]
        counts[_FAILED, b] = abs(error) > max_energy_error or evolved[2, b] != _OK


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
