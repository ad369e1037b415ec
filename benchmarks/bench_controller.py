"""The exported controller against SB3's predict: time per decision, and deployed wall time per episode.

1. Time per decision of the default network (6-64-64-7 DQN, float32 and float64), on observations
   from real episodes: SB3 ``predict`` on one observation and per observation of a batch of 1024;
   ``Controller.parameter`` from Python; ``Controller.parameters`` per observation of a batch; and
   ``controller.network.decide`` called from a compiled loop (how another Numba code would call it).
2. Deployed wall time per episode (one system, one decision per interval: observation, decision,
   integration, all in one compiled loop; :func:`threebody_env.deployment.deployed_episodes`) of the
   policy against fixed eta = 1e-3 and 2.15e-3, on the paper's test initial conditions.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_controller.py [--run RUN] [--seeds 20] [--intervals 300]

``--run``: a run folder (its ``model.zip``) or a model file (exported beside itself if needed); without
it, an untrained default DQN (the decision timings do not depend on the weights; the deployed
figures then show the cost of decisions, not a policy's choices). Figures are medians over repeats,
after a warm-up that compiles the kernels; the machine is shared, so compare within one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from numba import njit

from agents.algorithms import ALGOS
from agents.export import export_model, export_run
from agents.seeds import TEST_SEEDS, seeds_from
from controller import Controller, controller_path
from controller.network import decide_into, scratch
from threebody_env import ThreeBodyVectorEnv
from threebody_env.deployment import deployed_episodes
from threebody_env.sb3 import make_sb3_vec_env

FIXED_ETAS = (1e-3, 2.15e-3)
BATCH = 1024


def load_policy(run: str | None, workdir: Path) -> tuple[object, Path, str]:
    """The SB3 model, its controller file and a label: from ``run``, or an untrained default DQN."""
    if run is not None:
        model_path = Path(run) if str(run).endswith(".zip") else Path(run) / "model.zip"
        path = controller_path(model_path)
        if not path.exists():
            export_run(model_path.parent)
        algo = Controller.load(path).metadata["algo"]
        return ALGOS[algo].load(model_path, device="cpu"), path, str(model_path)
    model = ALGOS["dqn"]("MlpPolicy", make_sb3_vec_env(1), policy_kwargs={"net_arch": [64, 64]}, seed=0, device="cpu")
    return model, export_model(model, {}, workdir / "controller.npz"), "untrained default DQN"


def observations(model, env_kwargs: dict, n_envs: int = 64, n_intervals: int = 64) -> np.ndarray:
    """Observations met by the model on training initial conditions, (n_envs * n_intervals, D) float32."""
    env = ThreeBodyVectorEnv(num_envs=n_envs, max_episode_steps=300, autoreset_mode=AutoresetMode.SAME_STEP,
                             **env_kwargs)
    obs, _ = env.reset(seed=123)
    seen = []
    for _ in range(n_intervals):
        seen.append(obs)
        actions, _ = model.predict(obs, deterministic=True)
        obs, *_ = env.step(actions)
    return np.concatenate(seen)


@njit
def compiled_decisions(policy, observations, repeats):
    """Decide every observation ``repeats`` times from compiled code; returns the sum of parameters."""
    buffers = scratch(policy)
    total = 0.0
    for _ in range(repeats):
        for row in range(observations.shape[0]):
            _, _, parameter = decide_into(policy, observations[row], buffers)
            total += parameter
    return total


def per_call(function, inputs, repeats: int) -> float:
    """Median over ``repeats`` of the mean seconds per call of ``function`` over ``inputs``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in inputs:
            function(x)
        times.append((time.perf_counter() - start) / len(inputs))
    return float(np.median(times))


def decision_table(model, controller64: Controller, controller32: Controller, obs: np.ndarray, repeats: int) -> None:
    """Each figure is the median over ``repeats`` short timings (~1 ms each), so that a shared machine's
    preemptions fall into few of them."""
    singles = obs[:: max(1, len(obs) // 500)]
    batch = obs[:BATCH]
    rows = [("SB3 predict, one observation", per_call(lambda x: model.predict(x, deterministic=True), singles[:10],
                                                      repeats)),
            ("SB3 predict, batch of 1024 (per obs.)",
             per_call(lambda x: model.predict(x, deterministic=True), [batch], repeats) / BATCH)]
    for name, ctl in (("float32", controller32), ("float64", controller64)):
        ctl.parameters(batch)
        compiled_decisions(ctl.policy, batch, 1)
        rows.append((f"Controller.parameter, one observation ({name})", per_call(ctl.parameter, singles[:200],
                                                                                repeats)))
        rows.append((f"Controller.parameters, batch of 1024 ({name}, per obs.)",
                     per_call(ctl.parameters, [batch], repeats) / BATCH))
        rows.append((f"decide() in a compiled loop ({name}, per obs.)",
                     per_call(lambda x, policy=ctl.policy: compiled_decisions(policy, x, 1), [batch], repeats) / BATCH))
    reference = rows[0][1]
    print(f"{'decision':<58}{'us':>10}{'vs SB3 single':>15}")
    for name, seconds in rows:
        print(f"{name:<58}{seconds * 1e6:>10.3f}{reference / seconds:>14.0f}x")


def deployed_table(controller: Controller, seeds: list[int], intervals: int, repeats: int) -> None:
    env_kwargs = controller.metadata["env_kwargs"]
    methods = [("policy (deployed controller)", controller)] + [(f"eta = {eta:g} (fixed)", eta) for eta in FIXED_ETAS]
    for _, method in methods:  # warm-up: compile the loops
        deployed_episodes(method, seeds[:1], env_kwargs=env_kwargs, n_intervals=2)
    print(f"\n{len(seeds)} test initial conditions x {intervals} intervals, one system at a time "
          f"(median over {repeats} repeats of each episode's wall time)")
    print(f"{'method':<32}{'median ms/ep':>13}{'total s':>9}{'median |dE/E0|':>16}{'p90 |dE/E0|':>13}"
          f"{'force evals':>13}{'us/eval':>9}")
    for name, method in methods:
        runs = [deployed_episodes(method, seeds, env_kwargs=env_kwargs, n_intervals=intervals) for _ in range(repeats)]
        wall = np.median(np.array([r.wall_time for r in runs]), axis=0)
        error = np.abs(runs[0].final_energy_error)
        evals = runs[0].force_evals
        print(f"{name:<32}{np.median(wall) * 1e3:>13.2f}{wall.sum():>9.3f}{np.median(error):>16.2e}"
              f"{np.percentile(error, 90):>13.2e}{evals.sum():>13,}{wall.sum() / evals.sum() * 1e6:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder or model .zip (default: an untrained default DQN)")
    parser.add_argument("--seeds", type=int, default=20, help="test initial conditions for the deployed episodes")
    parser.add_argument("--intervals", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=50, help="timings per decision figure (5x fewer per episode)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as training does: on a shared 2-core machine more threads only contend
    with tempfile.TemporaryDirectory() as workdir:
        model, path, label = load_policy(args.run, Path(workdir))
        controller, wide = Controller.load(path), Controller.load(path, dtype=np.float64)
    print(f"Policy: {label}: {controller}")
    obs = observations(model, controller.metadata["env_kwargs"])
    decision_table(model, wide, controller, obs, args.repeats)
    deployed_table(controller, seeds_from(TEST_SEEDS, args.seeds), args.intervals, max(1, args.repeats // 5))


if __name__ == "__main__":
    main()
