"""Several AU models compared on the same test subjects: each model's score and between-group disparity, and how
the models differ from each other, paired on those subjects.

The input is one row per (model, test group, subject) with the subject's `score` (the mean over the AUs every model
scored), or one row per (model, test group, subject, repetition) with the audit each repetition belongs to (`run`)
and whether that audit's model is fixed (`fixed`: a pretrained model or saved predictions, one repetition, no
training variance). Every model must have scored the same subjects (the caller keeps the ones they share), so a
difference between two models is paired on people; two models of one audit are paired by repetition too (their
draws are shared), while two audits' trainings are independent. Every interval and p-value is the subject x
training inference (`auditkit.stats.crossed`), so two re-runs of one configuration are not called different because
their trainings differ:

- per model: the overall score (mean over subjects) and each group's, with 95% CIs;
- per model and pair of groups: the signed difference with its CI and p, Holm over the pairs of that model;
- between two models A and B: the overall difference with its CI and p, and the change in each signed group
  difference, (a - b under A) - (a - b under B), likewise. Holm runs over every model pair, once for the overall
  differences and once for the disparity changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditkit.stats import ALPHA, holm
from auditkit.stats.crossed import Term, crossed_inference, prepare

SUBJECT_COLUMNS = ["model", "test_group", "subject", "score"]
MODEL_COLUMNS = ["model", "subjects", "score", "score_ci_low", "score_ci_high", "rank"]
GROUP_COLUMNS = ["model", "test_group", "subjects", "score", "score_ci_low", "score_ci_high"]
DISPARITY_COLUMNS = ["model", "comparison", "group_a", "group_b", "subjects_a", "subjects_b", "score_a", "score_b",
                     "difference", "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant"]
# one row per (pair of models, quantity): `overall` (value = the model's mean score) or `disparity` of one pair of
# groups (value = the model's signed difference group_a - group_b); difference = value_a - value_b
PAIR_COLUMNS = ["model_a", "model_b", "quantity", "comparison", "group_a", "group_b", "subjects", "value_a",
                "value_b", "difference", "ci_low", "ci_high", "p", "p_holm", "significant"]
RATE_COLUMNS = ["model", "test_group", "subjects", "hit_rate", "hit_rate_ci_low", "hit_rate_ci_high",
                "false_alarm_rate", "false_alarm_rate_ci_low", "false_alarm_rate_ci_high"]
RATE_DIFFERENCE_COLUMNS = ["model", "rate", "comparison", "group_a", "group_b", "value_a", "value_b", "difference",
                           "difference_ci_low", "difference_ci_high", "p", "p_holm", "significant"]
RATES = ("hit_rate", "false_alarm_rate")
OVERALL = "overall"
DISPARITY = "disparity"


@dataclass
class ModelComparisonTables:
    """Every table of a comparison of models (scores as fractions 0-1)."""

    models: pd.DataFrame  # MODEL_COLUMNS: overall score per model, ranked
    groups: pd.DataFrame  # GROUP_COLUMNS: each model's score per test group
    disparities: pd.DataFrame  # DISPARITY_COLUMNS: each model's signed difference per pair of groups
    pairs: pd.DataFrame  # PAIR_COLUMNS: paired differences between models, Holm across model pairs
    # RATE_COLUMNS / RATE_DIFFERENCE_COLUMNS: each model's hit and false-alarm rates per group (equalized odds) and
    # their differences between groups (empty when the input has no rate columns)
    error_rates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATE_COLUMNS))
    error_rate_differences: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RATE_DIFFERENCE_COLUMNS))


def _complete(subjects: pd.DataFrame) -> pd.DataFrame:
    """The table with its run columns: without repetitions, each model is one fixed run (people only)."""
    out = subjects.copy()
    if "repetition" not in out.columns:
        out["repetition"] = 0
        out["run"] = out["model"].astype(str)
        out["fixed"] = True
    out["run"] = out["run"].astype(str) if "run" in out.columns else out["model"].astype(str)
    if "fixed" not in out.columns:
        out["fixed"] = False
    return out


def check_paired(subjects: pd.DataFrame) -> pd.DataFrame:
    """The subject table, refusing one where models scored different subjects (the caller must pair them first)."""
    missing = [c for c in SUBJECT_COLUMNS if c not in subjects.columns]
    if missing:
        raise ValueError(f"subject scores lack the column {missing[0]!r}")
    sets = {m: set(zip(s["test_group"], s["subject"], strict=True)) for m, s in subjects.groupby("model", sort=False)}
    first = next(iter(sets.values()), set())
    odd = [m for m, s in sets.items() if s != first]
    if odd:
        raise ValueError(f"model {odd[0]!r} scored other subjects than the first model; compare on shared subjects")
    keys = ["model", "subject"] + (["repetition"] if "repetition" in subjects.columns else [])
    if subjects.duplicated(keys).any():
        raise ValueError("a subject appears twice for one model (in two groups?)")
    return _complete(subjects)


class _Data:
    """The cells of every model as one crossed table (arm = model), with the fixed runs; `value`: the column read."""

    def __init__(self, subjects: pd.DataFrame, value: str = "score") -> None:
        table = subjects.dropna(subset=[value]).rename(columns={value: "_value"})
        table = table.drop(columns=["score"], errors="ignore").rename(columns={"_value": "score"})
        self.cells = prepare(pd.DataFrame({
            "arm": table["model"].astype(str).to_numpy(), "stratum": table["test_group"].astype(str).to_numpy(),
            "subject": table["subject"].astype(str).to_numpy(), "run": table["run"].to_numpy(),
            "repetition": table["repetition"].to_numpy(), "score": table["score"].to_numpy(float)}))
        self.fixed = tuple(table.loc[table["fixed"].astype(bool), "run"].unique())
        # subject means (over repetitions) per model: the point estimates every table prints
        self.means = table.groupby(["model", "test_group", "subject"], sort=True, observed=True)["score"].mean()
        self.models = list(dict.fromkeys(table["model"].astype(str)))

    def infer(self, terms: list[Term]):
        return crossed_inference(self.cells, terms, fixed_runs=self.fixed)

    def mean(self, model: str, group: str | None = None) -> float:
        values = self.means.loc[model]
        return float((values if group is None else values.loc[group]).mean())


def model_scores(subjects: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model: overall score with its 95% CI and rank (1 = best); per model and group: score and CI."""
    data = _Data(check_paired(subjects))
    models, groups = [], []
    for model in data.models:
        inf = data.infer([Term(model, 1.0)])
        per = data.means.loc[model]
        models.append({"model": model, "subjects": int(per.index.get_level_values("subject").nunique()),
                       "score": data.mean(model), "score_ci_low": inf.ci_low, "score_ci_high": inf.ci_high})
        for group in sorted(per.index.get_level_values("test_group").unique()):
            g = data.infer([Term(model, 1.0, str(group))])
            groups.append({"model": model, "test_group": str(group), "subjects": int(len(per.loc[group])),
                           "score": data.mean(model, group), "score_ci_low": g.ci_low, "score_ci_high": g.ci_high})
    table = pd.DataFrame(models, columns=MODEL_COLUMNS[:-1])
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    return table[MODEL_COLUMNS], pd.DataFrame(groups, columns=GROUP_COLUMNS)


