"""evaluate.py end to end on tiny models: outputs, baselines, exact reproduction, transfer, errors."""

from __future__ import annotations

import csv
import json
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import dop853
from stable_baselines3 import DQN

import integrators
import threebody_env.sb3
from agents import evaluation, rebound_baseline
from agents.baselines import FixedActionPolicy
from agents.evaluate_cli import default_output, main
from agents.evaluation import BaselineMethod, baseline_methods, compare_with_fixed
from agents.rollout import reference_local_errors, rollout
from threebody_env.config import EnvConfig
from threebody_env.initial_conditions import PAPER_INTERVAL, Hierarchical, Plummer

FAST = ["--n-ics", "3", "--n-intervals", "12", "--no-progress"]
HERMITE = ["--baselines", "hermite"]  # the policy's own method alone, where a test is about something else


def tiny_dqn(constant_action: int | None = None, env_kwargs: dict | None = None) -> DQN:
    """A DQN trained for 64 steps, or untrained and rigged to always pick ``constant_action``."""
    model = DQN("MlpPolicy", threebody_env.sb3.make_sb3_vec_env(2, **(env_kwargs or {})), learning_starts=32,
                batch_size=16, seed=0, device="cpu")
    if constant_action is None:
        model.learn(64)
    else:
        last = model.q_net.q_net[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.nn.functional.one_hot(torch.tensor(constant_action), last.out_features).float())
    return model


def make_run(folder: Path, constant_action: int | None = None, env_kwargs: dict | None = None) -> Path:
    """``train.py``'s layout: a :func:`tiny_dqn` as model.zip beside its args.yml."""
    folder.mkdir(parents=True)
    tiny_dqn(constant_action, env_kwargs).save(folder / "model.zip")
    (folder / "args.yml").write_text(yaml.safe_dump(
        {"algo": "dqn", "env": "ThreeBody-v0", "env_kwargs": env_kwargs or {}, "seed": 0}))
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "dqn" / "ThreeBody-v0_1")


