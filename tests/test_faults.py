"""Faults on Dask: a worker killed with SIGKILL in the middle of ``evaluate.py --scheduler`` or of a
sweep; the scheduler recomputes the lost tasks and the results equal a local run's, wall time apart.

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
from collections.abc import Callable

import pytest
import yaml

from agents import sweep
from agents.distributed import connect
from agents.evaluate_cli import main as evaluate_main
from agents.training import TrainArgs, prepare, train

pytestmark = pytest.mark.slow


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
    assert local_json["comparison"]["force_evals"] == remote_json["comparison"]["force_evals"]


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
