"""Turn an audit's results.parquet into the paper's Table 5 and the significance table."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from auditkit.metrics import subject_scores
from auditkit.stats import condition_table, gap_tests

SCORE_KEYS = ["normalizer", "condition", "train_group", "test_group", "repetition"]


@dataclass
class AuditTables:
    """Per-condition summary (Table 5), per-AU means, and tests of the gaps."""

    conditions: pd.DataFrame
    per_au: pd.DataFrame
    tests: pd.DataFrame
    scores: pd.DataFrame


def audit_tables(results: pd.DataFrame, seed: int = 0) -> AuditTables:
    """All summary tables of one audit, computed from its results rows alone."""
    scores = subject_scores(results, SCORE_KEYS)
    per_au = results.assign(score=(results["f1"] + results["accuracy"]) / 2).groupby(
        ["normalizer", "condition", "au"], sort=True)[["score", "f1", "accuracy"]].mean().reset_index()
    return AuditTables(condition_table(scores), per_au, gap_tests(scores, seed), scores)


def headline(tables: AuditTables, normalizer: str) -> pd.DataFrame:
    """The gap per test group (and overall) for one normalizer: within - cross, both p-values, Hedges' g."""
    t = tables.tests
    t = t[(t["normalizer"] == normalizer) & t["comparison"].str.startswith("within vs cross")]
    subj = t[t["test"] == "subject t-test"].set_index("test_group")
    reps = t[t["test"] == "repetition paired t-test"].set_index("test_group")
    return pd.DataFrame({"gap": subj["diff"], "p": subj["p"], "p_holm": subj["p_holm"], "hedges_g": subj["hedges_g"],
                         "ci_low": subj["ci_low"], "ci_high": subj["ci_high"], "p_repetitions": reps["p"]}).reset_index()
