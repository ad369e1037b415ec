"""Stage 3 of an evaluation: run every method on every initial condition, here or on Dask.

The unit of work is :func:`run_chunk`, one method on one chunk of seeds: a pure function of spec,
seeds and :class:`~agents.evaluation.runs.Settings` (apart from wall time), so the scheduler that
runs it (this process, a background process for REBOUND, or Dask tasks through
:func:`agents.distributed.map_on_dask`) never changes the results.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from agents.baselines import FixedActionPolicy
from agents.evaluation.methods import MethodSpec
from agents.evaluation.runs import Settings, load_model, load_model_data
from agents.rollout import RolloutResult, rollout

#: With ``background_reference`` and at least this many initial conditions, the reference
#: (single-threaded REBOUND) runs in a separate process while the Numba baselines run.
BACKGROUND_MIN_SEEDS = 32
#: Each deployed episode is timed this many times and its shortest time kept: the episode is
#: deterministic, so the spread is other work on the machine, which the minimum leaves out.
DEPLOYED_REPEATS = 3


def run_chunk(spec: MethodSpec, seeds: Sequence[int], settings: Settings, n_traces: int = 0) -> RolloutResult:
    """One episode of ``spec`` from each seed's initial condition; traces of the first ``n_traces``.

    The spec's own integrator and grid apply (:meth:`MethodSpec.settings`). With ``settings.deployed``
    the same episodes run again deployed (:func:`deployed_wall_time`), which fills
    ``deployed_wall_time``; with ``settings.local_error`` the episodes' local errors fill
    ``local_error`` (neither for the REBOUND reference).
    """
    if spec.role == "reference":
        from agents.rebound_baseline import rollout_ias15

        return rollout_ias15(seeds, env_kwargs=settings.config, n_intervals=settings.n_intervals,
                             name=spec.name, n_traces=n_traces)
    if spec.role == "policy" and spec.model_data is not None:
        policy = load_model_data(spec.algo, spec.model_data)
    elif spec.role == "policy":
        policy = load_model(spec.algo, spec.model_path)  # rollout asks SB3's predict for deterministic actions
    elif spec.action is not None and spec.action_mode is not None:
        policy = FixedActionPolicy(spec.action, spec.name, spec.action_mode)
    else:
        raise ValueError(f"baseline {spec.name!r} names no action")
    settings = spec.settings(settings)
    result = rollout(policy, seeds, env_kwargs=settings.config, n_intervals=settings.n_intervals, name=spec.name,
                     n_traces=n_traces, batch_size=max(len(seeds), 1), local_error=settings.local_error)
    if settings.deployed:
        result = replace(result, deployed_wall_time=deployed_wall_time(policy, result, settings))
    return result


def deployed_wall_time(policy: Any, result: RolloutResult, settings: Settings) -> np.ndarray:
    """Wall time [s] of each of ``result``'s episodes run as a user would deploy ``policy``.

    One system at a time, one decision per interval: the observation, the decision and the
    integration, all in compiled code (:func:`threebody_env.deployment.deployed_episodes`), the
    policy as its torch-free :class:`~controller.Controller` (a fixed action as its parameter).
    Each episode's time is the shortest of :data:`DEPLOYED_REPEATS` runs.
    The deployed episodes must end exactly as the batched ones did (same error and force
    evaluations, bit for bit): for a fixed action anything else is a bug (``RuntimeError``). A
    discrete policy may differ where two of its outputs tie within float32 rounding (the controller
    and torch round differently), which is reported as a warning with the number of such episodes.
    A continuous policy's deployed actions differ from SB3's by float32 rounding (~1e-7), so its
    episodes may end differently in the last bits: expected, not reported.
    """
    from agents.export import controller_from_model
    from threebody_env.actions import ActionMap
    from threebody_env.deployment import deployed_episodes

    config = settings.config
    if isinstance(policy, FixedActionPolicy):
        if policy.action_mode != config.action_mode:
            config = replace(config, action_mode=policy.action_mode)
        deployed_policy: Any = float(ActionMap(config).to_params(np.array([policy.action]))[0])
    else:
        deployed_policy = controller_from_model(policy, config)
    runs = [deployed_episodes(deployed_policy, result.seeds, env_kwargs=config, n_intervals=settings.n_intervals)
            for _ in range(DEPLOYED_REPEATS)]
    deployed = runs[0]
    error, batched_error = deployed.final_energy_error, result.final_energy_error
    same_error = (error == batched_error) | (np.isnan(error) & np.isnan(batched_error))
    differ = int(np.sum(~same_error | (deployed.force_evals != result.force_evals)))
    if differ and isinstance(policy, FixedActionPolicy):
        raise RuntimeError(f"{result.name}: {differ} deployed episodes ended differently from the batched ones")
    if differ and settings.config.action_mode == "discrete":
        warnings.warn(f"{result.name}: {differ} of {result.seeds.size} deployed episodes took another action "
                      f"somewhere (a float32 tie between two outputs); their wall time is of that episode",
                      stacklevel=2)
    return np.min([run.wall_time for run in runs], axis=0)


def run_chunks_on_dask(client, tasks: Sequence[tuple[MethodSpec, Sequence[int], Settings, int]],
                       on_done: Callable[[], Any] | None = None) -> list[RolloutResult]:
    """:func:`run_chunk` for each ``(spec, seeds, settings, n_traces)`` as Dask tasks; results in
    task order. A failed task cancels the rest and raises ``RuntimeError`` naming its method and seeds."""
    from agents.distributed import TaskError, map_on_dask

    try:
        return map_on_dask(client, run_chunk, tasks, on_done=None if on_done is None else lambda k, r: on_done())
    except TaskError as exc:
        spec, seeds = tasks[exc.failure.index][0], tasks[exc.failure.index][1]
        raise RuntimeError(f"{spec.name} on seeds {seeds[0]}..{seeds[-1]} failed on the cluster: "
                           f"{exc.failure.error!r}") from exc.failure.error


def evaluate(specs: Sequence[MethodSpec], seeds: Sequence[int], settings: Settings, *, batch_size: int = 1024,
             n_traces: int = 3, progress: bool = True, background_reference: bool = False,
             client=None) -> dict[str, RolloutResult]:
    """Run every method on the same ``seeds`` in chunks of ``batch_size``; results keyed by name.

    A progress bar (stderr) counts methods x chunks. The first ``n_traces`` episodes are traced.
    ``background_reference`` spawns a worker process for REBOUND (the caller's main module must be
    import-safe, ``if __name__ == "__main__"``). With a Dask ``client`` every (method, chunk) is a
    task on its workers. Scheduling never changes results, only wall time.
    """
    from concurrent.futures import ProcessPoolExecutor
    from contextlib import nullcontext
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    chunks = [list(seeds[i : i + batch_size]) for i in range(0, len(seeds), batch_size)]
    traced = [max(0, min(n_traces - k * batch_size, len(chunk))) for k, chunk in enumerate(chunks)]
    if client is not None:
        tasks = [(spec.with_model_data(), chunk, settings, n)
                 for spec in specs for chunk, n in zip(chunks, traced, strict=True)]
        with tqdm(total=len(tasks), desc="evaluating on Dask", unit="chunk", disable=not progress) as bar:
            done = run_chunks_on_dask(client, tasks, on_done=bar.update)
        per_spec = len(chunks)
        return {s.name: RolloutResult.concatenate(done[k * per_spec : (k + 1) * per_spec]) for k, s in enumerate(specs)}
    background = [s for s in specs if s.role == "reference" and background_reference
                  and len(seeds) >= BACKGROUND_MIN_SEEDS]
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn")) if background else None
    parts: dict[str, list[RolloutResult]] = {}
    with tqdm(total=len(specs) * len(chunks), desc="evaluating", unit="chunk", disable=not progress) as bar, \
            pool or nullcontext():
        futures = {s.name: [pool.submit(run_chunk, s, c, settings, t) for c, t in zip(chunks, traced, strict=True)]
                   for s in background} if pool is not None else {}
        for spec in specs:
            if spec.name in futures:
                continue
            bar.set_postfix_str(spec.name)
            parts[spec.name] = []
            for chunk, n in zip(chunks, traced, strict=True):
                parts[spec.name].append(run_chunk(spec, chunk, settings, n))
                bar.update()
        for name, pending in futures.items():
            bar.set_postfix_str(name)
            parts[name] = []
            for future in pending:
                parts[name].append(future.result())
                bar.update()
    return {s.name: RolloutResult.concatenate(parts[s.name]) for s in specs}
