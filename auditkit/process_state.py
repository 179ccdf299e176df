"""Leave the caller's process as it was: thread counts and global random states that training sets are restored.

A notebook user who calls `auditkit.gap(...)` or `LeNetClassifier.fit` keeps their own torch/OpenCV thread counts
and random streams; the code inside still seeds and sizes them as it needs (results stay bit-reproducible).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


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
