"""Run the audit grid (tasks x normalizers), append results as each training ends, resume after interruption."""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import delayed

from auditkit import contract
from auditkit.classifiers.base import channels_of, input_size_of, runtime_note_of, runtime_of
from auditkit.data.dataset import load_dataset
from auditkit.errors import AuditkitError
from auditkit.normalizers.base import check_dataset
from auditkit.plugins import load, make_normalizer
from auditkit.process_state import parallel
from auditkit.protocol.audit_dir import AuditDir, code_versions
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.coverage import ingest_loss_record, sources_of
from auditkit.protocol.gallery import save_group_faces
from auditkit.protocol.inputs import normalize_on_worker, prepare_inputs
from auditkit.protocol.plan import AuditPlan, make_plan, scope_rows
from auditkit.protocol.splits import Task
from auditkit.protocol.training import TaskData, classifier_options, timed_task
from auditkit.provenance import differences, environment, run_record


def _open_audit(audit: AuditDir, plan: AuditPlan, force: bool, runtime: str | None = None,
                strict: bool = False, ceiling: str | None = None) -> None:
    """Start or resume the audit in `audit` (same config, data and code resume; anything else is refused unless
    forced); this process's environment is recorded beside those of earlier runs."""
    env = environment(runtime)  # as this process runs it (workers record their own on every results row)
    record = {"config": plan.config.identity(), "fingerprint": plan.dataset.fingerprint,
              "code": code_versions(plan.config.classifier, plan.config.normalizers), "data": str(plan.config.data),
              "plan": plan.summary(), "sources": sources_of(plan.dataset, plan.scope), **run_record(env),
              "ceiling": ceiling}
    losses = ingest_loss_record(plan.dataset, plan.pools, plan.config.seed)
    if losses is not None:  # frames the face detector missed at ingest never reached any model: a bias of their own
        record["ingest_losses"] = losses
    audit.open(record, ("config", "fingerprint", "code"), force, strict)


