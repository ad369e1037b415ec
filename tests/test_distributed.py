"""Scale-out on Dask: a 2-worker LocalCluster gives the local results exactly; failures are reported.

One LocalCluster serves the module (starting one costs seconds). Wall time is the only column
allowed to differ between a local and a distributed run.
"""

from __future__ import annotations

import csv
import http.server
import json
import socket
import socketserver
import threading

import numpy as np
import pytest
import yaml

from agents import evaluation, sweep
from agents.distributed import connect
from agents.evaluate_cli import main as evaluate_main
from agents.evaluation import run_chunks_on_dask
from agents.seeds import TEST_SEEDS, seeds_from
from agents.training import TrainArgs, prepare, train
from threebody_env.config import EnvConfig


@pytest.fixture(scope="module")
def client():
    client = connect("local", n_workers=2)
    yield client
    client.close()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny DQN run folder (a few hundred steps: its quality does not matter here)."""
    folder = tmp_path_factory.mktemp("logs")
    args = TrainArgs(algo="dqn", n_timesteps=300, n_envs=2, eval_freq=0, log_folder=str(folder), progress=False)
    return train(prepare(args))


def _rows_without_wall_time(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if "wall_time" not in k} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_local_cluster_reproduces_the_local_evaluation_table(client, trained_run, tmp_path):
    """evaluate.py --scheduler gives the same episodes and summary as a local run (3 chunks of 4 ICs)."""
    common = [str(trained_run), "--n-ics", "12", "--n-intervals", "30", "--batch-size", "4", "--no-reference",
              "--no-plots", "--no-progress"]
    evaluate_main([*common, "--output", str(tmp_path / "local")])
    address = client.scheduler.address
    evaluate_main([*common, "--output", str(tmp_path / "dask"), "--scheduler", address])
    for name in ("episodes.csv", "summary.csv"):
        local = _rows_without_wall_time(tmp_path / "local" / name)
        remote = _rows_without_wall_time(tmp_path / "dask" / name)
        assert local == remote and len(local) > 0
    local_json = json.loads((tmp_path / "local" / "summary.json").read_text())
    remote_json = json.loads((tmp_path / "dask" / "summary.json").read_text())
    assert local_json["comparison"]["energy_error"]["force_evals"] == \
        remote_json["comparison"]["energy_error"]["force_evals"]  # wall time varies


@pytest.mark.slow
def test_model_travels_as_bytes(client, trained_run, tmp_path):
    """A policy spec shipped with its model's bytes runs where the file does not exist."""
    run = evaluation.load_run(trained_run)
    settings = evaluation.evaluation_settings(run, n_intervals=20)
    policy = evaluation.method_specs(run, settings, reference=False)[0]
    seeds = seeds_from(TEST_SEEDS, 6)
    expected = evaluation.run_chunk(policy, seeds, settings)
    moved = policy.with_model_data()
    gone = evaluation.MethodSpec(moved.name, "policy", model_path=str(tmp_path / "nowhere.zip"), algo=moved.algo,
                                 model_data=moved.model_data)
    [result] = run_chunks_on_dask(client, [(gone, seeds, settings, 0)])
    np.testing.assert_array_equal(result.final_energy_error, expected.final_energy_error)
    np.testing.assert_array_equal(result.force_evals, expected.force_evals)


@pytest.mark.slow
def test_a_failing_task_is_reported_with_its_seeds(client):
    """A chunk that raises on a worker surfaces as RuntimeError naming the method and seed range."""
    bad = evaluation.MethodSpec("broken policy", "policy", model_path="/nonexistent/model.zip", algo="dqn")
    settings = evaluation.Settings(EnvConfig(), 5)
    seeds = seeds_from(TEST_SEEDS, 3)
    with pytest.raises(RuntimeError, match=r"broken policy on seeds 2000000\.\.2000002 failed"):
        run_chunks_on_dask(client, [(bad, seeds, settings, 0)])


