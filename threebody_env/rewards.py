"""Rewards that trade energy error against computational cost, for a batch of systems."""

from __future__ import annotations

import numpy as np

from threebody_env.systems import SystemBatch


def _log_error(error: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    """log10 |error| clipped to [log10 floor, log10 ceiling]; non-finite errors read as the ceiling."""
    magnitude = np.where(np.isfinite(error), np.abs(error), ceiling)
    return np.log10(np.clip(magnitude, floor, ceiling))


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
    excess = error - np.log10(cfg.target_error)
    work = cfg.cost_weight * systems.cost / systems.reference_cost
    return -excess - work - cfg.failure_penalty * failed


def accumulated_reward(systems: SystemBatch, failed: np.ndarray) -> np.ndarray:
    """Reward of the last interval: growth of the accumulated energy error, and work; (B,) float64.

    R_i = -[L(S_i) - L(S_{i-1})] - cost_weight * c_i / c_ref - failure_penalty * failed_i,

    with S_i = sum over intervals k <= i of |dE_k| (the accumulated error, an upper bound of the
    final |dE/E0| that cannot shrink by cancellation), L(S) = log10 clip(S, target_error,
    error_ceiling), c_i and c_ref as in :func:`interval_reward`. The error terms telescope: an
    episode's return is -log10(clip(S_final) / target_error) - cost_weight * total cost / c_ref -
    penalty, the error-cost trade-off on a log scale; an interval's error costs little once the
    accumulated error is large. A low ``error_ceiling`` (e.g. 100 x target) makes the return a
    robust, median-like loss: an episode past the ceiling counts as lost and only its work is
    charged from then on, so accuracy is spent where it can still keep the error below the ceiling.
    """
    cfg = systems.config
    growth = _log_error(systems.accumulated_error, cfg.target_error, cfg.error_ceiling) - _log_error(
        systems.previous_accumulated_error, cfg.target_error, cfg.error_ceiling)
    work = cfg.cost_weight * systems.cost / systems.reference_cost
    return -growth - work - cfg.failure_penalty * failed


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


REWARD_FUNCTIONS = {"interval": interval_reward, "accumulated": accumulated_reward, "paper": paper_reward}
