"""``record_local_error=True``: the environments' per-interval distance from the independent reference."""

from __future__ import annotations

import numpy as np
import pytest

from integrators.reference import episode_local_errors
from threebody_env import ThreeBodyEnv, ThreeBodyVectorEnv

SEED = 2_000_002  # a test seed with a close approach in its first intervals


def _episode(action: int, steps: int = 12):
    """Run one single-env episode; returns its infos and the (T, N, 3) start and end states of each interval."""
    env = ThreeBodyEnv(record_local_error=True)
    _, info = env.reset(seed=SEED)
    assert info["local_error"] == 0.0 and info["episode_local_error"] == 0.0
    infos, starts, ends = [], [], []
    systems = env._systems
    for _ in range(steps):
        starts.append((systems.pos[0].copy(), systems.vel[0].copy()))
        _, _, terminated, _, info = env.step(action)
        ends.append((systems.pos[0].copy(), systems.vel[0].copy()))
        infos.append(info)
        assert not terminated
    arrays = [np.array([s[k] for s in pairs]) for pairs in (starts, ends) for k in (0, 1)]
    return infos, arrays, systems.mass[0].copy()


def test_single_env_records_the_reference_distance_and_its_running_sum():
    infos, (start_pos, start_vel, end_pos, end_vel), mass = _episode(action=3)
    local = np.array([info["local_error"] for info in infos])
    want = episode_local_errors(start_pos, start_vel, end_pos, end_vel, mass, ThreeBodyEnv().config.interval)
    np.testing.assert_allclose(local, want, rtol=1e-12)
    assert (local > 0).all() and np.isfinite(local).all()
    np.testing.assert_allclose([info["episode_local_error"] for info in infos], np.cumsum(local), rtol=1e-12)


def test_a_finer_parameter_has_a_smaller_local_error():
    """Hermite is fourth order: eta 1e-3 against 1e-1 (100x) should gain far more than 1e4 in the states."""
    coarse = _episode(action=6)[0][-1]["episode_local_error"]
    fine = _episode(action=0)[0][-1]["episode_local_error"]
    assert fine * 1e4 < coarse


def test_vector_env_slots_match_the_single_env():
    vec = ThreeBodyVectorEnv(num_envs=2, record_local_error=True)
    vec.reset(seed=[SEED, SEED + 1])
    single = ThreeBodyEnv(record_local_error=True)
    single.reset(seed=SEED)
    for _ in range(4):
        _, _, _, _, infos = vec.step(np.array([3, 5]))
        _, _, _, _, info = single.step(3)
        assert infos["local_error"][0] == info["local_error"]
        assert infos["episode_local_error"][0] == info["episode_local_error"]
        assert infos["local_error"][1] > 0.0


def test_off_by_default_and_validated():
    env = ThreeBodyEnv()
    _, info = env.reset(seed=SEED)
    assert "local_error" not in info and "local_error" not in env.step(3)[4]
    with pytest.raises(ValueError, match="record_local_error"):
        ThreeBodyEnv(record_local_error="yes")