def run_audit(cfg: AuditConfig, out: str | Path, jobs: int = 1, force: bool = False,
              progress: Callable[[str, int, int], None] | None = None, cluster: str | None = None,
              strict_reproducibility: bool = False) -> pd.DataFrame:
    """Run (or resume) an audit into `out`; returns the full results table.

    `cluster` (a Dask scheduler address or `local:N`) runs the trainings and normalizer fits on its workers instead
    of `jobs` local processes; the results are the same. `strict_reproducibility` refuses to resume work made in
    another environment (machine, runtime, library versions, revision), or to run on a cluster whose workers differ.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or (jobs < 1 and jobs != -1):
        raise AuditkitError(f"--jobs (jobs): expected a positive whole number or -1 (every core), got {jobs!r}")
    cfg.check()
    out = Path(out)
    classes = {n: load("normalizer", n) for n in cfg.normalizers}  # an unknown plugin fails before anything is written
    classifier = load("classifier", cfg.classifier)
    try:
        size, channels = input_size_of(classifier), channels_of(classifier)
    except ValueError as exc:
        raise AuditkitError(f"classifier {cfg.classifier!r}: {exc}") from None
    if contract.read(classifier, "classifier", "test_only", cfg.classifier):
        raise AuditkitError(f"classifier {cfg.classifier!r} is pretrained and cannot be trained per split; "
                            "audit it with `auditkit audit-model MODEL --data DIR --attr ATTR`")
    for n in cfg.normalizers:  # settings are checked before any work (constructing a normalizer is cheap)
        try:
            make_normalizer(n, seed=cfg.seed, **cfg.normalizer_options.get(n, {}))
        except (TypeError, ValueError) as exc:
            raise AuditkitError(
                f"normalizer {n!r}: invalid settings {cfg.normalizer_options.get(n, {})}: {exc}"
            ) from None
    ds = load_dataset(cfg.data)
    for cls in classes.values():
        check_dataset(cls, ds)
    plan = make_plan(cfg, ds)
    if cluster:  # an unreachable scheduler fails before anything is written
        from auditkit.protocol.cluster import open_client

        connection = open_client(cluster)
    else:
        connection = contextlib.nullcontext(None)
    audit = AuditDir(out)
    with connection as client:
        # the normalizer whose plugin declares itself the ceiling, recorded so that reports need not load plugins
        ceiling = next((n for n, c in classes.items() if contract.read(c, "normalizer", "ceiling", n)), None)
        _open_audit(audit, plan, force, runtime_of(classifier), strict_reproducibility, ceiling)
        note = runtime_note_of(classifier)
        if note:
            print(note, file=sys.stderr)
        audit.drop_unreadable_parts()
        pending = [(t, n) for n in cfg.normalizers for t in plan.tasks if not audit.part(n, t.key).exists()]
        _run_pending(plan, audit, pending, size=size, channels=channels, jobs=jobs, progress=progress, client=client,
                     strict=strict_reproducibility)
    results = audit.collect_results()
    audit.write_results(results)
    return results


def _run_pending(plan: AuditPlan, audit: AuditDir, pending: list[tuple[Task, str]], *, size: int, channels: int,
                 jobs: int, progress: Callable[[str, int, int], None] | None, client: object | None,
                 strict: bool = False) -> None:
    """Normalize what the pending trainings need, run them (local processes or cluster), store each part as it ends."""
    cfg = plan.config
    frames = plan.dataset.frames.iloc[scope_rows(plan)]
    options = classifier_options(cfg)
    total = len(plan.tasks) * len(cfg.normalizers)
    done = total - len(pending)
    if progress:
        progress("trainings", done, total)
    if client is not None:
        from auditkit.protocol import cluster

        cluster.check_workers_can_read(client, [cfg.data, audit.root])
    data_by_norm = {}
    for n in cfg.normalizers:
        if any(pn == n for _, pn in pending):
            if progress:
                progress(f"normalizing faces ({n})" + (" on the cluster" if client is not None else ""), 0, 1)
            if client is None:
                inputs = prepare_inputs(plan, n, audit, progress, size=size)
            else:  # the fit is one task (on a GPU worker where one exists); the settings are recorded here
                threads = cluster.fit_threads()
                path, settings = cluster.run_remote(client, normalize_on_worker, cfg, n, str(audit.root), size,
                                                    threads, gpu=True, threads=threads)
                inputs = Path(path)
                if settings is not None:
                    audit.record_normalizer(n, settings)
            save_group_faces(plan, n, inputs, audit)
            data_by_norm[n] = TaskData(
                str(inputs), frames[plan.aus].to_numpy(np.int8), frames["subject"].to_numpy(),
                frames["sequence"].to_numpy(), plan.aus, ",".join(cfg.attr), cfg.classifier, options,
                channels=channels, f1_rule=cfg.f1_rule,
            )
    if client is not None:
        if strict and pending:
            _refuse_mixed(audit, cluster.worker_environments(client, cfg.classifier))
        # one thread per training, as locally with one job per core: the same arithmetic, so the same results
        shared = {n: client.scatter(d, broadcast=True) for n, d in data_by_norm.items()}
        calls = [(t, n, shared[n], 1) for t, n in pending]

        def store(call: tuple, result: tuple[pd.DataFrame, dict]) -> tuple[str, dict]:
            audit.store_part(result[0], call[1], call[0].key)
            return call[1], result[1]

        stream = (store(call, result) for call, result in cluster.as_completed(client, timed_task, calls))
    else:
        workers = max(1, min(jobs if jobs > 0 else (os.cpu_count() or 1), len(pending) or 1))
        threads = max(1, (os.cpu_count() or 1) // workers)
        calls = [(t, n, data_by_norm[n], threads) for t, n in pending]
        if workers > 1:
            stream = parallel(workers, "generator_unordered")(
                delayed(_run_and_store)(audit, *c) for c in calls)
        else:
            stream = (_run_and_store(audit, *c) for c in calls)
    # results.parquet is rewritten when a normalizer's trainings are all in (and by the caller at the end), not after
    # each training: the parts are the resumable state, and rereading them all each time grew as trainings squared
    remaining = Counter(n for _, n in pending)
    environments: dict[str, dict] = {}
    try:
        for normalizer, env in stream:
            done += 1
            environments[env["id"]] = env
            remaining[normalizer] -= 1
            if not remaining[normalizer] and sum(remaining.values()):
                audit.write_results(audit.collect_results())
            if progress:
                progress("trainings", done, total)
    finally:  # an interrupted run still records where its finished trainings ran
        if environments:
            audit.add_environments(environments)


def _refuse_mixed(audit: AuditDir, workers: dict[str, dict]) -> None:
    """--strict-reproducibility on a cluster: every worker, and every finished training, in one environment."""
    finished = audit.collect_results()
    made = set(finished["environment"].dropna()) if "environment" in finished else set()
    ids = set(workers) | made
    if len(ids) > 1:
        records = {**(audit.read_run().get("environments") or {}), **workers}
        a, b = (records.get(i, {}) for i in sorted(ids)[:2])
        raise AuditkitError(f"{audit.root}: the cluster's workers (or this audit's finished trainings) span "
                            f"{len(ids)} environments ({'; '.join(differences(a, b)) or 'different ids'}); "
                            "--strict-reproducibility refuses to mix them")


def _run_and_store(audit: AuditDir, task: Task, normalizer: str, data: TaskData, threads: int) -> tuple[str, dict]:
    # in a worker, process_state.parallel's initializer already ends it with the audit
    rows, env = timed_task(task, normalizer, data, threads)
    audit.store_part(rows, normalizer, task.key)
    return normalizer, env
