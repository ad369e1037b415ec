"""``python train.py``: the command line of :mod:`agents.training`, with rl-baselines3-zoo's flags."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any, NoReturn

from agents.algorithms import ALGOS
from agents.policies import OPTIMIZERS
from agents.training import TrainArgs, prepare, prepare_resume, train
from threebody_env import ENV_IDS
from threebody_env.config import settings_help


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``["key:value", ...]`` as a dict; values are Python literals when they parse, else strings."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition(":")
        if not sep or not key:
            raise ValueError(f"{flag} expects key:value pairs; got {item!r}")
        try:
            result[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            result[key] = text
    return result


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit code 2), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="train.py", description="Train an agent that chooses the integrator's time-step parameter.",
        epilog="environment settings for --env-kwargs (name=default; see docs/environment.md):\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--algo", default="dqn", choices=sorted(ALGOS), help="RL algorithm (default: dqn)")
    parser.add_argument("--env", default="ThreeBody-v0",
                        help=f"a registered environment id: {', '.join(ENV_IDS)} (default: ThreeBody-v0)")
    parser.add_argument("-n", "--n-timesteps", type=int, help="training steps (default: from the hyperparameter file)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the run (default: 0)")
    parser.add_argument("--n-envs", type=int,
                        help="environments stepped together (default: from the hyperparameter file)")
    parser.add_argument("--eval-freq", type=int, default=TrainArgs.eval_freq,
                        help="validate every this many steps; 0 disables (default: %(default)s)")
    parser.add_argument("--eval-episodes", type=int, default=TrainArgs.eval_episodes,
                        help="validation initial conditions, 300 steps each (default: %(default)s)")
    parser.add_argument("-f", "--log-folder", default="logs", help="root of the run folders (default: logs)")
    parser.add_argument("--env-kwargs", nargs="+", default=[], metavar="KEY:VALUE", help="environment settings")
    parser.add_argument("-params", "--hyperparams", nargs="+", default=[], metavar="KEY:VALUE",
                        help="override hyperparameters, "
                             "e.g. learning_rate:0.001 policy_kwargs:\"dict(net_arch=[128])\"")
    parser.add_argument("-i", "--trained-agent", help="continue training this model (.zip)")
    parser.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                        help="adam, or adamp with a LayerNorm network (default: adam)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar with ETA (default: on)")
    parser.add_argument("--checkpoint-freq", type=int,
                        help="save a checkpoint every this many steps; 0 disables (default: about 10%% of the run)")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue the run folder RUN from its latest checkpoint to its total steps (or -n); "
                             "its other settings come from RUN/args.yml and RUN/config.yml")
    parser.add_argument("-conf", "--conf-file", metavar="FILE",
                        help="hyperparameter file to use instead of agents/hyperparams/<algo>.yml "
                             "(same layout, e.g. an --optimize study's best_hyperparams.yml)")
    study = parser.add_argument_group("hyperparameter optimisation (Optuna; see docs/training.md)")
    study.add_argument("--optimize", action="store_true",
                       help="run an Optuna study over the algorithm's search_space instead of one training run")
    study.add_argument("--n-trials", type=int, default=10, help="trials to run in this process (default: 10)")
    study.add_argument("--storage", help="shared study storage: a journal file path or an RDB URL such as "
                                         "sqlite:///study.db (default: a journal in the study's folder)")
    study.add_argument("--study-name", help="name of the study to create or join (default: <algo>-<env>)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv``, check everything, train. Bad arguments exit with code 2 and one line on stderr."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    checkpoint = None
    try:
        if ns.resume is not None and ns.optimize:
            raise ValueError("--resume continues one run; it does not combine with --optimize")
        if ns.resume is not None:
            run, checkpoint = prepare_resume(ns.resume, ns.n_timesteps, ns.progress)
        else:
            run = prepare(_train_args(ns))
        if ns.optimize:
            from agents.optimize import StudySettings, optimize

            optimize(run, StudySettings(ns.n_trials, ns.study_name, ns.storage))
            return
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    try:
        train(run, checkpoint)
    except KeyboardInterrupt:  # the second Ctrl-C; train() has marked the run folder
        sys.exit(130)


def _train_args(ns: argparse.Namespace) -> TrainArgs:
    """The ``TrainArgs`` of parsed flags (``ValueError`` for a malformed key:value)."""
    return TrainArgs(
        algo=ns.algo, env=ns.env, n_timesteps=ns.n_timesteps, seed=ns.seed, n_envs=ns.n_envs,
        eval_freq=ns.eval_freq, eval_episodes=ns.eval_episodes, log_folder=ns.log_folder,
        env_kwargs=parse_key_values(ns.env_kwargs, "--env-kwargs"),
        hyperparams=parse_key_values(ns.hyperparams, "-params"),
        trained_agent=ns.trained_agent, optimizer=ns.optimizer, device=ns.device, progress=ns.progress,
        checkpoint_freq=ns.checkpoint_freq, conf_file=ns.conf_file,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
