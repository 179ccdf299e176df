"""Scores at equal base rates: exact confusion counts from results rows, standardization, and the adjusted tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.errors import AuditkitError
from auditkit.stats.base_rates import (
    ADJUSTED_COLUMNS,
    adjusted_disparities,
    confusion_counts,
    reference_rates,
    standardize,
)
from auditkit.stats.metrics import per_subject_au
from tests.helpers import all_au_difference, simulated_rates


def _scored(rng: np.random.Generator, subjects: int = 6, frames: int = 80, aus: int = 4) -> tuple[pd.DataFrame, dict]:
    """per_subject_au rows of random labels and predictions, and the true (tp, fp) per (subject, AU)."""
    Y = (rng.random((subjects * frames, aus)) < rng.uniform(0.0, 0.6, aus)).astype(int)
    Y[:frames, 0] = 0  # a subject without positives for one AU
    Y[frames:2 * frames, 1] = 1  # and one with only positives
    Y[rng.random(Y.shape) < 0.05] = -1  # frames not coded for an AU
    P = rng.random(Y.shape)
    P[2 * frames:3 * frames, 2] = (Y[2 * frames:3 * frames, 2] == 1)  # a perfect prediction
    who = np.repeat([f"s{i}" for i in range(subjects)], frames)
    rows = per_subject_au(Y, P, who, [f"AU{k:02d}" for k in range(aus)])
    truth = {}
    for (i, s) in enumerate(sorted(set(who))):
        part = slice(i * frames, (i + 1) * frames)
        for k in range(aus):
            y, p = Y[part, k], P[part, k] >= 0.5
            coded = y >= 0
            truth[(s, f"AU{k:02d}")] = (int((p & (y == 1) & coded).sum()), int((p & (y == 0) & coded).sum()))
    return rows, truth


def test_confusion_counts_are_recovered_exactly_from_f1_accuracy_and_counts() -> None:
    rows, truth = _scored(np.random.default_rng(0))
    counts = confusion_counts(rows)
    recovered = {(r.subject, r.au): (c.tp, c.fp) for r, c in zip(rows.itertuples(), counts.itertuples(), strict=False)}
    assert recovered == truth


def test_rows_no_confusion_matrix_gives_are_left_out() -> None:
    rows = pd.DataFrame({"subject": ["a"], "au": ["AU01"], "f1": [0.55], "accuracy": [0.55], "support": [30],
                         "positives": [6]})
    assert confusion_counts(rows).isna().all(axis=None)
    assert standardize(rows)[["f1", "accuracy"]].isna().all(axis=None)


def test_at_its_own_base_rate_a_row_keeps_its_scores() -> None:
    rows, _ = _scored(np.random.default_rng(1), subjects=1)
    own = rows.set_index("au")["positives"] / rows.set_index("au")["support"]
    out = standardize(rows, reference=own)
    defined = (rows["positives"] > 0) & (rows["positives"] < rows["support"])
    np.testing.assert_allclose(out.loc[defined, "f1"], rows.loc[defined, "f1"], atol=1e-12)
    np.testing.assert_allclose(out.loc[defined, "accuracy"], rows.loc[defined, "accuracy"], atol=1e-12)
    assert out.loc[~defined, ["f1", "accuracy"]].isna().all(axis=None)  # rates undefined: left out


def _rows_with_rates(prevalence: float, tpr: float, fpr: float, frames: int = 1000, subject: str = "s") -> dict:
    pos = round(prevalence * frames)
    tp, fp = round(tpr * pos), round(fpr * (frames - pos))
    f1 = 2 * tp / (2 * tp + fp + (pos - tp))
    acc = (tp + (frames - pos - fp)) / frames
    return {"subject": subject, "au": "AU12", "f1": f1, "accuracy": acc, "support": frames, "positives": pos}


def test_equal_rates_at_different_base_rates_score_alike_only_once_standardized() -> None:
    rows = pd.DataFrame(
        [_rows_with_rates(0.1, 0.8, 0.1, subject="rare"), _rows_with_rates(0.3, 0.8, 0.1, subject="often")]
    )
    assert rows["f1"].iloc[0] < rows["f1"].iloc[1] - 0.15  # the same model looks much worse on the rarer AU
    out = standardize(rows)
    assert out["f1"].iloc[0] == pytest.approx(out["f1"].iloc[1])
    assert out["accuracy"].iloc[0] == pytest.approx(out["accuracy"].iloc[1])
    assert reference_rates(rows)["AU12"] == pytest.approx(0.2)


def test_a_missing_column_is_one_clear_error() -> None:
    with pytest.raises(AuditkitError, match="positives"):
        standardize(pd.DataFrame({"subject": ["a"], "au": ["AU01"], "f1": [1.0], "accuracy": [1.0], "support": [3]}))


@pytest.mark.slow
def test_the_adjusted_difference_is_calibrated_ignores_base_rates_and_finds_a_planted_effect() -> None:
    rng = np.random.default_rng(2026)
    null = [adjusted_disparities(simulated_rates(rng), n_boot=0)[0].iloc[0]["p"] for _ in range(200)]
    rate = np.mean(np.array(null) < 0.05)
    assert 0.02 <= rate <= 0.09, rate  # 5 % expected; binomial(200, 0.05) lies in [0.02, 0.09] 99 % of the time
    # groups that differ only in how often they show AUs: the paper's score calls it a disparity, the adjusted one not
    raw, adjusted = [], []
    for _ in range(100):
        res = simulated_rates(rng, prevalence=(0.1, 0.4))
        raw.append(all_au_difference(res)["p"])
        adjusted.append(adjusted_disparities(res, n_boot=0)[0].iloc[0]["p"])
    assert np.mean(np.array(raw) < 0.05) >= 0.8
    assert np.mean(np.array(adjusted) < 0.05) <= 0.11  # about 5 %: binomial(100, 0.05) exceeds 11 under 1 % of the time
    planted = [adjusted_disparities(simulated_rates(rng, prevalence=(0.1, 0.4), tpr_effect=-0.15), n_boot=0)[0].iloc[0]
               for _ in range(40)]
    assert np.mean([r["p"] < 0.05 for r in planted]) >= 0.8
    assert all(r["difference"] < 0 for r in planted)  # heads vs tails: heads, with fewer hits, scores lower


def test_adjusted_tables_carry_base_rates_intervals_and_changes() -> None:
    rng = np.random.default_rng(3)
    none = simulated_rates(rng, prevalence=(0.1, 0.4))
    other = none.assign(normalizer="norm")
    summary, changes = adjusted_disparities(pd.concat([none, other], ignore_index=True), n_boot=200)
    assert list(summary.columns) == ADJUSTED_COLUMNS and list(summary["normalizer"]) == ["none", "norm"]
    row = summary.iloc[0]
    assert row["base_rate_a"] < 0.2 < row["base_rate_b"]
    assert row["difference_ci_low"] <= row["difference"] <= row["difference_ci_high"]
    assert len(changes) == 1 and changes.iloc[0]["change"] == pytest.approx(0.0)  # the same predictions: no change
    assert adjusted_disparities(pd.DataFrame())[0].empty
