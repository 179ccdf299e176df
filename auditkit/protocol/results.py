"""The columns of results.parquet: which run a row came from, in one order for every audit kind.

A row is one (training, test subject, AU) of `auditkit gap`, or one (normalizer, test subject, AU) of a test-only
audit; the metric columns (`metrics.per_subject_au`) follow these.
"""

from __future__ import annotations

import pandas as pd

# what every row carries, in this order; `epochs_run` and `best_epoch` only where a model was trained;
# `classifier_runtime` (how the classifier computed, e.g. "C kernels") and `environment` (provenance.environment's id,
# whose record run.json keeps) say what made the row
RUN_COLUMNS = ("attr", "kind", "normalizer", "classifier", "repetition", "seed", "task", "epochs_run", "best_epoch",
               "condition", "train_group", "test_group", "classifier_runtime", "environment")
REQUIRED = tuple(c for c in RUN_COLUMNS if c not in ("epochs_run", "best_epoch", "classifier_runtime", "environment"))
# a test-only audit trains nothing: these fill the columns a trained audit fills per task
TEST_ONLY = {"kind": "test-only", "repetition": 0, "seed": 0, "task": "test-only", "condition": "test-only",
             "train_group": "pretrained"}


def label_rows(rows: pd.DataFrame, **values: object) -> pd.DataFrame:
    """Put the run columns (given as keywords, or already in `rows`) first, in RUN_COLUMNS order, then the rest."""
    unknown = sorted(set(values) - set(RUN_COLUMNS))
    if unknown:
        raise ValueError(f"not a results run column: {unknown[0]!r} (columns: {', '.join(RUN_COLUMNS)})")
    out = rows.assign(**{k: v for k, v in values.items() if k not in rows.columns})
    missing = [c for c in REQUIRED if c not in out.columns]
    if missing:
        raise ValueError(f"results rows lack the run column {missing[0]!r}")
    first = [c for c in RUN_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def label_test_only(rows: pd.DataFrame, attrs: list[str], normalizer: str, classifier: str) -> pd.DataFrame:
    """Rows of a test-only audit (a pretrained model, or a tool's saved predictions) with their run columns."""
    return label_rows(rows, attr=",".join(attrs), normalizer=normalizer, classifier=classifier, **TEST_ONLY)
