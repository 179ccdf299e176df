"""Run the audit grid (tasks x normalizers), append results as each training ends, resume after interruption."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from joblib import delayed

from auditkit import contract
from auditkit.classifiers.base import (
    DEFAULT_INPUT_SIZE,
    channels_of,
    input_size_of,
    runtime_note_of,
    runtime_of,
    with_channels,
)
from auditkit.contract import checked_proba, checked_transform
from auditkit.data.dataset import Dataset, load_dataset
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError
from auditkit.files import atomic_path
from auditkit.normalizers.base import check_dataset, params_of, prepare, with_baseline
from auditkit.plugins import code_version, load, make_classifier, make_normalizer, plugin_version
from auditkit.process_state import parallel, preserved
from auditkit.protocol.audit_dir import AuditDir, code_versions
from auditkit.protocol.coverage import ingest_loss_record, sources_of
from auditkit.protocol.groups import Pool, build_pools, check_pool_sizes, resolve_bins
from auditkit.protocol.results import label_rows
from auditkit.protocol.splits import Task, group_tasks, person_tasks
from auditkit.provenance import differences, environment, run_record
from auditkit.stats.metrics import DEFAULT_F1_RULE, check_f1_rule, per_subject_au

AUDIT_PRESETS: dict[str, dict] = {
    # the paper's protocol: 50 epochs, 20 repetitions, every person-independent test subject also gets a dependent model
    "paper": {"repeats": 20, "epochs": 50, "patience": None, "person_dependent": 10_000, "lr": 5e-5, "balanced": False},
    # minutes on 2 CPU cores: fewer, faster-converging trainings (lr 1e-3, class-balanced loss, early stopping)
    "default": {"repeats": 10, "epochs": 15, "patience": 5, "person_dependent": 6, "lr": 1e-3, "balanced": True},
    # seconds: for trying the pipeline and for tests
    "smoke": {"repeats": 2, "epochs": 2, "patience": None, "person_dependent": 2, "lr": 1e-3, "balanced": True},
}


@dataclass(frozen=True)
class AuditConfig:
    """Everything that determines an audit's results (stored in run.json; resuming requires the same config)."""

    data: str
    attr: tuple[str, ...]
    normalizers: tuple[str, ...] = ("none",)
    classifier: str = "lenet5"
    bins: str | None = None
    source: str | None = None
    template: str | None = None
    preset: str = "default"
    repeats: int = 10
    n_train: int = 4
    n_val: int = 2
    seed: int = 0
    epochs: int = 15
    patience: int | None = 5
    lr: float = 1e-3
    balanced: bool = True
    batch_size: int = 64
    person_dependent: int = 6
    normalizer_options: dict = field(default_factory=dict)  # {normalizer: {setting: value}} (--normalizer-option)
    f1_rule: str = DEFAULT_F1_RULE  # F1 of a subject with no positives and none predicted (metrics.F1_RULES)

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> AuditConfig:
        """A config from a named preset, with explicit (non-None) overrides applied."""
        if preset not in AUDIT_PRESETS:
            raise AuditkitError(f"--preset (preset): unknown preset {preset!r} (choose from {', '.join(AUDIT_PRESETS)})")
        values = {**AUDIT_PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        if "normalizers" in values:
            values["normalizers"] = with_baseline(values["normalizers"])
        check_f1_rule(values.get("f1_rule", DEFAULT_F1_RULE))
        config = cls(preset=preset, **values)
        config.check()
        return config

    def check(self) -> None:
        """One-line errors for settings that would train nothing or crash later (each names its CLI flag and its
        Python keyword), checked before any work."""
        limits = {"repeats": ("--repeats", 1), "n_train": ("--train", 1), "n_val": ("--val", 1),
                  "epochs": ("--epochs", 1), "seed": ("--seed", 0)}
        for key, (flag, least) in limits.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise AuditkitError(f"{flag} ({key}): expected a whole number, got {value!r}")
            if value < least:
                raise AuditkitError(f"{flag} ({key}): must be at least {least}, got {value}")

    def identity(self) -> dict:
        """The fields that must match for a re-run to resume (paths may move; the data fingerprint is checked instead)."""
        d = asdict(self)
        d.pop("data")
        if not d["normalizer_options"]:
            d.pop("normalizer_options")  # audits from before the option existed still resume
        return d


@dataclass
class AuditPlan:
    """The resolved audit: who is in scope, the template, the pools, the AUs, and every training task."""

    config: AuditConfig
    dataset: Dataset
    scope: list[str]
    source: str
    template: str
    pools: list[Pool]
    aus: list[str]
    tasks: list[Task]

    def summary(self) -> dict:
        """JSON-ready description for run.json and reports."""
        return {"source": self.source, "template": self.template, "aus": self.aus, "scope": self.scope,
                "pools": {p.name: list(p.subjects) for p in self.pools}, "tasks": [t.to_dict() for t in self.tasks]}


def make_plan(cfg: AuditConfig, ds: Dataset) -> AuditPlan:
    """Resolve subjects, template, pools, AUs and tasks for one audit."""
    if cfg.n_train < 1 or cfg.n_val < 1:
        raise AuditkitError("--train and --val must each be at least 1")
    if cfg.repeats < 1:
        raise AuditkitError("--repeats must be at least 1")
    attrs = list(cfg.attr)
    sources = ds.subjects["dataset"].value_counts()
    if attrs == ["dataset"] or cfg.source == "all":
        source, scope = "all", list(ds.subjects["subject"])
    elif cfg.source is not None:
        if cfg.source not in sources.index:
            raise AuditkitError(f"--source (source): no subjects from {cfg.source!r} (sources here: "
                                f"{', '.join(sorted(sources.index))})")
        source, scope = cfg.source, list(ds.subjects.loc[ds.subjects["dataset"] == cfg.source, "subject"])
    else:
        # like the paper, group audits default to the largest single source so capture conditions do not confound them
        source = str(sorted(sources.index, key=lambda s: (-sources[s], s))[0])
        scope = list(ds.subjects.loc[ds.subjects["dataset"] == source, "subject"])
    if cfg.template is not None:
        if cfg.template not in set(ds.subjects["subject"]):
            raise AuditkitError(f"--template (template): unknown subject {cfg.template!r}")
        template = cfg.template
    else:
        template = select_template(ds, scope)
    scope = sorted(s for s in scope if s != template)
    pools = build_pools(ds, attrs, scope, resolve_bins(ds, attrs, cfg.bins))
    check_pool_sizes(pools, cfg.n_train, cfg.n_val)
    if attrs == ["dataset"]:
        coded = [set(ds.coded_aus(p.name)) for p in pools]
        aus = [a for a in ds.aus if all(a in c for c in coded)]
        if not aus:
            raise AuditkitError("--attr dataset: the sources share no coded AU, so no cross-dataset test is possible")
    else:
        frames = ds.frames[ds.frames["subject"].isin(scope)]
        aus = [a for a in ds.aus if (frames[a].to_numpy() >= 0).any()]
    if attrs == ["person"]:
        frames = ds.frames[ds.frames["subject"].isin(scope)]
        tasks = person_tasks(pools[0], frames, cfg.repeats, cfg.n_train, cfg.n_val, cfg.seed, cfg.person_dependent)
    else:
        tasks = group_tasks(pools, cfg.repeats, cfg.n_train, cfg.n_val, cfg.seed)
    return AuditPlan(cfg, ds, scope, source, template, pools, aus, tasks)


def prepare_inputs(plan: AuditPlan, normalizer: str, audit: AuditDir,
                   progress: Callable[[str, int, int], None] | None = None, size: int = DEFAULT_INPUT_SIZE) -> Path:
    """Normalize every in-scope face once per audit and cache it at the classifier's input size (memory-mappable);
    the fitted normalizer's settings go to the audit's normalizers.json."""
    path, settings = normalize_faces(plan, normalizer, audit, progress, size)
    if settings is not None:
        audit.record_normalizer(normalizer, settings)
    return path


def normalize_faces(plan: AuditPlan, normalizer: str, audit: AuditDir,
                    progress: Callable[[str, int, int], None] | None = None, size: int = DEFAULT_INPUT_SIZE,
                    parallel_map: Callable | None = None) -> tuple[Path, dict | None]:
    """Fit the normalizer and write the cached inputs file; (its path, the fitted settings or None if cached).

    The cache is keyed by the normalizer's settings before fitting, its plugin's and code's versions and the dataset,
    so a resumed audit never reuses faces that the current settings (or a changed default) would not produce.
    `parallel_map` goes to a normalizer that can spread its fit (DeepFN's per-subject models), e.g. over a cluster.
    """
    ds = plan.dataset
    norm = make_normalizer(normalizer, seed=plan.config.seed, progress=progress,
                           **plan.config.normalizer_options.get(normalizer, {}))
    key = {"settings": params_of(norm), "version": plugin_version("normalizer", normalizer),
           "code": code_version("normalizer", normalizer), "fingerprint": ds.fingerprint}
    path = audit.inputs_file(normalizer, key, size)
    if path.exists():
        return path, None
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = scope_rows(plan)
    subjects = ds.frames["subject"].to_numpy()[rows]
    by_subject = {s: ds.faces_of(s) for s in plan.scope}
    prepare(norm, ds, plan.template)
    if parallel_map is not None and contract.has(norm, "normalizer", "parallel_map"):
        norm.parallel_map = parallel_map
    norm.fit(ds.faces_of(plan.template), by_subject)
    out = np.empty((len(rows), size, size), np.uint8)
    for s in plan.scope:
        idx = np.flatnonzero(subjects == s)
        faces = checked_transform(norm, normalizer, s, by_subject[s])
        out[idx] = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces])
    with atomic_path(path) as tmp:
        np.save(tmp, out)
    return path, params_of(norm)


