"""What a meta policy (ThreeBodyMeta-v0) chooses on the test initial conditions, and where its deployed wall
time goes (not a test).

Runs the run folder's controller (``best_controller.npz``, as ``evaluate.py`` does) in the vector
environment on the first ``--n-ics`` test seeds for ``--n-intervals`` intervals, and prints the share
of intervals per (method, parameter), the share per method, the method switches per episode
(median, mean, share of episodes that switch at all), and, per method, how loose the policy runs it
after quiet and after busy intervals (:func:`choices_by_activity`).

Then it splits the deployed wall time (``threebody_env.deployment.deployed_episodes``: observation,
decision and integration in one compiled loop) into the integration of the policy's own schedule,
replayed open loop with the same state records and energy bookkeeping but no observation or decision,
and the rest (observations, decisions, the reset's cost-unit integration). Beside it: fixed IAS15 at
the policy's most used epsilon, deployed. Each figure is the median over ``--repeats`` of the total
over the episodes; compare within one run, the machine is shared.

Usage: python benchmarks/meta_choices.py RUN [--n-ics 100] [--n-intervals 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace

import numpy as np
from numba import njit

from agents.seeds import TEST_SEEDS, seeds_from
from controller import Controller
from controller.episode import EPISODE_CLOCK
from integrators import advance_kernel, energy_kernel, state_size
from threebody_env import ThreeBodyVectorEnv
from threebody_env.config import as_config
from threebody_env.deployment import deployed_episodes, episode_settings
from threebody_env.systems import validate_initial_condition


@njit(cache=True, error_model="numpy")
def replay(method_ids, params, pos, vel, mass, interval, softening, max_steps, max_energy_error):
    """Integrate one system in place along a schedule (method id and parameter per interval, (T,) each) as
    the deployed loop does, state record and energy check included, without observations or decisions.
    Returns the force evaluations."""
    state = np.zeros(state_size(pos.shape[0]))
    eps2 = softening * softening
    energy0 = energy_kernel(pos, vel, mass, eps2)
    force_evals = 0
    for t in range(method_ids.size):
        _, evals, status = advance_kernel(method_ids[t], pos, vel, mass, interval, params[t], softening, max_steps,
                                          state)
        force_evals += evals
        error = (energy_kernel(pos, vel, mass, eps2) - energy0) / abs(energy0)
        if not abs(error) <= max_energy_error or status != 0:
            break
    return force_evals


def timed_replays(schedules, initial_conditions, settings, repeats: int) -> tuple[float, int]:
    """Median over ``repeats`` of the total wall time (s) of replaying every schedule, and the force evaluations."""
    totals, evals = [], 0
    for _ in range(repeats):
        total = evals = 0
        for (method_ids, params), (pos, vel, mass) in zip(schedules, initial_conditions, strict=True):
            pos, vel = pos.copy(), vel.copy()
            start = EPISODE_CLOCK()
            evals += replay(method_ids, params, pos, vel, mass, settings.interval, settings.softening,
                            settings.max_integrator_steps, settings.max_energy_error)
            total += EPISODE_CLOCK() - start
        totals.append(total)
    return float(np.median(totals)), evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n-ics", type=int, default=100)
    parser.add_argument("--n-intervals", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats of the wall-time split")
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
    taken = []  # (n_ics,) actions per interval; an episode's own end is where running turns False
    spent = []  # (n_ics,) force evaluations per interval
    for _ in range(args.n_intervals):
        actions = controller.actions(obs)
        taken.append(np.where(running, actions, -1))
        counts.update(actions[running].tolist())
        if last is not None:
            switches += running & (methods[actions] != methods[last])
        last = actions
        obs, _, terminated, truncated, info = env.step(actions)
        spent.append(info["n_force_evals"])
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
    choices_by_activity(np.array(taken).T, np.array(spent).T, env)
    wall_time_split(controller, np.array(taken).T, env, args)


def choices_by_activity(taken: np.ndarray, spent: np.ndarray, env: ThreeBodyVectorEnv) -> None:
    """Print, per method, how loose the policy runs it after quiet and after busy intervals.

    ``taken`` and ``spent`` (episodes, intervals): the actions (-1 after an episode's end) and the force
    evaluations of each interval. Intervals are binned by the previous interval's force evaluations
    (at its quartiles and 90th percentile over that method's intervals; costs are integers, so ties make
    the bins uneven), something the policy can infer from its observation. Each row gives the median
    parameter and the share in the loosest third of the method's grid. A policy that saves work where it
    is safe loosens after quiet intervals, not after busy ones.
    """
    method_of, values = env.actions.method_of, env.actions.values
    actions, previous = taken[:, 1:], spent[:, :-1]
    print("\nparameter by the previous interval's force evaluations (is it loose where the orbit is quiet?)")
    for index, method in enumerate(env.config.methods):
        grid = np.sort(values[method_of == index])
        loose = grid[(2 * grid.size) // 3]
        mine = (actions >= 0) & (method_of[actions] == index)
        if mine.sum() < 20:
            continue
        chosen_all, previous_mine = values[actions[mine]], previous[mine]
        edges = np.percentile(previous_mine, [25, 50, 75, 90])
        bins = np.searchsorted(edges, previous_mine, side="left")  # a tie goes to the quieter bin
        print(f"| {method.name}: previous interval's force evals | intervals | median parameter "
              f"| share >= {loose:.3g} |\n| --- | --- | --- | --- |")
        for k in range(edges.size + 1):
            chosen = chosen_all[bins == k]
            if chosen.size:
                span = previous_mine[bins == k]
                print(f"| {span.min():.0f}-{span.max():.0f} | {chosen.size} | {np.median(chosen):.3g} "
                      f"| {100 * np.mean(chosen >= loose):.0f} % |")


def wall_time_split(controller: Controller, taken: np.ndarray, env: ThreeBodyVectorEnv, args) -> None:
    """Print the deployed wall time of the policy, of its schedule replayed, and of fixed IAS15 (module doc)."""
    config = as_config(controller.metadata["env_kwargs"])
    settings = episode_settings(config)
    seeds = seeds_from(TEST_SEEDS, args.n_ics)
    method_ids = np.array([m.method_id for m in config.methods], dtype=np.int64)
    method_of, values = env.actions.method_of, env.actions.values
    schedules = [(method_ids[method_of[row[row >= 0]]], values[row[row >= 0]]) for row in taken]
    initial_conditions = [validate_initial_condition(config.sampler(np.random.default_rng(s))) for s in seeds]
    timed_replays(schedules[:1], initial_conditions[:1], settings, 1)  # compiles
    replay_wall, replay_evals = timed_replays(schedules, initial_conditions, settings, args.repeats)
    policy_runs = [deployed_episodes(controller, seeds, n_intervals=args.n_intervals) for _ in range(args.repeats)]
    policy_wall = float(np.median([r.wall_time.sum() for r in policy_runs]))
    ias15 = [i for i, m in enumerate(config.methods) if m.name == "ias15"]
    used = Counter(a for row in taken for a in row[row >= 0] if method_of[a] in ias15)
    rows = [("policy, deployed", policy_wall, int(policy_runs[0].force_evals.sum())),
            ("its schedule replayed (integration only)", replay_wall, replay_evals)]
    if used:
        epsilon = float(values[used.most_common(1)[0][0]])
        fixed_config = replace(config, integrator="ias15", param_range=None, n_actions=None)
        fixed_runs = [deployed_episodes(epsilon, seeds, env_kwargs=fixed_config, n_intervals=args.n_intervals)
                      for _ in range(args.repeats)]
        rows.append((f"fixed IAS15 {epsilon:.3g}, deployed", float(np.median([r.wall_time.sum() for r in fixed_runs])),
                     int(fixed_runs[0].force_evals.sum())))
    print(f"\ndeployed wall time on {args.n_ics} test systems (median of {args.repeats} repeats of the total)")
    print("| way | ms / episode | force evals / episode | ns / force evaluation |\n| --- | --- | --- | --- |")
    for label, wall, evals in rows:
        print(f"| {label} | {1e3 * wall / args.n_ics:.2f} | {evals / args.n_ics / 1e3:.1f}k "
              f"| {1e9 * wall / evals:.0f} |")
    print(f"observations, decisions and the reset's cost unit: {1e3 * (policy_wall - replay_wall) / args.n_ics:.2f} "
          f"ms / episode ({100 * (1 - replay_wall / policy_wall):.0f} % of the deployed policy's time)")


if __name__ == "__main__":
    main()
