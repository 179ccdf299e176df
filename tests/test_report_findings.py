"""The findings tell both sides of each normalizer (gap and disparity), and carry an underpowered run's caveats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.report.findings import summary_sentences
from auditkit.report.tables import audit_tables
from tests.helpers import findings_results, simulated_rates


def _run(preset: str = "default") -> dict:
    return {"config": {"preset": preset}}


def test_a_normalizer_that_narrows_the_gap_but_widens_the_disparity_is_called_out() -> None:
    lines = summary_sentences(audit_tables(findings_results()), _run())
    text = "\n".join(lines)
    assert "norm narrows the overall generalization gap" in text
    assert "norm widens and reverses the difference between test subjects in dark and light" in text
    assert "So norm narrows the generalization gap but widens the difference between test groups" in text
    assert not any(line.startswith("Caution") for line in lines)  # 6 repetitions, 8 subjects a group: no caveat
    assert "n/a" not in text


@pytest.mark.slow
def test_underpowered_runs_say_so_and_show_no_test_with_two_repetitions() -> None:
    lines = summary_sentences(audit_tables(findings_results(reps=2, subjects=4)), _run("smoke"))
    cautions = [line for line in lines if line.startswith("Caution")]
    assert len(cautions) == 3 and "smoke run" in cautions[0] and "only 2 repetitions" in cautions[1]
    assert "dark (4), light (4)" in cautions[2]
    findings = [line for line in lines if not line.startswith("Caution")]
    assert findings and not any("p =" in line or "p <" in line for line in findings)
    assert all("not tested with 2 repetitions" in line for line in findings if "(" in line and "gap" in line)
    tables = audit_tables(findings_results(reps=2, subjects=4))
    assert tables.tests.query("test == 'repetition paired t-test'")["p"].isna().all()  # 1 dof: not run
    four = summary_sentences(audit_tables(findings_results(reps=4)), _run())
    assert sum(line.startswith("Caution") for line in four) == 1 and "only 4 repetitions" in four[0]


def test_a_difference_between_groups_is_restated_at_equal_base_rates() -> None:
    from auditkit.report.sections import _disparities_md, records

    res = simulated_rates(np.random.default_rng(4), prevalence=(0.1, 0.4)).assign(train_group="pretrained")
    tables = audit_tables(res)
    text = "\n".join(summary_sentences(tables, _run()))
    rates = tables.adjusted_summary.iloc[0]
    assert f"Test subjects in heads show AUs in {100 * rates['base_rate_a']:.1f} % of coded frames" in text
    assert "Prevalence-calibrated (Siblini et al., 2020" in text and "secondary view" in text
    assert rates["base_rate_a"] < 0.15 < 0.35 < rates["base_rate_b"]
    md = "\n".join(
        _disparities_md(
            {
                "groups": records(tables.disparity_groups),
                "summary": records(tables.disparity_summary),
                "adjusted": records(tables.adjusted_summary),
                "ratio_band": [0.8, 1.25],
                "min_subjects": 5,
            }
        )
    )
    assert "Prevalence-calibrated, a secondary view" in md and "| none | heads vs tails |" in md


def _noise_audit(reps: int = 6, subjects: int = 8, seed: int = 1) -> pd.DataFrame:
    """A gap audit with no gap, no group difference, and a normalizer `norm` that only adds its own training noise:
    each (repetition, model) has its own quality, so differences in point estimates are training noise."""
    rng = np.random.default_rng(seed)
    pools = {"dark": [f"D{i}" for i in range(subjects)], "light": [f"L{i}" for i in range(subjects)]}
    level = {s: rng.normal(0.55, 0.04) for members in pools.values() for s in members}
    rows = []
    for norm in ("none", "norm"):
        for rep in range(reps):
            for train in pools:
                quality = rng.normal(0, 0.03)
                for test, members in pools.items():
                    for s in members:
                        for au in ("AU06", "AU12"):
                            v = float(np.clip(level[s] + quality + rng.normal(0, 0.03), 0, 1))
                            rows.append({"normalizer": norm, "repetition": rep,
                                         "condition": "within" if train == test else "cross", "train_group": train,
                                         "test_group": test, "subject": s, "au": au, "f1": v, "accuracy": v,
                                         "support": 30, "positives": 6})
    return pd.DataFrame(rows)


def test_an_effect_its_own_test_does_not_support_is_not_stated_as_fact() -> None:
    tables = audit_tables(_noise_audit())
    text = "\n".join(summary_sentences(tables, _run()))
    tests = tables.tests.query("test == 'subject x training t-test'")
    change = tests[tests["comparison"] == "norm vs none (gap change)"].iloc[0]
    assert change["p_holm"] >= 0.05 and change["diff"] != 0  # a point estimate, no supported change
    assert "norm makes no change to the overall generalization gap that the audit can detect" in text
    assert "narrows the overall" not in text and "widens the overall" not in text and "So norm" not in text
    gap = tests[(tests["normalizer"] == "none") & (tests["comparison"] == "within vs cross (all)")].iloc[0]
    if gap["p_holm"] >= 0.05:
        assert "overall, no generalization gap the audit can detect" in text
        assert "would detect" in text  # the smallest gap this precision finds at 80 % power
    pair = tables.disparity_summary.query("au == 'all' and normalizer == 'none'").iloc[0]
    if pair["p_holm"] >= 0.05:
        assert "no difference between test subjects in dark and light that the audit can detect" in text


def test_findings_name_error_rate_differences() -> None:
    tables = audit_tables(findings_results())
    text = "\n".join(summary_sentences(tables, _run()))
    assert "error rates over all aus: test subjects in dark have a hit rate of" in text.lower()
