"""The report's plain-language findings: each tested group's gap, what each normalizer changes, the ceiling's share."""

from __future__ import annotations

from auditkit.normalizers.base import BASELINE
from auditkit.report.tables import CEILING, AuditTables, ceiling_shares, condition_means, format_share, headline
from auditkit.stats import format_p


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


def summary_sentences(tables: AuditTables, run: dict) -> list[str]:
    """Plain-language findings: each tested group's gap, and how each normalizer changes it."""
    lines = []
    if (tables.conditions["condition"] == "test-only").all():
        means = tables.conditions.set_index("test_group")["score"]
        for r in tables.tests.itertuples():
            a, b = r.comparison.split(" vs ", 1)
            word = "higher" if r.diff >= 0 else "lower"
            lines.append(f"Subjects in {a} score {abs(100 * r.diff):.1f} points {word} than subjects in {b} "
                         f"({100 * means[a]:.1f} vs {100 * means[b]:.1f}; p = {format_p(r.p)}, Holm {format_p(r.p_holm)}; "
                         f"Hedges' g = {r.hedges_g:.2f}).")
        return lines + _missed_sentences(run)
    norms = list(dict.fromkeys(tables.conditions["normalizer"]))
    base = headline(tables, BASELINE) if BASELINE in norms else None
    # with several normalizers, say which one the baseline sentences describe
    who = "Without normalization (none), t" if len(norms) > 1 else "T"
    if base is not None:
        for r in base.itertuples():
            if r.test_group == "all":
                continue
            direction = "lower" if r.gap >= 0 else "higher"
            lines.append(f"{who}esting on {r.test_group}: models trained on other groups score {abs(100 * r.gap):.1f} points "
                         f"{direction} than models trained within {r.test_group} (p = {format_p(r.p)}, "
                         f"Holm {format_p(r.p_holm)}; Hedges' g = {r.hedges_g:.2f}).")
        overall = base[base["test_group"] == "all"]
        if len(overall):
            o = overall.iloc[0]
            lines.append(f"{'Without normalization (none), o' if len(norms) > 1 else 'O'}verall, within-group models score "
                         f"{100 * o.gap:+.1f} points relative to cross-group models "
                         f"(95% CI {100 * o.ci_low:+.1f} to {100 * o.ci_high:+.1f}; p = {format_p(o.p)}).")
    means = condition_means(tables.conditions)
    for norm in norms:
        if norm == BASELINE or base is None:
            continue
        h = headline(tables, norm)
        o_new, o_old = h[h["test_group"] == "all"], base[base["test_group"] == "all"]
        if len(o_new) and len(o_old):
            label = f"{norm} (the ceiling: a perfect normalizer from the synthetic ground truth)" if norm == CEILING else norm
            lines.append(f"{label} changes the overall gap from {100 * o_old.iloc[0].gap:+.1f} to "
                         f"{100 * o_new.iloc[0].gap:+.1f} points, and the mean score over all conditions from "
                         f"{100 * means.loc[BASELINE, 'all']:.1f} to {100 * means.loc[norm, 'all']:.1f}.")
    for r in ceiling_shares(tables.conditions).itertuples():
        lines.append(f"{r.normalizer} reaches {format_share(r.share_cross)} of the oracle's gain in cross-group score "
                     f"and {format_share(r.share_all)} of its gain in the mean over all conditions.")
    return lines
