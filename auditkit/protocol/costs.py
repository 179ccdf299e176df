"""`auditkit plan`: how many trainings and normalizer fits an audit needs, and what they cost, before submitting it.

Each plugin states its own costs (the `train_cost` and `fit_cost` hooks, from rates its benchmarks measured); this
module counts the work the plan holds and adds them up. An estimate, not a promise: early stopping ends trainings
sooner, other CPUs are faster or slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditkit import contract
from auditkit.plugins import make_classifier, make_normalizer
from auditkit.protocol.plan import AuditPlan, scope_rows
from auditkit.protocol.training import classifier_options


@dataclass
class CostLine:
    """One kind of work: how many units, and its estimated CPU core-hours and GPU-hours (None: not measured)."""

    what: str
    count: int
    cpu_core_hours: float
    gpu_hours: float | None
    detail: str
    source: str


def training_images(plan: AuditPlan) -> list[int]:
    """Per training of the plan: training images per epoch (its train subjects' frames, or sequences for
    person-dependent models)."""
    frames = plan.dataset.frames.iloc[scope_rows(plan)]
    subjects, sequences = frames["subject"].to_numpy(), frames["sequence"].to_numpy()
    counts = []
    for task in plan.tasks:
        mask = np.isin(subjects, task.train)
        seqs = (task.sequences or {}).get("train")
        if seqs is not None:
            mask &= np.isin(sequences, seqs)
        counts.append(int(mask.sum()))
    return counts


def estimate(plan: AuditPlan) -> list[CostLine]:
    """Cost lines of an audit: the classifier's trainings (all normalizers) and each normalizer's fits, as the
    plugins state them (a plugin without a cost hook adds no line)."""
    cfg = plan.config
    images = training_images(plan)
    lines = []
    classifier = make_classifier(cfg.classifier, seed=cfg.seed, threads=None, **classifier_options(cfg))
    costs = [contract.call(classifier, "classifier", "train_cost", n, name=cfg.classifier) for n in images]
    if costs and all(c is not None for c in costs):
        count = len(plan.tasks) * len(cfg.normalizers)
        core_s = sum(c["cpu_core_s"] for c in costs) * len(cfg.normalizers)
        gpu = None if any(c["gpu_s"] is None for c in costs) else sum(c["gpu_s"] for c in costs) * len(cfg.normalizers)
        typical = contract.call(classifier, "classifier", "train_cost", int(np.mean(images)), name=cfg.classifier)
        lines.append(CostLine(typical["what"], count, core_s / 3600, None if gpu is None else gpu / 3600,
                              f"{len(plan.tasks)} per normalizer x {len(cfg.normalizers)}, {typical['detail']}",
                              typical["source"]))
    for name in cfg.normalizers:
        normalizer = make_normalizer(name, seed=cfg.seed, **cfg.normalizer_options.get(name, {}))
        cost = contract.call(normalizer, "normalizer", "fit_cost", len(plan.scope), name=name)
        if cost is not None:
            gpu = cost["gpu_s"]
            lines.append(CostLine(cost["what"], int(cost["count"]), cost["cpu_core_s"] / 3600,
                                  None if gpu is None else gpu / 3600, cost["detail"], cost["source"]))
    return lines
