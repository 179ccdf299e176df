"""The run columns of results.parquet: one order for trained and test-only audits."""

from __future__ import annotations

import pandas as pd
import pytest

from auditkit.protocol.results import RUN_COLUMNS, label_rows, label_test_only

METRICS = pd.DataFrame({"subject": ["s1"], "au": ["AU01"], "f1": [0.5], "accuracy": [0.7]})


def test_trained_rows_put_the_run_columns_first_in_order() -> None:
    rows = label_rows(METRICS.assign(test_group="male", condition="within", train_group="male"), attr="gender",
                      kind="group", normalizer="none", classifier="lenet5", repetition=0, seed=1, task="male-r00",
                      epochs_run=3, best_epoch=2, classifier_runtime="C kernels", environment="0123456789ab")
    assert list(rows.columns) == [*RUN_COLUMNS, "subject", "au", "f1", "accuracy"]


def test_test_only_rows_have_the_same_columns_without_training_ones() -> None:
    rows = label_test_only(METRICS.assign(test_group="male"), ["gender"], "none", "predictions:p.csv")
    assert list(rows.columns) == [c for c in RUN_COLUMNS if c not in ("epochs_run", "best_epoch",
                                                                      "classifier_runtime", "environment")] + \
        ["subject", "au", "f1", "accuracy"]
    assert rows.loc[0, "condition"] == "test-only" and rows.loc[0, "classifier"] == "predictions:p.csv"


def test_unknown_or_missing_run_columns_are_errors() -> None:
    with pytest.raises(ValueError, match="not a results run column: 'colour'"):
        label_rows(METRICS, colour="red")
    with pytest.raises(ValueError, match="lack the run column 'attr'"):
        label_rows(METRICS, kind="group")
