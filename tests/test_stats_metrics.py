"""Per-subject per-AU metrics agree with scikit-learn and skip not-coded frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from auditkit.stats.metrics import add_score, macro_f1, per_subject_au, subject_scores


def test_per_subject_au_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    Y = rng.integers(-1, 2, (200, 3)).astype(np.int8)
    P = rng.random((200, 3))
    subjects = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, 200)]
    table = per_subject_au(Y, P, subjects, ["AU01", "AU02", "AU04"])
    assert len(table) == 12
    for row in table.itertuples():
        k = ["AU01", "AU02", "AU04"].index(row.au)
        m = (subjects == row.subject) & (Y[:, k] >= 0)
        assert row.support == m.sum()
        assert np.isclose(row.f1, f1_score(Y[m, k], P[m, k] >= 0.5))
        assert np.isclose(row.accuracy, accuracy_score(Y[m, k], P[m, k] >= 0.5))
        assert row.positives == (Y[m, k] == 1).sum()


def test_per_subject_au_equals_fairlearn_metricframe_exactly() -> None:
    """The counting implementation gives MetricFrame's values, rows and order (it replaced MetricFrame for speed)."""
    from functools import partial

    from fairlearn.metrics import MetricFrame, count

    rng = np.random.default_rng(1)
    Y = rng.integers(-1, 2, (300, 4)).astype(np.int8)
    Y[:, 3] = -1  # an AU nobody coded: no rows
    Y[rng.random(300) < 0.3, 1] = -1
    P = rng.random((300, 4)).astype(np.float32)
    subjects = np.array(["s10", "s2", "f1", "m3", "x"])[rng.integers(0, 5, 300)]
    Y[subjects == "x", 2] = -1  # one subject without coded frames for one AU: no row for that pair
    aus = ["AU01", "AU02", "AU04", "AU06"]
    expected = []
    for k, au in enumerate(aus):
        coded = Y[:, k] >= 0
        if not coded.any():
            continue
        # the default rule leaves an undefined F1 out: scikit-learn's zero_division=nan
        mf = MetricFrame(metrics={"f1": partial(f1_score, zero_division=np.nan), "accuracy": accuracy_score,
                                  "support": count},
                         y_true=Y[coded, k], y_pred=(P[coded, k] >= 0.5).astype(np.int8),
                         sensitive_features=pd.Series(subjects[coded], name="subject"))
        table = mf.by_group.reset_index()
        table.insert(1, "au", au)
        table["positives"] = [int(((Y[coded, k] == 1) & (subjects[coded] == s)).sum()) for s in table["subject"]]
        expected.append(table)
    want = pd.concat(expected, ignore_index=True)
    want["support"] = want["support"].astype(int)
    got = per_subject_au(Y, P, subjects, aus)
    pd.testing.assert_frame_equal(got, want[got.columns.tolist()], check_dtype=False, rtol=0, atol=1e-15)


def test_uncoded_au_is_skipped_and_all_negative_agreement_has_no_f1_by_default() -> None:
    Y = np.array([[0, -1], [0, -1]], np.int8)
    table = per_subject_au(Y, np.array([[0.1, 0.9], [0.2, 0.9]]), np.array(["s", "s"]), ["AU01", "AU02"])
    assert table["au"].tolist() == ["AU01"]
    assert np.isnan(table["f1"].iloc[0]) and table["accuracy"].iloc[0] == 1.0  # `exclude`: F1 undefined, accuracy kept
    legacy = per_subject_au(
        Y, np.array([[0.1, 0.9], [0.2, 0.9]]), np.array(["s", "s"]), ["AU01", "AU02"], f1_rule="one"
    )
    assert legacy["f1"].iloc[0] == 1.0
    assert macro_f1(Y, np.array([[0.9, 0.0], [0.1, 0.0]])) == 0.0