def normalize_on_worker(cfg: AuditConfig, normalizer: str, audit: str, size: int,
                        threads: int | None = None) -> tuple[str, dict | None]:
    """A cluster task: rebuild the plan from the shared dataset and normalize there (nothing large is shipped);
    a normalizer that fits one model per person runs each of those fits as a cluster task of its own."""
    from auditkit.protocol.cluster import worker_map

    path, settings = normalize_faces(make_plan(cfg, load_dataset(cfg.data)), normalizer, AuditDir(audit), None, size,
                                     parallel_map=worker_map(threads))
    return str(path), settings


MIN_GROUP_FOR_FACES = 5


def save_group_faces(plan: AuditPlan, normalizer: str, inputs: Path, audit: AuditDir) -> Path | None:
    """Average input face per pool (mean of per-subject means) for the report's Figure 2.

    Only pools of at least MIN_GROUP_FOR_FACES subjects are kept: an average over fewer people can reveal one.
    """
    path = audit.faces_file(normalizer)
    if path.exists() and path.stat().st_mtime >= inputs.stat().st_mtime:  # else the inputs were made again since
        return path
    X = np.load(inputs, mmap_mode="r")
    subjects = plan.dataset.frames["subject"].to_numpy()[scope_rows(plan)]
    means: dict[str, np.ndarray] = {}
    for pool in plan.pools:
        if len(pool.subjects) < MIN_GROUP_FOR_FACES:
            continue
        per_subject = [np.asarray(X[subjects == s], dtype=np.float64).mean(0) for s in pool.subjects]
        means[pool.name] = np.mean(per_subject, axis=0).astype(np.float32)
    if not means:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(means)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, names=np.array(names), faces=np.stack([means[n] for n in names]))
    return path


