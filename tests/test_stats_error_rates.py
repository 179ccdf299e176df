"""Hit and false-alarm rates per group (equalized odds): exact from the results rows, calibrated under the null with
people and trainings varying, and finding an error-rate disparity that the composite score hides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.stats.error_rates import DIFFERENCE_COLUMNS, GROUP_COLUMNS, error_rates

POSITIVES, NEGATIVES = 20, 80


def _results(rng: np.random.Generator, n: int = 9, reps: int = 6, hit_shift: float = 0.0,
             alarm_shift: float = 0.0) -> pd.DataFrame:
    """results.parquet-like rows scored from drawn confusion counts: each subject's own hit and false-alarm rates,
    each repetition's model its own, and group `a` shifted by `hit_shift` / `alarm_shift`."""
    rows = []
    subjects = {f"{g}{i}": g for g in "ab" for i in range(n)}
    own = {s: (rng.normal(0, 0.06), rng.normal(0, 0.04)) for s in subjects}
    for r in range(reps):
        model = {g: (rng.normal(0, 0.04), rng.normal(0, 0.03)) for g in "ab"}
        for s, g in subjects.items():
            for au in ("AU06", "AU12"):
                hit = np.clip(0.6 + own[s][0] + model[g][0] + (hit_shift if g == "a" else 0), 0.01, 0.99)
                alarm = np.clip(0.2 + own[s][1] + model[g][1] + (alarm_shift if g == "a" else 0), 0.01, 0.99)
                tp, fp = rng.binomial(POSITIVES, hit), rng.binomial(NEGATIVES, alarm)
                fn = POSITIVES - tp
                f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else np.nan
                rows.append(
                    {
                        "normalizer": "none",
                        "condition": "cross",
                        "repetition": r,
                        "test_group": g,
                        "subject": s,
                        "au": au,
                        "f1": f1,
                        "accuracy": (tp + NEGATIVES - fp) / (POSITIVES + NEGATIVES),
                        "support": POSITIVES + NEGATIVES,
                        "positives": POSITIVES,
                        "tp": tp,
                        "fp": fp,
                    }
                )
    return pd.DataFrame(rows)


def test_rates_are_recovered_exactly_from_f1_accuracy_and_counts() -> None:
    res = _results(np.random.default_rng(0))
    groups, diffs = error_rates(res)
    assert list(groups.columns) == GROUP_COLUMNS and list(diffs.columns) == DIFFERENCE_COLUMNS
    direct = res.assign(hit=res["tp"] / POSITIVES, alarm=res["fp"] / NEGATIVES)
    per_subject = direct.groupby(["test_group", "subject", "repetition"])[["hit", "alarm"]].mean() \
        .groupby(level=["test_group", "subject"]).mean().groupby(level="test_group").mean()
    g = groups.set_index("test_group")
    np.testing.assert_allclose(g["hit_rate"], per_subject.loc[g.index, "hit"])
    np.testing.assert_allclose(g["false_alarm_rate"], per_subject.loc[g.index, "alarm"])
    assert ((g["hit_rate_ci_low"] < g["hit_rate"]) & (g["hit_rate"] < g["hit_rate_ci_high"])).all()
    overall = diffs[diffs["au"] == "all"].set_index("rate")
    assert overall.loc["hit_rate", "difference"] == pytest.approx(g.loc["a", "hit_rate"] - g.loc["b", "hit_rate"])
    assert overall["equalized_odds_difference"].iloc[0] == pytest.approx(overall["difference"].abs().max())
    assert set(diffs["au"]) == {"all", "AU06", "AU12"}  # per AU too


@pytest.mark.slow
def test_null_calibration_with_trainings_varying() -> None:
    rng = np.random.default_rng(5)
    n, rejects, covers = 150, {"hit_rate": 0, "false_alarm_rate": 0}, {"hit_rate": 0, "false_alarm_rate": 0}
    for _ in range(n):
        _, diffs = error_rates(_results(rng), per_au=False)
        for _, r in diffs.iterrows():
            rejects[r["rate"]] += r["p"] < 0.05
            covers[r["rate"]] += r["difference_ci_low"] <= 0 <= r["difference_ci_high"]
    for rate in rejects:
        assert 0.01 <= rejects[rate] / n <= 0.09, rejects
        assert covers[rate] / n >= 0.91, covers


@pytest.mark.slow
def test_a_false_alarm_disparity_the_score_hides_is_found() -> None:
    """Group a gets more hits *and* more false alarms: its composite score barely moves, its false-alarm rate does."""
    from auditkit.stats.disparities import pairwise, subject_metrics

    rng = np.random.default_rng(9)
    found, score_found, n = 0, 0, 20
    for _ in range(n):
        res = _results(rng, hit_shift=0.12, alarm_shift=0.10)
        _, diffs = error_rates(res, per_au=False)
        found += diffs.set_index("rate").loc["false_alarm_rate", "p_holm"] < 0.05
        cells = subject_metrics(res, by_repetition=True)
        score_found += pairwise(cells[cells["au"] == "all"])[0]["p"] < 0.05
    assert found >= 0.8 * n and score_found <= 0.3 * n, (found, score_found)


def test_a_fixed_model_and_empty_input() -> None:
    res = _results(np.random.default_rng(1), reps=1).assign(condition="test-only")
    groups, diffs = error_rates(res, fixed=True)
    assert diffs["p"].notna().all()  # a fixed model: people only, no training variance needed
    trained = error_rates(_results(np.random.default_rng(1), reps=1))[1]
    assert trained["p"].isna().all()  # one repetition of a trained model: no verdict
    empty = error_rates(res.iloc[:0])
    assert empty[0].empty and empty[1].empty
