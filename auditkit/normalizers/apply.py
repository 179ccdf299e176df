"""Normalize a whole dataset into a new dataset directory that any classifier can consume."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from auditkit.contract import call, checked_transform
from auditkit.data.dataset import Dataset
from auditkit.data.format import (
    FACES_FILE,
    FRAMES_FILE,
    META_FILE,
    SUBJECTS_FILE,
    TRUTH_DIR,
    open_faces_for_writing,
    write_meta,
)
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError
from auditkit.normalizers.base import check_dataset, params_of, prepare
from auditkit.plugins import load, make_normalizer


def normalize_dataset(
    ds: Dataset, normalizer: str, out: str | Path, *, template: str | None = None, force: bool = False,
    options: dict | None = None, progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Fit `normalizer` on every subject (template: the most expressive unless named) and write the result to `out`."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise AuditkitError(f"{out}: already exists and is not empty (pass --force to replace it)")
    subjects = list(ds.subjects["subject"])
    template = template or select_template(ds)
    if template not in subjects:
        raise AuditkitError(f"--template (template): unknown subject {template!r}")
    check_dataset(load("normalizer", normalizer), ds)
    norm = make_normalizer(normalizer, progress=progress, **(options or {}))
    prepare(norm, ds, template)
    by_subject = {s: ds.faces_of(s) for s in subjects if s != template}
    norm.fit(ds.faces_of(template), by_subject)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    h, w = ds.image_size
    faces = open_faces_for_writing(tmp / FACES_FILE, len(ds.faces), h, w)
    for i, s in enumerate(subjects):
        rows = ds.subject_frames(s)["face"].to_numpy()
        faces[rows] = checked_transform(norm, normalizer, s, np.asarray(ds.faces[rows]))
        if progress:
            progress("writing normalized faces", i + 1, len(subjects))
    faces.flush()
    del faces
    for name in (SUBJECTS_FILE, FRAMES_FILE):
        shutil.copy2(ds.root / name, tmp / name)
    if (ds.root / TRUTH_DIR).is_dir():
        shutil.copytree(ds.root / TRUTH_DIR, tmp / TRUTH_DIR)  # the ground truth still describes these frames
    meta = dict(ds.meta)
    meta["provenance"] = {"normalized_from": {"fingerprint": ds.fingerprint, "path": str(ds.root),
                                              "provenance": ds.meta.get("provenance")},
                          "normalizer": normalizer, "template": template,
                          "normalizer_config": params_of(norm),
                          "output_domain": call(norm, "normalizer", "output_domain", name=normalizer)}
    write_meta(meta, tmp / META_FILE)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def normalize_path(data: str, normalizer: str, out: str, *, template: str | None, force: bool, options: dict) -> str:
    """normalize_dataset from paths alone: what a cluster worker runs for `auditkit normalize --cluster`."""
    from auditkit.data.dataset import load_dataset

    normalize_dataset(load_dataset(data), normalizer, out, template=template, force=force, options=options)
    return out