def scope_rows(plan: AuditPlan) -> np.ndarray:
    """Row numbers of the dataset's frames that belong to the audit's scope (the order of its cached inputs)."""
    return np.flatnonzero(plan.dataset.frames["subject"].isin(plan.scope).to_numpy())


@dataclass
class TaskData:
    """What a worker needs besides the task: labels and keys of in-scope frames, aligned with the inputs file."""

    inputs: str
    labels: np.ndarray
    subjects: np.ndarray
    sequences: np.ndarray
    aus: list[str]
    attr: str
    classifier: str
    options: dict = field(default_factory=dict)
    channels: int = 1
    f1_rule: str = DEFAULT_F1_RULE


def _select(data: TaskData, subjects: tuple[str, ...], sequences: tuple[str, ...] | None = None) -> np.ndarray:
    mask = np.isin(data.subjects, subjects)
    if sequences is not None:
        mask &= np.isin(data.sequences, sequences)
    return np.flatnonzero(mask)


def run_task(task: Task, normalizer: str, data: TaskData, threads: int) -> pd.DataFrame:
    """Train one classifier and score it on every test group of the task: rows of (subject, AU) metrics.

    The thread counts and global random states it sets are restored afterwards (with one job it runs in the caller's
    process, a notebook's perhaps)."""
    with preserved():
        return _train_and_score(task, normalizer, data, threads)