def test_subject_scores_average_f1_and_accuracy_over_aus() -> None:
    rows = pd.DataFrame({"cond": ["w"] * 3, "subject": ["a", "a", "b"], "au": ["AU01", "AU02", "AU01"],
                         "f1": [0.5, 1.0, 0.0], "accuracy": [0.7, 0.9, 0.4]})
    assert add_score(rows)["score"].tolist() == [0.6, 0.95, 0.2]
    s = subject_scores(rows, ["cond"]).set_index("subject")["score"]
    assert np.isclose(s["a"], 0.775) and np.isclose(s["b"], 0.2)


def test_macro_f1_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    Y = rng.integers(-1, 2, (300, 4)).astype(np.int8)
    Y[:, 3] = -1
    P = rng.random((300, 4))
    expected = np.mean([f1_score(Y[Y[:, k] >= 0, k], P[Y[:, k] >= 0, k] >= 0.5) for k in range(3)])
    assert np.isclose(macro_f1(Y, P), expected)


def test_f1_rules_for_a_subject_without_positives_and_exact_rescoring() -> None:
    from auditkit.errors import AuditkitError
    from auditkit.stats.metrics import F1_RULES, check_f1_rule, rescore_f1

    rng = np.random.default_rng(3)
    Y = (rng.random((400, 4)) < np.array([0.3, 0.02, 0.0, 0.1])).astype(int)  # AU index 2: nobody shows it
    P = rng.random((400, 4)) * np.array([1.0, 0.6, 0.52, 1.0])  # rarely predicted either
    subjects = np.repeat([f"s{i}" for i in range(20)], 20)
    aus = ["AU01", "AU02", "AU04", "AU06"]
    by_rule = {r: per_subject_au(Y, P, subjects, aus, f1_rule=r) for r in F1_RULES}
    undefined = by_rule["exclude"]["f1"].isna()
    assert undefined.any() and (by_rule["exclude"]["positives"][undefined] == 0).all()
    assert (by_rule["one"]["f1"][undefined] == 1).all() and (by_rule["zero"]["f1"][undefined] == 0).all()
    for rule, direct in by_rule.items():  # the benchmark's post-hoc rescoring equals scoring under the rule
        pd.testing.assert_frame_equal(rescore_f1(by_rule["one"], rule), direct)
    pd.testing.assert_series_equal(by_rule["one"]["accuracy"], by_rule["exclude"]["accuracy"])  # accuracy kept
    with pytest.raises(AuditkitError, match="--f1-no-positives: unknown rule 'half'"):
        check_f1_rule("half")


def test_excluded_f1_is_skipped_by_every_average() -> None:
    from auditkit.report.tables import audit_tables

    rows = []
    for g, value in (("a", 0.6), ("b", 0.4)):
        for i in range(3):
            rows += [
                {
                    "normalizer": "none",
                    "condition": "test-only",
                    "train_group": "-",
                    "test_group": g,
                    "repetition": 0,
                    "subject": f"{g}{i}",
                    "au": au,
                    "f1": f1,
                    "accuracy": value,
                    "support": 10,
                    "positives": pos,
                }
                for au, f1, pos in (("AU01", value, 3), ("AU02", np.nan, 0))
            ]
    tables = audit_tables(pd.DataFrame(rows))
    cond = tables.conditions.set_index("test_group")
    assert cond.loc["a", "score"] == pytest.approx(0.6) and cond.loc["b", "f1"] == pytest.approx(0.4)
    pair = tables.disparity_summary.query("au == 'all'").iloc[0]
    assert pair["difference"] == pytest.approx(0.2)


def test_an_audit_that_records_no_f1_rule_is_refused_in_one_line() -> None:
    from auditkit.errors import AuditkitError
    from auditkit.stats.metrics import recorded_f1_rule

    assert recorded_f1_rule({"f1_rule": "one"}, "a/run.json") == "one"
    with pytest.raises(AuditkitError, match=r"^a/run.json: records no F1 rule \(config.f1_rule; an audit written by "
                                            r"auditkit 0.1\): re-run the audit with this version$"):
        recorded_f1_rule({}, "a/run.json")
