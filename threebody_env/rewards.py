"""Rewards that trade energy error against computational cost, for a batch of systems."""

from __future__ import annotations

import numpy as np
from numba import njit

from threebody_env.systems import SystemBatch


def _log_error(error: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    """log10 |error| clipped to [log10 floor, log10 ceiling]; non-finite errors read as the ceiling.

    The clip is compiled, the log10 is NumPy's: NumPy's vectorised log10 and the C library's
    (which compiled code calls) differ in the last bit for ~1 % of arguments.
    """
    return np.log10(_clipped_magnitude(error, floor, ceiling))


@njit(cache=True, error_model="numpy")
def _clipped_magnitude(error, floor, ceiling):
    """clip(|error|, floor, ceiling) with non-finite errors at the ceiling, as a new (B,) array."""
    out = np.empty_like(error)
    for b in range(error.size):
        magnitude = abs(error[b]) if np.isfinite(error[b]) else ceiling
        out[b] = min(max(magnitude, floor), ceiling)
    return out


def _charges(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """What every interval pays besides its error: cost_weight * c_i / c_ref + failure_penalty * failed_i."""
    cfg = systems.config
    return _charges_kernel(systems.cost, systems.reference_cost, failed, cfg.cost_weight, cfg.failure_penalty)


@njit(cache=True, error_model="numpy")
def _charges_kernel(cost, reference_cost, failed, cost_weight, failure_penalty):
    out = np.empty_like(cost)
    for b in range(cost.size):
        out[b] = cost_weight * cost[b] / reference_cost[b] + failure_penalty * failed[b]
    return out


def _log_growth(now: np.ndarray, before: np.ndarray, systems: SystemBatch) -> np.ndarray:
    """L(now) - L(before), L(x) = log10 clip(|x|, target_error, error_ceiling): sums over an episode to L(last)."""
    cfg = systems.config
    return (_log_error(now, cfg.target_error, cfg.error_ceiling)
            - _log_error(before, cfg.target_error, cfg.error_ceiling))


def interval_reward(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """Reward of the last interval: energy error beyond the target, and work, charged; (B,) float64.

    R_i = -max(0, log10(|dE_i| / target_error)) - cost_weight * c_i / c_ref - failure_penalty * failed_i,

    with dE_i the change of the relative energy error (E - E0) / |E0| over interval i (its own
    contribution), c_i the interval's cost (force evaluations by default) and c_ref the cost of
    one interval at the middle of the parameter range, measured at reset. An interval that keeps
    energy to ``target_error`` pays only for its work; one that does not pays a decade-per-unit
    penalty. Charging each interval for its own error, not for the cumulative one, makes the
    consequence of an action visible in the same step, and prices accuracy where it is cheap (quiet
    stretches) against accuracy where it is expensive (tight pairs, many steps per interval).
    """
    cfg = systems.config
    error = _log_error(systems.step_energy_error, cfg.target_error, 10.0 * cfg.max_energy_error)
    return -(error - np.log10(cfg.target_error)) - _charges(systems, failed)


def final_reward(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """Reward of the last interval: change of the energy error on a log scale, and work; (B,) float64.

    R_i = -[L(e_i) - L(e_{i-1})] - cost_weight * c_i / c_ref - failure_penalty * failed_i,

    with e_i = (E - E0) / |E0| at the end of interval i, L(e) = log10 clip(|e|, target_error,
    error_ceiling), c_i and c_ref as in :func:`interval_reward`. The error terms telescope: an
    episode's return is -log10(clip(|e_final|) / target_error) - cost_weight * total cost / c_ref -
    penalty, the final error and the work that evaluation measures. The error an interval leaves
    behind for good is charged; the swing of the error through a close passage, which the next
    intervals undo, is charged and refunded. Changing the parameter during a passage locks part of
    that swing in (the method's bounded error oscillation differs between parameters), and this
    reward sees it. An episode past ``error_ceiling`` counts as lost: only its work is charged from
    then on, so accuracy is spent where it still keeps the error below the ceiling.
    """
    return -_log_growth(systems.energy_error, systems.previous_energy_error, systems) - _charges(systems, failed)


def accumulated_reward(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """Reward of the last interval: growth of the accumulated energy error, and work; (B,) float64.

    As :func:`final_reward` with |e_i| replaced by S_i = sum over intervals k <= i of |dE_k|, an
    upper bound of the final error that cannot shrink by cancellation: no interval is ever paid for
    reducing the error. S also counts the error's swings through close passages, which the final
    error does not, so this reward overprices accuracy in eccentric orbits.
    """
    growth = _log_growth(systems.accumulated_error, systems.previous_accumulated_error, systems)
    return -growth - _charges(systems, failed)


def paper_reward(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """The reward of Saz Ulibarrena & Portegies Zwart (2025), made finite and monotone.

    R_i = -W0 (log10 e + 10) / |log10 e|^3 / i + W2 / |log10 a| for i >= 2, and 0 for i = 1,
    with e the cumulative error, a the parameter and (W0, W2) = ``paper_weights``. The original
    is singular at e = 1 and rewards errors beyond it; here log10 e is clipped to
    [-15, log10 max_energy_error], where the error term grows with e.
    """
    cfg = systems.config
    w0, w2 = cfg.paper_weights
    log_e = _log_error(systems.energy_error, 1e-15, cfg.max_energy_error)
    i = systems.intervals
    reward = -w0 * (log_e + 10.0) / np.abs(log_e) ** 3 / np.maximum(i, 1) + w2 / np.abs(np.log10(systems.param))
    return np.where(i > 1, reward, 0.0)


REWARD_FUNCTIONS = {
    "final": final_reward, "accumulated": accumulated_reward, "interval": interval_reward, "paper": paper_reward,
}
