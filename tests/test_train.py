"""Fast tests of training: every algorithm trains, saves and loads; run folder contract; seeds; bad arguments."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3.common.buffers import NStepReplayBuffer

from agents.algorithms import ALGOS
from agents.hyperparameters import evaluate_policy_kwargs
from agents.train_cli import main
from agents.training import FAILED_MARKER, create_run_dir
from threebody_env.config import EnvConfig, setting_names

#: A few hundred steps; large time-step parameters only, so that untrained policies integrate cheaply.
TINY = ["-n", "128", "--n-envs", "4", "--eval-freq", "0", "--no-progress", "--env-kwargs", "param_range:(0.01,0.1)"]
VALIDATE = ["--eval-freq", "64", "--eval-episodes", "2"]
#: Small networks and early learning so a few hundred steps exercise the update code.
TINY_PARAMS = {
    "dqn": ["learning_starts:32", "batch_size:32", "gradient_steps:1", "policy_kwargs:dict(net_arch=[16])"],
    "ppo": ["n_steps:32", "batch_size:64", "n_epochs:2", "policy_kwargs:dict(net_arch=[16])"],
    "a2c": ["n_steps:8", "policy_kwargs:dict(net_arch=[16])"],
    "sac": ["learning_starts:32", "batch_size:32", "gradient_steps:1", "policy_kwargs:dict(net_arch=[16])"],
    "td3": ["learning_starts:32", "batch_size:32", "gradient_steps:1", "policy_kwargs:dict(net_arch=[16])"],
}
CONTRACT = ("model.zip", "best_model.zip", "args.yml", "config.yml", "evaluations.npz", "learning_curve.png", "tb")


def train(tmp_path: Path, algo: str = "dqn", env: str = "ThreeBody-v0", *extra: str) -> Path:
    """Run ``train.py`` tiny and return the run folder it created."""
    main(["--algo", algo, "--env", env, "-f", str(tmp_path), *TINY, "-params", *TINY_PARAMS[algo], *extra])
    runs = sorted((tmp_path / algo).glob(f"{env}_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
    return runs[-1]


@pytest.mark.parametrize(
    ("algo", "env"),
    [("ppo", "ThreeBody-v0"), ("a2c", "ThreeBody-v0"),  # dqn: the run-folder tests
     ("sac", "ThreeBodyContinuous-v0"), ("td3", "ThreeBodyContinuous-v0"), ("ppo", "ThreeBodyContinuous-v0")],
)
@pytest.mark.slow
def test_each_algorithm_trains_saves_and_loads(tmp_path, algo, env):
    run = train(tmp_path, algo, env)
    model = ALGOS[algo].load(run / "model.zip", device="cpu")
    obs = np.zeros((3, *model.observation_space.shape), dtype=np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    assert len(actions) == 3


@pytest.mark.slow
def test_run_folder_has_the_promised_files_and_training_continues(tmp_path, capsys):
    run = train(tmp_path, "dqn", "ThreeBody-v0", *VALIDATE)
    assert run == tmp_path / "dqn" / "ThreeBody-v0_1"
    for name in CONTRACT:
        assert (run / name).exists(), name
    assert any((run / "tb").rglob("events.out.tfevents.*"))
    args = yaml.safe_load((run / "args.yml").read_text())
    for key in ("algo", "env", "env_kwargs", "seed", "n_timesteps", "n_envs", "optimizer", "device"):
        assert key in args, key
    assert args["env_kwargs"] == {"action_mode": "discrete", "param_range": [0.01, 0.1]} and args["n_timesteps"] == 128
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["learning_starts"] == 32 and config["n_envs"] == 4
    history = np.load(run / "evaluations.npz")
    assert set(history.files) == {"timesteps", "median_energy_error", "force_evals", "mean_return"}
    assert list(history["timesteps"]) == [64, 128]
    assert f"python evaluate.py {run}" in capsys.readouterr().out

    second = train(tmp_path, "dqn", "ThreeBody-v0", "-i", str(run / "model.zip"), "-params", "gamma:0.8", "n_steps:2")
    assert second.name == "ThreeBody-v0_2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3's "n_steps=... is ignored" warning among others
        continued = ALGOS["dqn"].load(second / "model.zip")
    assert continued.num_timesteps == 128
    # the n-step buffer follows the hyperparameters in force, not those saved with the first run
    assert continued.gamma == 0.8 and isinstance(continued.replay_buffer, NStepReplayBuffer)
    assert (continued.replay_buffer.n_steps, continued.replay_buffer.gamma) == (2, 0.8)
    assert continued.replay_buffer_kwargs == {"n_steps": 2, "gamma": 0.8}
    assert yaml.safe_load((second / "config.yml").read_text())["n_steps"] == 2


@pytest.mark.slow
def test_n_step_dqn_trains_and_loads_without_warnings(tmp_path):
    """The yml's n_steps: 3 gives DQN a 3-step buffer, and neither training nor loading warns about it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        run = train(tmp_path, "dqn", "ThreeBody-v0")
        model = ALGOS["dqn"].load(run / "model.zip", device="cpu")
    assert isinstance(model.replay_buffer, NStepReplayBuffer)
    assert (model.replay_buffer.n_steps, model.replay_buffer.gamma) == (3, 0.9)


