"""Disparities between test groups as fairness toolkits report them: fairlearn's MetricFrame per group and AU.

Each group's score (the paper's mean of F1 and accuracy), F1, accuracy, base rate and size; the difference and ratio
to the best group and to the overall value; fairlearn's bootstrap intervals; a flag where a ratio leaves the
[0.8, 1.25] band; and a warning for groups too small to compare.

The inferential statistic is the *signed* difference between two named groups (every pair when there are more than
two), with a bootstrap interval over subjects and a permutation p-value for "no difference", Holm-corrected over
the pairs of one normalizer (as the gap tests are). The largest-minus-smallest difference (`range`) and the smallest
ratio (`min_ratio`) stay as descriptive figures only: a max - min is >= 0 by construction, so an interval of it can
never contain 0 and reads as a disparity on null data.

The unit is the test subject: each subject's metrics are first averaged over every model that tested them (in a
`gap` audit: the models trained on every pool in every repetition, so no group is scored only by models trained on
it), and the bootstrap resamples subjects.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from auditkit.metrics import add_score
from auditkit.stats import bootstrap_diff_ci, holm, permutation_p

ALL_AUS = "all"  # the row averaging every AU
RATIO_BAND = (0.8, 1.25)  # the four-fifths rule and its inverse, the default band of fairness toolkits (Aequitas)
MIN_SUBJECTS = 5  # below this many test subjects a group's value is flagged as unreliable
CI_QUANTILES = [0.025, 0.975]
METRICS = ("score", "f1", "accuracy")

GROUP_COLUMNS = ["normalizer", "au", "test_group", "subjects", "frames", "base_rate", "score", "score_ci_low",
                 "score_ci_high", "f1", "accuracy", "diff_to_best", "ratio_to_best", "diff_to_overall",
                 "ratio_to_overall", "outside_band", "small"]
# one row per (normalizer, AU, pair of groups): the signed difference group_a - group_b (names sorted, so the same
# pair reads the same way under every normalizer) with its CI and tests; then the descriptive spread of all groups
SUMMARY_COLUMNS = ["normalizer", "au", "comparison", "group_a", "group_b", "subjects_a", "subjects_b", "score_a",
                   "score_b", "difference", "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant",
                   "groups", "overall", "range", "min_ratio", "outside_band", "small_groups"]
CHANGE_COLUMNS = ["normalizer", "au", "comparison", "group_a", "group_b", "subjects", "difference_baseline",
                  "difference", "change", "change_ci_low", "change_ci_high", "p", "p_holm", "significant"]


def _mean_of(y_true: np.ndarray, y_pred: np.ndarray, values: np.ndarray) -> float:
    """A MetricFrame metric: the mean of a per-subject value (y_true / y_pred are placeholders)."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")  # `exclude` F1 rule: NaN skipped


def subject_metrics(results: pd.DataFrame) -> pd.DataFrame:
    """Per (normalizer, test group, subject, AU): mean score, F1 and accuracy over the models that tested the subject,
    with the subject's coded frames and positives for that AU; plus an `all` AU row per subject (mean over AUs)."""
    rows = add_score(results)
    keys = ["normalizer", "test_group", "subject", "au"]
    per_au = rows.groupby(keys, sort=True, observed=True).agg(
        score=("score", "mean"), f1=("f1", "mean"), accuracy=("accuracy", "mean"),
        frames=("support", "max"), positives=("positives", "max")).reset_index()
    per_au["labels"] = per_au["frames"]
    # across AUs: the subject's coded frames (not frame x AU pairs); the base rate stays positives / coded labels
    overall = per_au.groupby(keys[:-1], sort=True, observed=True).agg(
        score=("score", "mean"), f1=("f1", "mean"), accuracy=("accuracy", "mean"), frames=("frames", "max"),
        positives=("positives", "sum"), labels=("labels", "sum")).reset_index().assign(au=ALL_AUS)
    return pd.concat([overall[per_au.columns], per_au], ignore_index=True)


def _frame(sub: pd.DataFrame, n_boot: int, seed: int):
    from fairlearn.metrics import MetricFrame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns when a bootstrap sample misses a group; the CI stays valid
        return MetricFrame(
            metrics={m: _mean_of for m in METRICS},
            y_true=np.zeros(len(sub)), y_pred=np.zeros(len(sub)),
            sensitive_features=pd.Series(sub["test_group"].to_numpy(), name="test_group"),
            sample_params={m: {"values": sub[m].to_numpy()} for m in METRICS},
            n_boot=n_boot or None, ci_quantiles=CI_QUANTILES if n_boot else None, random_state=seed)


def _outside(ratio: float) -> bool:
    return bool(ratio == ratio and not RATIO_BAND[0] <= ratio <= RATIO_BAND[1])


