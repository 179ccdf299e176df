"""Disparities between test groups as fairness toolkits report them: fairlearn's MetricFrame per group and AU.

Each group's score (the paper's mean of F1 and accuracy), F1, accuracy, base rate and size; the difference and ratio
to the best group and to the overall value; fairlearn's bootstrap intervals; a flag where a ratio leaves the
[0.8, 1.25] band; and a warning for groups too small to compare.

The inferential statistic is the *signed* difference between two named groups (every pair when there are more than
two), with a 95% interval and a p-value for "no difference" that count people and trainings, Holm-corrected over
the pairs of one normalizer (as the gap tests are). The largest-minus-smallest difference (`range`) and the smallest
ratio (`min_ratio`) stay as descriptive figures only: a max - min is >= 0 by construction, so an interval of it can
never contain 0 and reads as a disparity on null data.

A score belongs to a (test subject, repetition) cell: the mean over that repetition's models that tested the subject.
In a `gap` audit the between-group statistics read the balanced cells (`balanced_rows`): the repetitions in which a
subject was tested by one model of every pool, so no group is scored mostly by models trained on another. A
subject's value is the mean of its cells, and every interval and p-value here counts both people and trainings
(`auditkit.stats.crossed`): a jackknife over subjects within their group plus one over repetitions, paired by
repetition wherever two quantities share their trainings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from auditkit.stats import ALPHA, holm
from auditkit.stats.crossed import Inference, Term, change_between_groups, crossed_inference
from auditkit.stats.metrics import add_score

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
                  "difference", "change", "change_ci_low", "change_ci_high", "p", "p_holm", "significant", "se", "dof"]


def _mean_of(y_true: np.ndarray, y_pred: np.ndarray, values: np.ndarray) -> float:
    """A MetricFrame metric: the mean of a per-subject value (y_true / y_pred are placeholders)."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")  # `exclude` F1 rule: NaN skipped


def subject_metrics(results: pd.DataFrame, by_repetition: bool = False) -> pd.DataFrame:
    """Per (normalizer, test group, subject, AU): mean score, F1 and accuracy over the repetitions that tested the
    subject (first averaged over that repetition's models, so each repetition counts once), with the subject's coded
    frames and positives for that AU; plus an `all` AU row per subject (mean over AUs).
    `by_repetition`: one row per repetition instead, the cells of the subject-and-training inference."""
    rows = add_score(results)
    if "repetition" not in rows.columns:
        rows = rows.assign(repetition=0)
    keys = ["normalizer", "test_group", "subject", "repetition", "au"]
    per_au = rows.groupby(keys, sort=True, observed=True).agg(
        score=("score", "mean"), f1=("f1", "mean"), accuracy=("accuracy", "mean"),
        frames=("support", "max"), positives=("positives", "max")).reset_index()
    per_au["labels"] = per_au["frames"]
    # across AUs: the subject's coded frames (not frame x AU pairs); the base rate stays positives / coded labels
    overall = per_au.groupby(keys[:-1], sort=True, observed=True).agg(
        score=("score", "mean"), f1=("f1", "mean"), accuracy=("accuracy", "mean"), frames=("frames", "max"),
        positives=("positives", "sum"), labels=("labels", "sum")).reset_index().assign(au=ALL_AUS)
    cells = pd.concat([overall[per_au.columns], per_au], ignore_index=True)
    return cells if by_repetition else subjects_of(cells)