@pytest.fixture(scope="module")
def evaluated(run_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    """One full evaluation (plots, IAS15 when installed) into the run's default folder."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([str(run_dir), *FAST, "--n-traces", "2"])
    return run_dir / "evaluation", out.getvalue()


def test_files_and_every_baseline_in_the_table(evaluated):
    folder, printed = evaluated
    for name in ("episodes.csv", "summary.csv", "summary.json", "error_cost.png", "time_series.png", "orbits.png"):
        assert (folder / name).stat().st_size > 0, name
    summary = json.loads((folder / "summary.json").read_text())
    names = [m["method"] for m in summary["methods"]]
    roles = [m["role"] for m in summary["methods"]]
    # the union by default: Hermite's 7 (the policy's grid) and its default, IAS15's 19 (3 per decade of 1e-10..1e-4)
    assert roles.count("policy") == 1 and roles.count("fixed") == 7 + 19 and roles.count("default") == 1
    assert "eta=0.03 (default)" in names and "ias15 epsilon=1e-10" in names and "ias15 epsilon=0.0001" in names
    assert "ias15 epsilon=1e-09 (default)" in names  # IAS15's default lies on its grid: that point, named so
    assert summary["baselines"] == ["hermite", "ias15"]
    if rebound_baseline.available():
        assert "REBOUND IAS15" in names
    for name in names:
        assert name in printed
    assert "dominated" in printed.lower() and "closest fixed action" in printed.lower()
    assert "competitor" in printed.lower() and "OUTSIDE:" in printed and "Overall call" in printed
    episodes = read_csv(folder / "episodes.csv")
    assert len(episodes) == 3 * len(names)
    assert {r["integrator"] for r in episodes if r["method"].startswith("ias15 ")} == {"ias15"}
    # the local error is measured by default, for every method integrated here (REBOUND's runs have none)
    assert all(0 < float(r["local_error"]) < 1 for r in episodes if r["method"] != "REBOUND IAS15")
    assert {int(r["seed"]) for r in episodes} == {2_000_000, 2_000_001, 2_000_002}


STATISTICS = ("median", "p90", "max", "fraction_above_tolerance", "mean_log10")


def test_summary_statistics_and_verdict_agree_with_the_episodes(evaluated):
    """summary.json's statistics recomputed from episodes.csv (3 episodes: the median is the middle
    one), every bootstrap interval around its estimate, and a force-eval verdict on every statistic."""
    folder, printed = evaluated
    summary = json.loads((folder / "summary.json").read_text())
    episodes = read_csv(folder / "episodes.csv")
    for method in summary["methods"]:
        errors = sorted(float(r["abs_final_energy_error"]) for r in episodes if r["method"] == method["method"])
        assert method["final_error_median"] == errors[1] and method["final_error_max"] == errors[2]
        assert method["final_error_p90"] == pytest.approx(errors[1] + 0.8 * (errors[2] - errors[1]), rel=1e-12)
        assert method["final_error_fraction_above_tolerance"] == sum(e > 1e-8 for e in errors) / 3
        logs = np.log10(np.clip(errors, 1e-16, 1.0))
        assert method["final_error_mean_log10"] == pytest.approx(logs.mean(), rel=1e-12)
        for name in STATISTICS:
            column = f"final_error_{name}"
            assert method[f"{column}_low"] <= method[column] <= method[f"{column}_high"], (method["method"], name)
    verdict = summary["comparison"]["energy_error"]["force_evals"]
    policy = next(m for m in summary["methods"] if m["role"] == "policy")
    assert set(verdict["statistics"]) == set(STATISTICS) and verdict["tolerance"] == 1e-8
    for name, stat in verdict["statistics"].items():
        assert stat["position"] in ("below", "on", "above", "outside"), name
        assert stat["policy"]["value"] == policy[f"final_error_{name}"]
    assert summary["statistics"]["log_error_floor"] == 1e-16 and summary["statistics"]["bootstrap"]["seed"] >= 0
    assert "Verdict on the final |dE/E0| at equal force evaluations" in printed
    assert "Verdict on the final |dE/E0| at equal deployed wall time" in printed
    for axis in ("force_evals", "deployed_wall_time"):  # the local error is measured by default: a verdict on it too
        local = summary["comparison"]["local_error"][axis]
        assert set(local["statistics"]) == set(STATISTICS)
        assert local["statistics"]["median"]["policy"]["value"] == policy["local_error_median"] > 0
    assert summary["call"]["outcome"] in ("loses", "undecided")  # a 3-episode toy policy does not beat IAS15
    deployed = summary["comparison"]["energy_error"]["deployed_wall_time"]
    assert deployed["policy_cost"] == policy["deployed_wall_time_total"] > 0
    assert set(deployed["statistics"]) == set(STATISTICS)
    for row in episodes:  # every method but the REBOUND reference is timed deployed, episode by episode
        timed = float(row["deployed_wall_time"])
        assert (math.isnan(timed) if row["role"] == "reference" else 0 < timed < 60), row


def test_no_deployed_skips_the_wall_time_verdict(run_dir, tmp_path, capsys):
    main([str(run_dir), *FAST, *HERMITE, "--no-plots", "--no-reference", "--no-deployed", "--output",
          str(tmp_path / "out")])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["comparison"]["energy_error"]["deployed_wall_time"] is None
    assert all(r["deployed_wall_time"] == "nan" for r in read_csv(tmp_path / "out" / "episodes.csv"))
    assert "No verdict on the final |dE/E0| at equal deployed wall time" in capsys.readouterr().out


def test_existing_results_need_force_and_force_clears_them(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    main([str(run_dir), *FAST, *HERMITE, "--no-plots", "--no-reference", "--output", str(out)])
    (out / "orbits.png").write_bytes(b"a figure left by an earlier run")
    with pytest.raises(SystemExit) as exit_info:
        main([str(run_dir), *FAST, *HERMITE, "--no-plots", "--no-reference", "--output", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "already holds results" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    main([str(run_dir), *FAST, *HERMITE, "--no-plots", "--no-reference", "--output", str(out), "--force", "--tolerance",
          "1e-30"])
    assert not (out / "orbits.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["statistics"]["tolerance"] == 1e-30
    assert all(m["final_error_fraction_above_tolerance"] == 1.0 for m in summary["methods"])


@pytest.mark.parametrize("case", ["is a file", "not writable", "already holds results"])
def test_bad_output_is_refused_before_any_work(case, run_dir, tmp_path, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("the evaluation ran before the output was checked")

    monkeypatch.setattr(evaluation, "evaluate", no_work)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    used = tmp_path / "used"
    used.mkdir()
    (used / "summary.json").write_text("{}")
    options = {"is a file": ["--output", str(a_file)],
               "not writable": ["--output", "/proc/threebody_rl_evaluation"],  # no file can be made in /proc
               "already holds results": ["--output", str(used)]}[case]
    with pytest.raises(SystemExit) as exit_info:
        main([str(run_dir), *FAST, *options])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert case in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_constant_policy_reproduces_its_fixed_baseline(tmp_path):
    run = make_run(tmp_path / "run", constant_action=3)
    main([str(run), *FAST, *HERMITE, "--no-plots", "--no-reference", "--output", str(tmp_path / "out")])
    rows = read_csv(tmp_path / "out" / "episodes.csv")
    policy = [r for r in rows if r["role"] == "policy"]
    fixed = [r for r in rows if r["role"] == "fixed"][3 * 3 : 4 * 3]  # action 3, three episodes
    assert fixed[0]["method"] == "eta=0.01"
    ignore = {"method", "role", "wall_time", "deployed_wall_time"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in policy] == \
           [{k: v for k, v in r.items() if k not in ignore} for r in fixed]


def test_param_range_override_keeps_the_models_action_count(run_dir, tmp_path):
    """A narrower range for a 7-action model: 7 fixed baselines spanning the new range (not the
    3-per-decade count of the new range, which would not fit the model)."""
    main([str(run_dir), *FAST, *HERMITE, "--env-kwargs", "param_range:(0.002,0.05)", "--no-plots", "--no-reference",
          "--output", str(tmp_path / "out")])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    fixed = [m["method"] for m in summary["methods"] if m["role"] == "fixed"]
    assert len(fixed) == 7 and fixed[0] == "eta=0.002" and fixed[-1] == "eta=0.05"


@pytest.mark.parametrize("integrator, default", [("leapfrog", "dt=0.001 (default)"), ("dopri5", "tol=1e-08 (default)")])
def test_transfer_to_another_integrator(run_dir, integrator, default):
    main([str(run_dir), *FAST, "--integrator", integrator, "--no-plots", "--no-reference"])
    folder = run_dir / f"evaluation_{integrator}"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["env_kwargs"]["integrator"] == integrator
    names = [m["method"] for m in summary["methods"]]
    own = [m for m in summary["methods"] if m["role"] == "fixed" and m["integrator"] == integrator]
    assert default in names and len(own) == 7  # the model's action count
    assert summary["baselines"] == sorted([integrator, "hermite", "ias15"])  # the union: its method and the usual two
    assert all(math.isfinite(m["force_evals_total"]) for m in summary["methods"])


def test_two_runs_give_identical_csvs_apart_from_wall_time(run_dir, tmp_path):
    for name in ("a", "b"):
        main([str(run_dir), *FAST, "--no-plots", "--output", str(tmp_path / name), "--batch-size", "2"])
    for file in ("episodes.csv", "summary.csv"):
        a, b = (read_csv(tmp_path / name / file) for name in ("a", "b"))
        strip = lambda rows: [{k: v for k, v in r.items() if "wall_time" not in k} for r in rows]  # noqa: E731
        assert strip(a) == strip(b), file


def test_batch_size_does_not_change_results(run_dir, tmp_path, evaluated):
    main([str(run_dir), *FAST, "--no-plots", "--no-reference", "--batch-size", "1", "--output", str(tmp_path / "one")])
    whole = [r for r in read_csv(evaluated[0] / "episodes.csv") if r["role"] != "reference"]
    ones = read_csv(tmp_path / "one" / "episodes.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if "wall_time" not in k} for r in rows]  # noqa: E731
    assert strip(whole) == strip(ones)


def _bad_inputs(tmp_path: Path, run_dir: Path) -> dict[str, list[str]]:
    no_args = tmp_path / "no_args"
    no_args.mkdir()
    (no_args / "model.zip").write_bytes((run_dir / "model.zip").read_bytes())
    return {
        "no run folder or model file": [str(tmp_path / "missing")],
        "args.yml is missing": [str(no_args / "model.zip")],
        "incompatible": [str(run_dir), "--env-kwargs", "n_actions:5"],
        "unknown integrator": [str(run_dir), "--integrator", "euler"],
        "invalid environment settings": [str(run_dir), "--env-kwargs", "interval:-1"],
        "must be an integer >= 1": [str(run_dir), "--n-ics", "0"],
        "do not fit": [str(run_dir), "--n-ics", "5", "--seed-offset", "999999"],
        "must be a finite number > 0": [str(run_dir), "--tolerance", "-1"],
        "unknown method": [str(run_dir), "--baselines", "hermite", "euler"],
        "number of grid points must be an integer >= 2": [str(run_dir), "--baselines", "ias15:1"],
        "names hermite twice": [str(run_dir), "--baselines", "hermite", "hermite:4"],
    }


@pytest.mark.parametrize("case", ["no run folder or model file", "args.yml is missing", "incompatible",
                                  "unknown integrator", "invalid environment settings", "must be an integer >= 1",
                                  "do not fit",
                                  "must be a finite number > 0", "unknown method",
                                  "number of grid points must be an integer >= 2", "names hermite twice"])
def test_bad_inputs_exit_2_with_one_line(case, tmp_path, run_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*_bad_inputs(tmp_path, run_dir)[case], "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert case in err and "Traceback" not in err


def test_incompatible_observation_is_caught(tmp_path):
    run = make_run(tmp_path / "paper_obs", constant_action=0, env_kwargs={"observation": "paper"})
    with pytest.raises(SystemExit) as exit_info:
        main([str(run), *FAST, "--env-kwargs", "observation:'summary'"])
    assert exit_info.value.code == 2


def _run(env_kwargs: dict) -> evaluation.Run:
    """A run as read from args.yml (the model file is not opened by :func:`evaluation_settings`)."""
    return evaluation.Run(Path("model.zip"), Path("."), "dqn", "ThreeBody-v0", env_kwargs, 0)


def test_another_family_starts_from_its_own_defaults():
    """The run's family knobs (N, knobs, interval) would clash with another family: they are dropped
    unless the user sets them; the same family keeps them."""
    plummer8 = _run({"initial_conditions": "plummer", "n_bodies": 8, "interval": 0.5,
                     "initial_condition_kwargs": {"mass_function": "kroupa"}, "cost_weight": 3e-4})
    hierarchical = evaluation.evaluation_settings(plummer8, {"initial_conditions": "hierarchical"}).config
    assert hierarchical.sampler == Hierarchical() and hierarchical.interval == Hierarchical().interval
    assert hierarchical.cost_weight == 3e-4  # not a family setting: kept
    paper = evaluation.evaluation_settings(plummer8, {"initial_conditions": "paper"}).config
    assert paper.n_bodies is None and paper.interval == PAPER_INTERVAL
    same = evaluation.evaluation_settings(plummer8, {"initial_conditions": "plummer", "n_bodies": 4}).config
    assert same.sampler == Plummer(n_bodies=4, mass_function="kroupa") and same.interval == 0.5
    triple = _run({})
    cluster = evaluation.evaluation_settings(triple, {"initial_conditions": "plummer", "n_bodies": 16}).config
    assert cluster.sampler == Plummer(n_bodies=16) and cluster.interval == Plummer().interval
    chosen = evaluation.evaluation_settings(plummer8, {"initial_conditions": "planetary", "interval": 2.0}).config
    assert chosen.interval == 2.0


@pytest.mark.parametrize("observation", ["full", "paper"])
def test_observation_tied_to_n_cannot_transfer(observation):
    run = _run({"observation": observation})
    with pytest.raises(evaluation.EvaluationError, match="only observation='summary' transfers across N"):
        evaluation.evaluation_settings(run, {"initial_conditions": "plummer", "n_bodies": 8})
    if observation == "full":  # the same N in another family is fine
        config = evaluation.evaluation_settings(run, {"initial_conditions": "plummer", "n_bodies": 3}).config
        assert config.sampler == Plummer(n_bodies=3)


def test_triple_policy_evaluated_on_a_cluster(run_dir, tmp_path, capsys):
    """The transfer of item 3: a triple-trained summary policy against the cluster family's own baselines."""
    main([str(run_dir), *FAST, *HERMITE, "--env-kwargs", "initial_conditions:plummer", "n_bodies:4", "--no-plots",
          "--no-reference", "--output", str(tmp_path / "out")])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["env_kwargs"]["n_bodies"] == 4 and summary["env_kwargs"]["interval"] == Plummer().interval
    assert summary["comparison"]["energy_error"]["force_evals"] is not None
    roles = [m["role"] for m in summary["methods"]]
    assert roles.count("policy") == 1 and roles.count("fixed") == 7


