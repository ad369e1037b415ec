"""What a meta policy (ThreeBodyMeta-v0) chooses on the test initial conditions (not a test).

Runs the run folder's controller (``best_controller.npz``, as ``evaluate.py`` does) in the vector
environment on the first ``--n-ics`` test seeds for ``--n-intervals`` intervals, and prints the share
of intervals per (method, parameter), the share per method, and the method switches per episode
(median, mean, share of episodes that switch at all).

Usage: python benchmarks/meta_choices.py RUN [--n-ics 100] [--n-intervals 300]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from agents.seeds import TEST_SEEDS, seeds_from
from controller import Controller
from threebody_env import ThreeBodyVectorEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n-ics", type=int, default=100)
    parser.add_argument("--n-intervals", type=int, default=300)
    args = parser.parse_args()
    controller = Controller.load(args.run)
    env = ThreeBodyVectorEnv(args.n_ics, max_episode_steps=args.n_intervals, **controller.metadata["env_kwargs"])
    methods, values = env.actions.method_of, env.actions.values
    names = [m.name for m in env.config.methods]
    obs, _ = env.reset(seed=seeds_from(TEST_SEEDS, args.n_ics))
    counts: Counter = Counter()
    switches = np.zeros(args.n_ics, dtype=np.int64)
    running = np.ones(args.n_ics, dtype=bool)
    last = None
    for _ in range(args.n_intervals):
        actions = controller.actions(obs)
        counts.update(actions[running].tolist())
        if last is not None:
            switches += running & (methods[actions] != methods[last])
        last = actions
        obs, _, terminated, truncated, _ = env.step(actions)
        running &= ~(terminated | truncated)
        if not running.any():
            break
    total = sum(counts.values())
    for action, count in sorted(counts.items()):
        print(f"{names[methods[action]]:8s} {values[action]:9.3g}  {100 * count / total:5.1f} % of intervals")
    for index, name in enumerate(names):
        share = sum(c for a, c in counts.items() if methods[a] == index) / total
        print(f"{name}: {100 * share:.1f} % of intervals")
    print(f"method switches per episode: median {np.median(switches):g}, mean {switches.mean():.1f}, "
          f"{100 * np.mean(switches > 0):.0f} % of episodes switch at least once")


if __name__ == "__main__":
    main()
