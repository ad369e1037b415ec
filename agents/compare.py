"""Print a trained policy against every fixed action on test initial conditions.

``python -m agents.compare logs/dqn/ThreeBody-v0_1 [--model best_model.zip] [-n 100] [--steps 300]``

The check of the training issue: the policy is not dominated (no fixed action has both a lower
median final |dE/E0| and a lower total cost), and it is more accurate than the fixed action whose
total cost is closest to its own (on a log scale).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from agents.algorithms import ALGOS
from agents.baselines import fixed_action_baselines, parameter_baseline
from agents.rollout import RolloutResult, rollout
from agents.seeds import TEST_SEEDS, seeds_from
from threebody_env import EVALUATION_EPISODE_STEPS, EnvConfig
from threebody_env.actions import ActionMap


def compare_run(run_dir: Path, model_file: str = "model.zip", n_episodes: int = 100,
                n_steps: int = EVALUATION_EPISODE_STEPS) -> tuple[RolloutResult, list[RolloutResult]]:
    """Roll out the run's model and every fixed action (plus eta = 0.03) on the first test seeds."""
    args = yaml.safe_load((run_dir / "args.yml").read_text())
    env_kwargs = {**args["env_kwargs"], "record_wall_time": False}
    model = ALGOS[args["algo"]].load(run_dir / model_file, device="cpu")
    seeds = seeds_from(TEST_SEEDS, n_episodes)
    policy = rollout(model, seeds, env_kwargs=env_kwargs, n_steps=n_steps, name=f"{args['algo']} ({model_file})")
    actions = ActionMap(EnvConfig(**{**env_kwargs, "action_mode": "discrete"}))
    baselines = fixed_action_baselines(actions, "eta") + [parameter_baseline(actions, "eta", 0.03)]
    fixed = [rollout(b, seeds, env_kwargs=env_kwargs, n_steps=n_steps, name=b.name) for b in baselines]
    return policy, fixed


def verdict(policy: RolloutResult, fixed: list[RolloutResult]) -> tuple[list[str], str, bool]:
    """Names of the fixed actions dominating the policy, the one closest in cost, and whether the policy beats it."""
    error = np.median(np.abs(policy.final_energy_error))
    cost = policy.force_evals.sum()
    dominating = [f.name for f in fixed if np.median(np.abs(f.final_energy_error)) < error and f.force_evals.sum() < cost]
    closest = min(fixed, key=lambda f: abs(np.log(f.force_evals.sum() / cost)))
    return dominating, closest.name, bool(error < np.median(np.abs(closest.final_energy_error)))


def format_table(results: list[RolloutResult]) -> str:
    lines = [f"{'policy':32s} {'median|dE/E0|':>14s} {'p90|dE/E0|':>11s} {'force evals':>12s} {'mean return':>12s} {'failed':>6s}"]
    for r in results:
        e = np.abs(r.final_energy_error)
        lines.append(f"{r.name:32s} {np.median(e):14.3e} {np.percentile(e, 90):11.3e} {r.force_evals.sum():12.4e} "
                     f"{r.episode_return.mean():12.3f} {int(r.failed.sum()):6d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agents.compare", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--model", default="model.zip")
    parser.add_argument("-n", "--n-episodes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=EVALUATION_EPISODE_STEPS)
    ns = parser.parse_args(argv)
    policy, fixed = compare_run(ns.run_dir, ns.model, ns.n_episodes, ns.steps)
    print(format_table([policy, *fixed]))
    dominating, closest, better = verdict(policy, fixed)
    print(f"dominated by: {dominating or 'none'}; closest in cost: {closest}; more accurate than it: {better}")


if __name__ == "__main__":
    main()
