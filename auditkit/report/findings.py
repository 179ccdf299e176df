"""The report's plain-language findings: each tested group's gap, the disparity between test groups, what each
normalizer changes in both (saying so when it narrows one and widens the other), the ceiling's share, and the
caveats of an underpowered run. The terminal, report.html and summary.md print these same sentences.

The wording rule: a gap, a difference or a change is stated as a fact ("score 5.5 points lower", "narrows") only
where its own test (the subject x training test, Holm-corrected in its family) supports it; otherwise the sentence
says the audit detects none, with the interval and the smallest effect it could have found."""

from __future__ import annotations

import pandas as pd

from auditkit.normalizers.base import BASELINE
from auditkit.report.power import Power, power_of, power_sentences
from auditkit.report.tables import AuditTables, ceiling_shares, condition_means, headline, is_test_only
from auditkit.stats import ALPHA, CROSSED_TEST, format_p
from auditkit.stats.disparities import ALL_AUS


def _evidence(p: float, p_holm: float | None, power: Power, test: str = "") -> str:
    """The test clause of a sentence: '[test] p = 0.012, Holm 0.036', or why there is no test."""
    if not power.testable:
        return f"not tested with {power.repetitions} repetition{'s' if power.repetitions != 1 else ''}"
    if p != p:
        return "not testable: too few subjects or no variation"
    holm = "" if p_holm is None or p_holm != p_holm else f", Holm {format_p(p_holm)}"
    return f"{test + ' ' if test else ''}p {_p(p)}{holm}"


def _p(p: float) -> str:
    """'= 0.012' or '< 0.001', to follow a 'p' in a sentence."""
    text = format_p(p)
    return text if text.startswith("<") else f"= {text}"


def _pts(value: float) -> str:
    """Signed points at one decimal, without a '-0.0'."""
    shown = round(100 * value, 1)
    return f"{shown + 0.0:+.1f}" if shown != 0 else "0.0"


def _points(value: float) -> str:
    return f"{abs(100 * value):.1f} points"


def _supported(p_holm: float, power: Power) -> bool:
    """True where a test supports stating its effect: testable run, Holm-corrected p below ALPHA."""
    return power.testable and p_holm == p_holm and p_holm < ALPHA


def _ci(low: float, high: float) -> str:
    return f"95% CI {_pts(low)} to {_pts(high)}"


def _pair_sentence(r: pd.Series, who: str, power: Power) -> str:
    """'Test subjects in A score 4.3 points lower than in B (...)' for one pair of groups, or that no difference is
    detectable."""
    figures = (f"{100 * r['score_a']:.1f} vs {100 * r['score_b']:.1f}; difference {_pts(r['difference'])}, "
               f"{_ci(r['difference_ci_low'], r['difference_ci_high'])}; {_evidence(r['p'], r['p_holm'], power)}")
    if not _supported(r["p_holm"], power):
        return (f"{who}no difference between test subjects in {r['group_a']} and {r['group_b']} that the audit can "
                f"detect ({figures}).")
    word = "higher" if r["difference"] >= 0 else "lower"
    return (f"{who}test subjects in {r['group_a']} score {_points(r['difference'])} {word} than those in "
            f"{r['group_b']} ({figures}).")


def _adjusted_row(table: pd.DataFrame, norm: str, comparison: str) -> pd.Series | None:
    """The equal-base-rate row of one normalizer and pair, if the audit has one."""
    if table.empty:
        return None
    hit = table[(table["normalizer"] == norm) & (table["comparison"] == comparison)]
    return hit.iloc[0] if len(hit) else None


def _adjusted_sentence(r: pd.Series, power: Power) -> str:
    """The prevalence-calibrated view of one pair of groups, named as the secondary view it is."""
    return (f"Test subjects in {r['group_a']} show AUs in {100 * r['base_rate_a']:.1f} % of coded frames, those in "
            f"{r['group_b']} in {100 * r['base_rate_b']:.1f} %, and F1 depends on how often an AU occurs. "
            f"Prevalence-calibrated (Siblini et al., 2020: each subject's hit and false-alarm rates rescored at every "
            f"AU's pooled base rate, assuming those rates do not depend on the base rate), the difference is "
            f"{_pts(r['difference'])} points ({_ci(r['difference_ci_low'], r['difference_ci_high'])}; "
            f"{_evidence(r['p'], r['p_holm'], power)}). This is a secondary view: the headline is the difference as "
            "scored, and the error rates show which errors make it.")


