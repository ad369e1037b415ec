"""Faults: a Dask worker killed with SIGKILL in the middle of ``evaluate.py --scheduler`` or of a
sweep (the scheduler recomputes the lost tasks and the results equal a local run's, wall time
apart), and damaged or foreign files, each a one-line error (failures found by the fault sweep,
``benchmarks/fault_sweep.py``).

The cluster (2 single-threaded worker processes on 127.0.0.1, restarted by their nannies when killed)
is this module's own, so the killing does not disturb other tests.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
import yaml
from stable_baselines3 import DQN, PPO

from agents import sweep
from agents.algorithms import load_model
from agents.distributed import connect
from agents.evaluate_cli import main as evaluate_main
from agents.export import export_model
from agents.train_cli import main as train_main
from agents.training import TrainArgs, prepare, train
from controller import Controller
from threebody_env import ThreeBodyVectorEnv
from threebody_env.config import EnvConfig
from threebody_env.sb3 import make_sb3_vec_env


@pytest.fixture(scope="module")
def client():
    client = connect("local", n_workers=2)
    yield client
    client.close()


def kill_a_busy_worker(client, running: Callable[[], bool], ready: Callable[[], bool] = lambda: True) -> int:
    """SIGKILL the process of a worker that holds tasks, once ``ready()``; return how many tasks it held.
    Fails the test if the work finished first (the kill must land mid-run)."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = {worker: keys for worker, keys in client.processing().items() if keys}
        if busy and ready():
            break
        assert running(), "the work finished before a worker could be killed"
        time.sleep(0.02)
    worker, keys = next(iter(busy.items()))
    assert running()
    os.kill(pids[worker], signal.SIGKILL)
    return len(keys)


def in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def rows_without_wall_time(path) -> list[dict[str, str]]:
    with open(path) as f:
        return [{k: v for k, v in row.items() if "wall_time" not in k} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_evaluation_survives_a_killed_worker(client, tmp_path):
    run = train(prepare(TrainArgs(algo="dqn", n_timesteps=256, n_envs=2, eval_freq=0, checkpoint_freq=0,
                                  log_folder=str(tmp_path / "logs"), progress=False)))
    common = [str(run), "--n-ics", "12", "--n-intervals", "60", "--batch-size", "2", "--no-reference", "--no-plots",
              "--no-progress"]
    evaluate_main([*common, "--output", str(tmp_path / "local")])
    thread = in_thread(lambda: evaluate_main([*common, "--output", str(tmp_path / "dask"),
                                              "--scheduler", client.scheduler.address]))
    lost = kill_a_busy_worker(client, thread.is_alive)
    thread.join(timeout=300)
    assert lost >= 1 and not thread.is_alive()
    for name in ("episodes.csv", "summary.csv"):
        local, remote = (rows_without_wall_time(tmp_path / out / name) for out in ("local", "dask"))
        assert local == remote and len(local) > 0
    local_json, remote_json = (json.loads((tmp_path / out / "summary.json").read_text()) for out in ("local", "dask"))
    for measure in ("energy_error", "local_error"):
        assert local_json["comparison"][measure]["force_evals"] == remote_json["comparison"][measure]["force_evals"]


@pytest.mark.slow
def test_a_sweep_survives_a_killed_worker_and_its_points_equal_a_local_sweep(client, tmp_path):
    """A point's training is killed after its first checkpoint; the retry continues it (or starts over)
    and every row, the trained models included, equals the local sweep's."""
    def spec(name: str) -> sweep.SweepSpec:
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump({
            "output": str(tmp_path / name),
            "train": {"algo": "dqn", "n_timesteps": 768, "n_envs": 4, "eval_freq": 0, "checkpoint_freq": 128,
                      "env_kwargs": {"param_range": [0.01, 0.1]}, "hyperparams": {"learning_starts": 32}},
            "grid": {"seed": [0, 4]},
            "evaluate": {"n_ics": 4, "n_intervals": 20},
        }))
        return sweep.SweepSpec.load(path)

    local = sweep.run_sweep(spec("local"), None, progress=False)
    remote_spec = spec("dask")
    rows: list = []
    thread = in_thread(lambda: rows.extend(sweep.run_sweep(remote_spec, client, progress=False)))
    checkpoints = remote_spec.output / "points"
    lost = kill_a_busy_worker(client, thread.is_alive, lambda: any(checkpoints.rglob("step_*")))
    thread.join(timeout=300)
    assert lost >= 1 and not thread.is_alive()
    assert [r["status"] for r in rows] == ["done", "done"]
    for a, b in zip(local, rows, strict=True):
        assert {**a, "run_dir": None} == {**b, "run_dir": None}
        assert a["run_dir"].replace(str(tmp_path / "local"), "") == b["run_dir"].replace(str(tmp_path / "dask"), "")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """An untrained DQN and PPO model file for the ThreeBody-v0 spaces."""
    folder = tmp_path_factory.mktemp("models")
    env = make_sb3_vec_env(1)
    for cls in (DQN, PPO):
        cls("MlpPolicy", env, policy_kwargs={"net_arch": [8]}).save(folder / f"{cls.__name__.lower()}.zip")
    return folder


