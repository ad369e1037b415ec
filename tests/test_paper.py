"""The paper's environment id, its agent and the reproduction (reproduce.py, agents/paper.py)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

import threebody_env
from agents.algorithms import ALGOS
from agents.export import controller_from_model
from agents.paper import Plan, reproduce
from agents.policies import SharedLayerMlp
from agents.rollout import rollout
from agents.training import algo_kwargs, load_hyperparams
from threebody_env.config import EnvConfig
from threebody_env.deployment import deployed_episodes
from threebody_env.rewards import paper_reward
from threebody_env.sb3 import make_sb3_vec_env

VERDICTS = {"holds", "holds in part", "does not hold"}


def test_the_paper_id_has_the_papers_settings():
    env = gym.make("ThreeBodyPaper-v0")
    config = env.unwrapped.config
    assert env.observation_space.shape == (13,)
    assert env.action_space == gym.spaces.Discrete(10)
    np.testing.assert_allclose(env.unwrapped.actions.values, [10.0 ** (-4 + k / 3) for k in range(10)], rtol=1e-12)
    assert env.spec.max_episode_steps == threebody_env.TRAINING_EPISODE_STEPS == 100
    assert threebody_env.EVALUATION_EPISODE_STEPS == 300
    assert (config.integrator, config.observation, config.reward) == ("hermite", "paper", "paper")
    assert config.paper_weights == (3000.0, 4.0) and config.max_energy_error == 0.1
    assert config.initial_conditions == "paper"
    obs, _ = env.reset(seed=3)
    assert obs.shape == (13,) and obs[12] == 16.0  # -log10 of the 1e-16 floor at reset, not 0 (total failure)


def _reward(error: float, interval: int, param: float) -> float:
    config = EnvConfig(**threebody_env.PAPER_SETTINGS)
    systems = SimpleNamespace(config=config, energy_error=np.array([error]), intervals=np.array([interval]),
                              param=np.array([param]))
    return float(paper_reward(systems, np.array([False]))[0])


@pytest.mark.parametrize(("error", "interval", "param", "expected"), [
    # -3000 (log10 e + 10) / (|log10 e|^3 i) + 4 / |log10 mu|, worked out by hand
    (1e-12, 2, 1e-3, 3000 * 2 / 1728 / 2 + 4 / 3),  # below 1e-10 the error term pays: 1.7361 + 1.3333
    (-1e-6, 4, 0.1, -3000 * 4 / 216 / 4 + 4.0),  # the sign of dE does not matter: -13.889 + 4
    (1e-10, 5, 1e-4, 1.0),  # at 1e-10 the error term vanishes, mu = 1e-4 earns 4 / 4
    (0.5, 2, 1e-2, -3000 * 9 / 1 / 2 + 2.0),  # errors past the 0.1 limit count as 0.1 (the original is singular at 1)
    (1e-12, 1, 1e-3, 0.0),  # the first interval earns nothing
])
def test_the_paper_reward_at_hand_computed_points(error, interval, param, expected):
    assert _reward(error, interval, param) == pytest.approx(expected, rel=1e-12)


def _paper_model(seed: int = 0):
    """A fresh DQN of dqn.yml's ThreeBodyPaper-v0 entry."""
    params = load_hyperparams("dqn", "ThreeBodyPaper-v0", {"learning_starts": 0})
    env = make_sb3_vec_env(2, **threebody_env.PAPER_SETTINGS)
    return ALGOS["dqn"](params["policy"], env, seed=seed, device="cpu", **algo_kwargs(params, "dqn", "adam"))


