"""Training leaves the caller's process as it found it: thread counts and global random streams."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
import torch

from auditkit.classifiers.lenet import LeNetClassifier
from auditkit.process_state import preserved


def _state() -> tuple:
    return (
        torch.get_num_threads(),
        cv2.getNumThreads(),
        torch.get_rng_state().clone(),
        np.random.get_state()[1].copy(),
        random.getstate(),
    )


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
    LeNetClassifier(seed=0, threads=1, epochs=1).fit(X, Y, X[:4], Y[:4])
    assert _same(_state(), before)
    # and the caller's stream goes on where it was: the next draw is the one it would have been
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.set_rng_state(before[2])
    assert torch.equal(torch.rand(3), expected)


def test_an_audit_run_in_process_leaves_threads_and_seed_alone(audit_dataset, tmp_path) -> None:
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.runner import run_audit

    torch.manual_seed(7)
    before = _state()
    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1)
    run_audit(cfg, tmp_path / "a", jobs=1)
    assert _same(_state(), before)


def _living() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, session id)} of every living process (from /proc; zombies count as gone)."""
    from pathlib import Path

    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            out[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return out


def _children(pid: int) -> set[int]:
    """Every living descendant of `pid`."""
    import os

    parent_of = {p: pp for p, (pp, _) in _living().items()}
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


@pytest.mark.slow
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


def _session(sid: int) -> set[int]:
    """Every living process of session `sid`: the command and all it started, whoever their parent is now (a
    worker orphaned by a kill -9 is re-parented to init but stays in its session)."""
    return {p for p, (_, session) in _living().items() if session == sid}


def _kill_during(args: list[str], marker: str) -> tuple[set[int], set[int]]:
    """Run `auditkit ARGS` in a session of its own, kill -9 it a second after its progress shows `marker`, and
    return (the processes alive at the kill, those still alive 5 s later; any such are killed afterwards)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "auditkit", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line or marker in line:
            break
    time.sleep(1.0)
    started = _session(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # the command alone, as a user's kill -9 or the OOM killer would
    proc.wait()
    deadline = time.time() + 5
    while time.time() < deadline and _session(proc.pid):
        time.sleep(0.1)
    left = _session(proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return started - {proc.pid}, left


@pytest.fixture(scope="module")
def bp4d_like_tree(tmp_path_factory: pytest.TempPathFactory):
    """A BP4D-layout tree big enough for an ingest to run for a few seconds on two workers."""
    import subprocess
    import sys

    tree = tmp_path_factory.mktemp("tree") / "BP4D"
    subprocess.run([sys.executable, "-m", "auditkit", "synth", "--layout", "bp4d", "--out", str(tree), "--subjects",
                    "6", "--frames-per-subject", "120"], check=True, capture_output=True)
    return tree


PHASES = {
    "rendering": (lambda data, tree, out: ["synth", "--out", str(out), "--frames-per-subject", "200", "--jobs", "2"],
                  "rendering subjects"),
    "ingest": (lambda data, tree, out: ["ingest", "bp4d", str(tree), "--demographics", str(tree / "demographics.csv"),
                                        "--out", str(out), "--jobs", "2"], "ingesting"),
    "trainings": (lambda data, tree, out: ["gap", "--attr", "gender", "--data", str(data), "--preset", "smoke",
                                           "--repeats", "6", "--out", str(out), "--jobs", "2"], "trainings: 1/"),
    "local dask cluster": (lambda data, tree, out: ["gap", "--attr", "gender", "--data", str(data), "--preset",
                                                    "smoke", "--repeats", "6", "--out", str(out), "--cluster",
                                                    "local:2"], "trainings: 1/"),
}


@pytest.mark.slow
@pytest.mark.parametrize("phase", sorted(PHASES))
def test_no_process_outlives_a_killed_command_by_5_s(phase: str, audit_dataset, bp4d_like_tree, tmp_path) -> None:
    """kill -9 of the command in each phase that starts workers: its loky or Dask workers, and the resource trackers
    that wait on them, are all gone within 5 s."""
    if phase == "local dask cluster":
        pytest.importorskip("distributed")
    args, marker = PHASES[phase]
    started, left = _kill_during(args(audit_dataset, bp4d_like_tree, tmp_path / "out"), marker)
    assert started, f"{phase}: the command started no worker processes"
    assert not left, f"{phase}: processes outlived the killed command by 5 s: {sorted(left)}"