@pytest.mark.slow
def test_sweep_reports_failures_and_skips_finished_points(client, tmp_path):
    """A point with an invalid setting fails with its message; a rerun keeps finished points as they are."""
    spec_file = tmp_path / "sweep.yml"
    spec_file.write_text(yaml.safe_dump({
        "output": str(tmp_path / "out"),
        "train": {"algo": "dqn", "n_timesteps": 200, "n_envs": 2, "eval_freq": 0},
        "grid": {"env_kwargs.cost_weight": [0.002, -1.0]},
        "evaluate": {"n_ics": 4, "n_intervals": 10},
    }))
    spec = sweep.SweepSpec.load(spec_file)
    rows = sweep.run_sweep(spec, client, progress=False)
    assert [r["status"] for r in rows] == ["done", "failed"]
    assert "cost_weight=-1.0 must be" in rows[1]["error"]
    assert (spec.output / "points" / sweep.point_name(spec.points()[1]) / "error.txt").is_file()

    finished = spec.output / "points" / sweep.point_name(spec.points()[0]) / "result.json"
    stamp = finished.stat().st_mtime_ns
    again = sweep.run_sweep(spec, client, progress=False)
    assert again[0] == json.loads(finished.read_text()) and finished.stat().st_mtime_ns == stamp
    assert again[1]["status"] == "failed"

    path = sweep.write_results(spec, again)
    with open(path) as f:
        table = list(csv.DictReader(f))
    assert [row["status"] for row in table] == ["done", "failed"]


@pytest.mark.parametrize("content, message", [
    ({"train": {"algo": "dqn"}}, "non-empty 'grid'"),
    ({"grid": {"seed": []}}, "non-empty list"),
    ({"grid": {"learning_rate": [1e-3]}}, "not a train.py setting"),
    ({"grid": {"seed": [0, 1], "env_kwargs.cost_wieght": [1e-4]}},
     "point cost_wieght=0.0001,seed=0: .*did you mean cost_weight"),
    ({"train": {"algo": "ppo"}, "grid": {"hyperparams.learnin_rate": [1e-3]}},
     r"unknown hyperparameter\(s\) \['learnin_rate'\]"),
    ({"grid": {"seed": [0]}, "evaluate": {"n_ics": 0}}, "n_ics >= 1"),
])
def test_bad_sweep_files_are_rejected(tmp_path, content, message):
    path = tmp_path / "sweep.yml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ValueError, match=message):
        sweep.SweepSpec.load(path)


def test_sweep_files_old_n_steps_key_still_works_with_a_warning(tmp_path):
    path = tmp_path / "sweep.yml"
    path.write_text(yaml.safe_dump({"grid": {"seed": [0]}, "evaluate": {"n_ics": 2, "n_steps": 7}}))
    with pytest.warns(FutureWarning, match="'evaluate: n_steps' is deprecated; call it n_intervals"):
        spec = sweep.SweepSpec.load(path)
    assert (spec.n_ics, spec.n_intervals) == (2, 7)


class _ChattyHandler(socketserver.BaseRequestHandler):
    """A service that greets every connection with bytes that are not Dask's, then hangs up."""

    def handle(self) -> None:
        self.request.sendall(b"SSH-2.0-OpenSSH_9.6 not a dask scheduler\r\n" * 64)


def _serve(server: socketserver.BaseServer):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"tcp://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def http_address():
    """An HTTP server on loopback: a Dask dashboard port given by mistake (it waits for a request)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    yield _serve(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def chatty_address():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ChattyHandler)
    yield _serve(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_address():
    """A loopback port nobody listens on (the stand-in for an unroutable host: nothing answers)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.mark.parametrize("target", ["http_address", "chatty_address", "closed_address", "not-an-address",
                                    "tcp://", "tcp://127.0.0.1:notaport"])
def test_connect_fails_in_bounded_time_with_one_line_naming_the_address(target, request):
    """The reliability sweep's hang: --scheduler pointed at a non-Dask service, a garbage string or
    an address where nothing answers ends in one line naming it (here within a 2 s timeout)."""
    address = request.getfixturevalue(target) if target.endswith("_address") else target
    with pytest.raises(SystemExit) as exit_info:
        connect(address, timeout=2.0)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and repr(address) in message and "\n" not in message


def test_evaluate_with_a_bad_scheduler_exits_with_its_message(trained_run, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main([str(trained_run), "--n-ics", "2", "--n-intervals", "3", "--no-reference", "--no-plots",
                       "--no-progress", "--output", str(tmp_path / "out"), "--scheduler", "foo"])
    assert "'foo'" in str(exit_info.value.code) and "Dask scheduler" in str(exit_info.value.code)
