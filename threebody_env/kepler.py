"""Two-body orbits (G = 1): states from orbital elements and back, and the Mardling-Aarseth criterion.

Angles are in radians. A relative orbit is that of body 2 about body 1 with ``mu = m1 + m2``:
``r = x2 - x1``, ``v = v2 - v1``. Elements follow the usual convention (Murray & Dermott 1999,
ch. 2): semi-major axis ``a``, eccentricity ``e``, inclination ``inc`` to the reference xy plane,
longitude of the ascending node ``node``, argument of pericentre ``peri`` and mean anomaly ``mean_anomaly``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Elements(NamedTuple):
    """Osculating elements of a relative orbit: a (< 0 if unbound), e, inclination [rad]."""

    a: float
    e: float
    inc: float


def rotation(node: float, inc: float, peri: float) -> np.ndarray:
    """R_z(node) R_x(inc) R_z(peri), (3, 3): the orbital plane's frame (x to pericentre) in the reference frame."""
    cn, sn = math.cos(node), math.sin(node)
    ci, si = math.cos(inc), math.sin(inc)
    cp, sp = math.cos(peri), math.sin(peri)
    r_node = np.array([[cn, -sn, 0.0], [sn, cn, 0.0], [0.0, 0.0, 1.0]])
    r_inc = np.array([[1.0, 0.0, 0.0], [0.0, ci, -si], [0.0, si, ci]])
    r_peri = np.array([[cp, -sp, 0.0], [sp, cp, 0.0], [0.0, 0.0, 1.0]])
    return r_node @ r_inc @ r_peri


def eccentric_anomaly(mean_anomaly: float, e: float) -> float:
    """Solve Kepler's equation E - e sin E = M for 0 <= e < 1 (Newton; converges to round-off)."""
    m = math.remainder(mean_anomaly, 2.0 * math.pi)
    big_e = m if e < 0.8 else math.copysign(math.pi, m)
    for _ in range(50):
        step = (big_e - e * math.sin(big_e) - m) / (1.0 - e * math.cos(big_e))
        big_e -= step
        if abs(step) < 1e-15:
            break
    return big_e


def state_from_elements(a: float, e: float, mean_anomaly: float, mu: float,
                        frame: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Relative position and velocity, each (3,), on a bound orbit (a > 0, 0 <= e < 1).

    The orbit is built in its own plane (pericentre along x, angular momentum along z) and turned
    into the reference frame by ``frame`` (a rotation matrix, e.g. :func:`rotation`; identity if None).
    """
    big_e = eccentric_anomaly(mean_anomaly, e)
    cos_e, sin_e = math.cos(big_e), math.sin(big_e)
    root = math.sqrt(1.0 - e * e)
    r = a * (1.0 - e * cos_e)
    pos = np.array([a * (cos_e - e), a * root * sin_e, 0.0])
    speed = math.sqrt(mu * a) / r
    vel = np.array([-speed * sin_e, speed * root * cos_e, 0.0])
    if frame is not None:
        pos, vel = frame @ pos, frame @ vel
    return pos, vel


def elements_from_state(r: np.ndarray, v: np.ndarray, mu: float) -> Elements:
    """Osculating a, e and inclination of a relative state (r, v) about a mass ``mu`` (vis-viva, Laplace vector)."""
    r, v = np.asarray(r, dtype=np.float64), np.asarray(v, dtype=np.float64)
    distance = float(np.linalg.norm(r))
    energy = 0.5 * float(v @ v) - mu / distance
    h = np.cross(r, v)
    e_vector = np.cross(v, h) / mu - r / distance
    h_norm = float(np.linalg.norm(h))
    inc = math.acos(max(-1.0, min(1.0, h[2] / h_norm))) if h_norm > 0.0 else 0.0
    return Elements(float(-mu / (2.0 * energy)), float(np.linalg.norm(e_vector)), inc)


def orbital_period(a: float, mu: float) -> float:
    """Kepler's third law: 2 pi sqrt(a^3 / mu)."""
    return 2.0 * math.pi * math.sqrt(a**3 / mu)


def mardling_aarseth_limit(q_out: float, e_out: float, mutual_inclination: float = 0.0) -> float:
    """Smallest stable a_out / a_in of a hierarchical triple (Mardling & Aarseth 2001, MNRAS 321, 398).

    R_p / a_in > 2.8 [(1 + q_out)(1 + e_out) / sqrt(1 - e_out)]^(2/5) (1 - 0.3 i / pi), with the
    outer pericentre R_p = a_out (1 - e_out), q_out = m_out / m_in (outer body over inner binary)
    and i the mutual inclination in radians (the empirical factor of Aarseth 2003, sec. 9.5).
    """
    pericentre_ratio = 2.8 * ((1.0 + q_out) * (1.0 + e_out) / math.sqrt(1.0 - e_out)) ** 0.4
    return pericentre_ratio * (1.0 - 0.3 * mutual_inclination / math.pi) / (1.0 - e_out)
