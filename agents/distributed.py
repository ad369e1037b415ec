"""Run evaluation chunks as Dask tasks, on a laptop's ``LocalCluster`` or a cluster's scheduler.

Dask (``pip install "threebody-rl[dask]"``) is optional: nothing here imports it until a
scheduler is asked for. The unit of work is :func:`agents.evaluation.run_chunk` (one method on
one chunk of initial conditions, in the batched environment), a pure function of its arguments,
so a distributed evaluation equals a local one apart from wall time. Trained models travel as
the bytes of their ``.zip`` (``MethodSpec.model_data``): workers need not share a filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents.rollout import RolloutResult


def require_dask():
    """Import ``dask.distributed``, or exit with a message saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise SystemExit(
            'error: --scheduler needs Dask: pip install "threebody-rl[dask]" (or: pip install "dask[distributed]")'
        ) from None
    return distributed


def connect(scheduler: str, n_workers: int | None = None):
    """A ``dask.distributed.Client`` for ``scheduler``: "local" starts a ``LocalCluster`` of
    single-threaded worker processes (one per core unless ``n_workers``); anything else is a
    scheduler address such as ``tcp://10.0.0.1:8786``."""
    distributed = require_dask()
    if scheduler == "local":
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        return distributed.Client(cluster)
    try:
        return distributed.Client(scheduler, timeout=30)
    except OSError as exc:
        raise SystemExit(f"error: cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None


def _run_chunk_on_worker(*task: Any) -> RolloutResult:
    """:func:`agents.evaluation.run_chunk` with Numba's threads matched to the worker's threads:
    more would oversubscribe the cores the other workers use (measured: tasks 5-10x slower)."""
    import numba
    from dask.distributed import get_worker

    from agents.evaluation import run_chunk

    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, get_worker().state.nthreads)))
    return run_chunk(*task)


def run_chunks_on_dask(client, tasks: Sequence[tuple], on_done: Callable[[], Any] | None = None) -> list[RolloutResult]:
    """``run_chunk(spec, seeds, settings, n_traces)`` for each task tuple, as Dask tasks; results in
    task order. A failed task cancels the rest and raises ``RuntimeError`` naming its method and seeds."""
    distributed = require_dask()
    futures = [client.submit(_run_chunk_on_worker, *task, pure=False) for task in tasks]
    position = {future.key: k for k, future in enumerate(futures)}
    results: list[RolloutResult | None] = [None] * len(tasks)
    for future in distributed.as_completed(futures):
        k = position[future.key]
        try:
            results[k] = future.result()
        except Exception as exc:
            client.cancel(futures)
            spec, seeds = tasks[k][0], tasks[k][1]
            raise RuntimeError(f"{spec.name} on seeds {seeds[0]}..{seeds[-1]} failed on the cluster: {exc!r}") from exc
        if on_done is not None:
            on_done()
    return results
