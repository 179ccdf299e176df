"""Test-only audits of a model that already ran: its predictions, disaggregated per group, with the same statistics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auditkit.classifiers.predictions import join_predictions, read_predictions
from auditkit.data.dataset import load_dataset
from auditkit.errors import AuditkitError
from auditkit.files import package_versions, write_json_atomic, write_parquet_atomic
from auditkit.metrics import per_subject_au
from auditkit.protocol.groups import build_pools, resolve_bins
from auditkit.protocol.runner import RESULTS_FILE, RUN_FILE


def audit_predictions(predictions: str | Path, data: str | Path, attr: tuple[str, ...], out: str | Path,
                      fmt: str = "auto", bins: str | None = None, source: str | None = None,
                      force: bool = False) -> tuple[pd.DataFrame, dict]:
    """Score predictions per test subject and AU within each group; write results.parquet and run.json to `out`."""
    out = Path(out)
    if (out / RESULTS_FILE).exists() and not force:
        raise AuditkitError(f"{out}: already holds audit results (use another --out, or --force to replace them)")
    ds = load_dataset(data)
    preds, read_counts = read_predictions(predictions, fmt)
    subjects = ds.subjects if source in (None, "all") else ds.subjects[ds.subjects["dataset"] == source]
    if subjects.empty:
        raise AuditkitError(f"--source: no subjects from {source!r}")
    attrs = list(attr)
    if attrs == ["person"]:
        raise AuditkitError("--attr person needs training (person-dependent models); use `auditkit gap` for it")
    pools = build_pools(ds, attrs, list(subjects["subject"]), resolve_bins(ds, attrs, bins))
    scope = sorted({s for p in pools for s in p.subjects})
    frames = ds.frames[ds.frames["subject"].isin(scope)].reset_index(drop=True)
    aus = [a for a in ds.aus if (frames[a].to_numpy() >= 0).any()]
    rows, proba, join_counts = join_predictions(frames, preds, aus)
    labels = frames[join_counts["aus"]].to_numpy("int8")[rows]
    subject_of = frames["subject"].to_numpy()[rows]
    parts = []
    for pool in pools:
        mask = pd.Series(subject_of).isin(pool.subjects).to_numpy()
        if mask.sum() == 0:
            continue
        table = per_subject_au(labels[mask], proba[mask], subject_of[mask], join_counts["aus"])
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
    meta = {"attr": ",".join(attrs), "kind": "test-only", "normalizer": "none",
            "classifier": f"predictions:{Path(predictions).name}", "repetition": 0, "seed": 0, "task": "test-only",
            "condition": "test-only", "train_group": "pretrained"}
    for i, (k, v) in enumerate(meta.items()):
        if k not in results.columns:
            results.insert(i, k, v)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(results, out / RESULTS_FILE)
    run = {"data": str(data), "fingerprint": ds.fingerprint, "predictions": str(predictions),
           "config": {"attr": attrs, "normalizers": ["none"], "classifier": meta["classifier"], "preset": "test-only",
                      "repeats": 1, "seed": 0, "n_train": 0, "n_val": 0, "bins": bins, "source": source},
           "plan": {"pools": {p.name: list(p.subjects) for p in pools}, "template": None, "scope": scope,
                    "aus": join_counts["aus"]},
           "counts": {**read_counts, **join_counts}, "versions": package_versions()}
    write_json_atomic(run, out / RUN_FILE)
    return results, run
