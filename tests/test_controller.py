"""The exported controller: same decisions as SB3's predict, torch-free, deployed episodes equal to the env's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from numba import njit

from agents.algorithms import ALGOS
from agents.baselines import FixedActionPolicy
from agents.export import export_model, export_run
from agents.export import main as export_main
from agents.rollout import rollout
from agents.train_cli import main as train_main
from controller import Controller, controller_path
from controller.network import decide
from threebody_env import ThreeBodyVectorEnv
from threebody_env.actions import ActionMap
from threebody_env.config import EnvConfig
from threebody_env.deployment import deployed_episodes
from threebody_env.sb3 import make_sb3_vec_env

ROOT = Path(__file__).resolve().parents[1]
#: Large eta only, so that rollouts of barely trained policies integrate cheaply.
ENV_KWARGS = {"param_range": [0.01, 0.1]}
#: Tiny training runs through train.py (which exports their controllers): the default DQN network and AdamP's,
#: on short episodes with a narrow error window, which give barely trained networks varied decisions to compare.
TRAINED = {
    "dqn": (["-n", "1500"], ["policy_kwargs:dict(net_arch=[64, 64])"]),
    "dqn-adamp": (["-n", "400", "--optimizer", "adamp"], []),
}
#: Freshly initialised models of the other algorithms, exported directly: (algorithm, action mode).
FRESH = {"ppo": ("ppo", "discrete"), "a2c": ("a2c", "discrete"), "ppo-box": ("ppo", "continuous"),
         "sac": ("sac", "continuous"), "td3": ("td3", "continuous")}
N_OBSERVATIONS = 10_240  # 64 systems x 160 intervals


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The run folders of :data:`TRAINED`, trained once per module."""
    folder = tmp_path_factory.mktemp("runs")
    out = {}
    for key, (extra, params) in TRAINED.items():
        train_main(["--algo", "dqn", "-f", str(folder / key), "--n-envs", "8", "--eval-freq", "0", "--no-progress",
                    "--env-kwargs", "param_range:(0.01,0.1)", "target_error:1e-12", "error_ceiling:1e-10", *extra,
                    "-params", "learning_starts:100", "batch_size:32", "gradient_steps:1", "episode_intervals:100",
                    *params])
        out[key] = folder / key / "dqn" / "ThreeBody-v0_1"
    return out


@pytest.fixture(scope="module")
def policies(runs, tmp_path_factory) -> dict[str, tuple[object, Path]]:
    """Every tested policy as (SB3 model, controller file): the trained runs and the fresh models."""
    folder = tmp_path_factory.mktemp("fresh")
    out = {key: (ALGOS["dqn"].load(run / "model.zip", device="cpu"), run / "controller.npz")
           for key, run in runs.items()}
    for key, (algo, mode) in FRESH.items():
        env_kwargs = {**ENV_KWARGS, "action_mode": mode}
        model = ALGOS[algo]("MlpPolicy", make_sb3_vec_env(2, **env_kwargs), seed=3, device="cpu")
        out[key] = (model, export_model(model, env_kwargs, folder / f"{key}.npz"))
    return out


def rollout_observations(model, env_kwargs: dict, n_envs: int = 64, n_intervals: int = 160) -> np.ndarray:
    """Observations met by ``model`` acting deterministically on the validation-free training stream (seed 7)."""
    env = ThreeBodyVectorEnv(num_envs=n_envs, max_episode_steps=100, autoreset_mode=AutoresetMode.SAME_STEP,
                             **env_kwargs)
    obs, _ = env.reset(seed=7)
    seen = []
    for _ in range(n_intervals):
        seen.append(obs)
        actions, _ = model.predict(obs, deterministic=True)
        obs, *_ = env.step(actions)
    return np.concatenate(seen)