def test_the_paper_agent_shares_one_layer_nine_times():
    model = _paper_model()
    extractor = model.q_net.features_extractor
    assert isinstance(extractor, SharedLayerMlp)
    linears = [m for m in extractor.net if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 10 and all(m is linears[1] for m in linears[1:])
    assert sum(p.numel() for p in model.q_net.parameters()) == 13 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10
    assert isinstance(model.policy.optimizer, torch.optim.AdamW) and model.policy.optimizer.defaults["amsgrad"]
    assert (model.gamma, model.tau, model.batch_size, model.buffer_size) == (0.99, 0.005, 128, 10_000)
    # the optimizer sees the shared layer once: 6 tensors (3 weights, 3 biases), not 22
    assert sum(len(group["params"]) for group in model.policy.optimizer.param_groups) == 6


def test_the_paper_agent_deploys_as_it_acts_in_the_environment():
    """The exported controller (shared layer unrolled) computes the paper's observation and ends episodes
    exactly as the environment does with the same controller."""
    model = _paper_model(seed=5)
    controller = controller_from_model(model, dict(threebody_env.PAPER_SETTINGS), env_id="ThreeBodyPaper-v0")
    seeds = [2_000_000, 2_000_001, 2_000_002]
    expected = rollout(controller, seeds, env_kwargs=dict(threebody_env.PAPER_SETTINGS), n_intervals=20)
    got = deployed_episodes(controller, seeds, n_intervals=20)
    np.testing.assert_array_equal(got.final_energy_error, expected.final_energy_error)
    np.testing.assert_array_equal(got.force_evals, expected.force_evals)
    observations = np.random.default_rng(1).normal(size=(256, 13)).astype(np.float32)
    with torch.no_grad():
        q = model.q_net(torch.as_tensor(observations)).numpy()
    top2 = np.sort(q, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5 * np.abs(top2[:, 1])
    actions = np.array([controller.action(o) for o in observations])
    np.testing.assert_array_equal(actions[clear], q.argmax(axis=1)[clear])


@pytest.mark.slow
def test_reproduce_end_to_end(tmp_path):
    """A tiny run of every stage: training both agents, evaluation, transfer, figures, summary and verdicts."""
    plan = Plan(n_timesteps=32, project_timesteps=32, n_ics=3, n_intervals=4, transfer_n_ics=2,
                transfer_n_intervals=3, eval_freq=0, eval_episodes=0)
    document = reproduce(plan, tmp_path, progress=False)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["claims"] == json.loads(json.dumps(document["claims"]))
    assert [c["claim"][:2] for c in written["claims"]] == ["1.", "2.", "3.", "4."]
    assert all(c["verdict"] in VERDICTS for c in written["claims"])
    assert len(written["fixed"]) == 10 and len(written["default"]) == 1 and written["policy"]["role"] == "policy"
    assert len(written["ias15"]) == 19  # the union front: IAS15's grid beside the paper's 10 mu
    assert written["default"][0]["method"] == "eta=0.03 (default)"
    assert [r["method"] for r in written["transfer"]] == ["hermite_aarseth", "adaptive_leapfrog", "dopri5", "ias15",
                                                          "leapfrog", "yoshida4"]
    for method in written["transfer"]:  # the policy itself ran on each method, not on Hermite with its range
        report = json.loads((tmp_path / "transfer" / method["method"] / "paper" / "summary.json").read_text())
        assert next(m for m in report["methods"] if m["role"] == "policy")["integrator"] == method["method"]
    assert written["project_policy"]["n_actions"] == 7 and written["project_policy"]["episodes"] == 3
    assert set(written["seconds"]) >= {"train_paper_agent", "train_project_agent", "evaluate", "transfer"}
    for name in ("error_cost.png", "trajectories.png", "transfer.png", "transfer.md", "evaluation/summary.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    claim1 = written["claims"][0]["ours"]
    assert math.isfinite(claim1["rl_over_cheapest_force_evals"]) and claim1["deployed_wall_time_per_run_median_s"]


@pytest.mark.parametrize("argv", [["--n-ics", "0"], ["--no-project", "--project-run", "."],
                                  ["--paper-run", "no/such/run"]])
def test_reproduce_cli_rejects_bad_arguments(argv, capsys):
    spec = importlib.util.spec_from_file_location("reproduce", Path(__file__).resolve().parents[1] / "reproduce.py")
    assert spec is not None and spec.loader is not None
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    with pytest.raises(SystemExit) as error:
        cli.main(argv)
    assert error.value.code == 2
    assert "error:" in capsys.readouterr().err
