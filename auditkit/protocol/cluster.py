"""Run an audit's independent work on a Dask cluster (`--cluster`): a scheduler address or `local:N`.

Only the work moves: each training (and the amortized DeepFN fit) runs on a worker, which reads the dataset and the
audit's cache by path; the submitting process writes every finished part itself, atomically, as it arrives, so the
audit directory, its resume rule and its results are those of a local run. Dask (`pip install "auditkit[cluster]"`)
retries a task whose worker died, so a lost worker neither loses nor duplicates a part.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from auditkit.errors import AuditkitError
from auditkit.process_state import exit_with

ENV_VAR = "AUDITKIT_CLUSTER"
TIMEOUT_VAR = "AUDITKIT_CLUSTER_TIMEOUT"  # seconds to wait for a scheduler (default 10)
RETRIES = 2  # a task that raised on a worker (not a lost worker: Dask reschedules those itself) runs again
RESUBMITS = 3  # a task Dask cancelled after losing its worker is submitted again this often (as_completed)
GPU = "GPU"  # the resource name workers advertise (dask-worker --resources "GPU=1") and GPU tasks ask for


def cluster_spec(option: str | None) -> str | None:
    """The cluster to use: --cluster, else $AUDITKIT_CLUSTER, else None (run locally)."""
    spec = option if option else os.environ.get(ENV_VAR) or None
    return spec.strip() if spec else None


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise AuditkitError('--cluster needs Dask distributed: pip install "auditkit[cluster]"') from None
    return distributed


@contextlib.contextmanager
def open_client(spec: str) -> Iterator[Any]:
    """A connected dask Client for `local:N` (a LocalCluster of N single-thread worker processes) or an address."""
    distributed = _import_distributed()
    if spec.startswith("local"):
        _, _, count = spec.partition(":")
        try:
            workers = int(count) if count else (os.cpu_count() or 1)
        except ValueError:
            raise AuditkitError(f"--cluster {spec!r}: expected local:N (N worker processes) or a scheduler address "
                                "such as tcp://host:8786") from None
        if workers < 1:
            raise AuditkitError(f"--cluster {spec!r}: needs at least one worker")
        # one thread per worker process: each training runs single-threaded, as a local run with one job per core does
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        client = distributed.Client(cluster)
        try:
            client.run(exit_with, os.getpid())  # the workers are this process's children: they end with it
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = distributed.Client(spec, timeout=float(os.environ.get(TIMEOUT_VAR, "10")))
    except (OSError, TimeoutError, ValueError) as exc:
        raise AuditkitError(f"--cluster {spec}: cannot reach the Dask scheduler ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})") from None
    try:
        yield client
    finally:
        client.close()


def _can_open(paths: list[str]) -> str | None:
    """Run on each worker: the first path it cannot read, with the reason; None when all are readable."""
    for path in paths:
        p = Path(path)
        if not p.exists():
            return f"{path}: does not exist on this worker"
        if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
            return f"{path}: not readable on this worker"
    return None


def check_workers_can_read(client: Any, paths: Iterable[str | Path]) -> None:
    """One line naming the worker and the path when a worker cannot open the dataset or the audit directory."""
    absolute = [str(Path(p).resolve()) for p in paths]
    for worker, problem in sorted(client.run(_can_open, absolute).items()):
        if problem:
            raise AuditkitError(f"cluster worker {worker}: {problem} (workers read the dataset and the audit directory "
                                "by path: put them on a filesystem every worker shares)")


def gpu_workers(client: Any) -> int:
    """How many workers advertise a GPU resource."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return sum(1 for w in workers.values() if w.get("resources", {}).get(GPU, 0) >= 1)


_TUNED: list[bool] = []


def _tune_malloc() -> None:
    """Once per worker process: let glibc keep freed memory for reuse, as it does outside Dask.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap threshold at
    128 KiB: every activation tensor of a training is then mapped and unmapped anew, and LeNet-5 trainings ran at
    half speed (benchmarks/README.md). mallopt restores large thresholds; memory is returned to the OS less eagerly.
    """
    if _TUNED:
        return
    _TUNED.append(True)
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD
    except OSError:  # not glibc (macOS, musl): nothing to tune
        pass


def _on_worker(fn: Callable[..., Any], threads: int | None, *args: Any) -> Any:
    _tune_malloc()
    if threads:
        import torch

        torch.set_num_threads(threads)
    return fn(*args)


def fit_threads() -> int:
    """The thread count normalizer fits use, taken on the submitting machine and applied on the worker.

    A model's arithmetic depends on the thread count (reductions are split differently), so a fit on a worker matches
    the same fit run locally only with the local run's threads.
    """
    import torch

    return torch.get_num_threads()


def run_remote(client: Any, fn: Callable[..., Any], *args: Any, gpu: bool = False,
               threads: int | None = None) -> Any:
    """Run one call on the cluster and wait for its result (on a GPU worker when asked and one exists)."""
    resources = {GPU: 1} if gpu and gpu_workers(client) else None

    def submit(call: tuple) -> Any:
        return client.submit(_on_worker, fn, threads, *call, resources=resources, retries=RETRIES, pure=False)

    return next(_completed(submit, [args]))[1]


def worker_map(threads: int | None, gpu: bool = True) -> Callable[[Callable[..., Any], list[tuple]], list[Any]]:
    """From inside a cluster task: a map that runs each call as a task of its own (a per-subject DeepFN fit each)."""

    def map_on_cluster(fn: Callable[..., Any], calls: list[tuple]) -> list[Any]:
        from distributed import worker_client

        with worker_client() as client:  # leaves the worker's thread pool while the sub-tasks run
            resources = {GPU: 1} if gpu and gpu_workers(client) else None
            futures = [client.submit(_on_worker, fn, threads, *call, resources=resources, retries=RETRIES, pure=False)
                       for call in calls]
            return client.gather(futures)

    return map_on_cluster


def _environment_here(classifier: str) -> dict:
    from auditkit.classifiers.base import runtime_of
    from auditkit.plugins import load
    from auditkit.provenance import environment

    return environment(runtime_of(load("classifier", classifier)))


def worker_environments(client: Any, classifier: str) -> dict[str, dict]:
    """Every worker's environment record (provenance.environment, with the classifier's runtime there), by id."""
    return {env["id"]: env for env in client.run(_environment_here, classifier).values()}


def as_completed(client: Any, fn: Callable[..., Any], calls: list[tuple]) -> Iterator[tuple[tuple, Any]]:
    """Submit fn(*call) for every call; yield (call, result) as each finishes, in completion order."""
    return _completed(lambda call: client.submit(_on_worker, fn, None, *call, retries=RETRIES, pure=False), calls)


def _completed(submit: Callable[[tuple], Any], calls: list[tuple]) -> Iterator[tuple[tuple, Any]]:
    """(call, result) of submitted calls in completion order.

    A task the scheduler gave up on when its worker died (its future cancelled, "already forgotten") is submitted
    again, up to RESUBMITS times: a lost worker must only mean that its task runs again.
    """
    from concurrent.futures import CancelledError

    distributed = _import_distributed()
    futures = {submit(call): call for call in calls}
    resubmitted: dict[int, int] = {}  # by the call's identity: the same tuple is submitted again
    pending = distributed.as_completed(list(futures))
    for future in pending:
        call = futures.pop(future)
        try:
            result = future.result()
        except CancelledError:
            resubmitted[id(call)] = resubmitted.get(id(call), 0) + 1
            if resubmitted[id(call)] > RESUBMITS:
                raise
            again = submit(call)
            futures[again] = call
            pending.add(again)
            continue
        yield call, result
