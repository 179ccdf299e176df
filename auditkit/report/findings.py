"""The report's plain-language findings: each tested group's gap, the disparity between test groups, what each
normalizer changes in both (saying so when it narrows one and widens the other), the ceiling's share, and the
caveats of an underpowered run. The terminal, report.html and summary.md print these same sentences."""

from __future__ import annotations

import pandas as pd

from auditkit.disparities import ALL_AUS
from auditkit.normalizers.base import BASELINE
from auditkit.report.power import Power, power_of, power_sentences
from auditkit.report.tables import CEILING, AuditTables, ceiling_shares, condition_means, headline, is_test_only
from auditkit.stats import SUBJECT_PAIRED_TEST, format_p


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


def _pair_sentence(r: pd.Series, who: str, power: Power) -> str:
    """'Test subjects in A score 4.3 points lower than in B (...)' for one pair of groups."""
    word = "higher" if r["difference"] >= 0 else "lower"
    return (f"{who}test subjects in {r['group_a']} score {_points(r['difference'])} {word} than those in "
            f"{r['group_b']} ({100 * r['score_a']:.1f} vs {100 * r['score_b']:.1f}; difference "
            f"{_pts(r['difference'])}, 95% CI {_pts(r['difference_ci_low'])} to "
            f"{_pts(r['difference_ci_high'])}; {_evidence(r['p'], r['p_holm'], power, 'permutation')}).")


def _adjusted_row(table: pd.DataFrame, norm: str, comparison: str) -> pd.Series | None:
    """The equal-base-rate row of one normalizer and pair, if the audit has one."""
    if table.empty:
        return None
    hit = table[(table["normalizer"] == norm) & (table["comparison"] == comparison)]
    return hit.iloc[0] if len(hit) else None


def _adjusted_sentence(r: pd.Series, power: Power) -> str:
    """'Their AU base rates differ (...); at equal base rates the difference is ...' for one pair of groups."""
    return (f"Test subjects in {r['group_a']} show AUs in {100 * r['base_rate_a']:.1f} % of coded frames, those in "
            f"{r['group_b']} in {100 * r['base_rate_b']:.1f} %, and F1 depends on how often an AU occurs; at equal "
            f"base rates (each subject's hit and false-alarm rates rescored at the pooled rate) the difference is "
            f"{_pts(r['difference'])} points (95% CI "
            f"{_pts(r['difference_ci_low'])} to {_pts(r['difference_ci_high'])}; "
            f"{_evidence(r['p'], r['p_holm'], power, 'permutation')}).")


def _disparity_sentences(tables: AuditTables, norm: str, who: str, power: Power) -> list[str]:
    pairs = tables.disparity_summary
    pairs = pairs[(pairs["normalizer"] == norm) & (pairs["au"] == ALL_AUS)]
    lines = []
    for _, r in pairs.iterrows():
        lines.append(_pair_sentence(r, who, power))
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


def _change_sentences(tables: AuditTables, norm: str, label: str, power: Power) -> tuple[list[str], list[str]]:
    """Sentences on how `norm` changes each between-group difference, and the direction word of each pair."""
    ch = tables.disparity_changes
    ch = ch[(ch["normalizer"] == norm) & (ch["au"] == ALL_AUS)]
    lines, directions = [], []
    for _, c in ch.iterrows():
        d = _direction(c["difference_baseline"], c["difference"])
        directions.append(d)
        lines.append(f"{label} {d} the difference between test subjects in {c['group_a']} and {c['group_b']}: "
                     f"{_pts(c['difference_baseline'])} points without normalization, "
                     f"{_pts(c['difference'])} with it (change {_pts(c['change'])}, 95% CI "
                     f"{_pts(c['change_ci_low'])} to {_pts(c['change_ci_high'])}; "
                     f"{_evidence(c['p'], c['p_holm'], power, 'permutation')}).")
        a = _adjusted_row(tables.adjusted_changes, norm, c["comparison"])
        if a is not None:
            lines.append(f"At equal base rates: {_pts(a['difference_baseline'])} points without normalization, "
                         f"{_pts(a['difference'])} with {label} (change {_pts(a['change'])}, 95% CI "
                         f"{_pts(a['change_ci_low'])} to {_pts(a['change_ci_high'])}; "
                         f"{_evidence(a['p'], a['p_holm'], power, 'permutation')}).")
    return lines, directions


