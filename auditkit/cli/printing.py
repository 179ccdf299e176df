"""How the commands print tables and findings in the terminal (80 columns)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from auditkit.cli.base import console


def _fmt_p(p: float) -> str:
    from auditkit.stats import format_p

    return format_p(p, compact=True)


def _compact(title: str, columns: list[tuple[str, str]], caption: str | None = None) -> Table:
    """A table that reads at 80 columns: light rules, numbers never wrapped, long names folded rather than cut."""
    table = Table(
        title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
        title_justify="left", caption_justify="left",
    )
    for name, just in columns:
        numeric = just == "right"
        table.add_column(name, justify=just, no_wrap=numeric, overflow="fold")
    return table


def print_summary(tables) -> None:
    """Terminal version of the paper's Table 5 plus the gap tests, readable at 80 columns."""
    from auditkit.report.tables import ceiling_shares, format_share, headline
    from auditkit.stats import ALPHA, CI_NOTE

    cond = tables.conditions
    for norm in cond["normalizer"].unique():
        table = _compact(f"{norm}: score (mean of F1 and accuracy, %) per train -> test group",
                         [("cond.", "left"), ("train -> test", "left"), ("score ± sd", "right"), ("F1", "right"),
                          ("acc.", "right"), ("subj.", "right"), ("reps", "right")])
        rows = cond[cond["normalizer"] == norm].sort_values(["condition", "train_group", "test_group"], kind="stable")
        for r in rows.itertuples():
            table.add_row(r.condition, f"{r.train_group} -> {r.test_group}", f"{100 * r.score:.1f} ± {100 * r.std:.1f}",
                          f"{100 * r.f1:.1f}", f"{100 * r.accuracy:.1f}", str(r.subjects), str(r.repetitions))
        console.print(table)
    gaps = _compact("Generalization gap (within - cross, points). p: subject x training test; Holm: corrected per "
                    "normalizer; detect.: smallest gap detectable at 80% power; p paper: the paper's subject t-test; "
                    "g: Hedges' g; * significant after Holm",
                    [("normalizer", "left"), ("tested on", "left"), ("gap", "right"), ("95% CI", "right"),
                     ("p", "right"), ("Holm", "right"), ("detect.", "right"), ("p paper", "right"), ("g", "right")],
                    caption=CI_NOTE)
    for norm in cond["normalizer"].unique():
        for r in headline(tables, norm).itertuples():
            mark = "*" if r.p_holm < ALPHA else " "
            gaps.add_row(
                norm, r.test_group, f"{100 * r.gap:+.1f}{mark}", f"{100 * r.ci_low:+.1f}..{100 * r.ci_high:+.1f}",
                _fmt_p(r.p), _fmt_p(r.p_holm), _points_or_na(r.detectable), _fmt_p(r.p_paper), f"{r.hedges_g:.2f}",
            )
    console.print(gaps)
    shares = ceiling_shares(cond, tables.ceiling)
    if len(shares):
        top = tables.ceiling
        ceiling = _compact(f"Share of the ceiling: (normalizer - none) / ({top} - none); {top} = a perfect normalizer "
                           "from the ground truth",
                           [("normalizer", "left"), ("cross", "right"), ("share", "right"), ("mean", "right"),
                            ("share of mean", "right")])
        for r in shares.itertuples():
            ceiling.add_row(r.normalizer, f"{100 * r.cross:.1f}", format_share(r.share_cross), f"{100 * r.all:.1f}",
                            format_share(r.share_all))
        console.print(ceiling)


def _points_or_na(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}"


