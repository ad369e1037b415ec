"""The batched ``ThreeBodyVectorEnv`` and its stable-baselines3 adapter.

The oracle is B single ``ThreeBodyEnv``s (inside ``TimeLimit``) seeded ``seed + i`` and fed the
same actions: the vector env must reproduce them bit for bit across episode boundaries, in each
autoreset mode.
"""

import gymnasium
import numpy as np
import pytest
import torch
from conftest import CHEAP, sampled_actions, two_close_bodies
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import TimeLimit
from stable_baselines3 import PPO

from threebody_env import ThreeBodyEnv, ThreeBodyVectorEnv, figure_eight, paper_triple, pythagorean
from threebody_env.sb3 import make_sb3_vec_env

# Short episodes and a tight error limit so that a run crosses both kinds of episode end.
EPISODE = dict(max_energy_error=1e-8, record_wall_time=False)
MAX_STEPS = 12
MID = 2  # eta = 0.00464


def single_envs(num_envs, seed, **kwargs):
    envs = [TimeLimit(ThreeBodyEnv(**EPISODE, **kwargs), MAX_STEPS) for _ in range(num_envs)]
    first = [env.reset(seed=seed + i) for i, env in enumerate(envs)]
    return envs, first


def vector_env(num_envs, autoreset_mode, **kwargs):
    return ThreeBodyVectorEnv(num_envs, max_episode_steps=MAX_STEPS, autoreset_mode=autoreset_mode, **EPISODE, **kwargs)


def assert_info_matches(vector_info, index, single_info):
    for key, value in single_info.items():
        assert vector_info[key][index] == value, key


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_next_step_autoreset_matches_single_envs(action_mode):
    """NEXT_STEP: each slot follows its single env bitwise; the step after an episode ends is that
    env's unseeded reset, with reward 0 and no flags."""
    num_envs, seed = 4, 100
    venv = vector_env(num_envs, AutoresetMode.NEXT_STEP, action_mode=action_mode)
    envs, first = single_envs(num_envs, seed, action_mode=action_mode)
    obs, info = venv.reset(seed=seed)
    for i, (single_obs, single_info) in enumerate(first):
        np.testing.assert_array_equal(obs[i], single_obs)
        assert_info_matches(info, i, single_info)
    done = np.zeros(num_envs, dtype=bool)
    ends = {"terminated": 0, "truncated": 0}
    for actions in sampled_actions(venv, seed, 40):
        obs, rewards, terminated, truncated, info = venv.step(actions)
        for i, env in enumerate(envs):
            if done[i]:
                expected = (*env.reset(), 0.0, False, False)
                expected = (expected[0], expected[2], expected[3], expected[4], expected[1])
            else:
                expected = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], expected[0])
            assert (rewards[i], terminated[i], truncated[i]) == expected[1:4]
            assert_info_matches(info, i, expected[4])
        done = terminated | truncated
        ends["terminated"] += terminated.sum()
        ends["truncated"] += truncated.sum()
    assert ends["terminated"] > 0 and ends["truncated"] > 0  # both kinds of boundary were crossed


def test_same_step_autoreset_matches_single_envs():
    """SAME_STEP: a finished slot returns its reset observation at once; the last observation and
    info of the episode are in ``final_obs`` / ``final_info``, masked by ``_final_obs``."""
    num_envs, seed = 4, 200
    venv = vector_env(num_envs, AutoresetMode.SAME_STEP)
    envs, _ = single_envs(num_envs, seed)
    venv.reset(seed=seed)
    finished = 0
    for actions in sampled_actions(venv, seed, 30):
        obs, rewards, terminated, truncated, info = venv.step(actions)
        done = terminated | truncated
        if done.any():
            np.testing.assert_array_equal(info["_final_obs"], done)
        else:
            assert "final_obs" not in info
        for i, env in enumerate(envs):
            last_obs, reward, term, trunc, last_info = env.step(actions[i])
            assert (rewards[i], terminated[i], truncated[i]) == (reward, term, trunc)
            if term or trunc:
                finished += 1
                assert info["final_obs"][i].dtype == np.float32
                np.testing.assert_array_equal(info["final_obs"][i], last_obs)
                assert_info_matches(info["final_info"], i, last_info)
                last_obs, last_info = env.reset()
            np.testing.assert_array_equal(obs[i], last_obs)
            assert_info_matches(info, i, last_info)
    assert finished > num_envs


