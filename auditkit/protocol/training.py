"""One training: what a worker needs (`TaskData`), training a classifier and scoring it on every test group."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from auditkit import contract
from auditkit.classifiers.base import runtime_of, with_channels
from auditkit.contract import checked_proba
from auditkit.plugins import load, make_classifier
from auditkit.process_state import preserved
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.results import label_rows
from auditkit.protocol.splits import Task
from auditkit.provenance import environment
from auditkit.stats.metrics import DEFAULT_F1_RULE, per_subject_au


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


def classifier_options(cfg: AuditConfig) -> dict:
    """The training settings every classifier plugin is given beside seed and threads (the preset's or the user's)."""
    return {"epochs": cfg.epochs, "patience": cfg.patience, "lr": cfg.lr, "batch_size": cfg.batch_size,
            "balanced": cfg.balanced}


def timed_task(task: Task, normalizer: str, data: TaskData, threads: int) -> tuple[pd.DataFrame, dict]:
    """run_task plus its wall-clock seconds column, and the environment record that made it (what a worker returns)."""
    start = time.perf_counter()
    rows = run_task(task, normalizer, data, threads)
    rows["seconds"] = round(time.perf_counter() - start, 3)
    return rows, environment(rows["classifier_runtime"].iloc[0] if len(rows) else None)
