"""Error rates per test group: hit rate (true-positive rate) and false-alarm rate (false-positive rate), overall and
per AU, and their between-group differences: what fairlearn calls equalized odds.

A composite score (the paper's mean of F1 and accuracy) can hide an error-rate disparity: a group with more false
alarms *and* more hits can score like a group with fewer of both. These rates show the two kinds of error apart.

Per results row the confusion counts are recovered exactly from F1, accuracy, coded frames and positives
(`auditkit.stats.base_rates.confusion_counts`); a subject's hit rate for an AU is hits / frames showing it (undefined
for a
subject who never shows it), its false-alarm rate false alarms / frames not showing it. Like the score, a cell is a
(subject, repetition): the mean over that repetition's models; a subject's all-AU rate is the mean over the AUs where
it is defined. Every interval and p-value is the subject x training inference (`auditkit.stats.crossed`), Holm over
the pairs and both rates of one normalizer and AU. The equalized-odds difference (fairlearn's
`equalized_odds_difference`: the larger of the two absolute rate differences) is descriptive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.stats import ALPHA, holm
from auditkit.stats.base_rates import confusion_counts
from auditkit.stats.crossed import Term, crossed_inference, prepare

ALL_AUS = "all"
RATES = {"hit_rate": "hit rate", "false_alarm_rate": "false-alarm rate"}
GROUP_COLUMNS = ["normalizer", "au", "test_group", "subjects", "hit_rate", "hit_rate_ci_low", "hit_rate_ci_high",
                 "false_alarm_rate", "false_alarm_rate_ci_low", "false_alarm_rate_ci_high"]
DIFFERENCE_COLUMNS = ["normalizer", "au", "rate", "comparison", "group_a", "group_b", "value_a", "value_b",
                      "difference", "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant",
                      "equalized_odds_difference"]


def rate_cells(results: pd.DataFrame) -> pd.DataFrame:
    """Per (normalizer, test group, subject, repetition, AU): mean hit and false-alarm rate over the repetition's
    models; plus an `all` AU row per (subject, repetition), the mean over the AUs where each rate is defined."""
    counts = confusion_counts(results)
    positives = results["positives"].to_numpy(float)
    negatives = results["support"].to_numpy(float) - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = results.assign(hit_rate=np.where(positives > 0, counts["tp"].to_numpy() / positives, np.nan),
                              false_alarm_rate=np.where(negatives > 0, counts["fp"].to_numpy() / negatives, np.nan))
    if "repetition" not in rows.columns:
        rows = rows.assign(repetition=0)
    keys = ["normalizer", "test_group", "subject", "repetition"]
    per_au = rows.groupby(keys + ["au"], sort=True, observed=True)[list(RATES)].mean().reset_index()
    overall = per_au.groupby(keys, sort=True, observed=True)[list(RATES)].mean().reset_index().assign(au=ALL_AUS)
    return pd.concat([overall[per_au.columns], per_au], ignore_index=True)


def _cells(part: pd.DataFrame, rate: str) -> pd.DataFrame:
    return pd.DataFrame({"arm": rate, "stratum": part["test_group"].astype(str).to_numpy(),
                         "subject": part["subject"].astype(str).to_numpy(), "run": "audit",
                         "repetition": part["repetition"].to_numpy(), "score": part[rate].to_numpy(float)})


def error_rates(results: pd.DataFrame, fixed: bool = False, per_au: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(groups, differences): each test group's hit and false-alarm rates (with 95% CIs for the all-AU rows), and
    every pair of groups' signed rate differences with CI, p and Holm. `fixed`: a test-only audit (no training
    variance); `per_au`: also the differences per AU."""
    if results.empty or "test_group" not in results.columns:
        return pd.DataFrame(columns=GROUP_COLUMNS), pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    cells = rate_cells(results)
    runs = ("audit",) if fixed else ()
    groups, differences = [], []
    for (normalizer, au), part in cells.groupby(["normalizer", "au"], sort=False, observed=True):
        names = sorted(part["test_group"].astype(str).unique())
        if len(names) < 2 or not (per_au or au == ALL_AUS):
            continue
        data = {rate: prepare(_cells(part.dropna(subset=[rate]), rate)) for rate in RATES}
        means = {rate: part.groupby(["test_group", "subject"], observed=True)[rate].mean()
                 .groupby(level="test_group", observed=True).mean() for rate in RATES}
        if au == ALL_AUS:
            for g in names:
                row = {"normalizer": normalizer, "au": au, "test_group": g,
                       "subjects": int(part.loc[part["test_group"].astype(str) == g, "subject"].nunique())}
                for rate in RATES:
                    inf = crossed_inference(data[rate], [Term(rate, 1.0, g)], fixed_runs=runs)
                    row.update({rate: float(means[rate].get(g, np.nan)), f"{rate}_ci_low": inf.ci_low,
                                f"{rate}_ci_high": inf.ci_high})
                groups.append(row)
        block = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                pair = []
                for rate in RATES:
                    inf = crossed_inference(data[rate], [Term(rate, 1.0, a), Term(rate, -1.0, b)], fixed_runs=runs)
                    pair.append({"normalizer": normalizer, "au": au, "rate": rate, "comparison": f"{a} vs {b}",
                                 "group_a": a, "group_b": b, "value_a": float(means[rate].get(a, np.nan)),
                                 "value_b": float(means[rate].get(b, np.nan)), "difference": inf.estimate,
                                 "difference_ci_low": inf.ci_low, "difference_ci_high": inf.ci_high, "p": inf.p})
                odds = (
                    max(abs(r["difference"]) for r in pair)
                    if all(r["difference"] == r["difference"] for r in pair)
                    else float("nan")
                )
                block += [{**r, "equalized_odds_difference": odds} for r in pair]
        adjusted = holm(pd.Series([r["p"] for r in block], dtype=float)).to_numpy() if block else []
        for r, p in zip(block, adjusted, strict=True):
            r["p_holm"] = float(p)
            r["significant"] = bool(p < ALPHA)
        differences += block
    return (pd.DataFrame(groups, columns=GROUP_COLUMNS),
            pd.DataFrame(differences, columns=DIFFERENCE_COLUMNS))
