"""Disparities between test groups as fairness toolkits report them: fairlearn's MetricFrame per group and AU.

Each group's score (the paper's mean of F1 and accuracy), F1, accuracy, base rate and size; the difference and ratio
to the best group and to the overall value; fairlearn's bootstrap intervals; a flag where a ratio leaves the
[0.8, 1.25] band; and a warning for groups too small to compare.

The unit is the test subject: each subject's metrics are first averaged over every model that tested them (in a
`gap` audit: the models trained on every pool in every repetition, so no group is scored only by models trained on
it), and the bootstrap resamples subjects.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from auditkit.metrics import add_score

ALL_AUS = "all"  # the row averaging every AU
RATIO_BAND = (0.8, 1.25)  # the four-fifths rule and its inverse, the default band of fairness toolkits (Aequitas)
MIN_SUBJECTS = 5  # below this many test subjects a group's value is flagged as unreliable
CI_QUANTILES = [0.025, 0.975]
METRICS = ("score", "f1", "accuracy")

GROUP_COLUMNS = ["normalizer", "au", "test_group", "subjects", "frames", "base_rate", "score", "score_ci_low",
                 "score_ci_high", "f1", "accuracy", "diff_to_best", "ratio_to_best", "diff_to_overall",
                 "ratio_to_overall", "outside_band", "small"]
SUMMARY_COLUMNS = ["normalizer", "au", "groups", "overall", "difference", "difference_ci_low", "difference_ci_high",
                   "ratio", "ratio_ci_low", "ratio_ci_high", "difference_to_overall", "ratio_to_overall",
                   "outside_band", "small_groups"]


def _mean_of(y_true: np.ndarray, y_pred: np.ndarray, values: np.ndarray) -> float:
    """A MetricFrame metric: the mean of a per-subject value (y_true / y_pred are placeholders)."""
    return float(np.mean(values))


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
                per_au_boot: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group rows and per-(normalizer, AU) summaries of disparities between test groups.

    Returns (groups, summary); see GROUP_COLUMNS and SUMMARY_COLUMNS. Differences and ratios are of the score.
    Bootstrap intervals (`n_boot` resamples of subjects; 0: none, CI columns NaN) are computed for the all-AU rows,
    and for every AU only with `per_au_boot` (fairlearn's bootstrap costs ~1 s per table of 200 resamples).
    """
    if results.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS)
    subjects = subject_metrics(results)
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
        diff_ci = mf.difference_ci() if boots else None
        ratio_ci = mf.ratio_ci() if boots else None
        ratio = mf.ratio()["score"]
        summary_rows.append({
            "normalizer": normalizer, "au": au, "groups": len(by_group), "overall": overall,
            "difference": mf.difference()["score"],
            "difference_ci_low": diff_ci[0]["score"] if diff_ci else float("nan"),
            "difference_ci_high": diff_ci[1]["score"] if diff_ci else float("nan"),
            "ratio": ratio,
            "ratio_ci_low": ratio_ci[0]["score"] if ratio_ci else float("nan"),
            "ratio_ci_high": ratio_ci[1]["score"] if ratio_ci else float("nan"),
            "difference_to_overall": mf.difference(method="to_overall")["score"],
            "ratio_to_overall": mf.ratio(method="to_overall")["score"],
            "outside_band": _outside(ratio),
            "small_groups": ",".join(str(g) for g in sizes.index[sizes["subjects"] < min_subjects])})
    return (pd.DataFrame(group_rows, columns=GROUP_COLUMNS), pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS))
