"""The code recipes of docs/ run and do what their pages say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from controller import Controller
from controller.network import RELU
from threebody_env.config import EnvConfig
from threebody_env.deployment import deployed_episodes, episode_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def recipe(page: str, name: str) -> str:
    """The Python block that follows ``<!-- recipe: name -->`` on a docs page."""
    text = (DOCS / page).read_text()
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\s*```python\n(.*?)```", text, re.S)
    assert found, f"{page} has no recipe {name!r}"
    return found.group(1)


def random_controller(env_kwargs: dict, seed: int = 5) -> Controller:
    """A 6-16-K ReLU network with random weights in the settings ``env_kwargs``: varied, repeatable decisions."""
    config = EnvConfig(**env_kwargs)
    rng = np.random.default_rng(seed)
    n_actions = config.n_actions
    sizes = np.array([6, 16, n_actions])
    weights = np.zeros((2, 16, 16), dtype=np.float32)
    weights[0, :16, :6] = rng.normal(size=(16, 6))
    weights[1, :n_actions, :16] = rng.normal(size=(n_actions, 16))
    arrays = {"sizes": sizes, "weights": weights, "biases": rng.normal(size=(2, 16)).astype(np.float32),
              "norm_weights": np.zeros((2, 16)), "norm_biases": np.zeros((2, 16)),
              "activations": np.array([RELU, 0]), "norm_eps": np.zeros(2),
              "values": np.logspace(*np.log10(config.param_range), n_actions),
              "log_range": np.log10(config.param_range)}
    metadata = {"algo": "dqn", "env_kwargs": env_kwargs, "observation": config.observation,
                "integrator": config.integrator, "episode": episode_settings(config).to_dict()}
    return Controller(arrays, metadata)


@pytest.mark.parametrize("env_kwargs", [{"param_range": (0.003, 0.1)},
                                        {"param_range": (0.003, 0.1), "max_energy_error": 1e-10}])
def test_own_loop_recipe_reproduces_deployed_episodes_bit_for_bit(env_kwargs, tmp_path):
    path = Controller.save(random_controller(env_kwargs), tmp_path / "controller.npz")
    ctl = Controller.load(path)
    namespace: dict = {}
    exec(compile(recipe("deploying.md", "own-loop"), "docs/deploying.md", "exec"), namespace)
    seeds = [2_000_000, 2_000_001, 2_000_002]
    expected = deployed_episodes(ctl, seeds, n_intervals=40)
    got = np.array([namespace["my_episode"](ctl, seed, 40) for seed in seeds], dtype=object)
    np.testing.assert_array_equal(got[:, 0].astype(float), expected.final_energy_error)
    np.testing.assert_array_equal(got[:, 1].astype(int), expected.force_evals)
    np.testing.assert_array_equal(got[:, 2].astype(int), expected.intervals)
    if "max_energy_error" in env_kwargs:
        assert np.any(expected.intervals < 40), "the error limit should end some episodes early"


def test_observer_switches_parameters_and_refuses_recording_after_the_end():
    """The random policy decides differently along an episode (so the recipe's test tests the bookkeeping
    every feature reads), and an ended episode is not booked further."""
    import integrators

    ctl = random_controller({"param_range": (0.003, 0.1)})
    pos, vel, mass = EnvConfig().sampler(np.random.default_rng(2_000_000))
    observer = ctl.observer(pos, vel, mass)
    first = observer.observe(pos, vel)
    assert first.dtype == np.float32 and first.shape == (6,)
    assert observer.reference_cost > 1 and observer.energy_error == 0.0
    etas = []
    for _ in range(40):
        etas.append(ctl.parameter(observer.observe(pos, vel)))
        result = integrators.evolve("hermite", pos, vel, mass, ctl.episode_settings.interval, etas[-1])
        pos, vel = result.pos, result.vel
        observer.record(pos, vel, result.n_force_evals, etas[-1], result.status)
    assert len(set(etas)) >= 2 and observer.intervals == 40 and 0 < abs(observer.energy_error) < 1e-6
    observer.record(pos * 1.001, vel, 100, 0.01)  # an error of ~1e-3: inside the 0.1 limit
    assert not observer.failed
    observer.record(pos * 2.0, vel * 3.0, 100, 0.01)  # energy far from E0: the environment would end here
    assert observer.failed and observer.intervals == 42 and abs(observer.energy_error) > 0.1
    with pytest.raises(ValueError, match="ended"):
        observer.record(pos, vel, 100, 0.01)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        observer.observe(pos[:2], vel[:2])
