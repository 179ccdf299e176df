"""Significance of gaps: the subject x training test (the headline: people and trainings both counted,
`auditkit.stats.crossed`), the paper's two-sample t-test with effect sizes, a repetition-level test, and Holm.

Tests and comparisons are registered pieces. A test (`register_test`) is a function of two samples returning one
table row, with the description every report states; a comparison (`register_comparison`) picks the samples an audit
compares and returns rows, each naming its Holm family. `gap_tests` runs every registered comparison, so a new one is
one function here plus, if the report should single it out, its template block.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pandas as pd
from scipy import stats as sps

from auditkit.contract import BASELINE
from auditkit.stats.crossed import ALPHA, Term, crossed_inference, detectable_effect

N_BOOT = 2000

SUBJECT_TEST = "subject t-test"
CROSSED_TEST = "subject x training t-test"
REPETITION_TEST = "repetition paired t-test"
SUBJECT_PAIRED_TEST = "subject paired t-test"


@dataclass(frozen=True)
class StatTest:
    """A registered test: the name its table rows carry, what it is (stated under every report's tests), its
    function."""

    name: str
    description: str
    run: Callable[..., dict]


TESTS: dict[str, StatTest] = {}
Comparison = Callable[[pd.DataFrame, int], list[dict]]
COMPARISONS: list[Comparison] = []


def _pingouin() -> ModuleType:
    """pingouin, imported on first use: it loads matplotlib and statsmodels (over a second), which every process that
    only reads a table or plans an audit, and every training worker, would otherwise pay at start."""
    import pingouin

    return pingouin


def register_test(name: str, description: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Decorator: register `fn(a, b, seed=0) -> row` as the test `name`; its rows must carry `test: name`."""
    def add(fn: Callable[..., dict]) -> Callable[..., dict]:
        TESTS[name] = StatTest(name, description, fn)
        return fn
    return add


def register_comparison(fn: Comparison) -> Comparison:
    """Decorator: `fn(scores, seed) -> rows` (normalizer, family, test_group, comparison + a test's row) joins
    gap_tests."""
    COMPARISONS.append(fn)
    return fn


def test_descriptions() -> dict[str, str]:
    """Each registered test's name and description, in registration order (reports list them)."""
    return {name: t.description for name, t in TESTS.items()}


# what the tables' intervals and corrected p-values are, stated under every table that shows them
HOLM_NOTE = ("p (Holm) is corrected within one family at a time: the gap tests of one normalizer (so adding a "
             "normalizer to an audit never changes another's verdict), and separately all normalizer-vs-none tests; "
             "each test kind (subject, repetition) is its own family.")
CI_NOTE = ("95% CI and p = the subject x training test: its uncertainty counts the test people and the trainings "
           "(a jackknife over each, their shared part counted once, Welch-Satterthwaite df), so a re-run with "
           "another seed should land inside it. p (paper) = the paper's subject t-test, for comparison with its "
           "tables; it leaves training variation out. Detectable = the smallest gap found with 80% power at this "
           "design's precision. Per-group gaps are conditional on which people form each training pool (drawn once "
           "per audit); the overall gap and the between-group differences are not.")


def bootstrap_diff_ci(a: np.ndarray, b: np.ndarray, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(a) - mean(b), resampling subjects within each group."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    with quiet():  # scipy warns on a degenerate (all-equal) resample distribution; the interval is then a point
        res = sps.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), vectorized=True, paired=False,
                            n_resamples=N_BOOT, confidence_level=level, method="percentile",
                            rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


N_PERMUTATIONS = 9999


def permutation_p(a: np.ndarray, b: np.ndarray, seed: int = 0, n_resamples: int = N_PERMUTATIONS) -> float:
    """Two-sided permutation p-value of mean(a) - mean(b), relabelling subjects between the two groups (scipy).

    Exact when the groups have fewer relabellings than `n_resamples`; NaN with fewer than 2 subjects in a group or
    when every value is the same (nothing to test).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or np.ptp(np.concatenate([a, b])) == 0:
        return float("nan")
    with quiet():
        res = sps.permutation_test((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), vectorized=True,
                                   permutation_type="independent", alternative="two-sided", n_resamples=n_resamples,
                                   rng=np.random.default_rng(seed))
    return float(min(1.0, res.pvalue))


@register_test(SUBJECT_TEST, "Student's two-sample t-test on per-subject scores (each subject averaged over "
               "repetitions), as in the paper. For a gap, within and cross test the same people, which the test "
               "treats as independent samples: that makes it conservative (in simulated null audits it rejects well "
               "under 5%). Between groups of test subjects the two samples are different people.")
def two_sample(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict:
    """Student's two-sample t-test of a vs b (pingouin) with Cohen's d, Hedges' g and a bootstrap CI of the
    difference."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    row = {"test": SUBJECT_TEST, "n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else np.nan,
           "mean_b": b.mean() if len(b) else np.nan}
    row["diff"] = row["mean_a"] - row["mean_b"]
    # no spread within either sample (every subject scored alike): t is 0/0 or x/0, so no test, whatever the means
    if len(a) < 2 or len(b) < 2 or (_flat(a) and _flat(b)):
        return {**row, "statistic": np.nan, "dof": np.nan, "p": np.nan, "cohen_d": np.nan, "hedges_g": np.nan,
                "ci_low": np.nan, "ci_high": np.nan}
    pg = _pingouin()
    with quiet():
        t = pg.ttest(a, b, paired=False, correction=False)
        lo, hi = bootstrap_diff_ci(a, b, seed)
        cohen = float(pg.compute_effsize(a, b, paired=False, eftype="cohen"))
        hedges = float(pg.compute_effsize(a, b, paired=False, eftype="hedges"))
    return {**row, "statistic": float(t["T"].iloc[0]), "dof": float(t["dof"].iloc[0]), "p": float(t["p_val"].iloc[0]),
            "cohen_d": cohen, "hedges_g": hedges, "ci_low": lo, "ci_high": hi}


