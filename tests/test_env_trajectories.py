"""The single environment reproduces trajectories recorded before its speed-up, bit for bit.

The recording (``tests/data/env_trajectories.npz``, see :mod:`tests.trajectories`) pins results
that depend on the platform's floating-point library (NumPy's vectorised log10, libm's arcsinh):
where those functions give other bits than on the recording machine, the test is skipped
(``test_vector_env.py`` still checks the single env against the batched one there).
"""

import numpy as np
import pytest
from trajectories import CONFIGS, DATA, math_fingerprint, record


@pytest.fixture(scope="module")
def recorded():
    data = np.load(DATA)
    if str(data["math_fingerprint"]) != math_fingerprint():
        pytest.skip("this platform's log10/arcsinh differ in the last bits from the recording machine's")
    return data


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_is_bitwise_the_recorded_one(recorded, name):
    """Observations, rewards, flags and infos (wall time aside) equal the recording exactly."""
    for key, value in record(name).items():
        np.testing.assert_array_equal(value, recorded[key], err_msg=key, strict=True)
