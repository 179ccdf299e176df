"""Several AU models compared on the same test subjects: each model's score and between-group disparity, and how
the models differ from each other, paired on those subjects.

The input is one row per (model, test group, subject) with the subject's `score` (the mean over the AUs every model
scored). Every model must have scored the same subjects (the caller keeps the ones they share), so a difference
between two models is a mean of per-subject differences:

- per model: the overall score (mean over subjects) and each group's, with percentile bootstrap CIs over subjects;
  the signed difference between every pair of groups with its bootstrap CI and permutation p, Holm over the pairs
  of that model (`disparities.pairwise`, the statistic of the audit reports);
- between two models A and B: the overall difference mean(A - B) with a bootstrap CI and a sign-flip permutation
  p (each subject's A - B keeps or flips its sign); and the change in each signed group difference, (a - b under A)
  - (a - b under B) = mean_a(A - B) - mean_b(A - B), with a bootstrap CI and a permutation p relabelling subjects
  between the two groups (as `disparities.disparity_changes` tests a normalizer against none). Holm runs over every
  model pair, once for the overall differences and once for the disparity changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from auditkit.disparities import pairwise
from auditkit.stats import bootstrap_mean_ci, holm, sign_flip_p

SUBJECT_COLUMNS = ["model", "test_group", "subject", "score"]
MODEL_COLUMNS = ["model", "subjects", "score", "score_ci_low", "score_ci_high", "rank"]
GROUP_COLUMNS = ["model", "test_group", "subjects", "score", "score_ci_low", "score_ci_high"]
DISPARITY_COLUMNS = ["model", "comparison", "group_a", "group_b", "subjects_a", "subjects_b", "score_a", "score_b",
                     "difference", "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant"]
# one row per (pair of models, quantity): `overall` (value = the model's mean score) or `disparity` of one pair of
# groups (value = the model's signed difference group_a - group_b); difference = value_a - value_b
PAIR_COLUMNS = ["model_a", "model_b", "quantity", "comparison", "group_a", "group_b", "subjects", "value_a",
                "value_b", "difference", "ci_low", "ci_high", "p", "p_holm", "significant"]
OVERALL = "overall"
DISPARITY = "disparity"


@dataclass
class ModelComparisonTables:
    """Every table of a comparison of models (scores as fractions 0-1)."""

    models: pd.DataFrame  # MODEL_COLUMNS: overall score per model, ranked
    groups: pd.DataFrame  # GROUP_COLUMNS: each model's score per test group
    disparities: pd.DataFrame  # DISPARITY_COLUMNS: each model's signed difference per pair of groups
    pairs: pd.DataFrame  # PAIR_COLUMNS: paired differences between models, Holm across model pairs


def check_paired(subjects: pd.DataFrame) -> pd.DataFrame:
    """The subject table, refusing one where models scored different subjects (the caller must pair them first)."""
    missing = [c for c in SUBJECT_COLUMNS if c not in subjects.columns]
    if missing:
        raise ValueError(f"subject scores lack the column {missing[0]!r}")
    sets = {m: set(zip(s["test_group"], s["subject"])) for m, s in subjects.groupby("model", sort=False)}
    first = next(iter(sets.values()), set())
    odd = [m for m, s in sets.items() if s != first]
    if odd:
        raise ValueError(f"model {odd[0]!r} scored other subjects than the first model; compare on shared subjects")
    if subjects.duplicated(["model", "subject"]).any():
        raise ValueError("a subject appears twice for one model (in two groups?)")
    return subjects


def _wide(subjects: pd.DataFrame) -> pd.DataFrame:
    """Scores as subjects x models (index: test_group, subject), models in input order."""
    order = list(dict.fromkeys(subjects["model"]))
    wide = subjects.pivot_table(index=["test_group", "subject"], columns="model", values="score", observed=True,
                                dropna=False)
    return wide[order].sort_index()


def model_scores(subjects: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model: overall score with its bootstrap CI and rank (1 = best); per model and group: score and CI."""
    wide = _wide(check_paired(subjects))
    models, groups = [], []
    for model in wide.columns:
        values = wide[model].dropna()
        lo, hi = bootstrap_mean_ci(values.to_numpy(), seed)
        models.append({"model": model, "subjects": len(values), "score": float(values.mean()), "score_ci_low": lo,
                       "score_ci_high": hi})
        for group, part in values.groupby(level="test_group", sort=True):
            glo, ghi = bootstrap_mean_ci(part.to_numpy(), seed)
            groups.append({"model": model, "test_group": str(group), "subjects": len(part),
                           "score": float(part.mean()), "score_ci_low": glo, "score_ci_high": ghi})
    table = pd.DataFrame(models, columns=MODEL_COLUMNS[:-1])
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    return table[MODEL_COLUMNS], pd.DataFrame(groups, columns=GROUP_COLUMNS)


