"""The meta environment: the action picks (method, parameter); state carried within a method, restarted on a switch;
the torch-free controller and the deployed loop follow a switching policy bit for bit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import integrators
import threebody_env  # noqa: F401  # registers the ids
from agents.algorithms import ALGOS
from agents.export import export_model
from agents.rollout import rollout
from controller import Controller
from threebody_env import ThreeBodyEnv, ThreeBodyVectorEnv
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig
from threebody_env.deployment import deployed_episodes
from threebody_env.sb3 import make_sb3_vec_env

META = {"integrator": ["hermite", "ias15"]}
HERMITE_ACTIONS, IAS15_ACTIONS = 7, 19


def test_actions_are_each_methods_grid_concatenated():
    config = EnvConfig(**META)
    actions = ActionMap(config)
    assert config.integrator == ("hermite", "ias15") and config.n_actions == HERMITE_ACTIONS + IAS15_ACTIONS
    assert actions.space == gym.spaces.Discrete(26)
    hermite = ActionMap(EnvConfig(integrator="hermite")).values
    ias15 = ActionMap(EnvConfig(integrator="ias15")).values
    np.testing.assert_array_equal(actions.values, np.concatenate([hermite, ias15]))
    np.testing.assert_array_equal(actions.method_of, [0] * HERMITE_ACTIONS + [1] * IAS15_ACTIONS)
    assert actions.to_param(0) == 1e-3 and actions.to_method(0) == 0
    assert actions.to_param(7) == pytest.approx(1e-10) and actions.to_method(np.int64(7)) == 1
    assert actions.to_param(25) == pytest.approx(1e-4) and actions.to_method(25) == 1
    np.testing.assert_array_equal(actions.to_methods(np.array([6, 7, 0])), [0, 1, 0])
    for bad in (26, -1, 1.5, True, [0, 1]):
        with pytest.raises(ValueError):
            actions.to_param(bad)
    with pytest.raises(ValueError, match="discrete actions"):
        actions.to_params(np.array([0, 26]))


@pytest.mark.parametrize("settings, match", [
    ({"integrator": ["hermite"]}, "two or more"),
    ({"integrator": ["hermite", "hermite"]}, "two or more distinct"),
    ({"integrator": ["hermite", "nope"]}, "unknown"),
    ({"integrator": 3}, "unknown"),
    ({**META, "action_mode": "continuous"}, "discrete"),
    ({**META, "param_range": (1e-4, 1e-1)}, "default grid"),
    ({**META, "n_actions": 5}, "default grid"),
    ({**META, "observation": "paper"}, "which method"),
])
def test_bad_method_lists_are_refused_in_one_line(settings, match):
    with pytest.raises(ValueError, match=match):
        EnvConfig(**settings)


def test_observation_and_info_say_which_method_ran_last():
    env = gym.make("ThreeBodyMeta-v0")
    assert env.observation_space.shape == (7,)
    obs, info = env.reset(seed=3)
    assert obs[-1] == -1.0 and info["method"] == "hermite"  # the first method at reset
    obs, _, _, _, info = env.step(7 + 3)  # IAS15, epsilon = 1e-9
    assert info["method"] == "ias15" and info["param"] == pytest.approx(1e-9) and obs[-1] == 1.0
    # the parameter's feature is its place in IAS15's own range [1e-10, 1e-4]
    assert obs[3] == pytest.approx(2 * (np.log10(1e-9) + 10) / 6 - 1, abs=1e-6)
    obs, _, _, _, info = env.step(HERMITE_ACTIONS - 1)  # Hermite, eta = 0.1: the top of Hermite's range
    assert info["method"] == "hermite" and obs[-1] == -1.0 and obs[3] == pytest.approx(1.0)
    single = gym.make("ThreeBody-v0")
    assert single.observation_space.shape == (6,) and "method" not in single.reset(seed=3)[1]
    env.close()
    single.close()


def test_state_is_carried_within_a_method_and_restarted_on_a_switch():
    """The env's states equal a loop that carries each method's state record while the method stays and
    starts the method afresh on a switch; carrying IAS15's state differs from restarting it (the check can fail)."""
    env = ThreeBodyEnv(**META)
    env.reset(seed=11)
    pos, vel, mass = (x.copy() for x in (env.unwrapped._systems.pos[0], env.unwrapped._systems.vel[0],
                                         env.unwrapped._systems.mass[0]))
    actions = [10, 10, 10, 2, 2, 12, 12, 0, 10]
    config = env.config
    values, methods = ActionMap(config).values, ActionMap(config).method_of
    state = np.zeros(integrators.state_size(3))
    restarted_pos = pos.copy()
    restarted_vel = vel.copy()
    last = 0
    for k, action in enumerate(actions):
        env.step(action)
        method_id = config.methods[methods[action]].method_id
        if k > 0 and methods[action] != last:
            state[:] = 0.0
        integrators.advance_kernel(method_id, pos, vel, mass, config.interval, values[action], 0.0,
                                   config.max_integrator_steps, state)
        integrators.evolve_kernel(method_id, restarted_pos, restarted_vel, mass, config.interval, values[action],
                                  0.0, config.max_integrator_steps)
        last = methods[action]
        np.testing.assert_array_equal(env._systems.pos[0], pos)
        np.testing.assert_array_equal(env._systems.vel[0], vel)
    assert not np.array_equal(pos, restarted_pos), "carrying IAS15's state should change its steps"


