"""Run rollouts as Dask tasks, on a laptop's ``LocalCluster`` or a cluster's scheduler.

Dask (``pip install "threebody-rl[dask]"``) is optional: nothing here is imported until a
scheduler is asked for. Work is split into chunks of initial conditions; each chunk is one
task that runs :func:`agents.rollout.rollout` in the batched environment, so a distributed
result is identical to a local one (rollouts do not depend on how seeds are chunked), apart from
wall time.

Trained models travel as the bytes of their ``.zip`` (workers need not share a filesystem) and
are loaded once per worker process.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.rollout import Policy, RolloutResult, rollout


def require_dask():
    """Import ``dask.distributed``, or exit with a message saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise SystemExit(
            'error: --scheduler needs Dask: pip install "threebody-rl[dask]" (or: pip install "dask[distributed]")'
        ) from None
    return distributed


def connect(scheduler: str):
    """A ``dask.distributed.Client`` for ``scheduler``: "local" starts a ``LocalCluster`` with one
    single-threaded worker process per core (each runs Numba's parallel kernel itself); anything
    else is a scheduler address such as ``tcp://10.0.0.1:8786``."""
    distributed = require_dask()
    if scheduler == "local":
        cluster = distributed.LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None)
        return distributed.Client(cluster)
    return distributed.Client(scheduler)


@dataclass(frozen=True)
class ModelSpec:
    """A trained SB3 model as data: the algorithm name and the bytes of its ``.zip`` file."""

    algo: str
    data: bytes

    @property
    def key(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def load(self) -> Policy:
        return _load_model(self.algo, self.key, self.data)


@functools.lru_cache(maxsize=8)
def _load_model(algo: str, key: str, data: bytes) -> Policy:
    from agents.algorithms import ALGOS

    return ALGOS[algo].load(io.BytesIO(data), device="cpu")


PolicySource = ModelSpec | Policy


def _run_chunk(source: PolicySource, seeds: Sequence[int], rollout_kwargs: dict[str, Any]) -> RolloutResult:
    """One task: a rollout on one chunk, with Numba's threads matched to the worker's threads
    (more would oversubscribe the cores that the other workers use)."""
    import numba
    from dask.distributed import get_worker

    numba.set_num_threads(max(1, min(numba.config.NUMBA_NUM_THREADS, get_worker().state.nthreads)))
    policy = source.load() if isinstance(source, ModelSpec) else source
    return rollout(policy, seeds, **rollout_kwargs)


def rollout_on_dask(
    client,
    source: PolicySource,
    seeds: Sequence[int],
    *,
    chunk_size: int = 1024,
    on_chunk: Callable[[int], None] | None = None,
    **rollout_kwargs: Any,
) -> RolloutResult:
    """:func:`~agents.rollout.rollout` over ``seeds``, one Dask task per chunk of ``chunk_size``.

    ``source`` is a :class:`ModelSpec` or a picklable policy (the fixed baselines). Traces are
    kept only from the first chunk, as ``rollout`` keeps the first ``n_traces`` episodes. A failed
    chunk raises ``RuntimeError`` naming its seed range.
    """
    distributed = require_dask()
    seeds = [int(s) for s in seeds]
    n_traces = rollout_kwargs.pop("n_traces", 0)
    chunks = [seeds[i : i + chunk_size] for i in range(0, len(seeds), chunk_size)]
    scattered = client.scatter(source, broadcast=True, hash=False)
    futures = [
        client.submit(_run_chunk, scattered, chunk, {**rollout_kwargs, "n_traces": n_traces if k == 0 else 0}, pure=False)
        for k, chunk in enumerate(chunks)
    ]
    index = {future.key: k for k, future in enumerate(futures)}
    results: list[RolloutResult | None] = [None] * len(chunks)
    for future in distributed.as_completed(futures):
        k = index[future.key]
        try:
            results[k] = future.result()
        except Exception as exc:
            for other in futures:
                other.cancel()
            chunk = chunks[k]
            raise RuntimeError(f"rollout of seeds {chunk[0]}..{chunk[-1]} failed on the cluster: {exc!r}") from exc
        if on_chunk is not None:
            on_chunk(len(chunks[k]))
    return RolloutResult.concatenate(results)
