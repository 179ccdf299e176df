"""Training leaves the caller's process as it found it: thread counts and global random streams."""

from __future__ import annotations

import random

import cv2
import numpy as np
import torch

from auditkit.classifiers.lenet import make_lenet
from auditkit.process_state import preserved


def _state() -> tuple:
    return (torch.get_num_threads(), cv2.getNumThreads(), torch.get_rng_state().clone(), np.random.get_state()[1].copy(),
            random.getstate())


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2]) and np.array_equal(a[3], b[3]) and a[4] == b[4]


def test_preserved_restores_threads_and_random_states() -> None:
    torch.manual_seed(123)
    before = _state()
    with preserved():
        torch.set_num_threads(1)
        cv2.setNumThreads(3)
        torch.manual_seed(0)
        np.random.seed(5)
        random.seed(7)
    assert _same(_state(), before)


def test_lenet_fit_does_not_reseed_or_resize_the_callers_process() -> None:
    torch.manual_seed(99)
    before = _state()
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (16, 64, 64), dtype=np.uint8)
    Y = rng.integers(0, 2, (16, 2)).astype(np.int8)
    make_lenet(seed=0, threads=1, epochs=1).fit(X, Y, X[:4], Y[:4])
    assert _same(_state(), before)
    # and the caller's stream goes on where it was: the next draw is the one it would have been
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.set_rng_state(before[2])
    assert torch.equal(torch.rand(3), expected)


def test_an_audit_run_in_process_leaves_threads_and_seed_alone(audit_dataset, tmp_path) -> None:
    from auditkit.protocol.runner import AuditConfig, run_audit

    torch.manual_seed(7)
    before = _state()
    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1)
    run_audit(cfg, tmp_path / "a", jobs=1)
    assert _same(_state(), before)
