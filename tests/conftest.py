"""Helpers shared by the test files (import them: ``from conftest import CHEAP, sampled_actions``)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

#: Discrete action 6: eta = 0.1, the last of the default 7; one or two Hermite steps per interval
#: on quiet paper triples, so tests that only need some interval integrated stay cheap.
CHEAP = 6


def sampled_actions(env, seed: int, count: int) -> list:
    """``count`` actions from ``env.action_space`` (single or vector env), reproducible from ``seed``."""
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(count)]


def two_close_bodies(rng=None):
    """Bodies 0 and 1 at rest 1e-6 apart, body 2 far away: a head-on collision within ~1e-9 time units,
    so the first interval fails (a sampler: ``rng`` is ignored)."""
    pos = np.array([[0.0, 0.0, 0.0], [1e-6, 0.0, 0.0], [5.0, 3.0, 0.0]])
    return pos, np.zeros((3, 3)), np.ones(3)


def dop853(pos, vel, mass, duration, tol=1e-13):
    """An independent reference: scipy's DOP853 at rtol = atol = ``tol`` (G = 1, no softening),
    returning (pos, vel) at ``duration``."""
    n = len(mass)

    def rhs(_, y):
        x = y[: 3 * n].reshape(n, 3)
        d = x[None, :, :] - x[:, None, :]
        r3 = np.linalg.norm(d, axis=2) ** 3
        np.fill_diagonal(r3, np.inf)
        return np.concatenate([y[3 * n:], (mass[None, :, None] * d / r3[:, :, None]).sum(axis=1).ravel()])

    y = solve_ivp(rhs, (0.0, duration), np.concatenate([pos.ravel(), vel.ravel()]), method="DOP853",
                  rtol=tol, atol=tol).y[:, -1]
    return y[: 3 * n].reshape(n, 3), y[3 * n:].reshape(n, 3)