RATE_NAMES = {"hit_rate": "hit rate", "false_alarm_rate": "false-alarm rate"}


def _rate_sentences(tables: AuditTables, norm: str, who: str, power: Power) -> list[str]:
    """Per pair of groups: both groups' hit and false-alarm rates, and whether each differs (equalized odds)."""
    diffs = tables.error_rate_differences
    diffs = diffs[(diffs["normalizer"] == norm) & (diffs["au"] == ALL_AUS)]
    lines = []
    for _comparison, pair in diffs.groupby("comparison", sort=False):
        by = pair.set_index("rate")
        if not set(RATE_NAMES) <= set(by.index):
            continue
        hit, fa = by.loc["hit_rate"], by.loc["false_alarm_rate"]
        clauses = []
        for rate, r in (("hit_rate", hit), ("false_alarm_rate", fa)):
            figures = (f"{_pts(r['difference'])} points, {_ci(r['difference_ci_low'], r['difference_ci_high'])}; "
                       f"{_evidence(r['p'], r['p_holm'], power)}")
            clauses.append(f"the {RATE_NAMES[rate]} differs ({figures})" if _supported(r["p_holm"], power)
                           else f"no {RATE_NAMES[rate]} difference the audit can detect ({figures})")
        lines.append(f"{who}error rates over all AUs: test subjects in {hit['group_a']} have a hit rate of "
                     f"{100 * hit['value_a']:.1f} % and a false-alarm rate of {100 * fa['value_a']:.1f} %, those in "
                     f"{hit['group_b']} {100 * hit['value_b']:.1f} % and {100 * fa['value_b']:.1f} %: "
                     f"{clauses[0]}; {clauses[1]}.")
    return lines


def _disparity_sentences(tables: AuditTables, norm: str, who: str, power: Power) -> list[str]:
    pairs = tables.disparity_summary
    pairs = pairs[(pairs["normalizer"] == norm) & (pairs["au"] == ALL_AUS)]
    lines = []
    for _, r in pairs.iterrows():
        lines.append(_pair_sentence(r, who, power))
    lines += _rate_sentences(tables, norm, who, power)
    for _, r in pairs.iterrows():
        adjusted = _adjusted_row(tables.adjusted_summary, norm, r["comparison"])
        if adjusted is not None:
            lines.append(_adjusted_sentence(adjusted, power))
    return lines


def _direction(old: float, new: float) -> str:
    """'narrows' or 'widens' by magnitude; a difference whose sign flips is also said to reverse."""
    word = "narrows" if abs(new) < abs(old) else ("widens" if abs(new) > abs(old) else "leaves unchanged")
    # a sign flip counts only where both values show a sign at the printed precision (0.1 point)
    flips = round(100 * old, 1) * round(100 * new, 1) < 0
    return f"{word} and reverses" if flips else word


def _change_clause(label: str, what: str, old: float, new: float, change: float, low: float, high: float,
                   p: float, p_holm: float, power: Power) -> tuple[str, str]:
    """A sentence on how `label` changes `what` and its direction word ('' where its test does not support one)."""
    figures = (f"{_pts(old)} points without normalization, {_pts(new)} with it (change {_pts(change)}, "
               f"{_ci(low, high)}; {_evidence(p, p_holm, power)})")
    if not _supported(p_holm, power):
        return f"{label} makes no change to {what} that the audit can detect: {figures}.", ""
    word = _direction(old, new)
    return f"{label} {word} {what}: {figures}.", word


def _change_sentences(tables: AuditTables, norm: str, label: str, power: Power) -> tuple[list[str], list[str]]:
    """Sentences on how `norm` changes each between-group difference, and the direction word of each pair ('' where
    the change's own test does not support one)."""
    ch = tables.disparity_changes
    ch = ch[(ch["normalizer"] == norm) & (ch["au"] == ALL_AUS)]
    lines, directions = [], []
    for _, c in ch.iterrows():
        line, d = _change_clause(label, f"the difference between test subjects in {c['group_a']} and {c['group_b']}",
                                 c["difference_baseline"], c["difference"], c["change"], c["change_ci_low"],
                                 c["change_ci_high"], c["p"], c["p_holm"], power)
        directions.append(d)
        lines.append(line)
        a = _adjusted_row(tables.adjusted_changes, norm, c["comparison"])
        if a is not None:
            lines.append(f"Prevalence-calibrated (a secondary view): {_pts(a['difference_baseline'])} points "
                         f"without normalization, {_pts(a['difference'])} with {label} (change {_pts(a['change'])}, "
                         f"{_ci(a['change_ci_low'], a['change_ci_high'])}; {_evidence(a['p'], a['p_holm'], power)}).")
    return lines, directions