def _missed_sentences(run: dict) -> list[str]:
    """Test-only audits: how much more often the tool dropped one group's frames than another's."""
    lines = []
    for t in (run.get("missed_frames") or {}).get("tests", []):
        if t.get("p") is None or t["p"] != t["p"]:
            continue
        a, b = t["comparison"].split(" vs ", 1)
        lines.append(f"The tool gave no prediction for {100 * t['mean_a']:.1f} % of the frames of subjects in {a} and "
                     f"{100 * t['mean_b']:.1f} % in {b} (p = {format_p(t['p'])}, Holm {format_p(t['p_holm'])}): frames it "
                     "drops are frames its users are never served.")
    return lines


def _label(norm: str) -> str:
    return f"{norm} (the ceiling: a perfect normalizer from the synthetic ground truth)" if norm == CEILING else norm


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
        paired = tests[(tests["normalizer"] == norm) & (tests["test"] == SUBJECT_PAIRED_TEST)]
        for _, t in paired.iterrows():
            g = t["test_group"]
            word = "raises" if t["diff"] >= 0 else "lowers"
            lines.append(f"{norm} {word} the model's score on test subjects in {g} from {100 * cond[(BASELINE, g)]:.1f} "
                         f"to {100 * cond[(norm, g)]:.1f} (paired on the same subjects; "
                         f"{_evidence(t['p'], t['p_holm'], power)}).")
        changes, directions = _change_sentences(tables, norm, norm, power)
        lines += changes
        mean_change = paired["diff"].mean() if len(paired) else float("nan")
        if any(d.startswith("widens") for d in directions) and mean_change > 0:
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
            if r.test_group == "all":
                continue
            direction = "lower" if r.gap >= 0 else "higher"
            lines.append(f"{who}esting on {r.test_group}: models trained on other groups score {_points(r.gap)} "
                         f"{direction} than models trained within {r.test_group} (gap {_pts(r.gap)}; "
                         f"{_evidence(r.p, r.p_holm, power)}; Hedges' g = {r.hedges_g:.2f}).")
        overall = base[base["test_group"] == "all"]
        if len(overall):
            o = overall.iloc[0]
            word = "higher" if o.gap >= 0 else "lower"
            lines.append(f"{'Without normalization (none), o' if several else 'O'}verall, within-group models score "
                         f"{_points(o.gap)} {word} than cross-group models (gap {_pts(o.gap)}, 95% CI "
                         f"{_pts(o.ci_low)} to {_pts(o.ci_high)}; {_evidence(o.p, o.p_holm, power)}).")
        who = "Without normalization (none), " if several else ""
        lines += [s[0].upper() + s[1:] for s in _disparity_sentences(tables, BASELINE, who, power)]
    means = condition_means(tables.conditions)
    for norm in norms:
        if norm == BASELINE or base is None:
            continue
        label = _label(norm)
        h = headline(tables, norm)
        o_new, o_old = h[h["test_group"] == "all"], base[base["test_group"] == "all"]
        if not (len(o_new) and len(o_old)):
            continue
        old, new = o_old.iloc[0], o_new.iloc[0]
        gap_word = _direction(old.gap, new.gap)
        lines.append(f"{label} {gap_word} the overall generalization gap: {_pts(old.gap)} points without "
                     f"normalization, {_pts(new.gap)} with it ({_evidence(new.p, new.p_holm, power, 'its gap test')}); "
                     f"the mean score over all conditions goes from {100 * means.loc[BASELINE, 'all']:.1f} to "
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
    for r in ceiling_shares(tables.conditions).itertuples():
        if r.share_cross != r.share_cross or r.share_all != r.share_all:
            lines.append(f"The oracle gains nothing over none here, so no share of its gain can be given for "
                         f"{r.normalizer}.")
            continue
        lines.append(f"{r.normalizer} reaches {100 * r.share_cross:.0f} % of the oracle's gain in cross-group score "
                     f"and {100 * r.share_all:.0f} % of its gain in the mean over all conditions.")
    return lines


def summary_sentences(tables: AuditTables, run: dict) -> list[str]:
    """Plain-language findings: the run's caveats, then gaps, disparities and what each normalizer changes in both."""
    power = power_of(tables, run)
    lines = power_sentences(power)
    lines += _test_only_sentences(tables, power) if is_test_only(tables) else _trained_sentences(tables, power)
    return lines + _missed_sentences(run)
