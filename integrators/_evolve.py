"""Dispatch to the integrators, from compiled code (single system or a batch) and from Python.

``advance_kernel`` and ``advance_batch`` are the Numba-level entry points that carry each system's
state record from one call to the next (:mod:`integrators._driver`); ``evolve_kernel`` and
``evolve_batch`` start every call afresh. None of them validates its inputs. ``evolve`` is the
validated Python API returning an ``EvolveResult``; :class:`integrators.Simulation` the stateful one.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from . import adaptive_leapfrog, dopri5, hermite, hermite_aarseth, ias15, leapfrog, rk4, yoshida4
from ._driver import HEADER, make_driver
from ._forces import MAX_STEPS, NON_FINITE, OK, energy_kernel, hot, jit, pairwise_timescale


class Status(enum.IntEnum):
    """How an integration call ended."""

    OK = OK  #: reached ``duration`` exactly
    MAX_STEPS = MAX_STEPS  #: step budget exhausted before ``duration``
    #: non-finite state, or a step that is non-positive or does not advance time
    NON_FINITE = NON_FINITE


@dataclass(frozen=True)
class MethodInfo:
    """What the agent needs to know about a method: its one parameter and its sensible range."""

    name: str
    step_control: str  # "variable" (adaptive steps) or "fixed" (every step is the parameter dt)
    order: int
    param: str  # "eta", "tol", "dt" or "epsilon"
    param_range: tuple[float, float]
    default: float
    description: str
    method_id: int


def _info(method_id: int, name: str, step_control: str, order: int, param: str,
          param_range: tuple[float, float], default: float, description: str) -> MethodInfo:
    return MethodInfo(name, step_control, order, param, param_range, default, description, method_id)


#: The one table of methods, in ``method_id`` order: (step functions, name, step control, order,
#: parameter, parameter range, default, description). A new method is a
#: :class:`~integrators._driver.StepFunctions` and a row here; the compiled dispatch and the size of
#: the state record follow from the table. docs/integrators.md says how the ranges were chosen.
_TABLE = (
    (hermite.HERMITE, "hermite", "variable", 4, "eta", (1e-3, 1e-1), 0.03,
     "Hermite PEC (Makino & Aarseth 1992), shared step eta * pairwise time scale (AMUSE)"),
    (hermite_aarseth.HERMITE_AARSETH, "hermite_aarseth", "variable", 4, "eta", (1e-6, 1e-1), 0.01,
     "Hermite PEC with Aarseth's criterion dt = sqrt(eta (|a||a2|+|j|^2)/(|j||a3|+|a2|^2))"),
    (adaptive_leapfrog.ADAPTIVE_LEAPFROG, "adaptive_leapfrog", "variable", 2, "eta", (1e-4, 1e-1), 0.01,
     "KDK leapfrog, shared step eta * pairwise time scale"),
    (dopri5.DOPRI5, "dopri5", "variable", 5, "tol", (1e-12, 1e-4), 1e-8,
     "Dormand-Prince 5(4) embedded Runge-Kutta, local error tolerance tol (atol = rtol)"),
    (leapfrog.LEAPFROG, "leapfrog", "fixed", 2, "dt", (1e-4, 1e-1), 1e-3,
     "KDK leapfrog (velocity Verlet), symplectic, fixed step dt"),
    (yoshida4.YOSHIDA4, "yoshida4", "fixed", 4, "dt", (1e-4, 1e-1), 1e-2,
     "Yoshida (1990) triple-jump leapfrog, symplectic, fixed step dt"),
    (rk4.RK4, "rk4", "fixed", 4, "dt", (1e-4, 1e-1), 1e-2,
     "classic fourth-order Runge-Kutta, fixed step dt"),
    (ias15.IAS15, "ias15", "variable", 15, "epsilon", (1e-10, 1e-4), 1e-9,
     "IAS15 Gauss-Radau predictor-corrector (Rein & Spiegel 2015), PRS23 step criterion"),
    (ias15.IAS15_GLOBAL, "ias15_global", "variable", 15, "epsilon", (1e-10, 1e-4), 1e-9,
     "IAS15 with REBOUND's GLOBAL step criterion (max |b6| / max |a|)"),
)

METHODS: dict[str, MethodInfo] = {row[1]: _info(i, *row[1:]) for i, row in enumerate(_TABLE)}
#: Work blocks of the largest state record: every method's record fits in ``state_size(N)`` slots.
_MAX_BLOCKS = max(row[0].blocks for row in _TABLE)


@jit
def state_size(n_bodies):
    """Length of a state record that any method can use for ``n_bodies`` bodies (float64 slots)."""
    return HEADER + _MAX_BLOCKS * n_bodies * 3


def _unknown_method(method_id, pos, vel, mass, duration, param, eps2, max_steps, state):
    """The end of the dispatch chain: no row has this id (callers validate ids; this never loops)."""
    return 0.0, 0, 0, NON_FINITE


def _link(method_id: int, driver, rest):
    """One link of the compiled dispatch: run ``driver`` for ``method_id``, else ask ``rest``."""

    @hot
    def dispatch(i, pos, vel, mass, duration, param, eps2, max_steps, state):
        if i == method_id:
            return driver(pos, vel, mass, duration, param, eps2, max_steps, state)
        return rest(i, pos, vel, mass, duration, param, eps2, max_steps, state)

    return dispatch


def _build_dispatch(table: tuple):
    """The compiled dispatch over ``table``: row i's driver (:func:`~integrators._driver.make_driver`)
    answers method id i. Numba cannot index a sequence of functions at run time, so the rows are
    folded into a chain of tests, each link compiled around the next."""
    chain = hot(_unknown_method)
    for method_id in reversed(range(len(table))):
        chain = _link(method_id, make_driver(table[method_id][0], method_id), chain)
    return chain


_dispatch = _build_dispatch(_TABLE)


@jit
def _advance(method_id, pos, vel, mass, duration, param, softening, max_steps, state):
    """Run method ``method_id`` in place from ``state``; returns (time, n_steps, n_force_evals, status)."""
    return _dispatch(method_id, pos, vel, mass, duration, param, softening * softening, max_steps, state)


@jit
def advance_kernel(method_id, pos, vel, mass, duration, param, softening, max_steps, state):
    """Integrate one system in place over ``duration``, carrying its state record ``state``.

    ``pos``/``vel`` float64 C-contiguous (N, 3), ``mass`` (N,), ``state`` (``state_size(N)``,)
    float64: zeros for a fresh start; a record left by an earlier call on this system continues its
    integration (:mod:`integrators._driver`). No validation. Returns (n_steps, n_force_evals, status).
    """
    _, steps, evals, status = _advance(method_id, pos, vel, mass, duration, param, softening, max_steps, state)
    return steps, evals, status


@jit
def evolve_kernel(method_id, pos, vel, mass, duration, param, softening, max_steps):
    """:func:`advance_kernel` from a fresh state (every call starts afresh). Returns (n_steps,
    n_force_evals, status)."""
    return advance_kernel(method_id, pos, vel, mass, duration, param, softening, max_steps,
                          np.zeros(state_size(pos.shape[0])))


@njit(parallel=True, cache=True, error_model="numpy")
def advance_batch(method_id, pos, vel, mass, duration, params, softening, max_steps, active, states):
    """Integrate the active systems of a batch in place, in parallel over systems, each carrying
    its state record (``states`` (B, ``state_size(N)``) float64).

    ``pos``, ``vel`` (B, N, 3), ``mass`` (B, N), ``params`` (B,) float64, ``active`` (B,) bool.
    Returns int64 arrays (n_steps, n_force_evals, status), each (B,); inactive systems are not
    touched and report zeros. Each system gives bitwise the result of ``advance_kernel``.
    """
    b_count = pos.shape[0]
    steps = np.zeros(b_count, dtype=np.int64)
    evals = np.zeros(b_count, dtype=np.int64)
    status = np.zeros(b_count, dtype=np.int64)
    for b in prange(b_count):
        if active[b]:
            steps[b], evals[b], status[b] = advance_kernel(
                method_id, pos[b], vel[b], mass[b], duration, params[b], softening, max_steps, states[b])
    return steps, evals, status


def advance_methods(method_ids, pos, vel, mass, duration, params, softening, max_steps, active, states):
    """:func:`advance_batch` for a batch whose systems use different methods (``method_ids`` (B,) int64):
    one parallel call per method present among the active systems, over the systems that chose it.
    Returns int64 arrays (n_steps, n_force_evals, status), each (B,), zeros for inactive systems; each
    system gives bitwise the result of ``advance_kernel`` with its own method and state record.
    """
    out = np.zeros((3, pos.shape[0]), dtype=np.int64)
    for method_id in np.unique(method_ids[active]):
        out += advance_batch(int(method_id), pos, vel, mass, duration, params, softening, max_steps,
                             active & (method_ids == method_id), states)
    return out[0], out[1], out[2]


@jit
def evolve_batch(method_id, pos, vel, mass, duration, params, softening, max_steps, active):
    """:func:`advance_batch` from fresh states (every call starts afresh)."""
    states = np.zeros((pos.shape[0], state_size(pos.shape[1])))
    return advance_batch(method_id, pos, vel, mass, duration, params, softening, max_steps, active, states)


@jit
def energy_batch(pos, vel, mass, softening):
    """Total energy of each system of a batch: (B, N, 3), (B, N, 3), (B, N) -> (B,) float64."""
    out = np.empty(pos.shape[0])
    for b in range(pos.shape[0]):
        out[b] = energy_kernel(pos[b], vel[b], mass[b], softening * softening)
    return out


@jit
def min_timescale_batch(pos, vel, mass):
    """Shortest pairwise time scale of each system of a batch -> (B,) float64."""
    out = np.empty(pos.shape[0])
    for b in range(pos.shape[0]):
        out[b] = pairwise_timescale(pos[b], vel[b], mass[b])
    return out


@dataclass(frozen=True)
class EvolveResult:
    """Outcome of :func:`evolve`: the new state, the time reached and the cost."""

    pos: np.ndarray  # (N, 3) float64, a new array
    vel: np.ndarray  # (N, 3) float64, a new array
    time: float  # time actually reached (== duration when status is OK)
    n_steps: int  # accepted steps
    n_force_evals: int  # force (or force+jerk) evaluations, rejected attempts included
    status: Status
    wall_time: float  # seconds spent in the compiled integrator


def method_info(method: str) -> MethodInfo:
    """The :class:`MethodInfo` of ``method``; ValueError naming the choices if unknown."""
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}") from None


def as_state(pos, vel, mass) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float64 C-contiguous copies of (pos (N, 3), vel (N, 3), mass (N,)).

    Raises ValueError for wrong shapes, N < 2, non-finite values, mass <= 0 or coincident bodies.
    """
    pos = np.array(pos, dtype=np.float64, order="C", copy=True)
    vel = np.array(vel, dtype=np.float64, order="C", copy=True)
    mass = np.array(mass, dtype=np.float64, order="C", copy=True)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 2:
        raise ValueError(f"pos has shape {pos.shape}; expected (N, 3) with N >= 2")
    n = pos.shape[0]
    if vel.shape != (n, 3):
        raise ValueError(f"vel has shape {vel.shape}; expected {(n, 3)} like pos")
    if mass.shape != (n,):
        raise ValueError(f"mass has shape {mass.shape}; expected {(n,)}")
    for name, arr in (("pos", pos), ("vel", vel), ("mass", mass)):
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:
            idx = tuple(int(i) for i in bad[0])
            raise ValueError(f"{name}{list(idx)} = {arr[idx]} is not finite")
    nonpositive = np.flatnonzero(mass <= 0.0)
    if nonpositive.size:
        raise ValueError(f"mass[{nonpositive[0]}] = {mass[nonpositive[0]]} must be > 0")
    for i in range(n):
        same = np.flatnonzero(np.all(pos[i + 1:] == pos[i], axis=1))
        if same.size:
            j = i + 1 + same[0]
            raise ValueError(f"bodies {i} and {j} are both at position {pos[i].tolist()}")
    return pos, vel, mass