def _train_and_score(task: Task, normalizer: str, data: TaskData, threads: int) -> pd.DataFrame:
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(1)
    X = np.load(data.inputs, mmap_mode="r")
    seqs = task.sequences or {}
    tr = _select(data, task.train, seqs.get("train"))
    va = _select(data, task.val, seqs.get("val"))
    model = make_classifier(data.classifier, seed=task.seed, threads=threads, **data.options)
    model.fit(with_channels(np.asarray(X[tr]), data.channels), data.labels[tr],
              with_channels(np.asarray(X[va]), data.channels), data.labels[va])
    frames = []
    for test_group, subjects in task.tests:
        te = _select(data, subjects, seqs.get("test"))
        proba = checked_proba(model, data.classifier, with_channels(np.asarray(X[te]), data.channels), len(data.aus))
        rows = per_subject_au(data.labels[te], proba, data.subjects[te], data.aus, f1_rule=data.f1_rule)
        if task.kind == "group":
            condition = "within" if test_group == task.train_pool else "cross"
            train_group = task.train_pool
        else:
            condition = "within" if task.kind == "person-dependent" else "cross"
            train_group, test_group = ("same person", "person") if condition == "within" else ("other people", "person")
        frames.append(rows.assign(condition=condition, train_group=train_group, test_group=test_group))
    out = pd.concat(frames, ignore_index=True)
    history = contract.read(model, "classifier", "history", data.classifier) or []
    best = max(history, key=lambda h: h["val_f1"])["epoch"] if history else -1
    # how this process computed (C kernels or PyTorch layers, and why) and where: a resumed or clustered audit that
    # mixed machines or runtimes shows it row by row
    runtime = runtime_of(model) or runtime_of(load("classifier", data.classifier))
    return label_rows(out, attr=data.attr, kind=task.kind, normalizer=normalizer, classifier=data.classifier,
                      repetition=task.repetition, seed=task.seed, task=task.key, epochs_run=len(history),
                      best_epoch=best, classifier_runtime=runtime, environment=environment(runtime)["id"])


def _open_audit(audit: AuditDir, plan: AuditPlan, force: bool, runtime: str | None = None,
                strict: bool = False) -> None:
    """Start or resume the audit in `audit` (same config, data and code resume; anything else is refused unless
    forced); this process's environment is recorded beside those of earlier runs."""
    env = environment(runtime)  # as this process runs it (workers record their own on every results row)
    record = {"config": plan.config.identity(), "fingerprint": plan.dataset.fingerprint,
              "code": code_versions(plan.config.classifier, plan.config.normalizers), "data": str(plan.config.data),
              "plan": plan.summary(), "sources": sources_of(plan.dataset, plan.scope), **run_record(env)}
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
            raise AuditkitError(f"normalizer {n!r}: invalid settings {cfg.normalizer_options.get(n, {})}: {exc}") from None
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
        _open_audit(audit, plan, force, runtime_of(classifier), strict_reproducibility)
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


def classifier_options(cfg: AuditConfig) -> dict:
    """The training settings every classifier plugin is given beside seed and threads (the preset's or the user's)."""
    return {"epochs": cfg.epochs, "patience": cfg.patience, "lr": cfg.lr, "batch_size": cfg.batch_size,
            "balanced": cfg.balanced}


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
            data_by_norm[n] = TaskData(str(inputs), frames[plan.aus].to_numpy(np.int8), frames["subject"].to_numpy(),
                                       frames["sequence"].to_numpy(), plan.aus, ",".join(cfg.attr), cfg.classifier, options,
                                       channels=channels, f1_rule=cfg.f1_rule)
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


def timed_task(task: Task, normalizer: str, data: TaskData, threads: int) -> tuple[pd.DataFrame, dict]:
    """run_task plus its wall-clock seconds column, and the environment record that made it (what a worker returns)."""
    start = time.perf_counter()
    rows = run_task(task, normalizer, data, threads)
    rows["seconds"] = round(time.perf_counter() - start, 3)
    return rows, environment(rows["classifier_runtime"].iloc[0] if len(rows) else None)


def _run_and_store(audit: AuditDir, task: Task, normalizer: str, data: TaskData, threads: int) -> tuple[str, dict]:
    # in a worker, process_state.parallel's initializer already ends it with the audit
    rows, env = timed_task(task, normalizer, data, threads)
    audit.store_part(rows, normalizer, task.key)
    return normalizer, env