def damage(source, target, member: str) -> None:
    """A copy of the zip ``source`` with ``member`` cut to 100 bytes (a torn copy of the file)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for name in original.namelist():
            blob = original.read(name)
            copy.writestr(name, blob[:100] if name == member else blob)


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_model_of_another_algorithm_says_which(model_files, tmp_path, capsys):
    """A PPO model in a DQN run folder used to fail with "'ActorCriticPolicy' object has no attribute 'q_net'"."""
    with pytest.raises(ValueError) as error:
        load_model("dqn", model_files / "ppo.zip")
    assert "holds a ppo or a2c model (policy ActorCriticPolicy), not a dqn one" in one_line(error.value)
    with pytest.raises(SystemExit):
        train_main(["-i", str(model_files / "ppo.zip"), "-f", str(tmp_path), "--no-progress"])
    assert "holds a ppo or a2c model" in capsys.readouterr().err


@pytest.mark.parametrize("member", ["policy.pth", "policy.optimizer.pth"])
def test_a_damaged_part_of_a_model_zip_is_named(model_files, tmp_path, member):
    """A damaged policy.pth used to give PyTorch's paragraph about its internal miniz error."""
    damage(model_files / "dqn.zip", tmp_path / "damaged.zip", member)
    with pytest.raises(ValueError) as error:
        load_model("dqn", tmp_path / "damaged.zip")
    assert f"its {member} is damaged (" in one_line(error.value)
    assert "miniz" not in str(error.value)


def test_a_text_file_is_not_a_model_nor_a_controller(tmp_path):
    """A text file named controller.npz used to get NumPy's advice to load it with allow_pickle=True."""
    text = tmp_path / "controller.npz"
    text.write_text("not a controller\n")
    with pytest.raises(ValueError) as error:
        Controller.load(text)
    assert "not a .npz archive" in one_line(error.value) and "pickle" not in str(error.value)
    with pytest.raises(ValueError, match="not a stable-baselines3 model file"):
        load_model("dqn", text)


def test_a_controller_still_loads(model_files, tmp_path):
    model = load_model("dqn", model_files / "dqn.zip")
    path = export_model(model, {}, tmp_path / "controller.npz")
    obs = np.zeros(model.observation_space.shape, dtype=np.float32)
    assert Controller.load(path).action(obs) == model.predict(obs, deterministic=True)[0]


def test_integer_settings_become_floats_before_they_reach_the_kernels():
    """Found by the fault sweep: ``interval=1`` or ``softening=0`` (ints) reached the Numba kernels as
    ints, so each such setting compiled the integrators again (minutes on a loaded machine), and ints
    beyond int64 (``softening=2**70``) failed with a Numba TypingError."""
    ints, floats = EnvConfig(interval=1, softening=0, cost_weight=0), EnvConfig(interval=1.0, softening=0.0,
                                                                                 cost_weight=0.0)
    for name in ("interval", "softening", "cost_weight", "max_energy_error", "failure_penalty"):
        assert type(getattr(ints, name)) is float and getattr(ints, name) == getattr(floats, name)
    a, b = (ThreeBodyVectorEnv(num_envs=2, interval=x, softening=s) for x, s in ((1, 0), (1.0, 0.0)))
    np.testing.assert_array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    np.testing.assert_array_equal(a.step(np.array([2, 5]))[0], b.step(np.array([2, 5]))[0])
    huge = ThreeBodyVectorEnv(num_envs=2, softening=2**70, error_ceiling=2**70, max_energy_error=2**70)
    huge.reset(seed=3)  # these three used to end in Numba's "non-precise type pyobject" TypingError
    obs, rewards, *_ = huge.step(np.array([2, 5]))
    assert np.all(np.isfinite(obs)) and np.all(np.isfinite(rewards))


@pytest.mark.parametrize("n_actions", [2**70, 10**12, 1])
def test_an_impossible_number_of_actions_is_one_line(n_actions):
    """Found by the fault sweep: n_actions=2**70 raised OverflowError while building the action set."""
    with pytest.raises(ValueError) as error:
        EnvConfig(n_actions=n_actions)
    assert "n_actions=" in one_line(error.value) and "must be an integer in [2, 1e+06]" in str(error.value)
