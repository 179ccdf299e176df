"""The one unit every output speaks: scores, rates, shares, their differences and intervals in percent (points).

The terminal, report.html, summary.md and summary.json print them so; `auditkit.gap(...)` and the API's other results
return their tables in the same units (`in_points`), so a figure read in a notebook is the figure the report shows.
results.parquet keeps the raw per-row fractions (F1, accuracy) it stores.
"""

from __future__ import annotations

import pandas as pd

UNITS = ("scores, their std, differences, confidence intervals, shares of the ceiling, base rates and missed-frame "
         "shares are in percent (points); p-values, test statistics, effect sizes (Cohen's d, Hedges' g) and "
         "disparity ratios are unitless; variance components (var_subjects, var_trainings) are in points squared")

# every score-like column of the audit's and the comparison's tables (a fraction 0-1 where computed)
POINTS = frozenset({
    "score", "std", "sem", "f1", "accuracy", "score_ci_low", "score_ci_high", "score_a", "score_b",
    "gap", "ci_low", "ci_high", "detectable", "se", "mean_a", "mean_b", "diff",
    "cross", "all", "none", "ceiling_score", "share_cross", "share_all",
    "base_rate", "base_rate_a", "base_rate_b", "diff_to_best", "diff_to_overall", "range", "overall",
    "difference", "difference_ci_low", "difference_ci_high", "difference_baseline", "change", "change_ci_low",
    "change_ci_high", "value_a", "value_b", "equalized_odds_difference", "missed_share",
    "hit_rate", "hit_rate_ci_low", "hit_rate_ci_high", "false_alarm_rate", "false_alarm_rate_ci_low",
    "false_alarm_rate_ci_high",
})
SQUARED = frozenset({"var_subjects", "var_trainings"})  # variance components: points squared


def in_points(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every score-like column (POINTS) x 100 and variance components (SQUARED) x 10,000."""
    out = frame.copy()
    for column in out.columns:
        if column in POINTS or column in SQUARED:
            values = pd.to_numeric(out[column], errors="coerce")
            out[column] = values * (100.0 if column in POINTS else 10_000.0)
    return out
