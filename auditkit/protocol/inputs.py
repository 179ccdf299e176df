"""The classifier's inputs per normalizer: fit the normalizer, normalize every face in scope, cache them by settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from auditkit import contract
from auditkit.classifiers.base import DEFAULT_INPUT_SIZE
from auditkit.contract import checked_transform
from auditkit.data.dataset import load_dataset
from auditkit.files import atomic_path
from auditkit.normalizers.base import params_of, prepare
from auditkit.plugins import code_version, make_normalizer, plugin_version
from auditkit.protocol.audit_dir import AuditDir
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.plan import AuditPlan, make_plan, scope_rows


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
