"""Map tasks on Dask, on a laptop's ``LocalCluster`` or a cluster's scheduler.

Dask (``pip install "threebody-rl[dask]"``) is optional: nothing here imports it until a
scheduler is asked for. :func:`map_on_dask` runs ``function(*task)`` for each task as a Dask task
and knows nothing about what the tasks are: evaluation chunks (:mod:`agents.evaluation.schedule`)
and sweep points (:mod:`agents.sweep`) both go through it. :func:`connect` gives a client, or a
one-line error within a bounded time when the address is not a reachable Dask scheduler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: Seconds to wait for a scheduler to answer before giving up with an error naming its address.
CONNECT_TIMEOUT = 10.0


def require_dask():
    """Import ``dask.distributed``, or exit with a message saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise SystemExit(
            'error: --scheduler needs Dask: pip install "threebody-rl[dask]" (or: pip install "dask[distributed]")'
        ) from None
    return distributed


def connect(scheduler: str, n_workers: int | None = None, timeout: float = CONNECT_TIMEOUT):
    """A ``dask.distributed.Client`` for ``scheduler``: "local" starts a ``LocalCluster`` of
    single-threaded worker processes (one per core unless ``n_workers``) listening on 127.0.0.1
    only; anything else is a scheduler address such as ``tcp://10.0.0.1:8786``.

    The address is first asked who it is (Dask's ``identity`` call) within ``timeout`` seconds, so a
    malformed address, a service that is not a Dask scheduler or an unroutable host ends in
    ``SystemExit`` with one line naming the address, never a hang or a traceback.
    """
    distributed = require_dask()
    if scheduler == "local":
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
        return distributed.Client(cluster)
    try:
        identity = asyncio.run(asyncio.wait_for(_identify(scheduler), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise SystemExit(f"error: no Dask scheduler answered at {scheduler!r} within {timeout:g} s (nothing "
                         f"listening, unreachable, or another kind of service)") from None
    except (MemoryError, OverflowError, EOFError) as exc:  # a garbage frame length, a closed stream
        raise SystemExit(f"error: {scheduler!r} answered, but not in Dask's protocol ({type(exc).__name__}): "
                         f"is it a Dask scheduler's address?") from None
    except Exception as exc:  # a malformed address, a refused or closed connection
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SystemExit(f"error: cannot reach a Dask scheduler at {scheduler!r}: {reason}") from None
    if not (isinstance(identity, dict) and identity.get("type") == "Scheduler"):
        raise SystemExit(f"error: {scheduler!r} answered, but it is not a Dask scheduler")
    try:
        return distributed.Client(scheduler, timeout=timeout)
    except OSError as exc:
        raise SystemExit(f"error: cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None


async def _identify(address: str) -> Any:
    """The reply of ``address`` to Dask's ``identity`` call (the caller bounds the time)."""
    from distributed.comm import connect as open_comm
    from distributed.comm.addressing import parse_address

    parse_address(address, strict=True)  # ValueError for a string without a protocol such as tcp://
    comm = await open_comm(address)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised on the cluster: its position in the task list and the exception."""

    index: int
    error: BaseException


class TaskError(RuntimeError):
    """Raised by :func:`map_on_dask` (``fail_fast=True``) for the first task that failed."""

    def __init__(self, failure: TaskFailure) -> None:
        super().__init__(f"task {failure.index} failed on the cluster: {failure.error!r}")
        self.failure = failure


def _call_on_worker(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` with Numba's threads matched to the worker's threads: more would
    oversubscribe the cores the other workers use (docs/scaling.md)."""
    import numba
    from dask.distributed import get_worker

    most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set from the environment at import
    numba.set_num_threads(max(1, min(most, get_worker().state.nthreads)))
    return function(*args)


def map_on_dask(client, function: Callable[..., Any], tasks: Sequence[tuple], *,
                on_done: Callable[[int, Any], None] | None = None, fail_fast: bool = True) -> list[Any]:
    """``function(*task)`` for each task as a Dask task (``pure=False``); outcomes in task order.

    ``on_done(index, outcome)`` runs as each task finishes (progress bars, incremental output).
    A task that raises: with ``fail_fast`` the remaining tasks are cancelled and :class:`TaskError`
    is raised; otherwise its outcome is a :class:`TaskFailure` and the others go on.
    """
    distributed = require_dask()
    futures = [client.submit(_call_on_worker, function, *task, pure=False) for task in tasks]
    position = {future.key: k for k, future in enumerate(futures)}
    outcomes: list[Any] = [None] * len(tasks)
    for future in distributed.as_completed(futures):
        k = position[future.key]
        try:
            outcome = future.result()
        except Exception as exc:
            if fail_fast:
                client.cancel(futures)
                raise TaskError(TaskFailure(k, exc)) from exc
            outcome = TaskFailure(k, exc)
        outcomes[k] = outcome
        if on_done is not None:
            on_done(k, outcome)
    return outcomes