def _positive(name: str, value, allow_zero: bool = False) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0.0 or (value == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} = {value} must be finite and {bound}")
    return value


def _step_budget(value) -> int:
    """``max_steps`` as an int; ValueError unless it is an integer >= 1."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"max_steps = {value!r} must be an integer >= 1")
    return int(value)


def evolve(method: str, pos, vel, mass, duration: float, param: float, *,
           softening: float = 0.0, max_steps: int = 1_000_000) -> EvolveResult:
    """Integrate an N-body system (G = 1) for ``duration`` time units with ``method``.

    ``param`` is the method's parameter (``METHODS[method].param``: eta, tol or dt). The call
    lands exactly on ``duration`` (the last step is shortened; at least one step when
    ``duration > 0``) unless ``max_steps`` steps run out (status MAX_STEPS) or the state or step
    becomes non-finite (status NON_FINITE). Inputs are not modified. Raises ValueError on bad
    input, naming the bad value.
    """
    info = method_info(method)
    pos, vel, mass = as_state(pos, vel, mass)
    duration = _positive("duration", duration, allow_zero=True)
    param = _positive(info.param, param)
    softening = _positive("softening", softening, allow_zero=True)
    max_steps = _step_budget(max_steps)
    start = time.perf_counter()
    state = np.zeros(state_size(pos.shape[0]))
    t, steps, evals, status = _advance(info.method_id, pos, vel, mass, duration, param, softening,
                                       max_steps, state)
    wall = time.perf_counter() - start
    return EvolveResult(pos, vel, float(t), int(steps), int(evals), Status(status), wall)