def test_the_batch_runs_each_system_as_a_single_environment():
    """One call per method over the systems that chose it gives each system its single env's result."""
    rng = np.random.default_rng(5)
    actions = rng.integers(0, 26, size=(12, 4))
    vec = ThreeBodyVectorEnv(4, **META)
    vec.reset(seed=100)
    singles = [ThreeBodyEnv(**META) for _ in range(4)]
    for i, env in enumerate(singles):
        env.reset(seed=100 + i)
    for row in actions:
        obs, rewards, _, _, infos = vec.step(row)
        for i, env in enumerate(singles):
            o, r, _, _, info = env.step(int(row[i]))
            np.testing.assert_array_equal(obs[i], o)
            assert rewards[i] == r and infos["method"][i] == info["method"]
            assert infos["energy_error"][i] == info["energy_error"]


@pytest.fixture(scope="module")
def switching_policy(tmp_path_factory):
    """A linear DQN Q-network on the meta observation whose method depends on the method feature and the
    time scale: it switches methods in some intervals and keeps them in others. (SB3 model, controller file)."""
    model = ALGOS["dqn"]("MlpPolicy", make_sb3_vec_env(2, **META), seed=4, device="cpu",
                         policy_kwargs={"net_arch": []})
    with torch.no_grad():
        layer = model.q_net.q_net[0]
        layer.weight.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(0))
        layer.weight[:HERMITE_ACTIONS, -1] += 1.0  # after IAS15, prefer Hermite; after Hermite, IAS15...
        layer.weight[HERMITE_ACTIONS:, -1] -= 1.0
        layer.weight[:HERMITE_ACTIONS, 0] -= 2.0  # ...unless the time scale says otherwise
        layer.weight[HERMITE_ACTIONS:, 0] += 2.0
    path = export_model(model, META, tmp_path_factory.mktemp("meta") / "meta.npz", env_id="ThreeBodyMeta-v0")
    return model, path


def test_controller_decides_as_sb3_and_names_the_method(switching_policy):
    model, path = switching_policy
    controller = Controller.load(path)
    vec = ThreeBodyVectorEnv(32, **META)
    obs, _ = vec.reset(seed=200)
    methods = set()
    for _ in range(30):
        expected, _ = model.predict(obs, deterministic=True)
        np.testing.assert_array_equal(controller.actions(obs), expected)
        for o, a in zip(obs[:4], expected[:4], strict=True):
            method, param = controller.decision(o)
            assert method == ("hermite" if a < HERMITE_ACTIONS else "ias15") and param == vec.actions.values[a]
            methods.add(method)
        obs, *_ = vec.step(expected)
    assert methods == {"hermite", "ias15"}
    assert controller.methods == ["hermite", "ias15"]


def test_deployed_episodes_of_a_switching_policy_end_as_the_environment(switching_policy):
    controller = Controller.load(switching_policy[1])
    seeds = [3_000_000 + i for i in range(6)]
    expected = rollout(controller, seeds, env_kwargs=META, n_intervals=60)
    got = deployed_episodes(controller, seeds, n_intervals=60)
    np.testing.assert_array_equal(got.final_energy_error, expected.final_energy_error)
    np.testing.assert_array_equal(got.force_evals, expected.force_evals)
    np.testing.assert_array_equal(got.intervals, expected.intervals)
    assert got.switches.sum() >= 20 and np.all(got.switches < got.intervals - 1), "it should switch and stay"


def test_your_own_loop_with_the_observer_follows_a_switching_policy_as_the_environment(switching_policy):
    """The user's loop: Observer, Controller.decision, advance_kernel with the method it names (state zeroed by
    the record's owner check on a switch): the observations are the environment's, bit for bit."""
    controller = Controller.load(switching_policy[1])
    env = ThreeBodyEnv(**META)
    obs, _ = env.reset(seed=3_000_002)
    pos, vel, mass = (x.copy() for x in (env._systems.pos[0], env._systems.vel[0], env._systems.mass[0]))
    observer = controller.observer(pos, vel, mass)
    settings = controller.episode_settings
    state = np.zeros(integrators.state_size(3))
    for _ in range(40):
        mine = observer.observe(pos, vel)
        np.testing.assert_array_equal(mine, obs)
        method, param = controller.decision(mine)
        index = controller.methods.index(method)
        _, evals, status = integrators.advance_kernel(integrators.METHODS[method].method_id, pos, vel, mass,
                                                      settings.interval, param, settings.softening,
                                                      settings.max_integrator_steps, state)
        observer.record(pos, vel, evals, param, status, method=index)
        obs, _, terminated, _, _ = env.step(controller.action(mine))
        if terminated:
            break