def model_disparities(subjects: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per model and pair of test groups: the signed difference, its CI, permutation p and Holm over the pairs."""
    subjects = check_paired(subjects)
    rows = [{"model": model, **pair}
            for model, part in subjects.groupby("model", sort=False)
            for pair in pairwise(part.dropna(subset=["score"]), seed=seed)]
    return pd.DataFrame(rows, columns=DISPARITY_COLUMNS)


def model_pairs(subjects: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every pair of models, paired on their subjects: the overall difference and the change in every group pair's
    difference, each with a bootstrap CI and a permutation p; Holm over model pairs within each quantity."""
    wide = _wide(check_paired(subjects))
    names = list(wide.columns)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = wide[[a, b]].dropna()
            d = (both[a] - both[b]).rename("score")
            lo, hi = bootstrap_mean_ci(d.to_numpy(), seed)
            rows.append({"model_a": a, "model_b": b, "quantity": OVERALL, "comparison": OVERALL, "group_a": None,
                         "group_b": None, "subjects": len(d), "value_a": float(both[a].mean()),
                         "value_b": float(both[b].mean()), "difference": float(d.mean()), "ci_low": lo, "ci_high": hi,
                         "p": sign_flip_p(d.to_numpy(), seed)})
            per_subject = d.reset_index()
            by_group = {m: both[m].groupby(level="test_group") for m in (a, b)}
            means = {m: {str(g): float(v.mean()) for g, v in by_group[m]} for m in (a, b)}
            for pair in pairwise(per_subject, seed=seed):
                ga, gb = pair["group_a"], pair["group_b"]
                rows.append({"model_a": a, "model_b": b, "quantity": DISPARITY, "comparison": pair["comparison"],
                             "group_a": ga, "group_b": gb, "subjects": pair["subjects_a"] + pair["subjects_b"],
                             "value_a": means[a][ga] - means[a][gb], "value_b": means[b][ga] - means[b][gb],
                             "difference": pair["difference"], "ci_low": pair["difference_ci_low"],
                             "ci_high": pair["difference_ci_high"], "p": pair["p"]})
    table = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    table["p_holm"] = np.nan
    for _quantity, idx in table.groupby("quantity", sort=False).groups.items():
        table.loc[idx, "p_holm"] = holm(table.loc[idx, "p"].astype(float)).to_numpy()
    table["significant"] = table["p_holm"].astype(float) < 0.05
    return table


def compare_models(subjects: pd.DataFrame, seed: int = 0) -> ModelComparisonTables:
    """All tables of a comparison from one row per (model, test group, subject) with `score`."""
    models, groups = model_scores(subjects, seed)
    return ModelComparisonTables(models, groups, model_disparities(subjects, seed), model_pairs(subjects, seed))


def headline_pair(disparities: pd.DataFrame) -> tuple[str, str] | None:
    """The pair of groups a one-number summary shows: the only pair, or the one with the largest mean absolute
    difference across models (None without two groups)."""
    if disparities.empty:
        return None
    size = disparities.assign(size=disparities["difference"].abs()).groupby(["group_a", "group_b"], sort=True)["size"]
    a, b = size.mean().idxmax()
    return str(a), str(b)
