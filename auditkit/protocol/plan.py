"""An audit's plan from its config and dataset: pools, template, AUs and the training tasks (before any work)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditkit.data.dataset import Dataset
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.groups import Pool, build_pools, check_pool_sizes, resolve_bins
from auditkit.protocol.splits import Task, group_tasks, person_tasks


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


def scope_rows(plan: AuditPlan) -> np.ndarray:
    """Row numbers of the dataset's frames that belong to the audit's scope (the order of its cached inputs)."""
    return np.flatnonzero(plan.dataset.frames["subject"].isin(plan.scope).to_numpy())
