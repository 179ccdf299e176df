"""Turn an audit's results.parquet into the paper's Table 5 and the significance table."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from auditkit import contract, plugins
from auditkit.errors import AuditkitError
from auditkit.normalizers.base import BASELINE
from auditkit.report.provenance import made_by
from auditkit.stats import CROSSED_TEST, REPETITION_TEST, SUBJECT_TEST, condition_table, gap_tests
from auditkit.stats.base_rates import ADJUSTED_COLUMNS, adjusted_disparities
from auditkit.stats.disparities import (
    CHANGE_COLUMNS,
    balanced_rows,
    disparities,
    disparity_changes,
    fixed_model,
    subject_metrics,
    subjects_of,
)
from auditkit.stats.error_rates import DIFFERENCE_COLUMNS as RATE_DIFFERENCE_COLUMNS
from auditkit.stats.error_rates import GROUP_COLUMNS as RATE_GROUP_COLUMNS
from auditkit.stats.error_rates import error_rates
from auditkit.stats.metrics import add_score, subject_scores

SCORE_KEYS = ["normalizer", "condition", "train_group", "test_group", "repetition"]


@dataclass
class AuditTables:
    """Per-condition summary (Table 5), per-AU means, and tests of the gaps."""

    conditions: pd.DataFrame
    per_au: pd.DataFrame
    tests: pd.DataFrame
    scores: pd.DataFrame
    disparity_groups: pd.DataFrame  # per normalizer, AU (and `all`) and test group: auditkit.stats.disparities
    disparity_summary: pd.DataFrame  # per normalizer, AU and pair of groups: signed difference, CI, p (crossed)
    disparity_changes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CHANGE_COLUMNS))  # vs none
    made_by: pd.DataFrame = field(default_factory=pd.DataFrame)  # trainings per environment and runtime (provenance)
    # the all-AU differences and their changes again prevalence-calibrated (auditkit.stats.base_rates)
    adjusted_summary: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ADJUSTED_COLUMNS))
    adjusted_changes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CHANGE_COLUMNS))
    # hit and false-alarm rates per test group and their differences (equalized odds: auditkit.stats.error_rates)
    error_rates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATE_GROUP_COLUMNS))
    error_rate_differences: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATE_DIFFERENCE_COLUMNS))
    ceiling: str | None = None  # the normalizer whose gain over none is the attainable one (ceiling_of)


def audit_tables(results: pd.DataFrame, seed: int = 0, run: dict | None = None) -> AuditTables:
    """All summary tables of one audit, computed from its results rows alone (and, where its run.json is given, the
    ceiling it recorded: otherwise the installed plugins say which normalizer is one)."""
    scores = subject_scores(results, SCORE_KEYS)
    per_au = add_score(results).groupby(
        ["normalizer", "condition", "au"], sort=True)[["score", "f1", "accuracy"]].mean().reset_index()
    # between groups, every subject scored alike by models of every pool (disparities.balanced_rows)
    balanced = balanced_rows(results)
    cells = subject_metrics(balanced, by_repetition=True) if len(balanced) else None  # shared by the tables below
    subjects = None if cells is None else subjects_of(cells)
    groups, summary = disparities(balanced, seed=seed, subjects=subjects, cells=cells)
    adjusted, adjusted_changes = adjusted_disparities(balanced, BASELINE, seed=seed)
    rates, rate_differences = error_rates(balanced, fixed=fixed_model(results)) if len(balanced) else (None, None)
    tables = AuditTables(condition_table(scores), per_au, gap_tests(scores, seed), scores, groups, summary,
                         disparity_changes(balanced, BASELINE, seed=seed, subjects=cells), made_by(results),
                         adjusted, adjusted_changes, *((rates, rate_differences) if rates is not None else ()))
    if run is not None and "ceiling" in run:
        tables.ceiling = run["ceiling"]
    else:
        tables.ceiling = ceiling_of(results["normalizer"]) if len(results) else None
    return tables


def is_test_only(tables: AuditTables) -> bool:
    """True for audits of a pretrained model or of saved predictions (nothing trained, no within/cross)."""
    cond = tables.conditions
    return bool(len(cond)) and bool((cond["condition"] == "test-only").all())


def headline(tables: AuditTables, normalizer: str) -> pd.DataFrame:
    """The gap per test group (and overall) for one normalizer: within - cross with the subject-and-training CI, p and
    Holm (the verdict), the smallest gap detectable at 80 % power, and the paper's subject t-test p and Hedges' g."""
    t = tables.tests
    t = t[(t["normalizer"] == normalizer) & t["comparison"].str.startswith("within vs cross")]
    crossed = t[t["test"] == CROSSED_TEST].set_index("test_group")
    subj = t[t["test"] == SUBJECT_TEST].set_index("test_group")
    reps = t[t["test"] == REPETITION_TEST].set_index("test_group")
    return pd.DataFrame({"gap": crossed["diff"], "ci_low": crossed["ci_low"], "ci_high": crossed["ci_high"],
                         "p": crossed["p"], "p_holm": crossed["p_holm"], "detectable": crossed["detectable"],
                         "repetitions": crossed["repetitions"], "subjects": crossed["n_a"],
                         "p_paper": subj["p"], "hedges_g": subj["hedges_g"],
                         "p_repetitions": reps["p"]}).reset_index()


def condition_means(conditions: pd.DataFrame) -> pd.DataFrame:
    """Per normalizer: mean score of its within rows, its cross rows, and of all its Table 5 rows (train -> test)."""
    rows = {}
    for norm, c in conditions.groupby("normalizer", sort=False):
        rows[norm] = {"within": c.loc[c["condition"] == "within", "score"].mean(),
                      "cross": c.loc[c["condition"] == "cross", "score"].mean(), "all": c["score"].mean()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["within", "cross", "all"])


def share(value: float, baseline: float, ceiling: float) -> float:
    """(value - baseline) / (ceiling - baseline): the fraction of the ceiling's gain reached; NaN without a gain."""
    gain = ceiling - baseline
    if not gain > 1e-9:  # also catches NaN: no attainable gain means no meaningful share
        return float("nan")
    return (value - baseline) / gain


