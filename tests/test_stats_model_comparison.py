"""Comparing AU models on shared subjects: per-model scores and disparities, paired differences between models,
their Holm family, a planted difference found and null comparisons calibrated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.stats.model_comparison import (
    DISPARITY,
    OVERALL,
    check_paired,
    compare_models,
    headline_pair,
    model_pairs,
    model_scores,
)


def simulate(seed: int, n: tuple[int, int] = (15, 15), models: int = 2, shift: dict[int, float] | None = None,
             group_shift: dict[int, float] | None = None) -> pd.DataFrame:
    """Subjects in groups a and b; every model scores subject s as ability_s + own noise (exchangeable models), plus
    `shift[m]` on every subject of model m and `group_shift[m]` on group b's subjects only."""
    rng = np.random.default_rng(seed)
    groups = ["a"] * n[0] + ["b"] * n[1]
    ability = rng.normal(0.6, 0.08, len(groups)) - 0.03 * (np.array(groups) == "b")
    rows = []
    for m in range(models):
        noise = rng.normal(0, 0.03, len(groups))
        score = (
            ability + noise + (shift or {}).get(m, 0.0) + (group_shift or {}).get(m, 0.0) * (np.array(groups) == "b")
        )
        rows += [{"model": f"m{m}", "test_group": g, "subject": f"s{i}", "score": float(v)}
                 for i, (g, v) in enumerate(zip(groups, score, strict=False))]
    return pd.DataFrame(rows)


def test_scores_and_differences_are_paired_arithmetic() -> None:
    subjects = simulate(0, models=3)
    tables = compare_models(subjects)
    wide = subjects.pivot(index="subject", columns="model", values="score")
    assert np.allclose(tables.models.set_index("model")["score"], wide.mean())
    assert sorted(tables.models["rank"]) == [1, 2, 3]
    overall = tables.pairs[tables.pairs["quantity"] == OVERALL].set_index(["model_a", "model_b"])
    assert len(overall) == 3 and overall.loc[("m0", "m2"), "difference"] == pytest.approx(
        (wide["m0"] - wide["m2"]).mean()
    )
    dis = tables.disparities.set_index("model")
    change = tables.pairs[tables.pairs["quantity"] == DISPARITY].set_index(["model_a", "model_b"]).loc[("m0", "m1")]
    # the change in disparity is the difference of the two models' own signed differences
    assert change["difference"] == pytest.approx(dis.loc["m0", "difference"] - dis.loc["m1", "difference"])
    assert change["value_a"] == pytest.approx(dis.loc["m0", "difference"])
    assert change["ci_low"] < change["difference"] < change["ci_high"]
    groups = tables.groups.set_index(["model", "test_group"])
    b = groups.loc[("m1", "b")]
    assert b["subjects"] == 15 and b["score_ci_low"] < b["score"]
    assert headline_pair(tables.disparities) == ("a", "b")


def test_holm_runs_over_model_pairs_once_per_quantity() -> None:
    pairs = model_pairs(simulate(1, models=4))
    for quantity in (OVERALL, DISPARITY):
        rows = pairs[pairs["quantity"] == quantity]
        assert len(rows) == 6  # every pair of 4 models
        p = np.sort(rows["p"].to_numpy())
        expected = np.minimum(1, np.maximum.accumulate(p * np.arange(6, 0, -1)))
        assert np.allclose(np.sort(rows["p_holm"].to_numpy()), expected)


def test_more_than_two_groups_give_a_row_per_pair_of_groups() -> None:
    subjects = simulate(2)
    subjects.loc[subjects["subject"].isin(["s0", "s1", "s2", "s3"]), "test_group"] = "c"
    tables = compare_models(subjects)
    assert set(tables.disparities["comparison"]) == {"a vs b", "a vs c", "b vs c"}
    assert len(tables.pairs[tables.pairs["quantity"] == DISPARITY]) == 3


def test_models_must_have_scored_the_same_subjects() -> None:
    subjects = simulate(3)
    with pytest.raises(ValueError, match="model 'm1' scored other subjects"):
        check_paired(subjects[~((subjects["model"] == "m1") & (subjects["subject"] == "s0"))])


def test_planted_differences_are_found() -> None:
    found_overall = found_disparity = 0
    for seed in range(40):
        pairs = model_pairs(simulate(seed, shift={1: -0.03}, group_shift={1: -0.06}))
        row = pairs.set_index("quantity")
        found_overall += row.loc[OVERALL, "p"] < 0.05 and row.loc[OVERALL, "difference"] > 0
        # m1 loses 6 points on group b only: its a - b difference is 6 points larger than m0's
        found_disparity += row.loc[DISPARITY, "p"] < 0.05 and row.loc[DISPARITY, "difference"] < 0
    assert found_overall >= 36 and found_disparity >= 32


@pytest.mark.slow
def test_null_comparisons_are_calibrated() -> None:
    """Exchangeable models (one model's scores vs another's, labels carry nothing): p < 0.05 in about 5 % of 300
    comparisons, for both tests, and the intervals cover 0 about 95 % of the time; also with a shift common to all
    subjects of one model (the disparity test must not mistake a uniform shift for a disparity)."""
    rejected = {OVERALL: 0, DISPARITY: 0, "uniform": 0}
    covered = {OVERALL: 0, DISPARITY: 0}
    runs = 300
    for seed in range(runs):
        pairs = model_pairs(simulate(seed, n=(12, 18))).set_index("quantity")
        for q in (OVERALL, DISPARITY):
            rejected[q] += pairs.loc[q, "p"] < 0.05
            covered[q] += pairs.loc[q, "ci_low"] <= 0 <= pairs.loc[q, "ci_high"]
        shifted = model_pairs(simulate(seed + 10_000, shift={1: 0.05})).set_index("quantity")
        rejected["uniform"] += shifted.loc[DISPARITY, "p"] < 0.05
    low, high = 0.02 * runs, 0.09 * runs  # a binomial 99 % band around 5 % of 300
    assert all(low <= r <= high for r in rejected.values()), rejected
    assert all(0.90 * runs <= c <= 0.985 * runs for c in covered.values()), covered