def disparities(results: pd.DataFrame, n_boot: int = 200, seed: int = 0, min_subjects: int = MIN_SUBJECTS,
                per_au_boot: bool = False, subjects: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group rows and per-(normalizer, AU) summaries of disparities between test groups.

    Returns (groups, summary); see GROUP_COLUMNS and SUMMARY_COLUMNS. Differences and ratios are of the score.
    Bootstrap intervals (`n_boot` resamples of subjects; 0: none, CI columns NaN) are computed for the all-AU rows,
    and for every AU only with `per_au_boot` (fairlearn's bootstrap costs ~1 s per table of 200 resamples).
    `subjects`: subject_metrics(results) when the caller has it already (audit_tables shares it).
    """
    if results.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS)
    subjects = subject_metrics(results) if subjects is None else subjects
    group_rows, summary_rows = [], []
    for (normalizer, au), sub in subjects.groupby(["normalizer", "au"], sort=False, observed=True):
        if sub["test_group"].nunique() < 2:
            continue
        boots = n_boot if (au == ALL_AUS or per_au_boot) else 0
        mf = _frame(sub, boots, seed)
        by_group = mf.by_group
        overall = mf.overall["score"]
        best = by_group["score"].max()
        sizes = sub.groupby("test_group", observed=True).agg(subjects=("subject", "nunique"), frames=("frames", "sum"),
                                                             positives=("positives", "sum"), labels=("labels", "sum"))
        ci = mf.by_group_ci if boots else None
        for group, values in by_group.iterrows():
            size = sizes.loc[group]
            ratio_best = values["score"] / best if best > 0 else float("nan")
            ratio_overall = values["score"] / overall if overall > 0 else float("nan")
            group_rows.append({
                "normalizer": normalizer, "au": au, "test_group": group, "subjects": int(size["subjects"]),
                "frames": int(size["frames"]), "base_rate": size["positives"] / max(int(size["labels"]), 1),
                "score": values["score"],
                "score_ci_low": ci[0].loc[group, "score"] if ci else float("nan"),
                "score_ci_high": ci[1].loc[group, "score"] if ci else float("nan"),
                "f1": values["f1"], "accuracy": values["accuracy"],
                "diff_to_best": values["score"] - best, "ratio_to_best": ratio_best,
                "diff_to_overall": values["score"] - overall, "ratio_to_overall": ratio_overall,
                "outside_band": _outside(ratio_best) or _outside(ratio_overall),
                "small": int(size["subjects"]) < min_subjects})
        ratio = mf.ratio()["score"]
        spread = {"groups": len(by_group), "overall": overall, "range": mf.difference()["score"], "min_ratio": ratio,
                  "outside_band": _outside(ratio),
                  "small_groups": ",".join(str(g) for g in sizes.index[sizes["subjects"] < min_subjects])}
        summary_rows += [{"normalizer": normalizer, "au": au, **pair, **spread}
                         for pair in pairwise(sub, n_boot=boots, seed=seed)]
    return (pd.DataFrame(group_rows, columns=GROUP_COLUMNS), pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS))


def _subject_values(sub: pd.DataFrame) -> dict[str, pd.Series]:
    """Per test group: each subject's score (index: subject)."""
    return {str(g): part.groupby("subject", observed=True)["score"].mean()
            for g, part in sub.groupby("test_group", sort=True, observed=True)}


def pairwise(sub: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Every pair of test groups in `sub` (one row per subject and group, a `score`): the signed difference of their
    subject means, its percentile bootstrap CI over subjects (stats.N_BOOT resamples; `n_boot` 0: none), a
    permutation p and Holm over the pairs."""
    values = _subject_values(sub)
    names = sorted(values)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            va, vb = values[a].to_numpy(), values[b].to_numpy()
            lo, hi = bootstrap_diff_ci(va, vb, seed) if n_boot else (float("nan"), float("nan"))
            rows.append({"comparison": f"{a} vs {b}", "group_a": a, "group_b": b, "subjects_a": len(va),
                         "subjects_b": len(vb), "score_a": float(va.mean()), "score_b": float(vb.mean()),
                         "difference": float(va.mean() - vb.mean()), "difference_ci_low": lo,
                         "difference_ci_high": hi, "p": permutation_p(va, vb, seed)})
    _add_holm(rows)
    return rows


def _add_holm(rows: list[dict]) -> None:
    adjusted = holm(pd.Series([r["p"] for r in rows], dtype=float)).to_numpy() if rows else []
    for r, p in zip(rows, adjusted):
        r["p_holm"] = float(p)
        r["significant"] = bool(p < 0.05)


def disparity_changes(results: pd.DataFrame, baseline: str = "none", n_boot: int = 2000, seed: int = 0,
                      subjects: pd.DataFrame | None = None) -> pd.DataFrame:
    """How each normalizer changes the between-group difference (all AUs), tested on the same subjects.

    Per subject, d = score under the normalizer - score under `baseline`; the change in the signed difference
    a - b is mean_a(d) - mean_b(d), with a bootstrap CI over subjects and a permutation p (relabelling subjects
    between the groups). Holm over every (normalizer, pair) row: one family, like the normalizer-vs-none gap tests.
    `subjects`: subject_metrics(results) when the caller has it already.
    """
    if results.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    subjects = subject_metrics(results) if subjects is None else subjects
    subjects = subjects[subjects["au"] == ALL_AUS]
    if baseline not in set(subjects["normalizer"]):
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    base = subjects[subjects["normalizer"] == baseline].set_index(["test_group", "subject"])["score"]
    rows = []
    for norm in [n for n in dict.fromkeys(subjects["normalizer"]) if n != baseline]:
        other = subjects[subjects["normalizer"] == norm].set_index(["test_group", "subject"])["score"]
        common = other.index.intersection(base.index)
        d = (other[common] - base[common]).rename("score").reset_index()
        if d["test_group"].nunique() < 2:
            continue
        before = {str(g): v for g, v in base[common].groupby(level="test_group", observed=True)}
        after = {str(g): v for g, v in other[common].groupby(level="test_group", observed=True)}
        for pair in pairwise(d, n_boot=n_boot, seed=seed):
            a, b = pair["group_a"], pair["group_b"]
            rows.append({"normalizer": norm, "au": ALL_AUS, "comparison": pair["comparison"], "group_a": a,
                         "group_b": b, "subjects": pair["subjects_a"] + pair["subjects_b"],
                         "difference_baseline": float(before[a].mean() - before[b].mean()),
                         "difference": float(after[a].mean() - after[b].mean()), "change": pair["difference"],
                         "change_ci_low": pair["difference_ci_low"], "change_ci_high": pair["difference_ci_high"],
                         "p": pair["p"]})
    _add_holm(rows)
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)