@pytest.mark.parametrize("key", [*TRAINED, *FRESH])
@pytest.mark.slow
def test_controller_decides_as_sb3_predict_on_rollout_observations(policies, key):
    model, path = policies[key]
    controller = Controller.load(path)
    algo = controller.metadata["algo"]
    env_kwargs = controller.metadata["env_kwargs"]
    obs = rollout_observations(model, env_kwargs)
    assert obs.shape == (N_OBSERVATIONS, controller.observation_size)
    expected, _ = model.predict(obs, deterministic=True)
    got = controller.actions(obs)
    actions = ActionMap(EnvConfig(**env_kwargs))
    if controller.discrete:
        assert got.dtype == np.int64 and got.shape == expected.shape
        differ = np.flatnonzero(got != expected)
        if differ.size:  # only near-ties may differ: SB3's top two outputs equal within float32 rounding
            top_two = np.sort(_network_outputs(model, algo, obs[differ]), axis=1)[:, -2:]
            assert np.all(top_two[:, 1] - top_two[:, 0] <= 1e-5 * np.maximum(1.0, np.abs(top_two[:, 1])))
        assert differ.size <= N_OBSERVATIONS // 1000, f"{differ.size} of {N_OBSERVATIONS} decisions differ"
        assert len(np.unique(expected)) >= 2, "a policy that always picks one action tests little"
        same = got == expected
        np.testing.assert_array_equal(controller.parameters(obs)[same], actions.to_params(expected)[same])
    else:
        assert got.shape == expected.shape == (N_OBSERVATIONS, 1)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert np.ptp(expected) > 1e-3, "a policy with one constant action tests little"
        np.testing.assert_allclose(controller.parameters(obs), actions.to_params(expected), rtol=1e-4)
    # one observation at a time, from compiled code, and in float64, the controller agrees with its batch
    rows = obs[:: N_OBSERVATIONS // 16]
    singles = np.array([controller.action(row) for row in rows])
    np.testing.assert_array_equal(singles, got[:: N_OBSERVATIONS // 16].reshape(singles.shape))
    compiled = np.array([_compiled_parameter(controller.policy, row) for row in rows])
    np.testing.assert_array_equal(compiled, controller.parameters(rows))
    wide = Controller.load(path, dtype=np.float64)
    if controller.discrete:
        assert np.mean(wide.actions(obs) == got) > 0.999
    else:
        np.testing.assert_allclose(wide.actions(obs), got, rtol=1e-5, atol=1e-6)


def _network_outputs(model, algo: str, obs: np.ndarray) -> np.ndarray:
    """SB3's Q-values (DQN) or action logits (PPO, A2C), float32, for a batch of observations."""
    with torch.no_grad():
        tensor = torch.as_tensor(obs)
        if algo == "dqn":
            return model.policy.q_net(tensor).numpy()
        return model.policy.get_distribution(tensor).distribution.logits.numpy()


@njit
def _compiled_parameter(policy, observation):
    status, _, parameter = decide(policy, observation)
    return parameter if status == 0 else -1.0


@pytest.mark.parametrize("key", [*TRAINED, *FRESH])
@pytest.mark.slow
def test_onnx_graph_decides_as_the_numba_controller_on_rollout_observations(policies, key, tmp_path):
    """ONNX Runtime on the exported graph: the Numba controller's actions and parameters on >= 1e4 observations."""
    ort = pytest.importorskip("onnxruntime")
    from controller.onnx_export import METADATA_KEY, save_onnx

    model, path = policies[key]
    controller = Controller.load(path)
    obs = rollout_observations(model, controller.metadata["env_kwargs"])
    assert obs.shape[0] >= 10_000
    session = ort.InferenceSession(str(save_onnx(controller, tmp_path / "controller.onnx")),
                                   providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY]) == controller.metadata
    action, parameter = session.run(["action", "parameter"], {"observation": obs.astype(np.float32)})
    assert parameter.dtype == np.float64 and parameter.shape == (obs.shape[0],)
    expected, expected_parameter = controller.actions(obs), controller.parameters(obs)
    if controller.discrete:
        assert action.dtype == np.int64
        differ = np.flatnonzero(action != expected)
        if differ.size:  # only near-ties may differ: the two runtimes sum the dense layers in different orders
            top_two = np.sort(_network_outputs(model, controller.metadata["algo"], obs[differ]), axis=1)[:, -2:]
            assert np.all(top_two[:, 1] - top_two[:, 0] <= 1e-5 * np.maximum(1.0, np.abs(top_two[:, 1])))
        assert differ.size <= obs.shape[0] // 1000, f"{differ.size} of {obs.shape[0]} decisions differ"
        same = action == expected
        np.testing.assert_array_equal(parameter[same], expected_parameter[same])
    else:
        np.testing.assert_allclose(action, expected[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(parameter, expected_parameter, rtol=1e-4)


@pytest.mark.slow
def test_export_cli_onnx_writes_a_graph_beside_each_controller(runs, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("args.yml", "model.zip"):
        (run / name).write_bytes((runs["dqn"] / name).read_bytes())
    export_main([str(run), "--onnx"])
    assert sorted(p.name for p in run.iterdir()) == ["args.yml", "controller.npz", "controller.onnx", "model.zip"]


@pytest.mark.slow
def test_load_of_a_run_folder_gives_the_evaluated_model_and_the_final_one_stays_loadable(runs, tmp_path):
    """``Controller.load(run)`` is the controller of the model evaluate.py evaluates: best_model.zip's when present."""
    from agents.evaluation.runs import load_run

    run = tmp_path / "run"
    run.mkdir()
    final_run, best_run = runs["dqn"], runs["dqn-adamp"]  # two different networks stand for the final and best
    for name, source in {"args.yml": final_run / "args.yml", "model.zip": final_run / "model.zip",
                         "controller.npz": final_run / "controller.npz", "best_model.zip": best_run / "model.zip",
                         "best_controller.npz": best_run / "controller.npz"}.items():
        (run / name).write_bytes(source.read_bytes())
    evaluated = load_run(run).model_path
    assert evaluated == run / "best_model.zip"
    deployed, best, final = (Controller.load(p) for p in (run, controller_path(evaluated), run / "controller.npz"))
    assert deployed.policy[6].max() > 0 and final.policy[6].max() == 0  # AdamP's LayerNorm network vs the default
    for a, b in zip(deployed.policy, best.policy, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Controller.load(run / "model.zip").policy[1], final.policy[1])
    (run / "best_controller.npz").unlink()  # a run without validation has only the final model
    np.testing.assert_array_equal(Controller.load(run).policy[1], final.policy[1])


@pytest.mark.slow
def test_run_folder_has_both_controllers_and_export_run_rewrites_them(runs):
    run = runs["dqn"]
    assert controller_path(run / "model.zip") == run / "controller.npz"
    assert controller_path(run / "best_model.zip") == run / "best_controller.npz"
    (run / "controller.npz").unlink()
    assert export_run(run) == [run / "controller.npz"]  # no validation in the tiny run: no best_model.zip
    controller = Controller.load(run / "model.zip")
    meta = controller.metadata
    assert meta["algo"] == "dqn" and meta["observation"] == "summary" and meta["integrator"] == "hermite"
    assert meta["env_kwargs"]["param_range"] == [0.01, 0.1] and meta["episode"]["method_id"] == 0
    np.testing.assert_array_equal(controller.policy[7], np.logspace(-2, -1, 4))
    assert "6-64-64-4" in repr(controller)


@pytest.mark.slow
def test_importing_and_using_the_controller_leaves_torch_sb3_and_gymnasium_out(runs):
    code = f"""
import sys
import numpy as np
from controller import Controller, EpisodeSettings, run_episode
ctl = Controller.load({str(runs["dqn"])!r})
obs = np.zeros(6, dtype=np.float32)
assert 0.01 <= ctl.parameter(obs) <= 0.1 and ctl.parameters(np.zeros((4, 6))).shape == (4,)
settings = EpisodeSettings.from_dict(ctl.metadata["episode"])
pos = np.array([[0.0, 0, 0], [10, 5, 0], [-5, 10, 0]]); vel = np.zeros((3, 3)); mass = np.ones(3) / 3
result = run_episode(ctl.policy, (pos, vel, mass), 3, settings)
assert result.intervals == 3 and result.force_evals > 0, result
loaded = sorted(m for m in ("torch", "stable_baselines3", "gymnasium") if m in sys.modules)
print(loaded)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("key", ["dqn", "sac"])
@pytest.mark.slow
def test_deployed_episodes_end_as_the_environment_with_the_same_policy(policies, key):
    controller = Controller.load(policies[key][1])
    seeds = [2_000_000, 2_000_001, 2_000_002, 2_000_003]
    env_kwargs = controller.metadata["env_kwargs"]
    expected = rollout(controller, seeds, env_kwargs=env_kwargs, n_intervals=40)
    got = deployed_episodes(controller, seeds, n_intervals=40)
    np.testing.assert_array_equal(got.final_energy_error, expected.final_energy_error)
    np.testing.assert_array_equal(got.force_evals, expected.force_evals)
    np.testing.assert_array_equal(got.intervals, expected.intervals)
    assert np.all(got.wall_time > 0) and list(got.seeds) == seeds


@pytest.mark.parametrize("env_kwargs", [{}, {"max_energy_error": 1e-9}])
def test_deployed_fixed_parameter_episodes_end_as_the_environment(env_kwargs):
    """The fixed-parameter loop, including episodes the error limit ends early."""
    seeds = [2_000_010, 2_000_011, 2_000_012]
    kwargs = {"param_range": (0.01, 0.1), **env_kwargs}
    values = ActionMap(EnvConfig(**kwargs)).values
    expected = rollout(FixedActionPolicy(2, "fixed"), seeds, env_kwargs=kwargs, n_intervals=60)
    got = deployed_episodes(float(values[2]), seeds, env_kwargs=kwargs, n_intervals=60)
    np.testing.assert_array_equal(got.final_energy_error, expected.final_energy_error)
    np.testing.assert_array_equal(got.force_evals, expected.force_evals)
    np.testing.assert_array_equal(got.intervals, expected.intervals)
    if env_kwargs:
        assert np.any(got.intervals < 60), "the error limit should end some episodes early"


@pytest.mark.slow
def test_bad_observations_are_named(runs):
    controller = Controller.load(runs["dqn"])
    with pytest.raises(ValueError, match=r"shape \(5,\); this controller expects \(6,\)"):
        controller.parameter(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(1, 6\)"):
        controller.action(np.zeros((1, 6)))
    with pytest.raises(ValueError, match=r"observation\[2\] = nan is not finite"):
        controller.parameter(np.array([0, 0, np.nan, 0, 0, 0], dtype=np.float32))
    batch = np.zeros((4, 6))
    batch[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"observation row 3\[1\] = inf is not finite"):
        controller.parameters(batch)
    with pytest.raises(ValueError, match="real numbers"):
        controller.parameter(np.array(["a"] * 6))
    assert controller.parameter([0, 0, 0, 0, 0, 0]) == controller.parameter(np.zeros(6, dtype=np.float32))


@pytest.mark.slow
def test_missing_and_corrupt_files_give_one_clear_error(tmp_path, runs):
    with pytest.raises(FileNotFoundError, match="no controller at"):
        Controller.load(tmp_path)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="cannot read controller"):
        Controller.load(corrupt)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="is not a controller file"):
        Controller.load(foreign)
    with np.load(runs["dqn"] / "controller.npz") as data:
        arrays = {name: data[name] for name in data.files}
    arrays["weights"] = arrays["weights"][:, :10]
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    with pytest.raises(ValueError, match="weights has shape"):
        Controller.load(broken)
    arrays = {name: data for name, data in np.load(runs["dqn"] / "controller.npz").items()}
    arrays["metadata"] = np.array("{not json")
    np.savez(broken, **arrays)
    with pytest.raises(ValueError, match="no readable metadata"):
        Controller.load(broken)


@pytest.mark.slow
def test_unsupported_policies_are_refused_by_name(tmp_path, runs):
    env_kwargs = ENV_KWARGS
    vec = make_sb3_vec_env(1, **env_kwargs)
    elu = ALGOS["dqn"]("MlpPolicy", vec, policy_kwargs={"activation_fn": torch.nn.ELU}, device="cpu")
    with pytest.raises(ValueError, match="cannot export the layer ELU"):
        export_model(elu, env_kwargs, tmp_path / "elu.npz")
    box = make_sb3_vec_env(1, action_mode="continuous", **env_kwargs)
    sde = ALGOS["sac"]("MlpPolicy", box, use_sde=True, device="cpu")
    with pytest.raises(ValueError, match="gSDE"):
        export_model(sde, {**env_kwargs, "action_mode": "continuous"}, tmp_path / "sde.npz")
    dqn = ALGOS["dqn"]("MlpPolicy", vec, device="cpu")
    with pytest.raises(ValueError, match="does not match env_kwargs"):
        export_model(dqn, {}, tmp_path / "wrong_actions.npz")  # 7 default actions against the model's 4
    run = runs["dqn-adamp"]
    (run / "vecnormalize.pkl").write_bytes(b"")
    try:
        with pytest.raises(SystemExit) as exit_info:
            export_main([str(run)])
        assert exit_info.value.code == 2
    finally:
        (run / "vecnormalize.pkl").unlink()


@pytest.mark.slow
def test_metadata_is_plain_json(policies):
    meta = Controller.load(policies["sac"][1]).metadata
    assert json.loads(json.dumps(meta)) == meta
    assert meta["action_mode"] == "continuous" and meta["algo"] == "sac"


@pytest.mark.parametrize(("resolution", "expected"), [(1e-9, "thread_time"), (0.015625, "perf_counter")])
def test_deployed_episodes_are_timed_by_the_thread_clock_unless_it_is_coarse(monkeypatch, resolution, expected):
    import time
    from types import SimpleNamespace

    from controller import episode

    monkeypatch.setattr(time, "get_clock_info", lambda name: SimpleNamespace(resolution=resolution))
    assert episode._episode_clock() is getattr(time, expected)