@pytest.mark.slow
def test_group_score_intervals_cover_the_true_mean() -> None:
    hits = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        subjects = pd.DataFrame({"model": "m", "test_group": "a", "subject": [f"s{i}" for i in range(20)],
                                 "score": rng.normal(0.6, 0.1, 20)})
        models, _ = model_scores(subjects)
        hits += models.loc[0, "score_ci_low"] <= 0.6 <= models.loc[0, "score_ci_high"]
    assert 0.88 * 200 <= hits <= 0.985 * 200


@pytest.mark.parametrize("da,db,expect", [
    (0.02, 0.05, "a's skin-type disparity is 3.0 points smaller than b's (x − y: +2.0 vs +5.0), 95 % CI 1.0 to 5.0"),
    (-0.02, -0.05, "a's skin-type disparity is 3.0 points smaller than b's (x − y: -2.0 vs -5.0), 95 % CI 1.0 to 5.0"),
    (0.05, 0.02, "a's skin-type disparity is 3.0 points larger than b's (x − y: +5.0 vs +2.0), 95 % CI 1.0 to 5.0"),
    (-0.01, 0.04, "a's skin-type disparity (x − y: -1.0) is smaller than b's (+4.0), with the opposite sign; the "
                  "two differ by 5.0 points, 95 % CI 3.0 to 7.0"),
])
def test_pair_sentences_read_the_interval_the_right_way(da: float, db: float, expect: str) -> None:
    from auditkit.report.comparison_report import pair_sentence

    change = da - db
    row = {"model_a": "a", "model_b": "b", "quantity": DISPARITY, "group_a": "x", "group_b": "y", "value_a": da,
           "value_b": db, "difference": change, "ci_low": change - 0.02, "ci_high": change + 0.02, "p": 0.01,
           "p_holm": 0.03, "significant": True}
    assert pair_sentence(row, ["fitzpatrick"]) == expect + ", p = 0.010 (Holm = 0.030)."
    row.update(p=0.2, p_holm=0.4, significant=False)
    unsupported = pair_sentence(row, ["fitzpatrick"])
    assert unsupported.startswith("No difference between a's and b's skin-type disparity that the data can detect")
    assert "smaller" not in unsupported and "larger" not in unsupported


def two_runs_of_one_configuration(rng: np.random.Generator, reps: int = 5, n: int = 9) -> pd.DataFrame:
    """Two audits of the same configuration: the same people, each audit's own trainings (a quality per repetition,
    and how that training suits each group), no true difference between the two."""
    groups = ["a"] * n + ["b"] * n
    level = rng.normal(0.5, 0.05, len(groups))
    rows = []
    for model in ("run1", "run2"):
        for r in range(reps):
            quality = rng.normal(0, 0.03)
            suits = {g: rng.normal(0, 0.03) for g in "ab"}
            rows += [{"model": model, "test_group": g, "subject": f"s{i}", "repetition": r, "run": model,
                      "fixed": False, "score": level[i] + quality + suits[g] + rng.normal(0, 0.04)}
                     for i, g in enumerate(groups)]
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_two_runs_of_one_configuration_are_not_called_different() -> None:
    """With each audit's trainings counted, comparing a configuration with itself rejects near 5 %; a comparison that
    pairs people only (each subject's mean over repetitions) finds differences that are training noise."""
    rng = np.random.default_rng(11)
    n, crossed, people_only = 150, 0, 0
    for _ in range(n):
        cells = two_runs_of_one_configuration(rng)
        crossed += int((model_pairs(cells)["p"] < 0.05).sum())
        means = cells.groupby(["model", "test_group", "subject"], as_index=False)["score"].mean()
        people_only += int((model_pairs(means)["p"] < 0.05).sum())
    rows = 2 * n  # the overall difference and one disparity change per comparison
    assert 0.01 <= crossed / rows <= 0.08, crossed / rows
    assert people_only / rows > 0.2, people_only / rows


def test_error_rates_per_model_and_group() -> None:
    from auditkit.stats.model_comparison import RATE_COLUMNS, RATE_DIFFERENCE_COLUMNS, model_error_rates

    rng = np.random.default_rng(2)
    cells = two_runs_of_one_configuration(rng)
    cells = cells.assign(hit_rate=rng.uniform(0.5, 0.7, len(cells)),
                         false_alarm_rate=rng.uniform(0.1, 0.3, len(cells)) + 0.1 * (cells["test_group"] == "a"))
    groups, diffs = model_error_rates(cells)
    assert list(groups.columns) == RATE_COLUMNS and list(diffs.columns) == RATE_DIFFERENCE_COLUMNS
    g = groups.set_index(["model", "test_group"])
    expected = cells.groupby(["model", "test_group", "subject"])["false_alarm_rate"].mean().groupby(level=[0, 1]).mean()
    np.testing.assert_allclose(g["false_alarm_rate"], expected.loc[g.index])
    alarm = diffs[diffs["rate"] == "false_alarm_rate"]
    assert (alarm["difference"] > 0.05).all() and (alarm["p_holm"] < 0.05).all()  # the planted +10 points
    assert model_error_rates(cells.drop(columns=["hit_rate", "false_alarm_rate"]))[0].empty
