"""Scores at a common base rate: how a between-group difference looks once the groups show each AU equally often.

F1 and accuracy depend on how often an AU occurs (its base rate), not only on how well a model reads it: with the
same true- and false-positive rates, a subject who shows an AU in 10 % of frames gets a lower F1 than one who shows it
in 20 %, because the same false-positive rate now costs more precision. Groups of people differ in base rates (in the
synthetic default, darker-skinned subjects show most AUs less often than lighter-skinned ones), so part of a
between-group difference in the paper's score can be who shows AUs how often, not how well the model serves them.

Prevalence calibration (Siblini, Fréry, He-Guelton, Oblé and Wang, 2020, "Master your metrics with calibration",
IDA 2020) separates the two: each (model, subject, AU) row keeps its true-positive rate (recall) and false-positive
rate, and its F1 and accuracy are recomputed as if the subject had shown the AU at the reference base rate (the AU's
pooled rate over every tested subject). It is not direct standardization (no stratum weights are changed), and it
*assumes* a model's hit and false-alarm rates do not depend on how often an AU occurs. So it is a secondary view:
the headline is the difference as scored, and `auditkit.stats.error_rates` reports the rates themselves, because a
higher hit rate and a higher false-alarm rate can cancel in the composite and hide a disparity in either. Rows whose
rates are undefined (a subject who never, or always, shows the AU) are left out of the calibrated score, as the
default F1 rule leaves out undefined F1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.errors import AuditkitError

REQUIRED = ("subject", "au", "f1", "accuracy", "support", "positives")


def _check(results: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in results.columns]
    if missing:
        raise AuditkitError(f"results: missing column(s) {', '.join(missing)} needed for base-rate standardization")


def confusion_counts(results: pd.DataFrame) -> pd.DataFrame:
    """Per results row: true and false positives (`tp`, `fp`), recovered exactly from its F1, accuracy, coded frames
    and positives (the four determine the confusion matrix); NaN where no confusion matrix gives those scores."""
    _check(results)
    n = results["support"].to_numpy(float)
    pos = results["positives"].to_numpy(float)
    neg = n - pos
    f1 = results["f1"].to_numpy(float)
    acc = results["accuracy"].to_numpy(float)
    # accuracy * n = tp + tn = 2 tp + neg - predicted, and f1 = 2 tp / (predicted + pos): two equations, two unknowns
    perfect = np.isclose(f1, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted = np.where(perfect, pos, (neg + f1 * pos - acc * n) / (1.0 - f1))
        tp = np.where(perfect, pos, f1 * (predicted + pos) / 2.0)
    # no positives: tp is 0 and every predicted positive is a false one (accuracy = 1 - fp / n)
    none = pos == 0
    tp = np.where(none, 0.0, tp)
    fp = np.where(none, n * (1.0 - acc), predicted - tp)
    # scores no confusion matrix gives (a hand-made or averaged row) are not counts: NaN, so they are left out
    with np.errstate(invalid="ignore"):
        whole = (np.abs(tp - np.round(tp)) < 1e-6 * np.maximum(n, 1)) & (
            np.abs(fp - np.round(fp)) < 1e-6 * np.maximum(n, 1)
        )
        valid = whole & (np.round(tp) >= 0) & (np.round(tp) <= pos) & (np.round(fp) >= 0) & (np.round(fp) <= neg)
    return pd.DataFrame({"tp": np.where(valid, np.round(tp), np.nan), "fp": np.where(valid, np.round(fp), np.nan)},
                        index=results.index)


def _pooled_rate(results: pd.DataFrame, by: str) -> pd.Series:
    """Per value of `by`: positives / coded frames over the distinct (subject, AU) rows (a subject tested by several
    models counts once)."""
    keys = list(dict.fromkeys([by, "subject", "au"]))
    rows = results.groupby(keys, observed=True)[["positives", "support"]].max()
    totals = rows.groupby(level=by, observed=True).sum()
    return (totals["positives"] / totals["support"].where(totals["support"] > 0)).rename("base_rate")


def reference_rates(results: pd.DataFrame) -> pd.Series:
    """Per AU: the pooled base rate over the distinct tested subjects (positives / coded frames)."""
    _check(results)
    return _pooled_rate(results, "au")


def standardize(results: pd.DataFrame, reference: pd.Series | None = None) -> pd.DataFrame:
    """A copy of `results` whose f1 and accuracy are each row's at the AU's reference base rate (default: pooled over
    the tested subjects), from the row's own true- and false-positive rates; NaN where those are undefined."""
    if results.empty:
        return results.copy()
    counts = confusion_counts(results)
    ref = reference_rates(results) if reference is None else reference
    pi = results["au"].map(ref).to_numpy(float)
    pos = results["positives"].to_numpy(float)
    neg = results["support"].to_numpy(float) - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(pos > 0, counts["tp"].to_numpy() / pos, np.nan)
        fpr = np.where(neg > 0, counts["fp"].to_numpy() / neg, np.nan)
        tp, fp, fn = tpr * pi, fpr * (1 - pi), (1 - tpr) * pi
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    accuracy = tp + (1 - fpr) * (1 - pi)
    defined = np.isfinite(f1) & np.isfinite(accuracy)
    out = results.copy()
    out["f1"] = np.where(defined, f1, np.nan)
    out["accuracy"] = np.where(defined, accuracy, np.nan)
    return out


# one row per (normalizer, pair of groups), over all AUs: the signed difference at the reference base rates
ADJUSTED_COLUMNS = ["normalizer", "au", "comparison", "group_a", "group_b", "subjects_a", "subjects_b", "score_a",
                    "score_b", "difference", "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant",
                    "base_rate_a", "base_rate_b"]


def adjusted_disparities(results: pd.DataFrame, baseline: str = "none", n_boot: int = 2000,
                         seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Between-group differences (all AUs) at equal base rates, and how each normalizer changes them.

    Returns (summary, changes): summary has ADJUSTED_COLUMNS (the raw base rate of each group beside), changes has
    auditkit.stats.disparities.CHANGE_COLUMNS; the same statistics as the unadjusted tables (bootstrap CI over subjects,
    permutation p, Holm), computed on standardize(results).
    """
    from auditkit.stats.disparities import (
        ALL_AUS,
        CHANGE_COLUMNS,
        disparity_changes,
        fixed_model,
        pairwise,
        subject_metrics,
    )

    if results.empty or "test_group" not in results.columns:
        return pd.DataFrame(columns=ADJUSTED_COLUMNS), pd.DataFrame(columns=CHANGE_COLUMNS)
    subjects = subject_metrics(standardize(results), by_repetition=True)
    fixed = fixed_model(results)
    overall = subjects[(subjects["au"] == ALL_AUS) & subjects["score"].notna()]
    rates = _pooled_rate(results, "test_group")
    rows = []
    for normalizer, sub in overall.groupby("normalizer", sort=False, observed=True):
        if sub["test_group"].nunique() < 2:
            continue
        for pair in pairwise(sub, fixed=fixed):
            rows.append({"normalizer": normalizer, "au": ALL_AUS, **pair,
                         "base_rate_a": float(rates.get(pair["group_a"], np.nan)),
                         "base_rate_b": float(rates.get(pair["group_b"], np.nan))})
    changes = disparity_changes(results, baseline, subjects=overall)
    return pd.DataFrame(rows, columns=ADJUSTED_COLUMNS), changes