def _gap_sentence(r: object, start: str, stated: str, power: Power, basis: str = "") -> str:
    """A headline gap: `stated` (with {points}, {lower}/{higher}) where its test supports it, else that the audit
    detects none, with the smallest gap it would detect."""
    figures = f"gap {_pts(r.gap)}, {_ci(r.ci_low, r.ci_high)}; {_evidence(r.p, r.p_holm, power)}{basis}"
    if not _supported(r.p_holm, power):
        return f"{start}no generalization gap the audit can detect ({figures}{_detectable(r.detectable)})."
    positive = r.gap >= 0
    claim = stated.format(points=_points(r.gap), lower="lower" if positive else "higher",
                          higher="higher" if positive else "lower")
    return f"{start}{claim} ({figures})."


def _basis(subjects: float, repetitions: float) -> str:
    """'; 15 people x 10 repetitions' (what an interval rests on), or '' where unknown."""
    if subjects != subjects or repetitions != repetitions or not repetitions:
        return ""
    return f"; {int(subjects)} people x {int(repetitions)} repetitions"


def _detectable(value: float) -> str:
    """'; it could detect 8.1 points with 80% power' where the design's precision is known."""
    return "" if value != value else f"; at this precision it would detect {abs(100 * value):.1f} points with 80% power"


def _missed_sentences(run: dict) -> list[str]:
    """Test-only audits: how much more often the tool dropped one group's frames than another's."""
    lines = []
    for t in (run.get("missed_frames") or {}).get("tests", []):
        if t.get("p") is None or t["p"] != t["p"]:
            continue
        a, b = t["comparison"].split(" vs ", 1)
        lines.append(
            f"The tool gave no prediction for {100 * t['mean_a']:.1f} % of the frames of subjects in {a} and "
            f"{100 * t['mean_b']:.1f} % in {b} (p = {format_p(t['p'])}, Holm {format_p(t['p_holm'])}): frames it "
            "drops are frames its users are never served."
        )
    return lines


def _label(norm: str, ceiling: str | None) -> str:
    return f"{norm} (the ceiling: a perfect normalizer from the ground truth)" if norm == ceiling else norm


def _normalizers(tables: AuditTables) -> list[str]:
    """The audit's normalizers, the baseline first (its sentences are what the others are compared with)."""
    norms = list(dict.fromkeys(tables.conditions["normalizer"]))
    return sorted(norms, key=lambda n: n != BASELINE)


def _test_only_sentences(tables: AuditTables, power: Power) -> list[str]:
    norms = _normalizers(tables)
    lines = []
    for norm in norms:
        who = "" if len(norms) == 1 else ("Without normalization (none), " if norm == BASELINE else f"With {norm}, ")
        lines += [s[0].upper() + s[1:] for s in _disparity_sentences(tables, norm, who, power)]
    cond = tables.conditions.set_index(["normalizer", "test_group"])["score"]
    tests = tables.tests
    for norm in norms:
        if norm == BASELINE or BASELINE not in norms:
            continue
        paired = tests[(tests["normalizer"] == norm) & (tests["test"] == CROSSED_TEST)
                       & tests["comparison"].str.startswith(f"{norm} vs none (tested on")]
        for _, t in paired.iterrows():
            g = t["test_group"]
            figures = (f"from {100 * cond[(BASELINE, g)]:.1f} to {100 * cond[(norm, g)]:.1f} (paired on the same "
                       f"subjects; {_ci(t['ci_low'], t['ci_high'])}; {_evidence(t['p'], t['p_holm'], power)})")
            if _supported(t["p_holm"], power):
                word = "raises" if t["diff"] >= 0 else "lowers"
                lines.append(f"{norm} {word} the model's score on test subjects in {g} {figures}.")
            else:
                lines.append(f"{norm} makes no change to the model's score on test subjects in {g} that the audit "
                             f"can detect: {figures}.")
        changes, directions = _change_sentences(tables, norm, norm, power)
        lines += changes
        raised = [t["diff"] > 0 for _, t in paired.iterrows() if _supported(t["p_holm"], power)]
        if any(d.startswith("widens") for d in directions) and raised and all(raised):
            lines.append(f"So {norm} raises the scores but widens the difference between groups: a higher mean is not "
                         "a fairer model.")
    return lines