def _groups(data: _Data, model: str) -> list[str]:
    return sorted(str(g) for g in data.means.loc[model].index.get_level_values("test_group").unique())


def _holm_rows(rows: list[dict]) -> None:
    adjusted = holm(pd.Series([r["p"] for r in rows], dtype=float)).to_numpy() if rows else []
    for r, p in zip(rows, adjusted, strict=True):
        r["p_holm"] = float(p)
        r["significant"] = bool(p < ALPHA)


def model_disparities(subjects: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per model and pair of test groups: the signed difference, its CI, p and Holm over the pairs."""
    data = _Data(check_paired(subjects))
    rows = []
    for model in data.models:
        names = _groups(data, model)
        block = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                inf = data.infer([Term(model, 1.0, a), Term(model, -1.0, b)])
                block.append({"model": model, "comparison": f"{a} vs {b}", "group_a": a, "group_b": b,
                              "subjects_a": int(len(data.means.loc[(model, a)])),
                              "subjects_b": int(len(data.means.loc[(model, b)])), "score_a": data.mean(model, a),
                              "score_b": data.mean(model, b), "difference": inf.estimate,
                              "difference_ci_low": inf.ci_low, "difference_ci_high": inf.ci_high, "p": inf.p})
        _holm_rows(block)
        rows += block
    return pd.DataFrame(rows, columns=DISPARITY_COLUMNS)


def model_pairs(subjects: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every pair of models, paired on their subjects: the overall difference and the change in every group pair's
    difference, each with a CI and p counting people and trainings; Holm over model pairs within each quantity."""
    data = _Data(check_paired(subjects))
    rows = []
    for i, a in enumerate(data.models):
        for b in data.models[i + 1:]:
            inf = data.infer([Term(a, 1.0), Term(b, -1.0)])
            n = int(data.means.loc[a].index.get_level_values("subject").nunique())
            rows.append({"model_a": a, "model_b": b, "quantity": OVERALL, "comparison": OVERALL, "group_a": None,
                         "group_b": None, "subjects": n, "value_a": data.mean(a), "value_b": data.mean(b),
                         "difference": inf.estimate, "ci_low": inf.ci_low, "ci_high": inf.ci_high, "p": inf.p})
            names = _groups(data, a)
            for j, ga in enumerate(names):
                for gb in names[j + 1:]:
                    change = data.infer([Term(a, 1.0, ga), Term(a, -1.0, gb), Term(b, -1.0, ga), Term(b, 1.0, gb)])
                    rows.append({"model_a": a, "model_b": b, "quantity": DISPARITY, "comparison": f"{ga} vs {gb}",
                                 "group_a": ga, "group_b": gb,
                                 "subjects": int(len(data.means.loc[(a, ga)]) + len(data.means.loc[(a, gb)])),
                                 "value_a": data.mean(a, ga) - data.mean(a, gb),
                                 "value_b": data.mean(b, ga) - data.mean(b, gb), "difference": change.estimate,
                                 "ci_low": change.ci_low, "ci_high": change.ci_high, "p": change.p})
    table = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    table["p_holm"] = np.nan
    for _quantity, idx in table.groupby("quantity", sort=False).groups.items():
        table.loc[idx, "p_holm"] = holm(table.loc[idx, "p"].astype(float)).to_numpy()
    table["significant"] = table["p_holm"].astype(float) < ALPHA
    return table


def model_error_rates(subjects: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model and group: hit and false-alarm rates with 95% CIs; per model, pair of groups and rate: the signed
    difference with CI, p and Holm over that model's pairs and both rates (equalized odds)."""
    subjects = check_paired(subjects)
    if not set(RATES) <= set(subjects.columns):
        return pd.DataFrame(columns=RATE_COLUMNS), pd.DataFrame(columns=RATE_DIFFERENCE_COLUMNS)
    data = {rate: _Data(subjects, rate) for rate in RATES}
    groups, differences = [], []
    for model in data["hit_rate"].models:
        names = _groups(data["hit_rate"], model)
        for g in names:
            row = {"model": model, "test_group": g, "subjects": int(len(data["hit_rate"].means.loc[(model, g)]))}
            for rate in RATES:
                inf = data[rate].infer([Term(model, 1.0, g)])
                row.update({rate: data[rate].mean(model, g), f"{rate}_ci_low": inf.ci_low,
                            f"{rate}_ci_high": inf.ci_high})
            groups.append(row)
        block = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                for rate in RATES:
                    inf = data[rate].infer([Term(model, 1.0, a), Term(model, -1.0, b)])
                    block.append({"model": model, "rate": rate, "comparison": f"{a} vs {b}", "group_a": a,
                                  "group_b": b, "value_a": data[rate].mean(model, a),
                                  "value_b": data[rate].mean(model, b), "difference": inf.estimate,
                                  "difference_ci_low": inf.ci_low, "difference_ci_high": inf.ci_high, "p": inf.p})
        _holm_rows(block)
        differences += block
    return pd.DataFrame(groups, columns=RATE_COLUMNS), pd.DataFrame(differences, columns=RATE_DIFFERENCE_COLUMNS)


def compare_models(subjects: pd.DataFrame, seed: int = 0) -> ModelComparisonTables:
    """All tables of a comparison from one row per (model, test group, subject[, repetition]) with `score` (and
    optionally `hit_rate` and `false_alarm_rate`)."""
    models, groups = model_scores(subjects, seed)
    return ModelComparisonTables(models, groups, model_disparities(subjects, seed), model_pairs(subjects, seed),
                                 *model_error_rates(subjects))


def headline_pair(disparities: pd.DataFrame) -> tuple[str, str] | None:
    """The pair of groups a one-number summary shows: the only pair, or the one with the largest mean absolute
    difference across models (None without two groups)."""
    if disparities.empty:
        return None
    size = disparities.assign(size=disparities["difference"].abs()).groupby(["group_a", "group_b"], sort=True)["size"]
    a, b = size.mean().idxmax()
    return str(a), str(b)
