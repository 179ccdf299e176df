"""Audits on a Dask cluster: the same results as a local run, a lost worker, a killed submitter, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from auditkit.errors import AuditkitError
from auditkit.protocol.audit_dir import AuditDir
from auditkit.protocol.cluster import ENV_VAR, check_workers_can_read, cluster_spec
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.runner import run_audit
from tests.conftest import kill_mid_run
from tests.helpers import run_cli, torchscript_model

distributed = pytest.importorskip("distributed")


def _cfg(data: Path, **kw) -> AuditConfig:
    return AuditConfig.from_preset("smoke", data=str(data), attr=("gender",), n_train=2, n_val=1, **kw)


@pytest.fixture(scope="module")
def local_reference(audit_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The audit with histeq run locally, one single-thread job per core."""
    return run_audit(_cfg(audit_dataset, normalizers=("histeq",)), tmp_path_factory.mktemp("local") / "a", jobs=2)


@pytest.mark.slow
def test_local_cluster_gives_the_local_results(audit_dataset: Path, tmp_path: Path,
                                               local_reference: pd.DataFrame) -> None:
    out = tmp_path / "cluster"
    got = run_audit(_cfg(audit_dataset, normalizers=("histeq",)), out, cluster="local:2")
    pd.testing.assert_frame_equal(local_reference.drop(columns="seconds"), got.drop(columns="seconds"))
    # the normalizer was fitted on a worker; its settings were still recorded by the submitting process
    assert set(json.loads((out / "normalizers.json").read_text())) == {"none", "histeq"}
    assert len(AuditDir(out).finished_parts()) == local_reference["task"].nunique() * 2


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(audit_dataset: Path, tmp_path: Path,
                                                              local_reference: pd.DataFrame) -> None:
    out = tmp_path / "cluster"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        # this client only asks the workers' PIDs and is closed before the audit opens its own: two live clients in
        # one process can bind a future's event to the other's loop ("bound to a different event loop", seen twice here)
        with distributed.Client(cluster) as client:
            pids = client.run(os.getpid)
        killed: list[int] = []

        def kill_one_worker_after_the_first_part() -> None:
            deadline = time.time() + 120
            while time.time() < deadline and not AuditDir(out).finished_parts():
                time.sleep(0.02)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)  # no clean-up: the nanny restarts it, the scheduler reruns its task
            killed.append(pid)

        killer = threading.Thread(target=kill_one_worker_after_the_first_part)
        killer.start()
        got = run_audit(_cfg(audit_dataset, normalizers=("histeq",)), out, cluster=cluster.scheduler_address)
        killer.join()
    assert killed, "the worker should have been killed mid-run"
    pd.testing.assert_frame_equal(local_reference.drop(columns="seconds"), got.drop(columns="seconds"))


def _gap(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auditkit", "gap", "--attr", "gender", "--data", str(data), "--out", str(out),
            "--preset", "smoke", "--train", "2", "--val", "1", "--normalizer", "histeq", "--cluster", "local:2"]