def print_disparities(tables) -> None:
    """Disparities between test groups (all AUs): each group's score with its 95% CI, ratio to the best group."""
    from auditkit.stats.disparities import ALL_AUS, MIN_SUBJECTS, RATIO_BAND

    groups = tables.disparity_groups
    groups = groups[groups["au"] == ALL_AUS]
    if groups.empty:
        return
    table = _compact(f"Disparities between test groups (all AUs; each subject scored by one model of every group). "
                     f"! = a ratio outside [{RATIO_BAND[0]}, {RATIO_BAND[1]}]; ~ = under {MIN_SUBJECTS} subjects",
                     [("norm.", "left"), ("group", "left"), ("subj.", "right"), ("score", "right"),
                      ("95% CI", "right"), ("base rate", "right"), ("-best", "right"), ("/best", "right"),
                      ("/overall", "right")])
    for r in groups.itertuples():
        mark = ("!" if r.outside_band else "") + ("~" if r.small else "")
        table.add_row(r.normalizer, f"{r.test_group}{mark}", str(r.subjects), f"{100 * r.score:.1f}",
                      f"{100 * r.score_ci_low:.1f}..{100 * r.score_ci_high:.1f}", f"{100 * r.base_rate:.1f} %",
                      f"{100 * r.diff_to_best:+.1f}", f"{r.ratio_to_best:.2f}", f"{r.ratio_to_overall:.2f}")
    console.print(table)
    summary = tables.disparity_summary
    console.print("Between groups: signed difference A - B of mean subject scores [95% CI], p (both counting people "
                  "and trainings; Holm over the pairs); range and min ratio are descriptive:")
    for r in summary[summary["au"] == ALL_AUS].itertuples():
        flag = f" outside [{RATIO_BAND[0]}, {RATIO_BAND[1]}]" if r.outside_band else ""
        console.print(f"  {r.normalizer}: {r.comparison}: difference {100 * r.difference:+.1f} "
                      f"[{100 * r.difference_ci_low:+.1f}, {100 * r.difference_ci_high:+.1f}] points, "
                      f"p = {_fmt_p(r.p)} (Holm {_fmt_p(r.p_holm)}); range {100 * r.range:.1f}, min ratio "
                      f"{r.min_ratio:.2f}{flag}", markup=False, highlight=False)
    for r in summary[summary["au"] == ALL_AUS].drop_duplicates("normalizer").itertuples():
        if r.small_groups:
            console.print(f"  warning: {r.small_groups}: fewer than {MIN_SUBJECTS} test subjects; "
                          "their values are unreliable", markup=False, highlight=False)
    changes = tables.disparity_changes
    for r in changes[changes["au"] == ALL_AUS].itertuples():
        console.print(f"  {r.normalizer} vs none: {r.comparison} difference {100 * r.difference_baseline:+.1f} -> "
                      f"{100 * r.difference:+.1f} points (change {100 * r.change:+.1f} [{100 * r.change_ci_low:+.1f}, "
                      f"{100 * r.change_ci_high:+.1f}], p = {_fmt_p(r.p)}, Holm {_fmt_p(r.p_holm)})",
                      markup=False, highlight=False)
    rates = tables.error_rates
    if len(rates):
        console.print("Error rates (equalized odds): hit rate and false-alarm rate per group [95% CI], all AUs:",
                      highlight=False)
        for r in rates.itertuples():
            console.print(f"  {r.normalizer}: {r.test_group}: hit rate {100 * r.hit_rate:.1f} % "
                          f"[{100 * r.hit_rate_ci_low:.1f}, {100 * r.hit_rate_ci_high:.1f}], false-alarm rate "
                          f"{100 * r.false_alarm_rate:.1f} % [{100 * r.false_alarm_rate_ci_low:.1f}, "
                          f"{100 * r.false_alarm_rate_ci_high:.1f}]", markup=False, highlight=False)
        diffs = tables.error_rate_differences
        for r in diffs[diffs["au"] == ALL_AUS].itertuples():
            name = "hit rate" if r.rate == "hit_rate" else "false-alarm rate"
            console.print(f"  {r.normalizer}: {r.comparison}: {name} difference {_tested(r)}", markup=False,
                          highlight=False)
    adjusted = tables.adjusted_summary
    if len(adjusted):
        console.print("Prevalence-calibrated (a secondary view: each subject's hit and false-alarm rates rescored at "
                      "every AU's pooled base rate, assuming those rates do not depend on the base rate):",
                      highlight=False)
        for r in adjusted.itertuples():
            console.print(f"  {r.normalizer}: {r.comparison} (base rates {100 * r.base_rate_a:.1f} % / "
                          f"{100 * r.base_rate_b:.1f} %): difference {_tested(r)}", markup=False, highlight=False)


def _tested(r: object) -> str:
    """'-7.2 [-13.4, -0.9] points, p = 0.028 (Holm 0.028)' for a row with a difference, its CI and p."""
    return (f"{100 * r.difference:+.1f} [{100 * r.difference_ci_low:+.1f}, {100 * r.difference_ci_high:+.1f}] points, "
            f"p = {_fmt_p(r.p)} (Holm {_fmt_p(r.p_holm)})")


def print_findings(tables, run: dict) -> None:
    """The report's plain-language findings (with an underpowered run's caveats), as report.html and summary.md say
    them."""
    from auditkit.report.findings import summary_sentences

    lines = summary_sentences(tables, run)
    if lines:
        console.print("Findings:", style="bold")
        for line in lines:
            console.print(f"- {line}", markup=False, highlight=False)