def test_full_observation_model_on_another_n_exits_2_with_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "full_obs", constant_action=0, env_kwargs={"observation": "full"})
    with pytest.raises(SystemExit) as exit_info:
        main([str(run), *FAST, "--env-kwargs", "initial_conditions:plummer", "n_bodies:8"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "transfers across N" in err and len(err.strip().splitlines()) == 1


def test_domination_and_closest_cost_criterion():
    fixed = {"a": (1e-6, 100.0), "b": (1e-8, 1_000.0), "c": (1e-11, 10_000.0)}
    good = compare_with_fixed((1e-10, 1_200.0), fixed)
    assert good.dominated_by == () and good.closest == "b" and good.beats_closest and good.passes
    dominated = compare_with_fixed((1e-7, 2_000.0), fixed)
    assert dominated.dominated_by == ("b",) and not dominated.passes
    # closest on a log scale: the geometric middle of 1e3 and 1e4 is 3162
    assert compare_with_fixed((1e-12, 3_000.0), fixed).closest == "b"
    assert compare_with_fixed((1e-12, 3_500.0), fixed).closest == "c"
    worse = compare_with_fixed((1e-9, 9_000.0), fixed)
    assert worse.dominated_by == () and worse.closest == "c" and not worse.beats_closest


# rl-zoo3 run folders: logs/<algo>/<env>_<k>/<env>.zip (best_model.zip with evaluation) and
# <env>/{args.yml,config.yml}, written by yaml.dump of OrderedDicts (rl_zoo3.exp_manager._save_config).

ZOO_SEED = 1234567


def make_zoo_run(root: Path, env: str = "ThreeBody-v0", env_kwargs: dict | None = None, config: dict | None = None,
                 model: DQN | None = None) -> Path:
    """rl-zoo3's layout for a model trained by our own code: ``<run>/<env>.zip`` and ``<run>/<env>/*.yml``."""
    run = root / "dqn" / f"{env.replace('/', '-')}_1"
    params = run / env.replace("/", "-")
    params.mkdir(parents=True)
    if model is not None:
        model.save(run / f"{env.replace('/', '-')}.zip")
    else:
        (run / f"{env.replace('/', '-')}.zip").write_bytes(b"not read by load_run")
    args = {"algo": "dqn", "env": env, "env_kwargs": env_kwargs, "eval_freq": 25000, "gym_packages": ["threebody_env"],
            "hyperparams": None, "log_folder": str(root), "n_timesteps": 64, "seed": ZOO_SEED, "trained_agent": "",
            "vec_env": "dummy"}
    (params / "args.yml").write_text(yaml.dump(OrderedDict(sorted(args.items()))))
    hyperparams = {"n_timesteps": 64, "policy": "MlpPolicy", "train_freq": (1, "step"), **(config or {})}
    (params / "config.yml").write_text(yaml.dump(OrderedDict(sorted(hyperparams.items()))))
    return run


def test_zoo_run_folder_gets_the_verdict_with_its_env_kwargs(tmp_path):
    """A 5-action model: evaluation in the zoo's env_kwargs (the default 7 actions would not fit it),
    results in <run>/evaluation; the constant policy matches its fixed baseline, so the model was used."""
    kwargs = {"n_actions": 5, "max_episode_steps": 100}
    run = make_zoo_run(tmp_path, "threebody_env:ThreeBody-v0", kwargs, model=tiny_dqn(2, {"n_actions": 5}))
    assert (run / "threebody_env:ThreeBody-v0" / "args.yml").read_text().startswith(
        "!!python/object/apply:collections.OrderedDict")
    main([str(run), *FAST, *HERMITE, "--no-plots", "--no-reference", "--no-deployed"])
    summary = json.loads((run / "evaluation" / "summary.json").read_text())
    assert summary["env"] == "ThreeBody-v0" and summary["env_kwargs"]["n_actions"] == 5
    assert summary["model"] == str(run / "threebody_env:ThreeBody-v0.zip") and summary["training_seed"] == ZOO_SEED
    assert sum(m["role"] == "fixed" for m in summary["methods"]) == 5
    rows = read_csv(run / "evaluation" / "episodes.csv")
    policy = [r for r in rows if r["role"] == "policy"]
    fixed = [r for r in rows if r["role"] == "fixed"][2 * 3 : 3 * 3]  # action 2, three episodes
    ignore = {"method", "role", "wall_time"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in policy] == \
           [{k: v for k, v in r.items() if k not in ignore} for r in fixed]


def test_zoo_run_prefers_best_model_and_accepts_a_model_file(tmp_path):
    run = make_zoo_run(tmp_path, env_kwargs={"integrator": "leapfrog"})
    assert evaluation.load_run(run).model_path == run / "ThreeBody-v0.zip"
    (run / "best_model.zip").write_bytes(b"selected on evaluation episodes")
    loaded = evaluation.load_run(run)
    assert (loaded.model_path, loaded.run_dir, loaded.algo, loaded.env_id) == (run / "best_model.zip", run, "dqn",
                                                                                "ThreeBody-v0")
    assert loaded.env_kwargs == {"integrator": "leapfrog"} and loaded.integrator == "leapfrog"
    assert evaluation.load_run(run / "ThreeBody-v0.zip").model_path == run / "ThreeBody-v0.zip"


def test_a_meta_run_is_evaluated_into_its_own_folder_not_a_transfer_one(tmp_path):
    run = make_zoo_run(tmp_path, env="ThreeBodyMeta-v0", env_kwargs={"integrator": ["hermite", "ias15"]})
    loaded = evaluation.load_run(run)
    assert loaded.integrator == ("hermite", "ias15")
    assert default_output(loaded, evaluation.evaluation_settings(loaded)) == run / "evaluation"  # not evaluation_(...)


def test_zoo_yaml_reads_ordered_dicts_and_tuples_written_by_hand(tmp_path):
    run = make_zoo_run(tmp_path)
    (run / "ThreeBody-v0" / "args.yml").write_text(
        "!!python/object/apply:collections.OrderedDict\n"
        "- - - algo\n    - dqn\n"
        "  - - env\n    - ThreeBody-v0\n"
        "  - - env_kwargs\n    - param_range: !!python/tuple\n        - 0.002\n        - 0.05\n"
        "  - - seed\n    - 7\n")
    loaded = evaluation.load_run(run)
    assert loaded.env_kwargs == {"param_range": (0.002, 0.05)} and loaded.seed == 7


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo unsafe']", "!!python/name:os.system",
                                 "!!python/object/new:collections.OrderedDict []",
                                 "!!python/object:argparse.Namespace {}"])