def parameters(run: Path) -> dict[str, torch.Tensor]:
    return ALGOS["dqn"].load(run / "model.zip", device="cpu").policy.state_dict()


@pytest.mark.slow
def test_the_seed_determines_the_parameters(tmp_path):
    a = parameters(train(tmp_path, "dqn", "ThreeBody-v0", "--seed", "3"))
    b = parameters(train(tmp_path, "dqn", "ThreeBody-v0", "--seed", "3"))
    c = parameters(train(tmp_path, "dqn", "ThreeBody-v0", "--seed", "4"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_adamp_trains_a_layernorm_network_reproducibly(tmp_path):
    runs = [train(tmp_path, "dqn", "ThreeBody-v0", "--optimizer", "adamp") for _ in range(2)]
    a, b = (parameters(run) for run in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    model = ALGOS["dqn"].load(runs[0] / "model.zip")
    assert type(model.policy.optimizer).__name__ == "AdamP"
    modules = list(model.policy.q_net.modules())
    linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
    assert any(isinstance(m, torch.nn.LayerNorm) for m in modules)
    assert all(m.bias is None for m in linears[:-1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--algo", "trpo"], "invalid choice"),
        (["--env", "CartPole-v1"], "unknown environment"),
        (["--algo", "sac"], "sac cannot drive a discrete action space"),
        (["--algo", "dqn", "--env", "ThreeBodyContinuous-v0"], "dqn cannot drive a continuous"),
        (["-i", "missing.zip"], "no model to continue from"),
        (["--env-kwargs", "integrator:nonsense"], "integrator='nonsense' is unknown"),
        (["--env-kwargs", "no_such_setting:1"], "unknown environment setting 'no_such_setting'"),
        (["--env-kwargs", "novalue"], "key:value"),
        (["-params", "no_such_param:1"], "unknown hyperparameter"),
        (["-params", "learning_rate:fast"], "learning_rate"),
        (["--seed", "-5"], "training seed range"),
        (["-params", "policy_kwargs:dict(net_arch=[64"], "does not evaluate"),
        (["-i", __file__], "cannot load"),
        (["-params", "learning_rate:-1"], "learning_rate=-1 must be a number in"),
        (["-params", "learning_rate:lin_-1"], "learning_rate='lin_-1'"),
        (["-params", "buffer_size:1e12"], "buffer_size=1000000000000.0 must be an integer"),
        (["-params", "buffer_size:10**12"], "buffer_size"),
        (["-params", "buffer_size:1000000000000"], "GiB"),
        (["-params", "batch_size:0"], "batch_size=0"),
        (["-params", "gamma:5"], "gamma=5"),
        (["-params", "gradient_steps:0"], "gradient_steps=0"),
        (["-params", "exploration_final_eps:True"], "exploration_final_eps=True"),
        (["-params", "policy_kwargs:dict(net_arch=[0])"], "net_arch=[0]"),
        (["-params", "policy_kwargs:dict(net_arch=dict(pi=[64], vf=[-1]))"], "net_arch="),
        (["-params", "policy_kwargs:__import__('os').getcwd()"], "is not allowed"),
        (["-params", "policy_kwargs:dict(a=nn.ReLU.__class__)"], "is not allowed"),
        (["-params", "policy_kwargs:dict(a=torch.load('x'))"], "torch.load('x') is not allowed"),
        (["--device", "banana"], "--device 'banana'"),
        (["--env-kwargs", "max_integrator_steps:1180591620717411303424"], "max_integrator_steps="),
        (["--env-kwargs", "cost_wieght:0.001"], "unknown environment setting 'cost_wieght': did you mean cost_weight?"),
        (["--checkpoint-freq", "-1"], "--checkpoint-freq >= 0"),
        (["-conf", "missing.yml"], "cannot read hyperparameters from missing.yml"),
        (["--optimize", "--n-trials", "0"], "--n-trials must be >= 1"),
        (["--optimize", "--eval-freq", "0"], "--optimize scores trials on validation"),
        (["--optimize", "--storage", "nosuchdialect://db"], "--storage 'nosuchdialect://db': cannot open"),
        (["--resume", "somewhere", "--optimize"], "does not combine with --optimize"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "-f", str(tmp_path), "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "dqn").exists()


def test_help_lists_every_environment_setting_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in setting_names():
        assert f"  {name}={getattr(EnvConfig, name)!r}" in out, name


def test_log_folder_on_a_file_exits_2_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    for folder in (blocker, blocker / "logs"):
        with pytest.raises(SystemExit) as exit_info:
            main(["-f", str(folder), "--no-progress"])
        assert exit_info.value.code == 2
        assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc, where nobody may make a folder")
def test_log_folder_that_cannot_be_written_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["-f", "/proc/threebody-logs", "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "cannot write in /proc" in err and "Traceback" not in err


def test_zoo_policy_kwargs_still_evaluate():
    assert evaluate_policy_kwargs("dict(net_arch=[64, 64], activation_fn=nn.Tanh)") == {
        "net_arch": [64, 64], "activation_fn": torch.nn.Tanh}
    assert evaluate_policy_kwargs("dict(optimizer_class=th.optim.RMSprop, net_arch=dict(pi=[8], vf=[8]))")[
        "optimizer_class"] is torch.optim.RMSprop


def test_run_folders_are_claimed_atomically(tmp_path):
    """A run whose k another run created first takes the next k (two runs started at once)."""
    first = create_run_dir(tmp_path, "dqn", "ThreeBody-v0")
    taken = tmp_path / "dqn" / "ThreeBody-v0_2"
    original_glob = Path.glob

    def glob_missing_the_racer(self, pattern):  # the listing was taken before the other run made _2
        return [p for p in original_glob(self, pattern) if p != taken]

    taken.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "glob", glob_missing_the_racer)
        second = create_run_dir(tmp_path, "dqn", "ThreeBody-v0")
    assert (first.name, second.name) == ("ThreeBody-v0_1", "ThreeBody-v0_3")


def test_a_crashed_run_leaves_no_model_but_a_failure_note(tmp_path, monkeypatch):
    """An error in the middle of training: no model.zip (evaluate.py would take it for trained), FAILED.txt."""
    def crash(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ALGOS["dqn"], "learn", crash)
    with pytest.raises(RuntimeError, match="boom"):
        train(tmp_path, "dqn")
    run = tmp_path / "dqn" / "ThreeBody-v0_1"
    assert not (run / "model.zip").exists()
    assert (run / FAILED_MARKER).read_text() == "RuntimeError: boom\n"


@pytest.mark.slow
def test_ctrl_c_stops_training_and_saves(tmp_path):
    """SIGINT in the middle of training (often inside the parallel Numba kernel): a clean exit 0 that
    saves the model, never the SystemError the kernel raised before."""
    script = Path(__file__).resolve().parents[1] / "train.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "-n", "10000000", "--eval-freq", "0", "--no-progress", "-f", str(tmp_path),
         "--n-envs", "8", "-params", *TINY_PARAMS["dqn"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    run = tmp_path / "dqn" / "ThreeBody-v0_1"
    deadline = time.monotonic() + 120
    while not any((run / "tb").rglob("events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.5)  # the event file appears when learn() starts
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Interrupted: saving the model trained so far." in out and "Traceback" not in err
    model = ALGOS["dqn"].load(run / "model.zip", device="cpu")
    assert 0 < model.num_timesteps < 10_000_000
