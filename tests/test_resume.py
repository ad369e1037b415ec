"""Checkpoints and ``train.py --resume``: a killed run continues to the same model as an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.algorithms import ALGOS
from agents.checkpoints import CHECKPOINTS, latest_checkpoint, write_atomically
from agents.train_cli import main

ROOT = Path(__file__).resolve().parents[1]
#: A tiny DQN run that validates, checkpoints and completes short episodes (episode_intervals 20).
RUN = ["--algo", "dqn", "--n-envs", "4", "--eval-freq", "256", "--eval-episodes", "2", "--no-progress",
       "--env-kwargs", "param_range:(0.01,0.1)", "--checkpoint-freq", "128",
       "-params", "learning_starts:32", "batch_size:32", "gradient_steps:1", "policy_kwargs:dict(net_arch=[16])",
       "episode_intervals:20"]
OUTPUTS = ("model.zip", "best_model.zip", "controller.npz", "best_controller.npz", "args.yml", "config.yml",
           "evaluations.npz", "episodes.npz", "learning_curve.png", "tb")


def run_folder(log_folder: Path) -> Path:
    return log_folder / "dqn" / "ThreeBody-v0_1"


def assert_same_run(a: Path, b: Path, algo: str = "dqn") -> None:
    """Same step count and parameters, same validation history and learning curve."""
    ma, mb = (ALGOS[algo].load(run / "model.zip", device="cpu") for run in (a, b))
    assert ma.num_timesteps == mb.num_timesteps
    pa, pb = ma.policy.state_dict(), mb.policy.state_dict()
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    for name in ("evaluations.npz", "episodes.npz"):
        x, y = np.load(a / name), np.load(b / name)
        assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files), name


@pytest.mark.slow
def test_a_run_killed_after_its_first_checkpoint_resumes_to_the_uninterrupted_result(tmp_path):
    """SIGKILL a real ``train.py`` once a checkpoint exists; ``--resume`` ends at the requested step
    count with every output, and with exactly the model of a run that was never killed."""
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *RUN, "-n", "512", "-f", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    run = run_folder(killed)
    deadline = time.monotonic() + 240
    while latest_checkpoint(run) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    assert not (run / "model.zip").exists()  # killed before the end: nothing but checkpoints to go on

    main(["--resume", str(run), "--no-progress"])
    for name in OUTPUTS:
        assert (run / name).exists(), name
    assert ALGOS["dqn"].load(run / "model.zip", device="cpu").num_timesteps == 512
    history = np.load(run / "evaluations.npz")
    assert list(history["timesteps"]) == [256, 512]
    assert [p.name for p in (run / CHECKPOINTS).iterdir()] == ["step_000000000512"]  # the end, for -n to extend

    main([*RUN, "-n", "512", "-f", str(tmp_path / "whole")])
    assert_same_run(run, run_folder(tmp_path / "whole"))


def test_a_finished_run_extends_with_a_larger_n(tmp_path, capsys):
    main([*RUN, "-n", "128", "-f", str(tmp_path)])
    run = run_folder(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--resume", str(run), "--no-progress"])
    assert exit_info.value.code == 2
    assert "has trained 128 of its 128 steps; pass -n above" in capsys.readouterr().err
    main(["--resume", str(run), "-n", "192", "--no-progress"])
    assert ALGOS["dqn"].load(run / "model.zip", device="cpu").num_timesteps == 192
    assert latest_checkpoint(run).name == "step_000000000192"

    for name in ("model.zip", "controller.npz", "learning_curve.png"):  # killed while writing its outputs
        (run / name).unlink()
    main(["--resume", str(run), "-n", "192", "--no-progress"])
    assert all((run / name).exists() for name in OUTPUTS)
    assert ALGOS["dqn"].load(run / "model.zip", device="cpu").num_timesteps == 192


@pytest.mark.parametrize(("make", "message"), [
    (lambda run: None, "is not a run folder"),
    (lambda run: [(run / n).write_text("{}") for n in ("args.yml", "config.yml")], "has no checkpoint"),
])
def test_resume_without_a_run_or_checkpoint_is_one_line(tmp_path, capsys, make, message):
    run = tmp_path / "run"
    run.mkdir()
    make(run)
    with pytest.raises(SystemExit) as exit_info:
        main(["--resume", str(run)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_partial_checkpoints_are_never_resumed_from(tmp_path):
    """A kill while a checkpoint is written leaves ``.partial-step_<n>``; the whole older one is used."""
    folder = tmp_path / CHECKPOINTS
    (folder / "step_000000000100").mkdir(parents=True)
    (folder / ".partial-step_000000000200").mkdir()
    (folder / "step_000000000300").write_text("a file, not a checkpoint")
    assert latest_checkpoint(tmp_path) == folder / "step_000000000100"


def test_an_interrupted_atomic_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "evaluations.npz"
    write_atomically(path, lambda p: np.savez(p, a=np.arange(3)))

    def dies_halfway(p: Path) -> None:
        p.write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, dies_halfway)
    assert np.array_equal(np.load(path)["a"], np.arange(3))


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "env", "params"), [
    ("ppo", "ThreeBody-v0", ["n_steps:32", "batch_size:64", "n_epochs:2"]),
    ("sac", "ThreeBodyContinuous-v0", ["learning_starts:32", "batch_size:32", "gradient_steps:1"]),
])
def test_on_policy_and_continuous_runs_resume_exactly(tmp_path, monkeypatch, algo, env, params):
    """A PPO and a SAC run that die right after their second checkpoint resume to the uninterrupted model."""
    import agents.checkpoints as checkpoints

    args = ["--algo", algo, "--env", env, "-n", "384", "--n-envs", "4", "--eval-freq", "128", "--eval-episodes", "2",
            "--no-progress", "--env-kwargs", "param_range:(0.01,0.1)", "--checkpoint-freq", "100",
            "-params", *params, "policy_kwargs:dict(net_arch=[16])", "episode_intervals:20"]
    main([*args, "-f", str(tmp_path / "whole")])
    save, saved = checkpoints.save_checkpoint, []

    def dies_after_the_second(*a, **k):
        saved.append(save(*a, **k))
        if len(saved) == 2:
            raise RuntimeError("killed")
        return saved[-1]

    monkeypatch.setattr(checkpoints, "save_checkpoint", dies_after_the_second)
    with pytest.raises(RuntimeError, match="killed"):
        main([*args, "-f", str(tmp_path / "killed")])
    monkeypatch.undo()
    run = tmp_path / "killed" / algo / f"{env}_1"
    main(["--resume", str(run), "--no-progress"])
    assert ALGOS[algo].load(run / "model.zip", device="cpu").num_timesteps == 384
    assert_same_run(run, tmp_path / "whole" / algo / f"{env}_1", algo)
