"""Training leaves the caller's process as it found it: thread counts and global random streams."""

from __future__ import annotations

import random

import cv2
import pytest
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


def _children(pid: int) -> set[int]:
    """Every living descendant of `pid` (from /proc; zombies count as gone)."""
    import os
    from pathlib import Path

    parent_of = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parent_of[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent_of.items() if pp in frontier and p not in found}
        found |= frontier
    return found - {os.getpid()}


def _alive(pids: set[int]) -> set[int]:
    import os
    from pathlib import Path

    out = set()
    for p in pids:
        try:
            os.kill(p, 0)
            if (Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z":
                out.add(p)
        except (ProcessLookupError, OSError, IndexError):
            pass
    return out


def test_a_watched_process_exits_when_its_parent_is_killed() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    child = ("import os, time; from auditkit.process_state import exit_with; exit_with(os.getppid(), every=0.1); "
             "time.sleep(60)")
    middle = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time; "
                               f"subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"])
    deadline = time.time() + 30
    while time.time() < deadline and not _children(middle.pid):
        time.sleep(0.05)
    kids = _children(middle.pid)
    assert kids
    time.sleep(1.0)  # the child is importing auditkit; its watch starts once it has
    os.kill(middle.pid, signal.SIGKILL)
    middle.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _alive(kids):
        time.sleep(0.1)
    assert not _alive(kids)


def _kill_audit_and_find_survivors(args: list[str], out, wait_for_parts: int = 1) -> tuple[set[int], set[int]]:
    import os
    import signal
    import subprocess
    import sys
    import time

    from auditkit.protocol.audit_dir import AuditDir

    proc = subprocess.Popen([sys.executable, "-m", "auditkit", "gap", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(AuditDir(out).finished_parts()) < wait_for_parts:
        time.sleep(0.05)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the audit process alone, as a user's kill -9 or the OOM killer would
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and _alive(workers):
        time.sleep(0.2)
    return workers, _alive(workers)


def test_joblib_workers_die_with_a_killed_audit(audit_dataset, tmp_path) -> None:
    workers, survivors = _kill_audit_and_find_survivors(
        ["--attr", "gender", "--data", str(audit_dataset), "--preset", "smoke", "--train", "2", "--val", "1",
         "--jobs", "2"], tmp_path / "a")
    assert workers, "the audit started no worker processes"
    assert not survivors, f"workers outlived the killed audit: {sorted(survivors)}"


@pytest.mark.slow
def test_local_dask_workers_die_with_a_killed_audit(audit_dataset, tmp_path) -> None:
    pytest.importorskip("distributed")
    workers, survivors = _kill_audit_and_find_survivors(
        ["--attr", "gender", "--data", str(audit_dataset), "--preset", "smoke", "--train", "2", "--val", "1",
         "--cluster", "local:2"], tmp_path / "a")
    assert workers, "the audit started no worker processes"
    assert not survivors, f"workers outlived the killed audit: {sorted(survivors)}"