@pytest.mark.slow
def test_killed_submitter_resumes_to_the_same_results(audit_dataset: Path, tmp_path: Path,
                                                      local_reference: pd.DataFrame) -> None:
    out = tmp_path / "resumed"
    finished = kill_mid_run(_gap(audit_dataset, out), out)  # the submitter and its local cluster with it
    assert 2 <= finished < 8, "the kill should land mid-grid"
    done = subprocess.run(_gap(audit_dataset, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    got = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(local_reference.drop(columns="seconds"), got.drop(columns="seconds"))


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line_and_writes_nothing(audit_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    env = {**os.environ, "AUDITKIT_CLUSTER_TIMEOUT": "1"}
    res = subprocess.run([sys.executable, "-m", "auditkit", "gap", "--attr", "gender", "--data", str(audit_dataset),
                          "--out", str(out), "--preset", "smoke", "--cluster", "tcp://127.0.0.1:1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2
    assert res.stderr.startswith("error: --cluster tcp://127.0.0.1:1: cannot reach the Dask scheduler")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not out.exists()


def test_a_worker_that_cannot_read_the_data_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "not-shared"
    with distributed.Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        check_workers_can_read(client, [tmp_path])  # readable: no error
        with pytest.raises(AuditkitError, match=r"cluster worker .+: .*not-shared: does not exist on this worker"):
            check_workers_can_read(client, [tmp_path, missing])


def test_cluster_spec_from_option_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert cluster_spec(None) is None
    monkeypatch.setenv(ENV_VAR, "tcp://sched:8786")
    assert cluster_spec(None) == "tcp://sched:8786" and cluster_spec("local:2") == "local:2"
    with pytest.raises(AuditkitError, match="expected local:N"):
        from auditkit.protocol.cluster import open_client

        with open_client("local:two"):
            pass


@pytest.mark.slow
def test_audit_model_on_a_cluster_gives_the_local_results(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.protocol.model_audit import audit_model

    model = torchscript_model(tmp_path)
    local, _ = audit_model(model, audit_dataset, ("gender",), tmp_path / "local", ("histeq",), source="bp4d-synth")
    remote, _ = audit_model(model, audit_dataset, ("gender",), tmp_path / "remote", ("histeq",), source="bp4d-synth",
                            cluster="local:2")
    pd.testing.assert_frame_equal(local, remote)
    assert json.loads((tmp_path / "remote" / "normalizers.json").read_text()) == {"none": {}, "histeq": {}}


@pytest.mark.slow
def test_normalize_on_a_cluster_writes_the_same_dataset(tiny_dataset: Path, tmp_path: Path) -> None:

    local = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "local"))
    remote = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "remote"),
                 "--cluster", "local:1")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert "normalizing on the cluster" in remote.stdout
    assert (tmp_path / "local" / "faces.npy").read_bytes() == (tmp_path / "remote" / "faces.npy").read_bytes()
    again = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "remote"),
                "--cluster", "local:1")
    assert again.returncode == 2 and "already exists" in again.stderr  # the worker's error, as one line


@pytest.mark.slow
def test_deepfn_fits_on_a_cluster_match_the_local_fits(audit_dataset: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # per subject, each person's model is a task of its own (submitted from the normalizing task on a worker); the
    # amortized mode's one fit is a normalizer fitted in one task, the path every normalizer takes (histeq's above)
    options = {"deepfn": {"mode": "per-subject", "preset": "lite", "iterations": 4, "batch_size": 8, "max_frames": 12}}
    cfg = _cfg(audit_dataset, normalizers=("deepfn",), normalizer_options=options, repeats=1)
    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache-local"))  # separate weight caches: both really train
    local = run_audit(cfg, tmp_path / "local", jobs=2)
    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache-cluster"))
    remote = run_audit(cfg, tmp_path / "remote", cluster="local:2")
    weights = sorted(p.name for p in (tmp_path / "cache-cluster" / "deepfn").glob("*.pt"))
    assert len(weights) == len(json.loads((tmp_path / "remote" / "run.json").read_text())["plan"]["scope"])
    assert weights == sorted(p.name for p in (tmp_path / "cache-local" / "deepfn").glob("*.pt"))
    pd.testing.assert_frame_equal(local.drop(columns="seconds"), remote.drop(columns="seconds"))


class _Cancelled:
    """A future the scheduler gave up on (its worker died and the task was forgotten)."""

    def result(self):
        from concurrent.futures import CancelledError

        raise CancelledError("already forgotten")


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class _FakeClient:
    """submit() cancels the first `cancel` submissions of each call, then returns its result."""

    def __init__(self, cancel: int):
        self.cancel, self.seen = cancel, {}

    def submit(self, _on_worker, fn, threads, *call, **kw):
        n = self.seen[call] = self.seen.get(call, 0) + 1
        return _Cancelled() if n <= self.cancel else _Done(fn(*call))


class _AsCompleted:
    def __init__(self, futures):
        self.queue = list(futures)

    def add(self, future):
        self.queue.append(future)

    def __iter__(self):
        while self.queue:
            yield self.queue.pop(0)


@pytest.mark.parametrize("cancel", [1, 9])
def test_a_task_cancelled_after_its_worker_died_is_submitted_again(
    cancel: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import CancelledError

    from auditkit.protocol import cluster

    monkeypatch.setattr(cluster, "_import_distributed", lambda: type("D", (), {"as_completed": _AsCompleted}))
    client = _FakeClient(cancel)
    results = cluster.as_completed(client, lambda x: x * 10, [(1,), (2,)])
    if cancel <= cluster.RESUBMITS:
        assert sorted(results) == [((1,), 10), ((2,), 20)]
        assert client.seen == {(1,): 2, (2,): 2}
    else:  # a task Dask keeps cancelling is an error, not an endless loop
        with pytest.raises(CancelledError):
            list(results)
        assert max(client.seen.values()) == cluster.RESUBMITS + 1