def test_disabled_autoreset_freezes_finished_slots():
    """DISABLED: a slot that has ended keeps its state, reward 0 and no flags until ``reset``,
    while the other slots go on; ``reset`` revives it."""
    venv = vector_env(3, AutoresetMode.DISABLED)
    starts = [two_close_bodies(), paper_triple(np.random.default_rng(0)), figure_eight()]
    venv.reset(seed=0, options={"initial_conditions": starts})
    obs, rewards, terminated, truncated, info = venv.step(np.array([CHEAP, MID, MID]))
    np.testing.assert_array_equal(terminated, [True, False, False])
    frozen_obs, frozen_info = obs[0].copy(), {key: value[0] for key, value in info.items()}
    for _ in range(3):
        obs, rewards, terminated, truncated, info = venv.step(np.array([MID, MID, MID]))
        np.testing.assert_array_equal(obs[0], frozen_obs)
        assert (rewards[0], terminated[0], truncated[0]) == (0.0, False, False)
        assert_info_matches(info, 0, frozen_info)
        assert np.all(rewards[1:] != 0.0) and np.all(info["time"][1:] > frozen_info["time"])
    venv.reset(seed=1)
    assert np.all(venv.step(np.array([MID, MID, MID]))[1] != 0.0)


def test_disabled_autoreset_freezes_a_single_slot():
    """With one slot (the path that skips the parallel kernel) a finished episode's state is frozen too."""
    venv = ThreeBodyVectorEnv(1, max_episode_steps=1, autoreset_mode=AutoresetMode.DISABLED, record_wall_time=False)
    venv.reset(seed=0)
    truncated = venv.step(np.array([MID]))[3]
    assert truncated[0]
    pos, vel = venv.systems.pos.copy(), venv.systems.vel.copy()
    for _ in range(2):
        venv.step(np.array([MID]))
        np.testing.assert_array_equal(venv.systems.pos, pos)
        np.testing.assert_array_equal(venv.systems.vel, vel)


def test_reset_with_initial_conditions():
    """``options={"initial_conditions": [...]}`` starts slot i from the i-th condition, as is."""
    given = [figure_eight(), pythagorean()]
    venv = ThreeBodyVectorEnv(2, observation="paper", record_wall_time=False)
    obs, _ = venv.reset(seed=0, options={"initial_conditions": given})
    for i, (pos, vel, _) in enumerate(given):
        np.testing.assert_array_equal(obs[i, :6], (pos[:, :2] / 10).astype(np.float32).ravel())
        np.testing.assert_array_equal(obs[i, 6:12], vel[:, :2].astype(np.float32).ravel())
    with pytest.raises(ValueError, match="1 initial conditions for 2"):
        venv.reset(options={"initial_conditions": given[:1]})


def test_seeds_per_slot():
    """An int seed gives slot i the seed ``seed + i``; a list gives each slot its own."""
    a = ThreeBodyVectorEnv(3).reset(seed=10)[0]
    b = ThreeBodyVectorEnv(3).reset(seed=[10, 11, 12])[0]
    c = ThreeBodyVectorEnv(3).reset(seed=[12, 11, 10])[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[::-1], c)
    with pytest.raises(ValueError, match="2 seeds for 3"):
        ThreeBodyVectorEnv(3).reset(seed=[1, 2])


def test_make_vec_returns_the_batched_env():
    """``gymnasium.make_vec`` uses the registered vector entry point with the ids' time limit."""
    venv = gymnasium.make_vec("ThreeBody-v0", num_envs=4)
    assert isinstance(venv, ThreeBodyVectorEnv) and venv.max_episode_steps == 100
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (4, 6) and obs.dtype == np.float32 and venv.observation_space.contains(obs)
    venv = gymnasium.make_vec("ThreeBodyContinuous-v0", num_envs=2)
    assert venv.config.action_mode == "continuous" and venv.action_space.shape == (2, 1)


def test_observations_are_fresh_and_in_space():
    venv = ThreeBodyVectorEnv(4, action_mode="continuous")
    previous, _ = venv.reset(seed=0)
    for actions in sampled_actions(venv, 0, 10):
        obs = venv.step(actions)[0]
        assert obs.dtype == np.float32 and venv.observation_space.contains(obs)
        assert not np.shares_memory(obs, previous)
        previous = obs


@pytest.mark.parametrize(
    "kwargs, message",
    [({"num_envs": 0}, "num_envs=0"), ({"max_episode_steps": 0}, "max_episode_steps=0"),
     ({"num_envs": True}, "num_envs=True"), ({"max_episode_steps": 2**70}, "max_episode_steps=1180591620717411303424"),
     ({"render_mode": "rgb_array"}, "does not render"), ({"integrator": "euler"}, "integrator='euler'")],
)
def test_bad_vector_configuration_raises(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThreeBodyVectorEnv(**{"num_envs": 2, **kwargs})


@pytest.mark.parametrize("action_mode, actions", [("discrete", np.zeros(3, dtype=np.int64)),
                                                  ("continuous", np.zeros((2, 2), dtype=np.float32)),
                                                  ("continuous", np.zeros(1, dtype=np.float32))])
def test_wrong_number_of_actions_raises(action_mode, actions):
    venv = ThreeBodyVectorEnv(2, action_mode=action_mode)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="expected 2 actions"):
        venv.step(actions)


def test_misspelt_reset_option_is_rejected():
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['initial_condition'\]"):
        ThreeBodyVectorEnv(1).reset(options={"initial_condition": figure_eight()})


