"""The statistics agree with scipy run independently, and hold their size under the null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from auditkit.stats import bootstrap_diff_ci, compare, gap_tests, holm, paired, two_sample

A = np.array([0.61, 0.58, 0.66, 0.59, 0.63, 0.60, 0.57, 0.64])
B = np.array([0.55, 0.57, 0.52, 0.58, 0.54, 0.56])


def test_two_sample_matches_scipy() -> None:
    r = two_sample(A, B)
    ref = sps.ttest_ind(A, B, equal_var=True)
    assert np.isclose(r["statistic"], ref.statistic) and np.isclose(r["p"], ref.pvalue)
    assert r["dof"] == len(A) + len(B) - 2
    pooled = np.sqrt(((len(A) - 1) * A.var(ddof=1) + (len(B) - 1) * B.var(ddof=1)) / (len(A) + len(B) - 2))
    d = (A.mean() - B.mean()) / pooled
    assert np.isclose(r["cohen_d"], d)
    assert np.isclose(r["hedges_g"], d * (1 - 3 / (4 * (len(A) + len(B)) - 9)), rtol=1e-3)
    assert r["ci_low"] < r["diff"] < r["ci_high"]


def test_paired_matches_scipy() -> None:
    a, b = A[:6], B
    r = paired(a, b)
    ref = sps.ttest_rel(a, b)
    assert np.isclose(r["statistic"], ref.statistic) and np.isclose(r["p"], ref.pvalue)
    assert r["ci_low"] < a.mean() - b.mean() < r["ci_high"]


def test_holm_matches_definition() -> None:
    p = pd.Series([0.01, 0.04, 0.03, np.nan, 0.2])
    adj = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1 = 0.04, 0.09, 0.08, 0.2; cumulative max; original order
    assert np.allclose(adj.dropna().to_numpy(), [0.04, 0.09, 0.09, 0.2])
    assert np.isnan(adj[3])


def test_bootstrap_ci_is_seeded_and_covers() -> None:
    assert bootstrap_diff_ci(A, B, seed=1) == bootstrap_diff_ci(A, B, seed=1)
    lo, hi = bootstrap_diff_ci(A, B)
    assert lo < A.mean() - B.mean() < hi
    assert np.isnan(bootstrap_diff_ci(A[:1], B)[0])


def _simulated_audit(rng: np.random.Generator, reps: int = 5, pool: int = 12) -> pd.DataFrame:
    # Two pools from one population; each repetition's model has its own quality, shared by its within and cross
    # tests, and each subject its own difficulty: the dependence structure of a real audit, with no true gap.
    difficulty = {f"{g}{i}": rng.normal(0, 0.05) for g in "AB" for i in range(pool)}
    rows = []
    for r in range(reps):
        for train in "AB":
            quality = rng.normal(0.55, 0.03)
            drawn = rng.permutation(pool)[:6]
            for test in "AB":
                members = [i for i in range(pool) if not (test == train and i in drawn)]
                for i in members:
                    s = f"{test}{i}"
                    rows.append({"normalizer": "none", "condition": "within" if test == train else "cross",
                                 "train_group": train, "test_group": test, "repetition": r, "subject": s,
                                 "score": quality + difficulty[s] + rng.normal(0, 0.03)})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_null_rejection_rates() -> None:
    rng = np.random.default_rng(2024)
    rejections = {"subject x training t-test": 0, "subject t-test": 0, "repetition paired t-test": 0}
    n = 600
    for _ in range(n):
        s = _simulated_audit(rng)
        for r in compare(s, s["condition"] == "within", s["condition"] == "cross", "gap"):
            rejections[r["test"]] += r["p"] < 0.05
    # the dependence-respecting tests hold their nominal 5% size; the subject x training test never over-rejects
    # (here, where the subjects' own effects cancel in within - cross, it errs conservative; its calibration where
    # people and trainings both matter is tests/test_stats_crossed.py)
    assert rejections["subject x training t-test"] / n <= 0.08, rejections
    assert 0.025 <= rejections["repetition paired t-test"] / n <= 0.08, rejections
    # the paper's test treats subjects as independent although both conditions test the same people: it must not
    # over-reject (it is conservative; documented in stats.test_descriptions())
    assert rejections["subject t-test"] / n <= 0.08, rejections


def test_gap_tests_structure() -> None:
    s = _simulated_audit(np.random.default_rng(0))
    s2 = s.assign(normalizer="histeq", score=s["score"] + 0.02 + np.random.default_rng(1).normal(0, 0.005, len(s)))
    t = gap_tests(pd.concat([s, s2]))
    assert set(t["comparison"]) == {
        "within vs cross (all)",
        "within vs cross (tested on A)",
        "within vs cross (tested on B)",
        "histeq vs none (within)",
        "histeq vs none (cross)",
        "histeq vs none (gap change)",
        "histeq vs none (gap change, tested on A)",
        "histeq vs none (gap change, tested on B)",
    }
    assert set(t["test"]) == {"subject x training t-test", "subject t-test", "repetition paired t-test"}
    assert (t["p_holm"].dropna() >= t.loc[t["p_holm"].notna(), "p"]).all()
    for test in ("repetition paired t-test", "subject x training t-test"):
        effect = t[(t["comparison"] == "histeq vs none (cross)") & (t["test"] == test)].iloc[0]
        assert abs(effect["diff"] - 0.02) < 0.005 and effect["p"] < 0.05


def test_holm_families_keep_the_baselines_verdict_when_a_normalizer_is_added() -> None:
    s = _simulated_audit(np.random.default_rng(0))
    alone = gap_tests(s)
    s2 = s.assign(normalizer="histeq", score=s["score"] + np.random.default_rng(1).normal(0, 0.01, len(s)))
    both = gap_tests(pd.concat([s, s2]))
    key = ["comparison", "test"]
    none_alone = alone[alone["normalizer"] == "none"].set_index(key)["p_holm"]
    none_both = both[(both["normalizer"] == "none")].set_index(key)["p_holm"]
    pd.testing.assert_series_equal(none_alone.sort_index(), none_both.sort_index())
    assert set(both["family"]) == {"gaps under none", "gaps under histeq", "normalizers vs none"}
    # within a family Holm is applied as defined: the family's raw p-values, corrected together
    fam = both[(both["family"] == "gaps under histeq") & (both["test"] == "subject t-test")]
    np.testing.assert_allclose(fam["p_holm"], holm(fam["p"]))


def test_p_values_print_one_way_in_reports_and_terminals() -> None:
    from auditkit.stats import format_p

    assert format_p(0.0004) == "< 0.001" and format_p(0.0004, compact=True) == "<0.001"
    assert format_p(0.04567) == "0.046" and format_p(float("nan")) == "n/a" and format_p(None) == "n/a"


def test_a_registered_test_and_comparison_join_every_audit_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new test is one function: registered, it is run by gap_tests, Holm-corrected and described in reports."""
    from auditkit import stats

    monkeypatch.setattr(stats, "TESTS", dict(stats.TESTS))
    monkeypatch.setattr(stats, "COMPARISONS", list(stats.COMPARISONS))

    @stats.register_test("subject Mann-Whitney U", "Rank test on per-subject scores.")
    def mann_whitney(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict:
        r = sps.mannwhitneyu(a, b)
        return {"test": "subject Mann-Whitney U", "diff": float(np.mean(a) - np.mean(b)), "p": float(r.pvalue)}

    @stats.register_comparison
    def groups_by_rank(scores: pd.DataFrame, seed: int = 0) -> list[dict]:
        s = scores[scores["condition"] == "cross"]
        a = s[s["test_group"] == "A"].groupby("subject")["score"].mean().to_numpy()
        b = s[s["test_group"] == "B"].groupby("subject")["score"].mean().to_numpy()
        return [{"normalizer": "none", "family": "ranks", "test_group": "A vs B", "comparison": "A vs B (cross)",
                 **stats.TESTS["subject Mann-Whitney U"].run(a, b, seed)}]

    t = gap_tests(_simulated_audit(np.random.default_rng(0)))
    row = t[t["test"] == "subject Mann-Whitney U"]
    assert len(row) == 1 and row["family"].iloc[0] == "ranks" and row["p_holm"].iloc[0] == row["p"].iloc[0]
    assert {"subject t-test", "repetition paired t-test"} <= set(t["test"])  # the built-in ones still run
    assert stats.test_descriptions()["subject Mann-Whitney U"] == "Rank test on per-subject scores."


def test_flat_samples_are_not_testable_the_same_way_and_warn_nothing() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy/pingouin RuntimeWarnings must not reach a user's terminal
        same = two_sample(np.full(4, 0.5), np.full(3, 0.5))
        apart = two_sample(np.full(4, 0.5), np.full(3, 0.6))
        assert np.isnan(same["p"]) and np.isnan(apart["p"])  # one rule for both zero-variance cases
        assert apart["diff"] == pytest.approx(-0.1)
        near = two_sample(np.array([0.5, 0.5 + 1e-9, 0.5]), np.full(3, 0.6))
        assert near["p"] < 1e-6
        assert np.isnan(paired(np.array([0.5, 0.6, 0.7]), np.array([0.4, 0.5, 0.6]))["p"])
        lo, hi = bootstrap_diff_ci(np.full(5, 0.5), np.full(5, 0.4))
        assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
