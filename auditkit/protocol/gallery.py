"""The report's face gallery: the average input face per pool, for pools large enough not to reveal a person."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditkit.files import atomic_path
from auditkit.protocol.audit_dir import AuditDir
from auditkit.protocol.plan import AuditPlan, scope_rows

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
