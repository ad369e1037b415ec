"""``train.py --optimize``: search spaces, the verdict score, a shared study and its best trial for ``-conf``."""

from __future__ import annotations

import csv

import optuna
import pytest
import yaml

from agents.baselines import FixedActionPolicy
from agents.optimize import BEST_FILE, fixed_action_front, search_space, suggest
from agents.rollout import rollout
from agents.seeds import VALIDATION_SEEDS, seeds_from
from agents.train_cli import main
from agents.training import TrainArgs, prepare
from threebody_env import EVALUATION_EPISODE_STEPS

ENV_KWARGS = {"action_mode": "discrete", "param_range": (0.01, 0.1), "n_actions": 4}


@pytest.mark.parametrize("algo", ["dqn", "ppo", "a2c", "sac", "td3"])
def test_every_search_space_gives_hyperparameters_that_prepare_accepts(algo, tmp_path):
    """Each algorithm's space, at its draws of a seeded random sampler, passes train.py's own checks."""
    space = search_space(algo)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    env = "ThreeBodyContinuous-v0" if algo in ("sac", "td3") else "ThreeBody-v0"
    for _ in range(5):
        params = suggest(study.ask(), space)
        assert set(params) == set(space)
        prepare(TrainArgs(algo=algo, env=env, hyperparams=params, log_folder=str(tmp_path)))


def test_a_bad_search_space_is_one_clear_error(tmp_path):
    path = tmp_path / "dqn.yml"
    path.write_text(yaml.safe_dump({"default": {}, "search_space": {"gamma": {"low": 0.9, "high": 0.5}}}))
    with pytest.raises(ValueError, match="gamma=.* must be a list of choices or"):
        search_space("dqn", path)
    path.write_text(yaml.safe_dump({"default": {}}))
    with pytest.raises(ValueError, match="has no search_space"):
        search_space("dqn", path)


def test_a_fixed_action_scores_zero_and_the_front_orders_by_cost():
    """The score is the policy's mean log10 error minus the fixed actions' front at its cost: a fixed
    action lies on the front (score exactly 0); cheaper fixed actions are less accurate."""
    front = fixed_action_front(ENV_KWARGS, 3)
    assert len(front.costs) == 4 and list(front.costs) == sorted(front.costs, reverse=True)
    assert front.mean_log10[0] < front.mean_log10[-1]  # the smallest time step is the most accurate
    seeds = seeds_from(VALIDATION_SEEDS, 3)
    for k in (0, 2):
        result = rollout(FixedActionPolicy(k, "fixed"), seeds, env_kwargs=ENV_KWARGS,
                         n_intervals=EVALUATION_EPISODE_STEPS)
        assert front.score(result) == 0.0


@pytest.mark.slow
def test_two_processes_share_a_journal_study_and_the_best_trial_trains_with_conf(tmp_path, capsys):
    """Two --optimize runs on one --storage journal make one study of 2 trials; the best trial's
    hyperparameters come out as a file that ``train.py -conf`` reads back exactly."""
    storage = tmp_path / "shared.journal"
    args = ["--algo", "dqn", "-n", "128", "--n-envs", "4", "--eval-freq", "64", "--eval-episodes", "2",
            "--no-progress", "-f", str(tmp_path / "logs"), "--env-kwargs", "param_range:(0.01,0.1)", "n_actions:4",
            "-params", "learning_starts:32", "episode_intervals:20", "buffer_size:2000",
            "--optimize", "--n-trials", "1", "--storage", str(storage), "--study-name", "tiny"]
    main([*args, "--seed", "1"])
    main([*args, "--seed", "2"])  # a second machine: another sampler seed, the same study
    study = optuna.load_study(study_name="tiny", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(storage))))
    assert len(study.trials) == 2
    folder = tmp_path / "logs" / "optuna" / "tiny"
    with open(folder / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["number"]) for r in rows] == [0, 1] and all(r["state"] == "COMPLETE" for r in rows)
    best = yaml.safe_load((folder / BEST_FILE).read_text())
    assert "Best trial" in capsys.readouterr().out
    run = prepare(TrainArgs(algo="dqn", conf_file=str(folder / BEST_FILE), log_folder=str(tmp_path)))
    expected = suggest(optuna.trial.FixedTrial(study.best_trial.params), search_space("dqn"))
    assert {k: run.hyperparams[k] for k in expected} == expected == {k: best["ThreeBody-v0"][k] for k in expected}
    assert run.hyperparams["learning_starts"] == 32  # the study's own -params stay in the file
