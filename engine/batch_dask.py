"""Batches on Dask ``distributed`` (the optional extra ``dask``).

``local`` / ``local:N`` start a ``LocalCluster`` of N worker processes (N
defaults to the cores), each running one task at a time with
``cores // N`` BLAS/OpenMP threads, so N dreams never oversubscribe the
machine; ``tcp://HOST:PORT`` (or any address Dask takes) joins an existing
cluster, whose workers must see the weights and the images at the same
paths (a shared filesystem). One task is one picture
(:func:`inceptionism.engine.batch.dream_task`); each worker keeps its net
between tasks; a task whose worker dies is retried elsewhere
(:data:`RETRIES`), and the output's atomic write and skip-if-there mean a
picture is never written twice or half.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from inceptionism.engine.batch import Outcome, Spec, dream_task, task_spec

#: Times a task is resubmitted after its worker died.
RETRIES = 2
#: Seconds to wait for a ``tcp://`` scheduler.
CONNECT_TIMEOUT = 10.0
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
INSTALL = 'the Dask scheduler needs Dask: pip install "inceptionism[dask]"'


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(f"--scheduler: {INSTALL}") from None
    return distributed


def parse_local(scheduler: str) -> int | None:
    """Workers asked by ``local`` (None: one per core) or ``local:N``;
    ``ValueError`` for a bad N. Not a local scheduler: ``-1``."""
    if scheduler != "local" and not scheduler.startswith("local:"):
        return -1
    if scheduler == "local":
        return None
    text = scheduler.split(":", 1)[1]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"--scheduler {scheduler}: N must be a whole number >= 1 (local:2)"
        )
    return int(text)


def blas_env(workers: int) -> dict[str, str]:
    """The BLAS/OpenMP thread variables for one of ``workers`` processes
    sharing this machine's cores. The thread count changes a GEMM's last
    bits, so a run elsewhere with the same variables makes the same pixels."""
    return dict.fromkeys(_THREAD_VARS, str(max(1, (os.cpu_count() or 1) // workers)))


def local_cluster(workers: int | None = None, **kwargs: Any) -> Any:
    """A ``LocalCluster`` of ``workers`` processes with one task thread each
    and ``cores // workers`` BLAS threads each."""
    distributed = _distributed()
    n = workers or os.cpu_count() or 1
    with warnings.catch_warnings():  # 8787 taken: Dask picks a port we print
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        return distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            env=blas_env(n),
            **kwargs,
        )


def connect(scheduler: str) -> tuple[Any, Any]:
    """``(client, cluster or None)`` for a ``--scheduler`` value."""
    distributed = _distributed()
    n = parse_local(scheduler)
    if n != -1:
        cluster = local_cluster(n)
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(scheduler, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(
            f"--scheduler {scheduler}: no Dask scheduler answered ({exc}); start "
            "one (`dask scheduler`) or use --scheduler local"
        ) from None


def run_on_dask(
    tasks: Sequence[tuple],
    spec: Spec,
    *,
    scheduler: str | None = None,
    client: Any = None,
    on_done: Callable[[Outcome, int, int], None] | None = None,
    on_connect: Callable[[Any], None] | None = None,
) -> list[Outcome]:
    """Each task on the cluster; outcomes in task order. Ctrl-C cancels
    what has not finished (written outputs stay)."""
    distributed = _distributed()
    cluster = None
    if client is None:
        client, cluster = connect(str(scheduler))
    try:
        if on_connect is not None:
            on_connect(client)
        futures = [
            client.submit(
                dream_task,
                task[0],
                task[1],
                task_spec(task, spec),
                pure=False,
                retries=RETRIES,
            )  # fmt: skip
            for task in tasks
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        outcomes: list[Outcome | None] = [None] * len(futures)
        try:
            for n, future in enumerate(distributed.as_completed(futures), 1):
                i = index[future.key]
                try:
                    outcome = future.result()
                except Exception as exc:  # e.g. the worker died RETRIES+1 times
                    inp, out = tasks[i][:2]
                    outcome = Outcome(str(inp), "failed", output=out,
                                      reason=f"on Dask: {exc}")  # fmt: skip
                outcome.task = i
                outcomes[i] = outcome
                if on_done is not None:
                    on_done(outcome, n, len(futures))
        except BaseException:
            client.cancel(futures)
            raise
        return [o for o in outcomes if o is not None]
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