def test_zoo_yaml_refuses_every_other_python_tag(tmp_path, tag):
    run = make_zoo_run(tmp_path)
    (run / "ThreeBody-v0" / "args.yml").write_text(f"algo: dqn\nenv: ThreeBody-v0\nseed: {tag}\n")
    with pytest.raises(evaluation.EvaluationError, match="is not valid YAML"):
        evaluation.load_run(run)


@pytest.mark.parametrize("case, expected", [
    ({"config": {"normalize": True}}, "trained with normalize"),
    ({"config": {"frame_stack": 4}}, "trained with frame_stack"),
    ({"env": "other_package:ThreeBody-v0"}, "is not a threebody_env environment"),
    ({"env": "CartPole-v1"}, "is not a threebody_env environment"),  # registered, but not ours
    ({"env": "ThreeBody-v9"}, "unknown environment"),
])
def test_zoo_runs_evaluate_py_cannot_judge_are_refused(tmp_path, case, expected):
    run = make_zoo_run(tmp_path, **case)
    with pytest.raises(evaluation.EvaluationError, match=expected):
        evaluation.load_run(run)


def test_n_steps_still_works_for_one_release_and_says_it_is_deprecated(run_dir, capsys):
    from agents.evaluate_cli import build_parser

    args = build_parser().parse_args([str(run_dir), "--n-steps", "12"])
    err = capsys.readouterr().err
    assert args.n_intervals == 12 and "--n-steps is deprecated" in err and "--n-intervals" in err
    assert build_parser().parse_args([str(run_dir)]).n_intervals == 300 and capsys.readouterr().err == ""
    with pytest.raises(SystemExit):
        build_parser().parse_args([str(run_dir), "--n-steps", "0"])
    assert "must be an integer >= 1" in capsys.readouterr().err


