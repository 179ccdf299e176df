"""Processes behave: the caller's state is left as it was, and workers do not outlive the audit that started them.

- `preserved`: a notebook user who calls `auditkit.gap(...)` or `LeNetClassifier.fit` keeps their own torch/OpenCV
  thread counts and random streams; the code inside still seeds and sizes them as it needs.
- `exit_with`: a worker process (joblib/loky, a local Dask worker) exits within a second of its audit's process
  ending, even by kill -9, instead of training on for nobody.
- `parallel`: joblib's Parallel on loky whose workers all call `exit_with` when they start, so every phase that
  starts workers (rendering, ingest, trainings) leaves none behind when its process dies, and loky's resource
  trackers, which wait for the workers' end of their pipe, follow them.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from joblib import Parallel, parallel_config
from joblib.externals.loky import get_reusable_executor


@contextmanager
def preserved() -> Iterator[None]:
    """Restore torch's and OpenCV's thread counts and the torch, NumPy and Python global random states on exit."""
    import cv2
    import torch

    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch_rng, np_rng, py_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if cv2.getNumThreads() != cv_threads:
            cv2.setNumThreads(cv_threads)
        torch.set_rng_state(torch_rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)


_watched: set[int] = set()


def _gone(pid: int, direct: bool) -> bool:
    if direct:  # a child is re-parented the moment its parent dies (even before the parent is reaped)
        return os.getppid() != pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # killed but not yet reaped: a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _watch(pid: int, direct: bool, every: float) -> None:
    while not _gone(pid, direct):
        time.sleep(every)
    os._exit(1)  # the audit that wanted this work is gone: stop now, wherever the work stands


def exit_with(pid: int, every: float = 0.5) -> None:
    """In a worker process: exit within `every` seconds of process `pid` (the audit that started it) ending, even by
    kill -9, so that no worker outlives its audit; nothing when called in `pid` itself, or a second time."""
    if pid == os.getpid() or pid in _watched:
        return
    _watched.add(pid)
    threading.Thread(target=_watch, args=(pid, os.getppid() == pid, every), daemon=True,
                     name="auditkit-exit-with-parent").start()


def parallel(n_jobs: int, return_as: str = "list") -> Parallel:
    """joblib.Parallel(n_jobs, return_as) on loky, whose worker processes exit with this one (exit_with)."""
    with parallel_config(backend="loky", initializer=exit_with, initargs=(os.getpid(),)):
        return Parallel(n_jobs=n_jobs, return_as=return_as)


def shutdown_workers() -> None:
    """Stop the loky workers `parallel` started (their memory returned now, not at loky's idle timeout)."""
    get_reusable_executor(initializer=exit_with, initargs=(os.getpid(),)).shutdown(wait=True)
