"""Test-only audits of a model that already ran: its predictions, disaggregated per group, with the same statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.classifiers.prediction_files import join_predictions, read_predictions
from auditkit.data.dataset import Dataset, load_dataset
from auditkit.errors import AuditkitError
from auditkit.files import file_digest, write_parquet_atomic
from auditkit.protocol.audit_dir import AuditDir, code_versions
from auditkit.protocol.coverage import missed_by_group, missed_frames, not_run, sources_of
from auditkit.protocol.groups import Pool, build_pools, resolve_bins
from auditkit.protocol.results import label_test_only
from auditkit.provenance import environment, run_record
from auditkit.stats.metrics import DEFAULT_F1_RULE, check_f1_rule, per_subject_au


def scope_pools(ds: Dataset, attrs: list[str], bins: str | None, source: str | None,
                exclude: tuple[str, ...] = ()) -> tuple[list[Pool], list[str]]:
    """The groups a test-only audit compares and the subjects in them (optionally without e.g. the template)."""
    subjects = ds.subjects if source in (None, "all") else ds.subjects[ds.subjects["dataset"] == source]
    if subjects.empty:
        raise AuditkitError(f"--source (source): no subjects from {source!r}")
    if attrs == ["person"]:
        raise AuditkitError("--attr person needs training (person-dependent models); use `auditkit gap` for it")
    ids = [s for s in subjects["subject"] if s not in exclude]
    pools = build_pools(ds, attrs, ids, resolve_bins(ds, attrs, bins))
    return pools, sorted({s for p in pools for s in p.subjects})


def score_pools(pools: list[Pool], labels: np.ndarray, proba: np.ndarray, subject_of: np.ndarray,
                aus: list[str], f1_rule: str = DEFAULT_F1_RULE) -> pd.DataFrame:
    """Per (test group, subject, AU) scores of test-only predictions; a group needs at least 2 tested subjects."""
    parts = []
    for pool in pools:
        mask = pd.Series(subject_of).isin(pool.subjects).to_numpy()
        if mask.sum() == 0:
            continue
        table = per_subject_au(labels[mask], proba[mask], subject_of[mask], aus, f1_rule=f1_rule)
        table.insert(0, "test_group", pool.name)
        parts.append(table)
    if not parts:
        raise AuditkitError("no group has matched predictions")
    results = pd.concat(parts, ignore_index=True)
    tested = results.groupby("test_group")["subject"].nunique()
    small = tested[tested < 2]
    if len(small):
        raise AuditkitError(f"group '{small.index[0]}' has predictions for only {int(small.iloc[0])} subject(s); "
                            "comparing groups needs at least 2 per group")
    return results


def audit_predictions(predictions: str | Path, data: str | Path, attr: tuple[str, ...], out: str | Path,
                      fmt: str = "auto", bins: str | None = None, source: str | None = None,
                      force: bool = False, faces: str = "best",
                      frame_offset: int | None = None, f1_rule: str = DEFAULT_F1_RULE) -> tuple[pd.DataFrame, dict]:
    """Score predictions per test subject and AU within each group; write results.parquet and run.json to `out`."""
    check_f1_rule(f1_rule)
    audit = AuditDir(out)
    ds = load_dataset(data)
    preds, read_counts = read_predictions(predictions, fmt, faces)
    attrs = list(attr)
    pools, scope = scope_pools(ds, attrs, bins, source)
    frames = ds.frames[ds.frames["subject"].isin(scope)].reset_index(drop=True)
    aus = [a for a in ds.aus if (frames[a].to_numpy() >= 0).any()]
    rows, proba, join_counts = join_predictions(frames, preds, aus, frame_offset, read_counts["formats"])
    labels = frames[join_counts["aus"]].to_numpy("int8")[rows]
    subject_of = frames["subject"].to_numpy()[rows]
    classifier = f"predictions:{Path(predictions).name}"
    results = label_test_only(score_pools(pools, labels, proba, subject_of, join_counts["aus"], f1_rule), attrs, "none",
                              classifier)
    # frames the tool dropped (no face, low confidence, gaps) were never served: a bias of their own, per group
    covered = [tuple(k) for k in read_counts.pop("covered")]
    missed = missed_frames(frames, rows, pools, covered)
    never_run = not_run(frames, covered, pools)
    by_group, missed_tests = missed_by_group(missed)
    scored_sources = sources_of(ds, sorted(set(subject_of)))
    run = {"data": str(data), "fingerprint": ds.fingerprint, "predictions": str(predictions),
           "predictions_sha256": file_digest(predictions),
           "reading": {"format": fmt, "faces": faces, "frame_offset": frame_offset},
           "config": {"attr": attrs, "normalizers": ["none"], "classifier": classifier, "preset": "test-only",
                      "repeats": 1, "seed": 0, "n_train": 0, "n_val": 0, "bins": bins, "source": source,
                      "f1_rule": f1_rule},
           "plan": {"pools": {p.name: list(p.subjects) for p in pools}, "template": None, "scope": scope,
                    "aus": join_counts["aus"]},
           "counts": {**read_counts, **join_counts}, "code": code_versions(None, []),
           "missed_frames": {"groups": json.loads(by_group.to_json(orient="records")),
                             "tests": json.loads(missed_tests.to_json(orient="records")), "not_run": never_run,
                             "sources": scored_sources},
           "sources": scored_sources}
    run.update(run_record(environment(None)))  # where the scoring ran (the tool made the predictions elsewhere)
    # a one-pass audit: the same one again is simply redone (same files, so its code version is no part of identity);
    # another is refused unless forced
    identity = ("fingerprint", "predictions_sha256", "reading", "config", "plan")
    audit.open(run, identity, force)
    audit.write_results(results)
    write_parquet_atomic(missed, audit.missed)
    return results, run
