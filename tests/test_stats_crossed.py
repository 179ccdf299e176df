"""The subject x training inference: exact where it reduces to a textbook test, calibrated under the null on audits
simulated with people *and* trainings varying, and finding planted effects at the rate its power formula predicts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from auditkit.stats.crossed import Term, crossed_inference, detectable_effect

Simulate = Callable[..., pd.DataFrame]


GAP_A = [Term("within", 1.0, "A"), Term("cross", -1.0, "A")]
GAP_ALL = [Term("within", 1.0), Term("cross", -1.0)]
A_VS_B = [Term("all", 1.0, "A"), Term("all", -1.0, "B")]


def test_point_estimate_is_the_subject_mean_statistic(simulated_audit: Simulate) -> None:
    cells = simulated_audit(np.random.default_rng(0))
    inf = crossed_inference(cells, GAP_A)
    on_a = cells[cells["stratum"] == "A"]
    means = on_a.groupby(["arm", "subject"])["score"].mean()
    assert np.isclose(inf.estimate, means["within"].mean() - means["cross"].mean())
    assert inf.ci_low < inf.estimate < inf.ci_high and inf.repetitions == 10 and inf.subjects == 9


def test_a_fixed_model_reduces_to_welchs_t_test() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 0.05, 8), rng.normal(0.45, 0.08, 11)
    cells = pd.DataFrame({"arm": "all", "stratum": ["A"] * 8 + ["B"] * 11,
                          "subject": [f"s{i}" for i in range(19)], "run": "model", "repetition": 0,
                          "score": np.concatenate([a, b])})
    inf = crossed_inference(cells, A_VS_B, fixed_runs=("model",))
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert np.isclose(inf.p, ref.pvalue) and np.isclose(inf.estimate, a.mean() - b.mean())
    assert np.isclose(inf.se, np.sqrt(a.var(ddof=1) / 8 + b.var(ddof=1) / 11))
    assert inf.var_trainings == 0.0


def test_too_few_trainings_give_no_verdict_rather_than_a_people_only_one(simulated_audit: Simulate) -> None:
    cells = simulated_audit(np.random.default_rng(2), reps=1)
    inf = crossed_inference(cells, GAP_A)
    assert np.isfinite(inf.estimate) and np.isnan(inf.p) and np.isnan(inf.ci_low)


def test_no_variation_gives_no_test(simulated_audit: Simulate) -> None:
    cells = simulated_audit(np.random.default_rng(3)).assign(score=0.5)
    inf = crossed_inference(cells, GAP_A)
    assert inf.estimate == 0.0 and np.isnan(inf.p)


@pytest.mark.slow
def test_null_calibration_and_coverage(simulated_audit: Simulate) -> None:
    """No gap and no group difference: each test rejects near 5 %, each interval covers 0 at >= 92 %, where a test
    that resamples people only (Welch on subject means) over-rejects the group difference."""
    rng = np.random.default_rng(2026)
    n = 240
    rejects = {"gap A": 0, "gap all": 0, "A vs B": 0, "A vs B, people only": 0}
    covers = dict.fromkeys(("gap A", "gap all", "A vs B"), 0)
    for _ in range(n):
        cells = simulated_audit(rng, sd_model_group=0.04)
        pooled = cells.assign(arm="all")
        for key, data, terms in (("gap A", cells, GAP_A), ("gap all", cells, GAP_ALL), ("A vs B", pooled, A_VS_B)):
            inf = crossed_inference(data, terms)
            rejects[key] += inf.p < 0.05
            covers[key] += inf.ci_low <= 0 <= inf.ci_high
        means = pooled.groupby(["stratum", "subject"])["score"].mean()
        rejects["A vs B, people only"] += sps.ttest_ind(means["A"], means["B"], equal_var=False).pvalue < 0.05
    rates = {k: v / n for k, v in rejects.items()}
    for key in covers:
        assert 0.02 <= rates[key] <= 0.08, rates
        assert covers[key] / n >= 0.92, covers
    assert rates["A vs B, people only"] > 0.10, rates  # why the trainings must be counted


@pytest.mark.slow
def test_planted_effects_found_as_the_power_formula_predicts(simulated_audit: Simulate) -> None:
    rng = np.random.default_rng(7)
    designs = [simulated_audit(rng) for _ in range(12)]
    detectable = np.mean([detectable_effect(crossed_inference(c.assign(arm="all"), A_VS_B)) for c in designs])
    found, n = 0, 150
    for _ in range(n):
        cells = simulated_audit(rng, shift_a=detectable).assign(arm="all")
        found += crossed_inference(cells, A_VS_B).p < 0.05
    assert 0.65 <= found / n <= 0.95, (found / n, detectable)
    big = sum(crossed_inference(simulated_audit(rng, gap=0.08), GAP_A).p < 0.05 for _ in range(40))
    assert big >= 36


def test_a_change_paired_by_repetition_cancels_the_shared_trainings(simulated_audit: Simulate) -> None:
    """Two arms scored on the same (subject, repetition) cells, one a shifted copy plus small noise: the change is
    found with a narrow interval, because the shared training and person effects cancel."""
    rng = np.random.default_rng(4)
    before = simulated_audit(rng).assign(arm="before")
    after = before.assign(arm="after", score=before["score"] - 0.02 * (before["stratum"] == "A")
                          + rng.normal(0, 0.005, len(before)))
    cells = pd.concat([before, after], ignore_index=True)
    change = [Term("after", 1.0, "A"), Term("after", -1.0, "B"), Term("before", -1.0, "A"), Term("before", 1.0, "B")]
    inf = crossed_inference(cells, change)
    assert abs(inf.estimate + 0.02) < 0.004 and inf.p < 0.001 and inf.ci_high - inf.ci_low < 0.01


def test_repetitions_for_a_target_width(simulated_audit: Simulate) -> None:
    from auditkit.stats.crossed import repetitions_for

    pilot = crossed_inference(simulated_audit(np.random.default_rng(8), reps=6, sd_model=0.05, sd_subject=0.01),
                              GAP_A)
    half = (pilot.ci_high - pilot.ci_low) / 2
    # the pilot's own width needs about its own 6 repetitions; narrower needs more, wider fewer
    assert 5 <= repetitions_for(pilot, half) <= 7
    assert (
        repetitions_for(pilot, 0.5 * half) > repetitions_for(pilot, 0.7 * half) > 6 > repetitions_for(pilot, 1.5 * half)
    )
    people = np.sqrt(max(pilot.se ** 2 - pilot.var_trainings, 0.0))
    assert repetitions_for(pilot, 0.9 * people) is None  # the people's part alone is wider: more people needed


def _change_cells(rng: np.random.Generator, n: int = 9, reps: int = 5, drawn: int = 6, sd_person: float = 0.0,
                  shift_a: float = 0.0, sd_model: float = 0.03, sd_cell: float = 0.04) -> pd.DataFrame:
    """The per-cell change a normalizer makes, as `disparities.disparity_changes` computes it on a gap audit's balanced
    cells: in each repetition a subject is tested (by both pools' models) only when their pool's draw left them out;
    each arm (baseline, normalizer) has its own trainings; `sd_person` is a person's lasting response to the
    normalizer, `shift_a` one it gives every person of group A."""
    person = {f"{g}{i}": rng.normal(0, sd_person) for g in "AB" for i in range(n)}
    rows = []
    for r in range(reps):
        out = {g: set(rng.permutation(n)[:drawn]) for g in "AB"}
        models = {(arm, pool, test): rng.normal(0, sd_model) for arm in (0, 1) for pool in "AB" for test in "AB"}
        for g in "AB":
            for i in range(n):
                if i in out[g]:
                    continue
                s = f"{g}{i}"
                arms = [np.mean([models[(arm, pool, g)] + rng.normal(0, sd_cell) for pool in "AB"]) for arm in (0, 1)]
                change = arms[1] - arms[0] + person[s] + (shift_a if g == "A" else 0.0)
                rows.append((g, s, "audit", r, change))
    return pd.DataFrame(rows, columns=["stratum", "subject", "run", "repetition", "score"])


@pytest.mark.slow
@pytest.mark.parametrize("sd_person", [0.0, 0.05])
def test_a_change_between_groups_is_calibrated_with_and_without_lasting_person_effects(sd_person: float) -> None:
    """No change on average: the test rejects near 5 % and covers 0, also when people respond to the normalizer
    differently and lastingly (then the spread over repetitions alone is too narrow: the people's part counts)."""
    from auditkit.stats.crossed import change_between_groups

    rng = np.random.default_rng(11)
    n, rejects, covers, reps_only = 300, 0, 0, 0
    for _ in range(n):
        cells = _change_cells(rng, sd_person=sd_person)
        inf = change_between_groups(cells, "A", "B")
        rejects += inf.p < 0.05
        covers += inf.ci_low <= 0 <= inf.ci_high
        per = cells.groupby(["repetition", "stratum"])["score"].mean().unstack()
        per = per["A"] - per["B"]
        reps_only += sps.ttest_1samp(per, 0).pvalue < 0.05
    assert 0.02 <= rejects / n <= 0.08 and covers / n >= 0.92, (rejects / n, covers / n)
    if sd_person:
        assert reps_only / n > 0.10, reps_only / n  # why the people's part is there


def test_a_planted_change_is_found_and_estimated_as_printed() -> None:
    from auditkit.stats.crossed import change_between_groups

    rng = np.random.default_rng(5)
    cells = _change_cells(rng, shift_a=-0.08)
    inf = change_between_groups(cells, "A", "B")
    means = cells.groupby(["stratum", "subject"])["score"].mean()
    assert inf.estimate == pytest.approx(means["A"].mean() - means["B"].mean())  # the subject-mean change
    assert inf.p < 0.001 and inf.ci_high < 0 and inf.repetitions == 5 and inf.var_trainings > 0
    # found at the rate the power formula predicts from the design's own standard error
    delta = np.mean([detectable_effect(change_between_groups(_change_cells(rng), "A", "B")) for _ in range(12)])
    found = sum(change_between_groups(_change_cells(rng, shift_a=-delta), "A", "B").p < 0.05 for _ in range(100))
    assert 0.65 <= found / 100 <= 0.95, (found, delta)
    one = change_between_groups(cells[cells["repetition"] == 0], "A", "B")
    assert np.isnan(one.p) and np.isnan(one.se)  # one repetition: no verdict, rather than a people-only one