def subjects_of(cells: pd.DataFrame) -> pd.DataFrame:
    """subject_metrics(results) from subject_metrics(results, by_repetition=True): each subject's mean over its
    repetitions, so a caller holding the cells does not group the results rows again."""
    keys = ["normalizer", "test_group", "subject", "au"]
    columns = [c for c in cells.columns if c != "repetition"]
    return cells.groupby(keys, sort=False, observed=True).agg(
        score=("score", "mean"), f1=("f1", "mean"), accuracy=("accuracy", "mean"), frames=("frames", "max"),
        positives=("positives", "max"), labels=("labels", "max")).reset_index()[columns]


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
                per_au_boot: bool = False, subjects: pd.DataFrame | None = None,
                cells: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group rows and per-(normalizer, AU) summaries of disparities between test groups.

    Returns (groups, summary); see GROUP_COLUMNS and SUMMARY_COLUMNS. Differences and ratios are of the score, the
    values fairlearn's MetricFrame gives. Each group's 95% interval counts people and trainings (stats.crossed, as
    every other interval of the report; fairlearn's bootstrap resamples people only, and cost ~1 s per table): for
    the all-AU rows, and for every AU with `per_au_boot`; `n_boot` 0: none (CI columns NaN). `seed` is unused.
    `subjects`, `cells`: subject_metrics(results) and subject_metrics(results, by_repetition=True) when the caller has
    them already (audit_tables shares them). The between-group differences are tested on the cells (people and
    trainings: `pairwise`).
    """
    if results.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS)
    subjects = subject_metrics(results) if subjects is None else subjects
    cells = subject_metrics(results, by_repetition=True) if cells is None else cells
    fixed = fixed_model(results)
    cells_of = dict(iter(cells.groupby(["normalizer", "au"], sort=False, observed=True)))
    group_rows, summary_rows = [], []
    for (normalizer, au), sub in subjects.groupby(["normalizer", "au"], sort=False, observed=True):
        if sub["test_group"].nunique() < 2:
            continue
        with_ci = bool(n_boot) and (au == ALL_AUS or per_au_boot)
        mf = _frame(sub, 0, seed)
        group_cells = cell_table(cells_of[(normalizer, au)].dropna(subset=["score"])) if with_ci else None
        runs = tuple(group_cells["run"].unique()) if with_ci and fixed else ()
        by_group = mf.by_group
        overall = mf.overall["score"]
        best = by_group["score"].max()
        sizes = sub.groupby("test_group", observed=True).agg(subjects=("subject", "nunique"), frames=("frames", "sum"),
                                                             positives=("positives", "sum"), labels=("labels", "sum"))
        for group, values in by_group.iterrows():
            size = sizes.loc[group]
            ci = crossed_inference(group_cells, [Term("scores", 1.0, str(group))], fixed_runs=runs) if with_ci \
                else None
            ratio_best = values["score"] / best if best > 0 else float("nan")
            ratio_overall = values["score"] / overall if overall > 0 else float("nan")
            group_rows.append({
                "normalizer": normalizer, "au": au, "test_group": group, "subjects": int(size["subjects"]),
                "frames": int(size["frames"]), "base_rate": size["positives"] / max(int(size["labels"]), 1),
                "score": values["score"],
                "score_ci_low": ci.ci_low if ci else float("nan"),
                "score_ci_high": ci.ci_high if ci else float("nan"),
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
                         for pair in pairwise(cells_of[(normalizer, au)], fixed=fixed)]
    return (pd.DataFrame(group_rows, columns=GROUP_COLUMNS), pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS))


def balanced_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows on which groups are compared fairly: in a `gap` audit, each subject's repetitions in which it was
    tested by a model of *every* pool (its own pool's, i.e. it was among that draw's test subjects, and every other
    pool's). In a repetition where a subject trained or validated, only the other pools' models tested it, so its
    group would be scored mostly by models trained on the other group: which people a pool holds (drawn once per
    audit, seen by neither the subjects' nor the repetitions' resampling) would then enter every between-group
    difference. On random groups that made the error-rate differences reject 4 times in 15 (bench_calibration.py);
    balanced, the models of every pool weigh alike on every group. Test-only audits are returned as they are."""
    if "condition" not in results.columns or not (results["condition"] == "within").any():
        return results
    keys = ["normalizer", "subject", "repetition"]
    tested_within = results.loc[results["condition"] == "within", keys].drop_duplicates()
    return results.merge(tested_within, on=keys, how="inner")[results.columns]


def fixed_model(results: pd.DataFrame) -> bool:
    """True when nothing was trained (a pretrained model or saved predictions): no training variance to count."""
    return "condition" in results.columns and bool(len(results)) and bool((results["condition"] == "test-only").all())


def cell_table(sub: pd.DataFrame, arm: str = "scores") -> pd.DataFrame:
    """Rows per (test group, subject[, repetition]) with a `score` as stats.crossed's cells (stratum = test group; one
    run; repetition 0 where the table has none)."""
    reps = sub["repetition"].to_numpy() if "repetition" in sub.columns else np.zeros(len(sub), int)
    return pd.DataFrame({"arm": arm, "stratum": sub["test_group"].astype(str).to_numpy(),
                         "subject": sub["subject"].astype(str).to_numpy(),
                         "run": sub["run"].astype(str).to_numpy() if "run" in sub.columns else "audit",
                         "repetition": reps, "score": sub["score"].to_numpy(float)})


def inferred_pair(cells: pd.DataFrame, a: str, b: str, terms: list[Term], fixed: bool) -> dict:
    """The crossed inference of `terms` (a difference between groups a and b) as a pairwise row's test columns."""
    runs = tuple(cells["run"].unique()) if fixed else ()
    return _test_columns(crossed_inference(cells, terms, fixed_runs=runs))


def _test_columns(inf: Inference) -> dict:
    return {"difference": inf.estimate, "difference_ci_low": inf.ci_low, "difference_ci_high": inf.ci_high,
            "p": inf.p, "se": inf.se, "dof": inf.dof, "repetitions": inf.repetitions, "subjects": inf.subjects,
            "var_subjects": inf.var_subjects, "var_trainings": inf.var_trainings}


def pairwise(sub: pd.DataFrame, n_boot: int | None = None, seed: int = 0, fixed: bool = False) -> list[dict]:
    """Every pair of test groups in `sub` (one row per subject and group, or per subject, group and repetition, with a
    `score`): the signed difference of their subject means, its 95% CI and p from the subject-and-training inference
    (stats.crossed; `fixed` or no repetition column: a fixed model, people only), and Holm over the pairs.
    `n_boot` and `seed` are accepted for older callers and unused: the inference is deterministic."""
    sub = sub.dropna(subset=["score"])
    fixed = fixed or "repetition" not in sub.columns
    cells = cell_table(sub)
    subjects = sub.groupby("test_group", observed=True)["subject"].nunique()
    means = {str(g): v.groupby("subject", observed=True)["score"].mean() for g, v in
             sub.groupby("test_group", sort=True, observed=True)}
    names = sorted(means)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            test = inferred_pair(cells, a, b, [Term("scores", 1.0, a), Term("scores", -1.0, b)], fixed)
            rows.append({"comparison": f"{a} vs {b}", "group_a": a, "group_b": b, "subjects_a": int(subjects[a]),
                         "subjects_b": int(subjects[b]), "score_a": float(means[a].mean()),
                         "score_b": float(means[b].mean()), **test})
    _add_holm(rows)
    return rows


def _add_holm(rows: list[dict]) -> None:
    adjusted = holm(pd.Series([r["p"] for r in rows], dtype=float)).to_numpy() if rows else []
    for r, p in zip(rows, adjusted, strict=True):
        r["p_holm"] = float(p)
        r["significant"] = bool(p < ALPHA)


def disparity_changes(results: pd.DataFrame, baseline: str = "none", n_boot: int | None = None, seed: int = 0,
                      subjects: pd.DataFrame | None = None) -> pd.DataFrame:
    """How each normalizer changes the between-group difference (all AUs), tested on the same subjects and trainings.

    The change in the signed difference a - b is (a - b under the normalizer) - (a - b under `baseline`), on the
    (subject, repetition) cells both scored: draws do not depend on the normalizer, so the two are paired by person
    and by repetition. Its interval and p (stats.crossed.change_between_groups) take the repetitions as replicates of
    the whole contrast plus each person's lasting response; a fixed model (test-only) is tested on its subjects.
    Holm over every (normalizer, pair) row: one family, like the normalizer-vs-none gap tests.
    `subjects`: subject_metrics(results, by_repetition=True) (or without repetitions) when the caller has it.
    """
    if results.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    subjects = subject_metrics(results, by_repetition=True) if subjects is None else subjects
    subjects = subjects[(subjects["au"] == ALL_AUS) & subjects["score"].notna()]
    if baseline not in set(subjects["normalizer"]):
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    fixed = fixed_model(results) or "repetition" not in subjects.columns
    keys = ["test_group", "subject"] + ([] if "repetition" not in subjects.columns else ["repetition"])
    base = subjects[subjects["normalizer"] == baseline].set_index(keys)["score"]
    rows = []
    for norm in [n for n in dict.fromkeys(subjects["normalizer"]) if n != baseline]:
        other = subjects[subjects["normalizer"] == norm].set_index(keys)["score"]
        common = other.index.intersection(base.index)
        if common.get_level_values("test_group").nunique() < 2:
            continue
        both = pd.concat([cell_table(other[common].reset_index(), "after"),
                          cell_table(base[common].reset_index(), "before")], ignore_index=True)
        before = {str(g): v.groupby(level="subject").mean().mean() for g, v in
                  base[common].groupby(level="test_group", observed=True)}
        after = {str(g): v.groupby(level="subject").mean().mean() for g, v in
                 other[common].groupby(level="test_group", observed=True)}
        size = pd.Series(common.get_level_values("subject")).groupby(common.get_level_values("test_group")).nunique()
        names = sorted(before)
        # trained: the repetitions are the replicates (stats.crossed.change_between_groups); fixed: people only
        change = None if fixed else cell_table((other[common] - base[common]).reset_index(), "change")
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if change is None or change["run"].nunique() > 1:
                    test = inferred_pair(both, a, b, [Term("after", 1.0, a), Term("after", -1.0, b),
                                                      Term("before", -1.0, a), Term("before", 1.0, b)], fixed)
                else:
                    test = _test_columns(change_between_groups(change, a, b))
                rows.append({"normalizer": norm, "au": ALL_AUS, "comparison": f"{a} vs {b}", "group_a": a,
                             "group_b": b, "subjects": int(size[a] + size[b]),
                             "difference_baseline": float(before[a] - before[b]),
                             "difference": float(after[a] - after[b]), "change": test["difference"],
                             "change_ci_low": test["difference_ci_low"], "change_ci_high": test["difference_ci_high"],
                             "p": test["p"], "se": test["se"], "dof": test["dof"]})
    _add_holm(rows)
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)
