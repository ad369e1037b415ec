"""Yoshida's fourth-order symplectic integrator: the triple-jump composition of KDK leapfrog.

Reference: H. Yoshida (1990), "Construction of higher order symplectic integrators",
Phys. Lett. A 150, 262. A step h is three leapfrog substeps of lengths w1 h, w0 h, w1 h with
w1 = 1 / (2 - 2^(1/3)), w0 = -2^(1/3) / (2 - 2^(1/3)); three force evaluations per step.
Symmetric, hence time-reversible.
"""

import numpy as np

from .leapfrog import composition

_CBRT2 = 2.0 ** (1.0 / 3.0)
_W1 = 1.0 / (2.0 - _CBRT2)
_W0 = -_CBRT2 / (2.0 - _CBRT2)

YOSHIDA4 = composition(np.array([_W1, _W0, _W1]))