def _flat(x: np.ndarray) -> bool:
    return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))


@contextmanager
def quiet() -> Iterator[None]:
    """Ignore RuntimeWarnings only: degenerate inputs are handled before each test, so scipy/pingouin's warnings on
    near-ties (precision loss, 0/0 in an effect size) are noise that would otherwise leak to a user's terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@register_test(REPETITION_TEST, "Paired t-test on per-repetition mean scores (within vs cross of the same repetition "
               "share their training draw); respects the dependence between repetitions, fewer dof. Not run "
               "with fewer than 3 repetitions.")
def paired(a: np.ndarray, b: np.ndarray, test: str = REPETITION_TEST) -> dict:
    """Paired t-test of a vs b (e.g. per-repetition means) with the t-based CI of the mean difference."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    row = {"test": test, "n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else np.nan,
           "mean_b": b.mean() if len(b) else np.nan}
    row["diff"] = row["mean_a"] - row["mean_b"]
    d = a - b
    # two repetitions leave one degree of freedom: an interval of +-127 points, no test worth printing
    if len(a) < (3 if test == REPETITION_TEST else 2) or np.allclose(d, d[0]):
        return {**row, "statistic": np.nan, "dof": np.nan, "p": np.nan, "cohen_d": np.nan, "hedges_g": np.nan,
                "ci_low": np.nan, "ci_high": np.nan}
    with quiet():
        t = _pingouin().ttest(a, b, paired=True)
        lo, hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    return {**row, "statistic": float(t["T"].iloc[0]), "dof": float(t["dof"].iloc[0]), "p": float(t["p_val"].iloc[0]),
            "cohen_d": float(d.mean() / d.std(ddof=1)), "hedges_g": np.nan, "ci_low": float(lo), "ci_high": float(hi)}


@register_test(SUBJECT_PAIRED_TEST, "Paired t-test on per-subject scores of the same pretrained model with and "
               "without a normalizer (the same people and frames under both), per tested group.")
