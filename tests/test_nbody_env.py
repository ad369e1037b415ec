"""The environments with N != 3 bodies: observations, rewards, rendering, the batched kernel and step budgets.

The N-body families of :mod:`threebody_env.initial_conditions` drive a single env, a vector env and the
renderer; every observation but "paper" and every reward must work for any N, and an interval that
asks for more work than ``max_integrator_steps`` must end within the budget, at reset as in a step.
"""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import threebody_env  # noqa: F401  (registers the ids)
from threebody_env import ThreeBodyEnv
from threebody_env.config import REWARDS
from threebody_env.render import body_colors

QUIET = dict(record_wall_time=False)


@pytest.mark.parametrize("n_bodies", [2, 5, 8])
@pytest.mark.parametrize("observation", ["summary", "full"])
def test_observations_and_rewards_for_any_n(n_bodies, observation):
    """Plummer spheres of N bodies: every reward gives a finite float and the observation (6 or 6N + 6 values)
    stays inside its space over a few intervals at the cheapest and the dearest action."""
    for reward in REWARDS:
        env = ThreeBodyEnv(initial_conditions="plummer", n_bodies=n_bodies, observation=observation, reward=reward,
                           **QUIET)
        obs, _ = env.reset(seed=n_bodies)
        assert obs.shape == ((6,) if observation == "summary" else (6 * n_bodies + 6,))
        for action in (0, env.action_space.n - 1, 0):
            obs, value, terminated, _, info = env.step(action)
            assert env.observation_space.contains(obs), (reward, obs)
            assert isinstance(value, float) and np.isfinite(value)
            if terminated:
                break


def test_check_env_passes_for_a_cluster():
    """Gymnasium's checker (spaces, determinism from the seed, fresh arrays) on an 8-star Kroupa cluster."""
    env = ThreeBodyEnv(initial_conditions="plummer", n_bodies=8, initial_condition_kwargs={"mass_function": "kroupa"},
                       observation="full", **QUIET)
    check_env(env, skip_render_check=True)


def test_paper_observation_needs_three_bodies():
    with pytest.raises(ValueError, match=r"observation='paper' is defined for 3 bodies; the initial conditions have 4"):
        ThreeBodyEnv(initial_conditions="hierarchical", n_bodies=4, observation="paper")
    ThreeBodyEnv(initial_conditions="hierarchical", observation="paper")  # a triple is fine


def test_callable_sampler_checked_against_n_bodies():
    """A callable's body count is checked against ``n_bodies`` when the env is built."""
    sampler = threebody_env.initial_conditions.Plummer(n_bodies=5)
    with pytest.raises(ValueError, match="initial condition has 5 bodies; this environment was built for 6"):
        ThreeBodyEnv(initial_conditions=sampler, n_bodies=6)
    assert ThreeBodyEnv(initial_conditions=sampler, n_bodies=5).config.interval == pytest.approx(sampler.interval)


@pytest.mark.parametrize("n_bodies", [8, 16])
def test_render_draws_every_body(n_bodies):
    """rgb_array frames of an N-body episode: an (H, W, 3) uint8 picture with a trail and a dot per body, each
    body in its own colour."""
    env = ThreeBodyEnv(render_mode="rgb_array", initial_conditions="plummer", n_bodies=n_bodies, **QUIET)
    env.reset(seed=1)
    for _ in range(3):
        env.step(3)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0
    orbit_axes = env._renderer.fig.axes[0]
    assert len(orbit_axes.lines) == 2 * n_bodies
    assert len({tuple(c) for c in body_colors(n_bodies)}) == n_bodies
    env.close()


@pytest.mark.parametrize(("name", "n_bodies"), [("plummer", 8), ("planetary", 5)])
def test_make_vec_runs_n_body_batches_like_single_envs(name, n_bodies):
    """``gymnasium.make_vec(..., num_envs=8, initial_conditions=name, n_bodies=N)`` advances all systems in one kernel
    call and reproduces eight single envs seeded seed + i bit for bit."""
    num_envs, seed = 8, 40
    venv = gymnasium.make_vec("ThreeBody-v0", num_envs=num_envs, initial_conditions=name, n_bodies=n_bodies, **QUIET)
    envs = [gymnasium.make("ThreeBody-v0", initial_conditions=name, n_bodies=n_bodies, **QUIET)
            for _ in range(num_envs)]
    obs, _ = venv.reset(seed=seed)
    assert venv.unwrapped.systems.pos.shape == (num_envs, n_bodies, 3)
    for i, env in enumerate(envs):
        np.testing.assert_array_equal(obs[i], env.reset(seed=seed + i)[0])
    venv.action_space.seed(seed)
    for _ in range(6):
        actions = venv.action_space.sample()
        obs, rewards, terminated, _, info = venv.step(actions)
        for i, env in enumerate(envs):
            single_obs, single_reward, single_terminated, _, single_info = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs)
            assert rewards[i] == single_reward and terminated[i] == single_terminated
            assert info["energy_error"][i] == single_info["energy_error"]
            assert info["n_force_evals"][i] == single_info["n_force_evals"]


def test_step_budget_bounds_a_huge_interval():
    """A 32-star cluster asked for 40 crossing times per interval with a 300-step budget: reset's reference cost
    and every step stop at the budget (status "max_steps", a failure) instead of running on."""
    budget = 300
    env = ThreeBodyEnv(initial_conditions="plummer", n_bodies=32, interval=40 * 2 * np.sqrt(2),
                       max_integrator_steps=budget, **QUIET)
    env.reset(seed=0)
    assert env._systems.reference_cost[0] <= budget + 1
    _, _, terminated, _, info = env.step(0)
    assert info["status"] == "max_steps" and info["n_steps"] == budget and terminated