def format_share(value: float) -> str:
    """'57 %' for a share of the ceiling; 'n/a' where the oracle gains nothing."""
    return "n/a" if value != value else f"{100 * value:.0f} %"


def ceiling_of(normalizers: list[str] | pd.Series) -> str | None:
    """The audit's ceiling: the first of its normalizers whose plugin declares `ceiling` (the oracle among the
    built-ins); None when none does or its plugin is not installed here."""
    for name in dict.fromkeys(normalizers):
        if name == BASELINE or name not in plugins.available("normalizer"):
            continue
        try:
            if contract.read(plugins.load("normalizer", name), "normalizer", "ceiling", name):
                return str(name)
        except AuditkitError:  # a plugin that no longer loads declares nothing
            continue
    return None


def ceiling_shares(conditions: pd.DataFrame, ceiling: str | None) -> pd.DataFrame:
    """Share of the ceiling's gain over `none` that each other normalizer reaches, in cross and in the mean over all
    rows; the ceiling's name in column `ceiling`.

    Empty unless the audit ran both `none` and a ceiling (`ceiling_of`: the oracle, on synthetic data only).
    """
    means = condition_means(conditions)
    columns = ["normalizer", "cross", "all", "share_cross", "share_all", "ceiling"]
    if ceiling is None or BASELINE not in means.index or ceiling not in means.index:
        return pd.DataFrame(columns=columns)
    base, top = means.loc[BASELINE], means.loc[ceiling]
    rows = [
        {
            "normalizer": n,
            "cross": m["cross"],
            "all": m["all"],
            "share_cross": share(m["cross"], base["cross"], top["cross"]),
            "share_all": share(m["all"], base["all"], top["all"]),
            "ceiling": ceiling,
        }
        for n, m in means.iterrows()
        if n not in (BASELINE, ceiling)
    ]
    return pd.DataFrame(rows, columns=columns)


def group_ceiling_shares(conditions: pd.DataFrame, ceiling: str | None) -> pd.DataFrame:
    """Per normalizer and test group: the cross-group score on that group and its share of the ceiling's gain there
    (`ceiling_score`: the ceiling's own), so a normalizer that serves one group far better than another shows it (the
    overall share averages them)."""
    columns = ["normalizer", "test_group", "cross", "none", "ceiling_score", "share_cross", "ceiling"]
    cross = conditions[conditions["condition"] == "cross"]
    if ceiling is None or not {BASELINE, ceiling} <= set(cross["normalizer"]):
        return pd.DataFrame(columns=columns)
    by = cross.groupby(["normalizer", "test_group"], sort=True)["score"].mean()
    rows = []
    for (norm, group), score in by.items():
        if norm in (BASELINE, ceiling) or (BASELINE, group) not in by or (ceiling, group) not in by:
            continue
        base, top = by[(BASELINE, group)], by[(ceiling, group)]
        rows.append({"normalizer": norm, "test_group": group, "cross": score, "none": base, "ceiling_score": top,
                     "share_cross": share(score, base, top), "ceiling": ceiling})
    return pd.DataFrame(rows, columns=columns)