def print_coverage(title: str, coverage: dict) -> None:
    """Per group: frames never served (by a tool, or lost at ingest), mean share per subject, and the tests."""
    table = _compact(title, [("group", "left"), ("subjects", "right"), ("frames", "right"), ("missed", "right"),
                             ("share", "right")])
    for g in coverage.get("groups", []):
        table.add_row(str(g["group"]), str(g["subjects"]), str(g["frames"]), str(g["missed"]),
                      f"{100 * g['missed_share']:.1f} %")
    console.print(table)
    for t in coverage.get("tests", []):
        console.print(f"  {t['comparison']}: difference {100 * t['diff']:+.1f} points, p = {_fmt_p(t['p'])} "
                      f"(Holm {_fmt_p(t['p_holm'])})", markup=False, highlight=False)
    never = coverage.get("not_run") or {}
    if never.get("subjects") or never.get("sequences"):
        console.print(f"warning: no predictions for {never['subjects']} subject(s), {never['sequences']} sequence(s) "
                      "of tested subjects: never run, so neither scored nor counted as missed", markup=False,
                      highlight=False)
    if coverage.get("sources"):
        console.print(f"  source datasets in scope: {', '.join(coverage['sources'])}", markup=False, highlight=False)


def _print_test_only(tables) -> None:
    table = Table(title="Score (mean of F1 and accuracy, %) per tested group")
    for col in ("normalizer", "group", "score", "F1", "accuracy", "subjects"):
        table.add_column(col, justify="left" if col in ("normalizer", "group") else "right")
    for r in tables.conditions.itertuples():
        table.add_row(r.normalizer, r.test_group, f"{100 * r.score:.1f} ± {100 * r.std:.1f}", f"{100 * r.f1:.1f}",
                      f"{100 * r.accuracy:.1f}", str(r.subjects))
    console.print(table)
    for r in tables.tests.itertuples():
        effect = f"Hedges' g = {r.hedges_g:.2f}" if r.hedges_g == r.hedges_g else f"Cohen's d = {r.cohen_d:.2f}"
        console.print(f"[{r.normalizer}] {r.comparison}: {100 * r.diff:+.1f} points, p = {_fmt_p(r.p)} "
                      f"(Holm {_fmt_p(r.p_holm)}, {r.test}), {effect}")


def print_leaderboard(comparison) -> None:
    """The comparison's leaderboard at 80 columns, and what the models were paired on."""
    from auditkit.report.comparison_report import leaderboard

    rows = leaderboard(comparison)
    pair = rows[0]["comparison"]
    columns = [("#", "right"), ("model", "left"), ("score", "right")]
    if pair:
        columns += [(pair, "right"), ("p", "right")]
    columns.append(("missed", "right"))
    c = comparison.counts[0]
    table = _compact(f"{len(rows)} models on {c['shared_subjects']} shared subjects and {c['shared_aus']} shared AUs. "
                     "Score: mean of F1 and accuracy (%); difference between groups (points); [95% CI: people, and "
                     "trainings where models were trained]; p: test of the difference", columns)
    for r in rows:
        cells = [str(r["rank"]), r["model"],
                 f"{100 * r['score']:.1f} [{100 * r['score_ci_low']:.1f}, {100 * r['score_ci_high']:.1f}]"]
        if pair:
            cells += [f"{100 * r['difference']:+.1f} [{100 * r['difference_ci_low']:+.1f}, "
                      f"{100 * r['difference_ci_high']:+.1f}]", _fmt_p(r["p"])]
        cells.append(f"{100 * r['missed_share']:.1f} %" if r["missed_share"] is not None else "-")
        table.add_row(*cells)
    console.print(table)
    for c in comparison.counts:
        if c["subjects"] != c["shared_subjects"]:
            console.print(f"  {c['model']}: {c['subjects']} subjects scored, {c['shared_subjects']} shared by every "
                          "model", markup=False, highlight=False)
    scored = {c["model"]: set(comparison.aus) | set(c["aus_left_out"]) for c in comparison.counts}
    for au in sorted(set().union(*scored.values()) - set(comparison.aus)):
        lacking = [m for m, aus in scored.items() if au not in aus]
        console.print(f"  {au} left out: not scored by {', '.join(lacking)}", markup=False, highlight=False)
    diffs = comparison.tables.error_rate_differences
    if len(diffs):
        console.print("Error rates (equalized odds): each model's hit and false-alarm rate difference between "
                      "groups, points [95% CI], p (Holm):", highlight=False)
        for r in diffs.itertuples():
            name = "hit rate" if r.rate == "hit_rate" else "false-alarm rate"
            console.print(f"  {r.model}: {r.comparison}: {name} {100 * r.value_a:.1f} vs {100 * r.value_b:.1f} %, "
                          f"{100 * r.difference:+.1f} [{100 * r.difference_ci_low:+.1f}, "
                          f"{100 * r.difference_ci_high:+.1f}], p = {_fmt_p(r.p)} ({_fmt_p(r.p_holm)})",
                          markup=False, highlight=False)