def paired_subjects(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict:
    """Paired t-test of the same subjects' scores under two conditions (a pretrained model with / without a
    normalizer)."""
    return paired(a, b, SUBJECT_PAIRED_TEST)


def holm(pvalues: pd.Series) -> pd.Series:
    """Holm-corrected p-values; NaN stays NaN."""
    out = pd.Series(np.nan, index=pvalues.index)
    ok = pvalues.notna()
    if ok.any():
        _, adjusted = _pingouin().multicomp(pvalues[ok].to_numpy(), method="holm")
        out[ok] = adjusted
    return out


CROSSED_DESCRIPTION = (
    "The headline test. A score belongs to a (test subject, training) pair, and every subject of a group is scored "
    "by the same few trainings, so the uncertainty comes from people and from trainings. Variance = an "
    "(infinitesimal) jackknife over test subjects (within their test group) plus one over repetitions (each "
    "repetition's models weighted together, so within and cross, or two normalizers, stay paired), minus the "
    "subject x repetition part both count (as for Owen's 2007 pigeonhole bootstrap of crossed designs); "
    "Welch-Satterthwaite degrees of freedom; 95% CI = estimate +- t x SE, p = two-sided t. A fixed (pretrained) "
    "model has no training variance: then it is Welch's t-test on subjects.")


def tested_like(rows: pd.DataFrame, keys_from: pd.DataFrame) -> pd.DataFrame:
    """`rows` restricted to the (subject, repetition) cells that `keys_from` has: within and cross compared on the
    same test subjects and repetitions (a subject is tested within only in the repetitions that left it for testing,
    while the other pools' models test it in every repetition; comparing all of the latter with the former mixed
    which repetitions each subject was seen in into the gap, and on random groups the per-group gap test rejected
    9.5 % instead of 5 %; paired, 4 %: benchmarks/README.md, bench_calibration.py)."""
    keys = keys_from[["subject", "repetition"]].drop_duplicates()
    return rows.merge(keys, on=["subject", "repetition"], how="inner")


def crossed_row(scores: pd.DataFrame, a: pd.Series, b: pd.Series, fixed: bool = False, paired: bool = False) -> dict:
    """The subject-and-training test of mean(rows a) - mean(rows b), paired where a and b share subjects and
    repetitions (stats.crossed); `paired`: rows b only on the cells rows a has (a gap: within vs cross on the same
    tested subjects and repetitions). A table row like the other tests'."""
    def cells(rows: pd.DataFrame, arm: str) -> pd.DataFrame:
        return pd.DataFrame({"arm": arm, "stratum": rows["test_group"].astype(str).to_numpy(),
                             "subject": rows["subject"].astype(str).to_numpy(), "run": "audit",
                             "repetition": rows["repetition"].to_numpy(), "score": rows["score"].to_numpy()})

    sa, sb = scores[a], scores[b]
    if paired:
        sb = tested_like(sb, sa)
    table = pd.concat([cells(sa, "a"), cells(sb, "b")], ignore_index=True)
    inf = crossed_inference(table, [Term("a", 1.0), Term("b", -1.0)], fixed_runs=("audit",) if fixed else ())
    mean_a = sa.groupby("subject")["score"].mean().mean() if len(sa) else np.nan
    mean_b = sb.groupby("subject")["score"].mean().mean() if len(sb) else np.nan
    return {"test": CROSSED_TEST, "n_a": sa["subject"].nunique(), "n_b": sb["subject"].nunique(), "mean_a": mean_a,
            "mean_b": mean_b, "diff": inf.estimate, "statistic": inf.estimate / inf.se if inf.se else np.nan,
            "dof": inf.dof, "p": inf.p, "cohen_d": np.nan, "hedges_g": np.nan, "ci_low": inf.ci_low,
            "ci_high": inf.ci_high, "se": inf.se, "var_subjects": inf.var_subjects,
            "var_trainings": inf.var_trainings, "repetitions": inf.repetitions,
            "detectable": detectable_effect(inf)}


TESTS[CROSSED_TEST] = StatTest(CROSSED_TEST, CROSSED_DESCRIPTION, crossed_row)


def compare(scores: pd.DataFrame, a: pd.Series, b: pd.Series, name: str, seed: int = 0,
            paired: bool = False) -> list[dict]:
    """Every test of rows `a` vs rows `b` of a per-(repetition, subject) score table: the subject-and-training test
    (the headline; `paired`: on the cells rows a has, see crossed_row), the paper's subject t-test and the
    repetition-level paired test (both on every row, as the paper's tables)."""
    sa, sb = scores[a], scores[b]
    subject_a = sa.groupby("subject")["score"].mean().to_numpy()
    subject_b = sb.groupby("subject")["score"].mean().to_numpy()
    rep_a = sa.groupby("repetition")["score"].mean()
    rep_b = sb.groupby("repetition")["score"].mean()
    common = rep_a.index.intersection(rep_b.index)
    return [{"comparison": name, **crossed_row(scores, a, b, paired=paired)},
            {"comparison": name, **TESTS[SUBJECT_TEST].run(subject_a, subject_b, seed)},
            {"comparison": name, **TESTS[REPETITION_TEST].run(rep_a[common].to_numpy(), rep_b[common].to_numpy())}]


def _test_only(s: pd.DataFrame) -> bool:
    return bool((s["condition"] == "test-only").all())


@register_comparison
def within_vs_cross(scores: pd.DataFrame, seed: int = 0) -> list[dict]:
    """The generalization gap of each trained normalizer: overall, and per test group where there are several."""
    rows = []
    for norm, s in scores.groupby("normalizer", sort=False):
        if _test_only(s):
            continue
        within, cross = s["condition"] == "within", s["condition"] == "cross"
        for r in compare(s, within, cross, "within vs cross (all)", seed, paired=True):
            rows.append({"normalizer": norm, "family": f"gaps under {norm}", "test_group": "all", **r})
        groups = sorted(s.loc[within, "test_group"].unique())
        if len(groups) > 1:
            for g in groups:
                on_g = s["test_group"] == g
                for r in compare(s, within & on_g, cross & on_g, f"within vs cross (tested on {g})", seed, paired=True):
                    rows.append({"normalizer": norm, "family": f"gaps under {norm}", "test_group": g, **r})
    return rows


@register_comparison
def between_test_groups(scores: pd.DataFrame, seed: int = 0) -> list[dict]:
    """A pretrained model has no training group: the groups it was tested on, pairwise, under each normalizer."""
    rows = []
    for norm, s in scores.groupby("normalizer", sort=False):
        if not _test_only(s):
            continue
        groups = sorted(s["test_group"].unique())
        for i, a in enumerate(groups):
            for b in groups[i + 1:]:
                on_a, on_b = s["test_group"] == a, s["test_group"] == b
                sa = s[on_a].groupby("subject")["score"].mean().to_numpy()
                sb = s[on_b].groupby("subject")["score"].mean().to_numpy()
                head = {"normalizer": norm, "family": f"groups under {norm}", "test_group": f"{a} vs {b}",
                        "comparison": f"{a} vs {b}"}
                rows.append({**head, **crossed_row(s, on_a, on_b, fixed=True)})
                rows.append({**head, **TESTS[SUBJECT_TEST].run(sa, sb, seed)})
    return rows


@register_comparison
def normalizer_vs_baseline(scores: pd.DataFrame, seed: int = 0) -> list[dict]:
    """Each normalizer against `none`: within and cross for trained audits, per tested group (paired) for test-only."""
    rows = []
    base = scores[scores["normalizer"] == BASELINE]
    for norm in [n for n in scores["normalizer"].unique() if n != BASELINE]:
        other = scores[scores["normalizer"] == norm]
        if _test_only(other):
            for g in sorted(other["test_group"].unique()):
                sa = other[other["test_group"] == g].groupby("subject")["score"].mean()
                sb = base[base["test_group"] == g].groupby("subject")["score"].mean()
                common = sa.index.intersection(sb.index)
                head = {"normalizer": norm, "family": "normalizers vs none", "test_group": g,
                        "comparison": f"{norm} vs none (tested on {g})"}
                both = pd.concat([other, base])
                on_g = both["test_group"] == g
                rows.append({**head, **crossed_row(both, on_g & (both["normalizer"] == norm),
                                                   on_g & (both["normalizer"] == BASELINE), fixed=True)})
                rows.append({**head, **TESTS[SUBJECT_PAIRED_TEST].run(sa[common].to_numpy(), sb[common].to_numpy(),
                                                                       seed)})
            continue
        both = pd.concat([other, base])
        rows += gap_changes(both, norm)
        for cond in ("within", "cross"):
            is_cond = both["condition"] == cond
            for r in compare(both, is_cond & (both["normalizer"] == norm), is_cond & (both["normalizer"] == BASELINE),
                             f"{norm} vs none ({cond})", seed):
                rows.append({"normalizer": norm, "family": "normalizers vs none", "test_group": "all", **r})
    return rows


def gap_change_row(scores: pd.DataFrame, norm: str, group: str | None = None) -> dict:
    """The change a normalizer makes to the gap (overall, or tested on `group`): (within - cross under `norm`) -
    (within - cross under none), on the same people and repetitions, with the subject x training inference."""
    rows = scores if group is None else scores[scores["test_group"] == group]
    rows = tested_like(rows, rows[rows["condition"] == "within"])  # within and cross on the same cells (gap tests)
    arm = rows["normalizer"].map(lambda n: "norm" if n == norm else "none") + "|" + rows["condition"]
    cells = pd.DataFrame({"arm": arm.to_numpy(), "stratum": rows["test_group"].astype(str).to_numpy(),
                          "subject": rows["subject"].astype(str).to_numpy(), "run": "audit",
                          "repetition": rows["repetition"].to_numpy(), "score": rows["score"].to_numpy()})
    inf = crossed_inference(cells, [Term("norm|within", 1.0), Term("norm|cross", -1.0), Term("none|within", -1.0),
                                    Term("none|cross", 1.0)])
    means = rows.groupby(["normalizer", "condition", "subject"])["score"].mean().groupby(level=[0, 1]).mean()

    def gap_of(n: str) -> float:
        return float(means.get((n, "within"), np.nan) - means.get((n, "cross"), np.nan))

    return {"test": CROSSED_TEST, "n_a": rows["subject"].nunique(), "n_b": rows["subject"].nunique(),
            "mean_a": gap_of(norm), "mean_b": gap_of(BASELINE), "diff": inf.estimate,
            "statistic": inf.estimate / inf.se if inf.se else np.nan, "dof": inf.dof, "p": inf.p,
            "cohen_d": np.nan, "hedges_g": np.nan, "ci_low": inf.ci_low, "ci_high": inf.ci_high, "se": inf.se,
            "var_subjects": inf.var_subjects, "var_trainings": inf.var_trainings, "repetitions": inf.repetitions,
            "detectable": detectable_effect(inf)}


def gap_changes(both: pd.DataFrame, norm: str) -> list[dict]:
    """Rows testing how `norm` changes the gap, overall and per test group (mean_a: its gap, mean_b: none's)."""
    groups = sorted(both.loc[both["condition"] == "within", "test_group"].unique())
    rows = [{"normalizer": norm, "family": "normalizers vs none", "test_group": "all",
             "comparison": f"{norm} vs none (gap change)", **gap_change_row(both, norm)}]
    if len(groups) > 1:
        rows += [{"normalizer": norm, "family": "normalizers vs none", "test_group": g,
                  "comparison": f"{norm} vs none (gap change, tested on {g})", **gap_change_row(both, norm, g)}
                 for g in groups]
    return rows


def gap_tests(scores: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Every registered comparison's tests, Holm-corrected within each family (column `family`) and test.

    `scores` has one row per (normalizer, condition, train_group, test_group, repetition, subject) with a `score`.
    """
    table = pd.DataFrame([row for comparison in COMPARISONS for row in comparison(scores, seed)])
    if table.empty:
        return table
    table["p_holm"] = np.nan
    # one family per question: a normalizer's gaps are corrected among themselves (adding a normalizer to an audit
    # must not change the baseline's verdict), and normalizer-vs-none comparisons form their own family
    for _key, idx in table.groupby(["family", "test"]).groups.items():
        table.loc[idx, "p_holm"] = holm(table.loc[idx, "p"]).to_numpy()
    table["significant"] = table["p_holm"] < ALPHA
    return table


def condition_table(scores: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 5 for one audit: per normalizer and train->test group, mean/std/sem over subjects, F1,
    accuracy."""
    keys = ["normalizer", "condition", "train_group", "test_group"]
    per_subject = scores.groupby(keys + ["subject"], sort=False)[["score", "f1", "accuracy"]].mean().reset_index()
    reps = scores.groupby(keys, sort=False)["repetition"].nunique().rename("repetitions")
    agg = per_subject.groupby(keys, sort=False).agg(
        score=("score", "mean"), std=("score", "std"), sem=("score", "sem"), f1=("f1", "mean"),
        accuracy=("accuracy", "mean"), subjects=("subject", "nunique"))
    return agg.join(reps).reset_index()


def format_p(p: float | None, compact: bool = False) -> str:
    """A p-value as reports print it: '< 0.001' below that ('<0.001' compact, for terminals), 'n/a' for none or NaN."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if p < 0.001:
        return "<0.001" if compact else "< 0.001"
    return f"{p:.3f}"