# --- stable-baselines3 adapter ----------------------------------------------------------------------


def test_sb3_observations_are_fresh_arrays():
    """PPO stores observations by reference: each step must return a new array, left untouched."""
    venv = make_sb3_vec_env(4, max_episode_steps=MAX_STEPS)
    kept = [venv.reset()]
    snapshot = [kept[0].copy()]
    for _ in range(5):
        obs = venv.step(np.full(4, MID))[0]
        kept.append(obs)
        snapshot.append(obs.copy())
    for a, b in zip(kept[:-1], kept[1:], strict=True):
        assert not np.shares_memory(a, b)
    for obs, copy in zip(kept, snapshot, strict=True):
        np.testing.assert_array_equal(obs, copy)


def test_sb3_time_limit_is_not_a_failure():
    """At the time limit every slot is done with ``TimeLimit.truncated=True`` and a
    ``terminal_observation``; the returned observation is already the next episode's."""
    venv = make_sb3_vec_env(3, max_episode_steps=4, record_wall_time=False)
    venv.seed(0)
    venv.reset()
    for _ in range(3):
        obs, rewards, dones, infos = venv.step(np.full(3, MID))
        assert not dones.any() and rewards.dtype == np.float32
    obs, _, dones, infos = venv.step(np.full(3, MID))
    assert dones.all()
    reference = ThreeBodyVectorEnv(3, max_episode_steps=4, record_wall_time=False)
    reference.reset(seed=0)
    for _ in range(4):
        final = reference.step(np.full(3, MID))[0]
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].dtype == np.float32
        np.testing.assert_array_equal(info["terminal_observation"], final[i])
        assert info["episode"]["l"] == 4 and "energy_error" in info
        assert not np.array_equal(obs[i], final[i])


def test_sb3_failure_is_terminal():
    """An energy error over the limit ends the episode with ``TimeLimit.truncated=False``."""
    venv = make_sb3_vec_env(2, max_energy_error=1e-14)
    venv.reset()
    _, _, dones, infos = venv.step(np.full(2, CHEAP))
    assert dones.all()
    assert all(info["TimeLimit.truncated"] is False and "terminal_observation" in info for info in infos)


def test_sb3_seed_matches_vector_env_seed():
    """``venv.seed(s); venv.reset()`` gives the observations of ``ThreeBodyVectorEnv.reset(seed=s)``."""
    venv = make_sb3_vec_env(4)
    venv.seed(42)
    np.testing.assert_array_equal(venv.reset(), ThreeBodyVectorEnv(4).reset(seed=42)[0])


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_ppo_rollouts_and_updates_run_over_the_adapter(action_mode):
    """A short PPO run over the adapter: rollouts cross episode ends and every update changes the
    policy. (That PPO runs, not that it learns: learning takes minutes, see README.)"""
    venv = make_sb3_vec_env(4, max_episode_steps=20, action_mode=action_mode)
    venv.seed(0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(256)
    assert model.num_timesteps >= 256 and len(model.ep_info_buffer) > 0
    assert model._n_updates == 2  # two rollouts of 4 x 32 steps, one epoch each
    assert not any(torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))


def test_system_batch_declares_every_named_row_as_a_view():
    """The rows of ``floats``/``counts`` are declared for type checkers and bound as views of the packed arrays."""
    from threebody_env.config import EnvConfig
    from threebody_env.systems import COUNT_FIELDS, FLOAT_FIELDS, SystemBatch

    assert set(SystemBatch.__annotations__) == {*FLOAT_FIELDS, *COUNT_FIELDS}
    batch = SystemBatch(EnvConfig(), num_systems=2, n_bodies=3)
    for rows, names in ((batch.floats, FLOAT_FIELDS), (batch.counts, COUNT_FIELDS)):
        for k, name in enumerate(names):
            assert np.shares_memory(getattr(batch, name), rows[k]), name


def test_a_validated_config_travels_as_the_object_itself():
    """Stages pass an EnvConfig on instead of rebuilding it from keywords; the results are the keywords' own."""
    from agents.baselines import FixedActionPolicy
    from agents.rollout import rollout
    from threebody_env.config import EnvConfig

    config = EnvConfig(param_range=(0.01, 0.1))
    assert ThreeBodyVectorEnv(num_envs=2, config=config).config is config
    with pytest.raises(ValueError, match="not both"):
        ThreeBodyVectorEnv(num_envs=2, config=config, reward="interval")
    policy = FixedActionPolicy(1, "fixed")
    by_object = rollout(policy, [5, 6], env_kwargs=config, n_intervals=8)
    by_keywords = rollout(policy, [5, 6], env_kwargs={"param_range": (0.01, 0.1)}, n_intervals=8)
    np.testing.assert_array_equal(by_object.final_energy_error, by_keywords.final_energy_error)
    np.testing.assert_array_equal(by_object.force_evals, by_keywords.force_evals)