def _trained_sentences(tables: AuditTables, power: Power) -> list[str]:
    norms = _normalizers(tables)
    several = len(norms) > 1
    base = headline(tables, BASELINE) if BASELINE in norms else None
    lines = []
    if base is not None:
        who = "Without normalization (none), t" if several else "T"
        for r in base.itertuples():
            if r.test_group != "all":
                lines.append(_gap_sentence(r, f"{who}esting on {r.test_group}: ", "models trained on other groups "
                                           f"score {{points}} {{lower}} than models trained within {r.test_group}",
                                           power))
        for r in base[base["test_group"] == "all"].itertuples():
            lines.append(_gap_sentence(r, f"{'Without normalization (none), o' if several else 'O'}verall, ",
                                       "within-group models score {points} {higher} than cross-group models", power,
                                       _basis(r.subjects, r.repetitions)))
        who = "Without normalization (none), " if several else ""
        lines += [s[0].upper() + s[1:] for s in _disparity_sentences(tables, BASELINE, who, power)]
    means = condition_means(tables.conditions)
    for norm in norms:
        if norm == BASELINE or base is None:
            continue
        label = _label(norm, tables.ceiling)
        h = headline(tables, norm)
        o_new, o_old = h[h["test_group"] == "all"], base[base["test_group"] == "all"]
        if not (len(o_new) and len(o_old)):
            continue
        old, new = o_old.iloc[0], o_new.iloc[0]
        tests = tables.tests
        change = tests[(tests["comparison"] == f"{norm} vs none (gap change)") & (tests["test"] == CROSSED_TEST)]
        if len(change):
            c = change.iloc[0]
            line, gap_word = _change_clause(label, "the overall generalization gap", old.gap, new.gap, c["diff"],
                                            c["ci_low"], c["ci_high"], c["p"], c["p_holm"], power)
        else:
            line, gap_word = (f"{label}: overall generalization gap {_pts(old.gap)} points without normalization, "
                              f"{_pts(new.gap)} with it (no test of the change).", "")
        lines.append(f"{line} The mean score over all conditions goes from {100 * means.loc[BASELINE, 'all']:.1f} to "
                     f"{100 * means.loc[norm, 'all']:.1f}.")
        changes, directions = _change_sentences(tables, norm, norm, power)
        lines += changes
        widens = any(d.startswith("widens") for d in directions)
        narrows = any(d.startswith("narrows") for d in directions)
        if gap_word.startswith("narrows") and widens:
            lines.append(f"So {norm} narrows the generalization gap but widens the difference between test groups: "
                         "it does not make the model fairer to the group that scores lower.")
        elif gap_word.startswith("widens") and narrows:
            lines.append(f"So {norm} narrows the difference between test groups but widens the generalization gap.")
    for r in ceiling_shares(tables.conditions, tables.ceiling).itertuples():
        if r.share_cross != r.share_cross or r.share_all != r.share_all:
            lines.append(f"The ceiling ({r.ceiling}) gains nothing over none here, so no share of its gain can be "
                         f"given for {r.normalizer}.")
            continue
        lines.append(f"{r.normalizer} reaches {100 * r.share_cross:.0f} % of {r.ceiling}'s gain in cross-group score "
                     f"and {100 * r.share_all:.0f} % of its gain in the mean over all conditions.")
    return lines


def summary_sentences(tables: AuditTables, run: dict) -> list[str]:
    """Plain-language findings: the run's caveats, then gaps, disparities and what each normalizer changes in both."""
    power = power_of(tables, run)
    lines = power_sentences(power)
    lines += _test_only_sentences(tables, power) if is_test_only(tables) else _trained_sentences(tables, power)
    return lines + _missed_sentences(run)
