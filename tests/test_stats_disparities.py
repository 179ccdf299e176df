"""Disparities between test groups: per-group values, differences and ratios, the band flag, small groups, CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.stats.disparities import ALL_AUS, GROUP_COLUMNS, SUMMARY_COLUMNS, disparities
from tests.helpers import all_au_difference


def _results(
    scores: dict[str, dict[str, float]], reps: int = 1, support: int = 100, positives: int = 20
) -> pd.DataFrame:
    """results.parquet-like rows: f1 = accuracy = the given score per (group, subject), for AUs 1 and 2."""
    rows = []
    for group, subjects in scores.items():
        for subject, value in subjects.items():
            for rep in range(reps):
                for au, shift in (("AU01", 0.0), ("AU02", 0.1)):
                    rows.append({"normalizer": "none", "condition": "test-only", "test_group": group, "repetition": rep,
                                 "subject": subject, "au": au, "f1": value + shift, "accuracy": value + shift,
                                 "support": support, "positives": positives})
    return pd.DataFrame(rows)


def test_group_values_differences_ratios_and_flags() -> None:
    res = _results({"dark": {"d1": 0.3, "d2": 0.4, "d3": 0.5},
                    "light": {f"l{i}": 0.6 for i in range(6)}})
    groups, summary = disparities(res, n_boot=0)
    assert list(groups.columns) == GROUP_COLUMNS and list(summary.columns) == SUMMARY_COLUMNS
    g = groups[groups["au"] == ALL_AUS].set_index("test_group")
    # subject means over AUs: d = 0.35, 0.45, 0.55 -> 0.45; light 0.65
    assert g.loc["dark", "score"] == pytest.approx(0.45) and g.loc["light", "score"] == pytest.approx(0.65)
    assert g.loc["dark", "ratio_to_best"] == pytest.approx(0.45 / 0.65)
    assert g.loc["dark", "diff_to_best"] == pytest.approx(-0.2) and g.loc["light", "diff_to_best"] == 0
    overall = (3 * 0.45 + 6 * 0.65) / 9  # subjects weigh equally
    assert g.loc["dark", "diff_to_overall"] == pytest.approx(0.45 - overall)
    assert g.loc["dark", "outside_band"] and not g.loc["light", "outside_band"]  # 0.69 < 0.8; light/overall = 1.13
    assert g.loc["dark", "small"] and not g.loc["light", "small"]  # 3 subjects < 5
    assert g.loc["dark", "subjects"] == 3 and g.loc["dark", "frames"] == 300 and g.loc["dark", "base_rate"] == 0.2
    s = summary[summary["au"] == ALL_AUS].iloc[0]
    assert (s["group_a"], s["group_b"], s["comparison"]) == ("dark", "light", "dark vs light")
    assert s["difference"] == pytest.approx(-0.2) and s["range"] == pytest.approx(0.2)  # signed a - b; max - min
    assert s["min_ratio"] == pytest.approx(0.45 / 0.65) and (s["subjects_a"], s["subjects_b"]) == (3, 6)
    # a fixed (test-only) model has no training variance: the test is Welch's on the subjects' scores
    import warnings

    from scipy import stats as sps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision note on the six equal scores
        welch = sps.ttest_ind([0.35, 0.45, 0.55], [0.65] * 6, equal_var=False).pvalue
    assert s["p"] == pytest.approx(welch)
    assert s["outside_band"] and s["small_groups"] == "dark" and s["overall"] == pytest.approx(overall)
    per_au = groups[(groups["au"] == "AU02") & (groups["test_group"] == "light")].iloc[0]
    assert per_au["score"] == pytest.approx(0.7) and per_au["frames"] == 600


def test_a_subject_tested_by_several_models_counts_once() -> None:
    once = disparities(_results({"a": {"a1": 0.5, "a2": 0.7}, "b": {"b1": 0.6, "b2": 0.6}}), n_boot=0)[0]
    thrice = disparities(_results({"a": {"a1": 0.5, "a2": 0.7}, "b": {"b1": 0.6, "b2": 0.6}}, reps=3), n_boot=0)[0]
    pd.testing.assert_frame_equal(once, thrice)


def test_bootstrap_intervals_bracket_the_estimates_and_are_seeded() -> None:
    rng = np.random.default_rng(0)
    res = _results({"x": {f"x{i}": v for i, v in enumerate(rng.uniform(0.3, 0.6, 12))},
                    "y": {f"y{i}": v for i, v in enumerate(rng.uniform(0.4, 0.7, 12))}})
    groups, summary = disparities(res, n_boot=100, seed=1)
    g = groups[groups["au"] == ALL_AUS]
    assert ((g["score_ci_low"] <= g["score"]) & (g["score"] <= g["score_ci_high"])).all()
    assert groups.loc[groups["au"] != ALL_AUS, "score_ci_low"].isna().all()  # per-AU bootstrap only on request
    s = summary[summary["au"] == ALL_AUS].iloc[0]
    assert s["difference_ci_low"] < s["difference"] < s["difference_ci_high"]
    again = disparities(res, n_boot=100, seed=1)[1]
    pd.testing.assert_frame_equal(summary, again)
    assert disparities(res, n_boot=20, per_au_boot=True)[0]["score_ci_low"].notna().all()


def test_nothing_to_compare() -> None:
    groups, summary = disparities(_results({"only": {"o1": 0.5, "o2": 0.6}}), n_boot=0)
    assert groups.empty and summary.empty
    groups, summary = disparities(pd.DataFrame(), n_boot=0)
    assert list(groups.columns) == GROUP_COLUMNS and summary.empty


def _coin_results(rng: np.random.Generator, subjects: int = 24, effect: float = 0.0, frames: int = 60,
                  aus: int = 3) -> pd.DataFrame:
    """results rows scored from simulated predictions: each subject's frames and labels, a tool whose errors are
    independent of the group (each subject's own error rate) but for `effect` more errors in group `heads`; the
    group is a coin drawn per subject, as an attribute unrelated to anything would be."""
    from auditkit.stats.metrics import per_subject_au

    coin = rng.integers(0, 2, subjects)
    while coin.min() == coin.max():
        coin = rng.integers(0, 2, subjects)
    names = [f"s{i:02d}" for i in range(subjects)]
    Y, P, who = [], [], []
    for name, heads in zip(names, coin, strict=False):
        y = (rng.random((frames, aus)) < rng.uniform(0.1, 0.4, aus)).astype(int)
        error = np.clip(rng.normal(0.2, 0.05) + effect * heads, 0.01, 0.9)
        flip = rng.random((frames, aus)) < error
        Y.append(y)
        P.append(np.where(flip, 1 - y, y).astype(float))
        who += [name] * frames
    rows = per_subject_au(np.vstack(Y), np.vstack(P), np.array(who), [f"AU{k:02d}" for k in range(aus)])
    group = dict(zip(names, np.where(coin == 1, "heads", "tails"), strict=False))
    return rows.assign(normalizer="none", condition="test-only", repetition=0,
                       test_group=rows["subject"].map(group))


@pytest.mark.slow
def test_between_group_p_is_calibrated_under_a_coin_and_finds_a_planted_disparity() -> None:
    rng = np.random.default_rng(2026)
    first = _coin_results(rng)
    table = disparities(first, n_boot=0)[1].query("au == 'all'").iloc[0]
    assert all_au_difference(first)["p"] == table["p"] and all_au_difference(first)["difference"] == table["difference"]
    null = [all_au_difference(_coin_results(rng)) for _ in range(200)]
    rate = np.mean([r["p"] < 0.05 for r in null])
    assert 0.02 <= rate <= 0.09, rate  # 5 % expected; binomial(200, 0.05) lies in [0.02, 0.09] 99 % of the time
    # and the signed difference is centred on 0 (the old max - min was >= 0 every time)
    assert abs(np.mean([r["difference"] for r in null])) < 0.01 and min(r["difference"] for r in null) < 0
    planted = [all_au_difference(_coin_results(rng, effect=0.1)) for _ in range(40)]
    assert np.mean([r["p"] < 0.05 for r in planted]) >= 0.8  # 10 % more errors in one group: about 6 score points
    assert all(r["difference"] < 0 for r in planted)  # heads vs tails: heads, with more errors, scores lower


def test_the_difference_interval_can_contain_zero() -> None:
    rng = np.random.default_rng(5)
    s = disparities(_coin_results(rng, subjects=30), n_boot=200, seed=0)[1].query("au == 'all'").iloc[0]
    assert s["difference_ci_low"] < 0 < s["difference_ci_high"] and s["p"] > 0.05


def test_more_than_two_groups_give_every_pair_holm_corrected() -> None:
    res = _results({"a": {"a1": 0.3, "a2": 0.32, "a3": 0.31}, "b": {"b1": 0.6, "b2": 0.62, "b3": 0.61},
                    "c": {"c1": 0.6, "c2": 0.59, "c3": 0.62}})
    s = disparities(res, n_boot=0)[1].query("au == 'all'")
    assert list(s["comparison"]) == ["a vs b", "a vs c", "b vs c"]
    assert (s["p_holm"] >= s["p"]).all() and s["range"].nunique() == 1


def _two_normalizers(rng: np.random.Generator, effect: float = 0.0, subjects: int = 24) -> pd.DataFrame:
    """Each subject scored under none and under a normalizer whose per-subject change is independent of a coin
    group, except `effect` more (or less) for group `heads`."""
    coin = rng.permutation(np.arange(subjects) % 2)
    rows = []
    for i, heads in enumerate(coin):
        base = rng.normal(0.5, 0.06)
        change = rng.normal(0.05, 0.04) + effect * heads
        for norm, value in (("none", base), ("norm", base + change)):
            for au in ("AU01", "AU02"):
                v = float(value + rng.normal(0, 0.02))
                rows.append({"normalizer": norm, "condition": "test-only", "test_group": "heads" if heads else "tails",
                             "repetition": 0, "subject": f"s{i:02d}", "au": au, "f1": v, "accuracy": v,
                             "support": 50, "positives": 10})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_the_change_in_a_disparity_is_calibrated_and_finds_a_normalizer_that_hurts_one_group() -> None:
    from auditkit.stats.disparities import disparity_changes

    rng = np.random.default_rng(7)
    null = [disparity_changes(_two_normalizers(rng), n_boot=0).iloc[0]["p"] for _ in range(200)]
    assert 0.02 <= np.mean(np.array(null) < 0.05) <= 0.09
    planted = [disparity_changes(_two_normalizers(rng, effect=-0.08), n_boot=0).iloc[0] for _ in range(40)]
    assert np.mean([r["p"] < 0.05 for r in planted]) >= 0.8
    assert all(r["change"] < 0 for r in planted)  # heads vs tails: the normalizer lowers heads by 8 points more
    one = disparity_changes(_two_normalizers(rng, effect=-0.05), n_boot=200).iloc[0]
    assert one["change_ci_low"] < one["change"] < one["change_ci_high"]
    assert one["change"] == pytest.approx(one["difference"] - one["difference_baseline"])


def test_balanced_rows_keep_one_model_of_every_pool_per_subject() -> None:
    """A pool whose models score everyone higher (its people, not its test subjects): unbalanced, the *other* group
    looks better, because a subject is mostly scored by the other pool's models; balanced, no difference remains."""
    from auditkit.stats.disparities import balanced_rows, pairwise, subject_metrics

    rng = np.random.default_rng(0)
    pools = {"heads": [f"H{i}" for i in range(9)], "tails": [f"T{i}" for i in range(9)]}
    rows = []
    for rep in range(10):
        for train, members in pools.items():
            out = set(rng.permutation(members)[:6])
            offset = 0.1 if train == "heads" else 0.0
            for test, tested in pools.items():
                for s in tested:
                    if test == train and s in out:
                        continue
                    v = 0.5 + offset + rng.normal(0, 0.01)
                    rows.append({"normalizer": "none", "repetition": rep, "condition": "within" if test == train
                                 else "cross", "train_group": train, "test_group": test, "subject": s, "au": "AU12",
                                 "f1": v, "accuracy": v, "support": 50, "positives": 10})
    res = pd.DataFrame(rows)
    skewed = pairwise(subject_metrics(res, by_repetition=True).query("au == 'all'"))[0]
    balanced = balanced_rows(res)
    fair = pairwise(subject_metrics(balanced, by_repetition=True).query("au == 'all'"))[0]
    assert skewed["difference"] < -0.04  # heads subjects scored mostly by the tails pool's models
    assert abs(fair["difference"]) < 0.01
    within = balanced[balanced["condition"] == "within"][["subject", "repetition"]].drop_duplicates()
    assert len(balanced.drop_duplicates(["subject", "repetition"])) == len(within)  # every kept cell has both
    test_only = res.assign(condition="test-only")
    assert balanced_rows(test_only) is test_only