# ---------------------------------------------------------------- the baselines of the union front


def test_default_baselines_are_the_policys_method_hermite_and_ias15():
    names = lambda config: [m.integrator for m in baseline_methods(config)]  # noqa: E731
    assert names(EnvConfig()) == ["hermite", "ias15"]
    assert names(EnvConfig(integrator="leapfrog")) == ["leapfrog", "hermite", "ias15"]
    assert names(EnvConfig(integrator="ias15")) == ["ias15", "hermite"]
    assert baseline_methods(EnvConfig(), [BaselineMethod("ias15", 4)]) == [BaselineMethod("ias15", 4)]


def test_baselines_option_chooses_the_methods_and_their_grids(run_dir, tmp_path):
    """--baselines ias15:4 hermite:3: IAS15 on 4 values over its own range, Hermite (the policy's
    method) on 3 over the policy's; each default beside its grid; IAS15's episodes are IAS15's."""
    out = tmp_path / "out"
    main([str(run_dir), *FAST, "--baselines", "ias15:4", "hermite:3", "--no-plots", "--no-reference", "--no-deployed",
          "--output", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    listed = [(m["method"], m["role"], m["integrator"]) for m in summary["methods"]]
    assert listed == [("policy (dqn)", "policy", "hermite"),
                      ("ias15 epsilon=1e-10", "fixed", "ias15"), ("ias15 epsilon=1e-08", "fixed", "ias15"),
                      ("ias15 epsilon=1e-06", "fixed", "ias15"), ("ias15 epsilon=0.0001", "fixed", "ias15"),
                      ("ias15 epsilon=1e-09 (default)", "default", "ias15"),
                      ("eta=0.001", "fixed", "hermite"), ("eta=0.01", "fixed", "hermite"),
                      ("eta=0.1", "fixed", "hermite"), ("eta=0.03 (default)", "default", "hermite")]
    rows = read_csv(out / "episodes.csv")
    ias15 = [r for r in rows if r["method"] == "ias15 epsilon=1e-06"]
    direct = rollout(FixedActionPolicy(2, "ias15 1e-6"), [2_000_000, 2_000_001, 2_000_002], n_intervals=12,
                     env_kwargs={"integrator": "ias15", "param_range": (1e-10, 1e-4), "n_actions": 4})
    assert [float(r["final_energy_error"]) for r in ias15] == direct.final_energy_error.tolist()
    assert [int(r["force_evals"]) for r in ias15] == direct.force_evals.tolist()


# ---------------------------------------------------------------- the local error's plumbing


def _distance(pos, vel, pos_ref, vel_ref, start_pos, mass) -> float:
    """max |x - x_ref| / r + max |v - v_ref| / v, r the mean pair separation of ``start_pos``, v = sqrt(M / r)."""
    i, j = np.triu_indices(len(mass), 1)
    r = np.linalg.norm(start_pos[i] - start_pos[j], axis=1).mean()
    return float(np.abs(pos - pos_ref).max() / r + np.abs(vel - vel_ref).max() / np.sqrt(mass.sum() / r))


def dop853_local_errors(start_pos, start_vel, end_pos, end_vel, mass, interval, softening):
    """An independent cross-check of the reference: scipy's DOP853 at 1e-13 (unsoftened, as the
    environments here are)."""
    assert softening == 0.0
    out = np.empty(len(start_pos))
    for k in range(len(start_pos)):
        ref = dop853(start_pos[k], start_vel[k], mass, interval)
        out[k] = _distance(end_pos[k], end_vel[k], *ref, start_pos[0], mass)
    return out


def test_local_error_records_each_interval_from_its_own_start_state():
    """A 'reference' that is the method itself, Hermite at the same eta and softening carrying its state
    from interval to interval as the environment does, reproduces every interval exactly: local error 0,
    and each interval starts where the last one ended, at the initial condition."""
    eta = float(np.logspace(-3, -1, 7)[2])
    seen = []

    def same_method(start_pos, start_vel, end_pos, end_vel, mass, interval, softening):
        seen.append((start_pos, start_vel, end_pos, end_vel))
        pos, vel = start_pos[0].copy(), start_vel[0].copy()
        state = np.zeros(integrators.state_size(len(mass)))  # the record the environment carries
        hermite = integrators.METHODS["hermite"].method_id
        errors = []
        for k in range(len(start_pos)):
            integrators.advance_kernel(hermite, pos, vel, mass, interval, eta, softening, 10**6, state)
            errors.append(_distance(end_pos[k], end_vel[k], pos, vel, start_pos[0], mass))
        return np.array(errors)

    seeds = [2_000_000, 2_000_001]
    result = rollout(FixedActionPolicy(2, "eta"), seeds, n_intervals=7, local_error=same_method,
                     env_kwargs={"softening": 0.05})  # zero only if the same softening reaches the reference
    assert result.local_error.tolist() == [0.0, 0.0]
    env = threebody_env.ThreeBodyVectorEnv(num_envs=1)
    for (start_pos, start_vel, end_pos, end_vel), seed in zip(seen, seeds, strict=True):
        assert start_pos.shape == (7, 3, 3)
        env.reset(seed=[seed])
        assert np.array_equal(start_pos[0], env.systems.pos[0]) and np.array_equal(start_vel[0], env.systems.vel[0])
        assert np.array_equal(start_pos[1:], end_pos[:-1]) and np.array_equal(start_vel[1:], end_vel[:-1])
        assert not np.array_equal(end_pos[-1], start_pos[-1])


def test_local_error_orders_the_methods_and_agrees_with_dop853():
    """Against the reference, Hermite's summed local error grows with eta, episode by episode; where
    it is far above DOP853's own error (eta = 0.1: 1e-9 to 1e-7 over 5 intervals), DOP853 at 1e-13
    (its own error ~1e-10 here) gives the same sums to 10 %."""
    seeds = [2_000_000, 2_000_001, 2_000_002]
    small, large = (rollout(FixedActionPolicy(k, "eta"), seeds, n_intervals=5, local_error=reference_local_errors)
                    for k in (0, 6))
    assert np.all(np.isfinite(small.local_error)) and np.all(small.local_error > 0)
    assert np.all(large.local_error > 10 * small.local_error)
    cross_check = rollout(FixedActionPolicy(6, "eta"), seeds, n_intervals=5, local_error=dop853_local_errors)
    np.testing.assert_allclose(cross_check.local_error, large.local_error, rtol=0.1)


@pytest.mark.slow
def test_local_error_verdict_end_to_end(run_dir, tmp_path, capsys):
    """--local-error (the default): a second measure in every table, a verdict on it at both costs,
    the overall call, and the figure's second row."""
    out = tmp_path / "out"
    main([str(run_dir), "--n-ics", "3", "--n-intervals", "4", "--no-progress", "--baselines", "hermite:3", "ias15:3",
          "--no-reference", "--local-error", "--output", str(out)])
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    for axis in ("force_evals", "deployed_wall_time"):
        local = summary["comparison"]["local_error"][axis]
        assert local["measure"] == "local_error" and set(local["statistics"]) == set(STATISTICS)
        policy = next(m for m in summary["methods"] if m["role"] == "policy")
        assert local["statistics"]["median"]["policy"]["value"] == policy["local_error_median"] > 0
        assert f"Verdict on the summed local error at equal {axis.replace('_', ' ').replace('evals', 'evaluations')}" \
            in printed
    assert summary["call"]["outcome"] in ("wins", "loses", "undecided") and "Overall call" in printed
    rows = read_csv(out / "episodes.csv")
    assert all(0 < float(r["local_error"]) < 1 for r in rows)
    assert (out / "error_cost.png").stat().st_size > 0


@pytest.mark.parametrize("action_mode, warns", [("discrete", True), ("continuous", False)])
def test_float32_tie_warning_only_for_discrete_policies(action_mode, warns, monkeypatch, recwarn):
    """Deployed episodes that end differently from the batched ones: a discrete policy's can only
    differ through a float32 tie between two outputs (warned); a continuous policy's actions differ
    from SB3's by float32 rounding, so its episodes may differ in the last bits (expected, silent)."""
    import types

    import agents.export
    import threebody_env.deployment
    from agents.evaluation.schedule import deployed_wall_time

    batched = rollout(FixedActionPolicy(0, "p"), [2_000_000, 2_000_001], n_intervals=2)
    shifted = types.SimpleNamespace(final_energy_error=batched.final_energy_error * (1 + 1e-12),
                                    force_evals=batched.force_evals, wall_time=np.full(2, 0.5))
    monkeypatch.setattr(agents.export, "controller_from_model", lambda policy, kwargs: "a controller")
    monkeypatch.setattr(threebody_env.deployment, "deployed_episodes", lambda *args, **kwargs: shifted)
    settings = evaluation.Settings(EnvConfig(action_mode=action_mode, record_wall_time=True), n_intervals=2)
    times = deployed_wall_time(object(), batched, settings)
    assert times.tolist() == [0.5, 0.5]
    ties = [w for w in recwarn if "float32 tie" in str(w.message)]
    assert len(ties) == (1 if warns else 0)
