"""The report's sections as registered pieces: each gives its summary.json value, its summary.md lines and, in
`reports/templates/sections/<key>.html.j2` (or as `html` source when registered from outside auditkit), its HTML
block, which sees the value as `value`. A new section is one function here plus that block.

Sections appear in registration order in report.html and summary.md; a section whose value is empty is left out.
Each section belongs to one kind of report: `audit` (every audit kind's report.html) or `compare` (`auditkit
compare`, report/comparison_report.py), which share this mechanism and its three outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from auditkit.report.findings import summary_sentences
from auditkit.report.methods import methods as methods_of
from auditkit.report.provenance import provenance as provenance_of
from auditkit.report.tables import AuditTables, ceiling_shares, group_ceiling_shares
from auditkit.report.text import md, num, pct, signed
from auditkit.stats import CI_NOTE, HOLM_NOTE, format_p, test_descriptions
from auditkit.stats.disparities import ALL_AUS, MIN_SUBJECTS, RATIO_BAND


@dataclass
class ReportContext:
    """What every section may read: the audit's tables, its run record and its directory."""

    out: Path
    run: dict
    tables: AuditTables

    @property
    def config(self) -> dict:
        """run.json's config."""
        return self.run.get("config", {})


@dataclass(frozen=True)
class Section:
    """One registered section: `build` gives its value (JSON-ready, scores as fractions), `markdown` its summary.md
    lines; `percent` names the fields summary.json gives in percent ("" for the value itself when it is a list, or
    a key of the value); `in_summary` False keeps a bulky, HTML-only value out of summary.json; `html` is the block's
    Jinja source for sections that do not ship a template file."""

    key: str
    build: Callable[[ReportContext], Any]
    markdown: Callable[[Any], list[str]] | None = None
    percent: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_summary: bool = True
    html: str | None = None
    report: str = "audit"


SECTIONS: list[Section] = []


def register_section(key: str, markdown: Callable[[Any], list[str]] | None = None,
                     percent: dict[str, tuple[str, ...]] | None = None,
                     in_summary: bool = True, html: str | None = None,
                     report: str = "audit") -> Callable[[Callable[[Any], Any]], Callable]:
    """Decorator: register `build(context) -> value` as the section `key` of the `report` kind ("audit" or
    "compare"; its HTML block: sections/<key>.html.j2)."""
    if any(s.key == key for s in SECTIONS):
        raise ValueError(f"a report section {key!r} is already registered")

    def add(build: Callable[[ReportContext], Any]) -> Callable[[ReportContext], Any]:
        SECTIONS.append(Section(key, build, markdown, percent or {}, in_summary, html, report))
        return build
    return add


def records(df: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready records (NaN as None)."""
    return json.loads(df.to_json(orient="records"))


def _findings_md(lines: list[str]) -> list[str]:
    return ["## Findings", ""] + [f"- {md(s)}" for s in lines]


@register_section("findings", markdown=_findings_md)
def findings(ctx: ReportContext) -> list[str]:
    """Plain-language findings (report/findings.py)."""
    return summary_sentences(ctx.tables, ctx.run)


def _methods_md(items: list[dict]) -> list[str]:
    return ["## Methods and limitations", ""] + [f"- **{item['topic']}**: {md(item['text'])}" for item in items]


@register_section("methods", markdown=_methods_md)
def methods(ctx: ReportContext) -> list[dict]:
    """What was audited, on which data and groups, how it was scored and tested, and what it cannot show."""
    return methods_of(ctx.run, ctx.tables)


@register_section("charts", in_summary=False)
def charts(ctx: ReportContext) -> bool:
    """The figures' places (the figures themselves travel in the page's script)."""
    return True


def _conditions_md(rows: list[dict]) -> list[str]:
    lines = ["## Scores (Table 5)", "",
             "| normalizer | condition | train → test | score | std | F1 | accuracy | subjects | repetitions |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {md(r['normalizer'])} | {md(r['condition'])} | {md(r['train_group'])} → {md(r['test_group'])} | "
            f"{pct(r['score'])} | {pct(r['std'])} | {pct(r['f1'])} | {pct(r['accuracy'])} | {r['subjects']} | "
            f"{r['repetitions']} |"
        )
    return lines


@register_section("conditions", markdown=_conditions_md, percent={"": ("score", "std", "sem", "f1", "accuracy")})
def conditions(ctx: ReportContext) -> list[dict]:
    """The paper's Table 5 for this audit."""
    return records(ctx.tables.conditions)


COVERAGE_PERCENT = {"groups": ("missed_share",), "tests": ("mean_a", "mean_b", "diff", "ci_low", "ci_high")}


def _coverage_md(title: str) -> Callable[[dict], list[str]]:
    def lines_of(coverage: dict) -> list[str]:
        if not coverage.get("groups"):
            return []
        lines = [
            f"## {title}",
            "",
            "| group | subjects | frames | missed | mean missed share |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {md(g['group'])} | {g['subjects']} | {g['frames']} | {g['missed']} | {pct(g['missed_share'])} % |"
                  for g in coverage["groups"]]
        lines += [f"- {md(t['comparison'])}: difference {pct(t['diff'])} points, p = {format_p(t['p'])}"
                  for t in coverage.get("tests", [])]
        never = coverage.get("not_run") or {}
        if never.get("subjects") or never.get("sequences"):
            lines.append(f"- No predictions at all for {never['subjects']} subject(s) and {never['sequences']} further "
                         "sequence(s): never run, so neither scored nor counted as missed.")
        if coverage.get("sources"):
            lines.append(f"- Source datasets in scope: {', '.join(md(s) for s in coverage['sources'])}.")
        return lines
    return lines_of


@register_section("missed_frames", markdown=_coverage_md("Frames the tool never served"), percent=COVERAGE_PERCENT)
def missed_frames(ctx: ReportContext) -> dict:
    """Test-only audits of a tool's predictions: per group, the frames it gave no prediction for."""
    return ctx.run.get("missed_frames") or {}


@register_section("ingest_losses", markdown=_coverage_md("Frames lost at ingest (no face found)"),
                  percent=COVERAGE_PERCENT)
def ingest_losses(ctx: ReportContext) -> dict:
    """Ingested data: per group, the labelled frames the face detector found no face in."""
    return ctx.run.get("ingest_losses") or {}


def _disparities_md(disparities: dict) -> list[str]:
    groups = [g for g in disparities["groups"] if g["au"] == ALL_AUS]
    if not groups:
        return []
    low, high = disparities["ratio_band"]
    lines = [
        "## Disparities between test groups (all AUs)",
        "",
        f"Each subject scored by one model of every group (gap audits: the balanced repetitions); 95% CIs count "
        f"people and trainings; "
        f"**!** = a ratio outside [{low}, {high}]; *small* = under {disparities['min_subjects']} subjects.",
        "",
        "| normalizer | group | subjects | score [95% CI] | F1 | accuracy | base rate | − best | ÷ best | ÷ overall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        mark = (" **!**" if g["outside_band"] else "") + (" *small*" if g["small"] else "")
        lines.append(f"| {md(g['normalizer'])} | {md(g['test_group'])}{mark} | {g['subjects']} | {pct(g['score'])} "
                     f"[{pct(g['score_ci_low'])}, {pct(g['score_ci_high'])}] | {pct(g['f1'])} | "
                     f"{pct(g['accuracy'])} | {pct(g['base_rate'])} % | {signed(g['diff_to_best'])} | "
                     f"{num(g['ratio_to_best'])} | {num(g['ratio_to_overall'])} |")
    lines += ["", "Between groups: the signed difference of the two groups' mean subject scores (points), its 95% CI "
              "and p for no difference, both counting people and trainings (the subject x training test; Holm over "
              "the pairs of one normalizer). Range (largest - smallest group) and min ratio are descriptive only.", "",
              "| normalizer | comparison | difference [95% CI] | p | p (Holm) | range | min ratio |",
              "|---|---|---|---|---|---|---|"]
    for r in disparities["summary"]:
        if r["au"] != ALL_AUS:
            continue
        flag = f" (outside [{low}, {high}])" if r["outside_band"] else ""
        lines.append(f"| {md(r['normalizer'])} | {md(r['comparison'])} | {signed(r['difference'])} "
                     f"[{signed(r['difference_ci_low'])}, {signed(r['difference_ci_high'])}] | {format_p(r['p'])} | "
                     f"{format_p(r['p_holm'])} | {pct(r['range'])} | {num(r['min_ratio'])}{flag} |")
    adjusted = disparities.get("adjusted") or []
    if adjusted:
        lines += ["", "Prevalence-calibrated, a secondary view (Siblini et al., 2020; auditkit.stats.base_rates: each "
                  "subject's hit and false-alarm rates per AU rescored at the AU's pooled base rate, assuming those "
                  "rates do not depend on the base rate; the headline is the difference as scored above):",
                  "", "| normalizer | comparison | base rates | difference [95% CI] | p | p (Holm) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {md(r['normalizer'])} | {md(r['comparison'])} | {pct(r['base_rate_a'])} % / "
                  f"{pct(r['base_rate_b'])} % | {signed(r['difference'])} [{signed(r['difference_ci_low'])}, "
                  f"{signed(r['difference_ci_high'])}] | {format_p(r['p'])} | {format_p(r['p_holm'])} |"
                  for r in adjusted]
    changes = [c for c in disparities.get("changes", []) if c["au"] == ALL_AUS]
    if changes:
        lines += ["", "How each normalizer changes the difference (paired on the same subjects and repetitions, "
                  "subject x training test; Holm over all rows):",
                  "", "| normalizer | comparison | none | with normalizer | change [95% CI] | p | p (Holm) |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {md(c['normalizer'])} | {md(c['comparison'])} | {signed(c['difference_baseline'])} | "
                  f"{signed(c['difference'])} | {signed(c['change'])} [{signed(c['change_ci_low'])}, "
                  f"{signed(c['change_ci_high'])}] | {format_p(c['p'])} | {format_p(c['p_holm'])} |" for c in changes]
        lines += [f"| {md(c['normalizer'])} (prevalence-calibrated) | {md(c['comparison'])} | "
                  f"{signed(c['difference_baseline'])} | {signed(c['difference'])} | {signed(c['change'])} "
                  f"[{signed(c['change_ci_low'])}, {signed(c['change_ci_high'])}] | {format_p(c['p'])} | "
                  f"{format_p(c['p_holm'])} |" for c in disparities.get("adjusted_changes") or []]
    return lines


@register_section("disparities", markdown=_disparities_md,
                  percent={"groups": ("base_rate", "score", "score_ci_low", "score_ci_high", "f1", "accuracy",
                                      "diff_to_best", "diff_to_overall"),
                           "summary": ("overall", "score_a", "score_b", "difference", "difference_ci_low",
                                       "difference_ci_high", "range"),
                           "changes": ("difference_baseline", "difference", "change", "change_ci_low",
                                       "change_ci_high", "se"),
                           "adjusted": ("score_a", "score_b", "difference", "difference_ci_low", "difference_ci_high",
                                        "base_rate_a", "base_rate_b"),
                           "adjusted_changes": ("difference_baseline", "difference", "change", "change_ci_low",
                                                "change_ci_high", "se")})
def disparities(ctx: ReportContext) -> dict:
    """fairlearn-style disparities between test groups, per normalizer and AU (and all AUs), and each pair's test."""
    return {"groups": records(ctx.tables.disparity_groups), "summary": records(ctx.tables.disparity_summary),
            "changes": records(ctx.tables.disparity_changes), "adjusted": records(ctx.tables.adjusted_summary),
            "adjusted_changes": records(ctx.tables.adjusted_changes),
            "ratio_band": list(RATIO_BAND), "min_subjects": MIN_SUBJECTS}


def _error_rates_md(value: dict) -> list[str]:
    groups, diffs = value["groups"], [d for d in value["differences"] if d["au"] == ALL_AUS]
    lines = [
        "## Error rates per test group (equalized odds, all AUs)",
        "",
        "Hit rate (true-positive rate) and false-alarm rate (false-positive rate) per group, each subject's "
        "rate averaged over the AUs where it is defined; 95% CIs and p count people and trainings; Holm over "
        "the pairs and both rates of one normalizer. Per-AU rows are in summary.json.",
        "",
        "| normalizer | group | subjects | hit rate [95% CI] | false-alarm rate [95% CI] |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {md(g['normalizer'])} | {md(g['test_group'])} | {g['subjects']} | {pct(g['hit_rate'])} % "
              f"[{pct(g['hit_rate_ci_low'])}, {pct(g['hit_rate_ci_high'])}] | {pct(g['false_alarm_rate'])} % "
              f"[{pct(g['false_alarm_rate_ci_low'])}, {pct(g['false_alarm_rate_ci_high'])}] |" for g in groups]
    lines += ["", "| normalizer | comparison | rate | A | B | difference [95% CI] | p | p (Holm) | equalized-odds "
              "difference |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {md(d['normalizer'])} | {md(d['comparison'])} | {d['rate'].replace('_', ' ')} | "
              f"{pct(d['value_a'])} % | {pct(d['value_b'])} % | {signed(d['difference'])} "
              f"[{signed(d['difference_ci_low'])}, {signed(d['difference_ci_high'])}] | {format_p(d['p'])} | "
              f"{format_p(d['p_holm'])} | {pct(d['equalized_odds_difference'])} |" for d in diffs]
    return lines


@register_section("error_rates", markdown=_error_rates_md,
                  percent={"groups": ("hit_rate", "hit_rate_ci_low", "hit_rate_ci_high", "false_alarm_rate",
                                      "false_alarm_rate_ci_low", "false_alarm_rate_ci_high"),
                           "differences": ("value_a", "value_b", "difference", "difference_ci_low",
                                           "difference_ci_high", "equalized_odds_difference")})
def error_rates(ctx: ReportContext) -> dict:
    """Hit and false-alarm rates per test group (all AUs, and per AU in summary.json) and their differences."""
    if ctx.tables.error_rates.empty:
        return {}
    return {"groups": records(ctx.tables.error_rates), "differences": records(ctx.tables.error_rate_differences)}


def _ceiling_md(rows: list[dict]) -> list[str]:
    top = rows[0]["ceiling"] if rows else "ceiling"
    lines = ["## Share of the ceiling", "",
             f"Gain over `none` as a share of `{top}`'s gain (the ceiling: a normalizer that sees the ground truth, "
             f"the perfect one the synthetic data allows): (N - none) / ({top} - none).", "",
             f"| normalizer | cross score | share of {top}'s cross gain | mean score | share of {top}'s mean gain |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {md(r['normalizer'])} | {pct(r['cross'])} | {pct(r['share_cross'], 0)} % | {pct(r['all'])} | "
                     f"{pct(r['share_all'], 0)} % |")
    return lines


@register_section("ceiling", markdown=_ceiling_md,
                  percent={"": ("cross", "all", "share_cross", "share_all")})
def ceiling(ctx: ReportContext) -> list[dict]:
    """Each normalizer's share of the oracle's gain (synthetic data with `oracle` and `none` in the audit)."""
    return records(ceiling_shares(ctx.tables.conditions, ctx.tables.ceiling))


def _ceiling_groups_md(rows: list[dict]) -> list[str]:
    top = rows[0]["ceiling"] if rows else "ceiling"
    lines = ["## Share of the ceiling per test group", "",
             f"Cross-group score on each test group under none, the normalizer and {top}, and the normalizer's "
             f"share of {top}'s gain on that group: a normalizer can serve one group far better than another.", "",
             f"| normalizer | test group | none | normalizer | {top} | share |", "|---|---|---|---|---|---|"]
    lines += [f"| {md(r['normalizer'])} | {md(r['test_group'])} | {pct(r['none'])} | {pct(r['cross'])} | "
              f"{pct(r['ceiling_score'])} | {pct(r['share_cross'], 0)} % |" for r in rows]
    return lines


@register_section("ceiling_groups", markdown=_ceiling_groups_md,
                  percent={"": ("cross", "none", "ceiling_score", "share_cross")})
def ceiling_groups(ctx: ReportContext) -> list[dict]:
    """Each normalizer's share of the oracle's cross-group gain per test group (group splits with none and oracle)."""
    rows = group_ceiling_shares(ctx.tables.conditions, ctx.tables.ceiling)
    return records(rows) if rows["test_group"].nunique() > 1 else []


def _tests_md(rows: list[dict]) -> list[str]:
    lines = ["## Tests", "", "| comparison | normalizer | test | difference | 95% CI | p | p (Holm) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {md(r['comparison'])} | {md(r['normalizer'])} | {md(r['test'])} | {signed(r['diff'])} | "
                     f"[{signed(r.get('ci_low'))}, {signed(r.get('ci_high'))}] | {format_p(r['p'])} | "
                     f"{format_p(r.get('p_holm'))} |")
    return lines + ["", f"- {HOLM_NOTE}", f"- {CI_NOTE}"] + [f"- {n}: {t}" for n, t in test_descriptions().items()]


@register_section("tests", markdown=_tests_md,
                  percent={"": ("mean_a", "mean_b", "diff", "ci_low", "ci_high", "se", "detectable")})
def tests(ctx: ReportContext) -> list[dict]:
    """Every registered test of every registered comparison, Holm-corrected (stats.gap_tests)."""
    return records(ctx.tables.tests)


@register_section("per_subject", in_summary=False)
def per_subject(ctx: ReportContext) -> list[dict]:
    """Each test subject's mean score per condition (HTML only: summary.json keeps the aggregate tables)."""
    keys = ["subject", "normalizer", "condition", "train_group", "test_group"]
    table = ctx.tables.scores.groupby(keys)["score"].agg(["mean", "count"]).reset_index().sort_values("mean")
    return table.to_dict("records")


def _provenance_md(value: dict) -> list[str]:
    lines = ["## Provenance", ""]
    if value["note"]:
        lines += [f"Caution: {md(value['note'])}", ""]
    for env in value["environments"]:
        made = f" ({env['trainings']} {value['unit']})" if env["trainings"] is not None else ""
        lines += [
            f"- **Environment {env['id']}**{made}: auditkit {md(env['auditkit'])}, revision "
            f"{md(env['revision'])}; {md(env['libraries'])}; CPU {md(env['cpu'])} ({env['cpus']} cores, "
            f"instruction-set digest {env['cpu_flags'] or 'unknown'}), {md(env['platform'])}; classifier "
            f"runtime: {md(env['classifier_runtime'] or 'not applicable')}"
            + (f"; kernels built by {md(env['compiler'])} with `{env['build_flags']}`" if env["compiler"] else "")
        ]
    if value["unrecorded"]:
        lines.append(f"- Results rows name environments run.json does not describe: {', '.join(value['unrecorded'])}.")
    if value["code"]:
        lines.append("- Code versions (bumped whenever a change can change results): "
                     + ", ".join(f"{md(k)} {v}" for k, v in value["code"].items()) + ".")
    return lines


@register_section("provenance", markdown=_provenance_md)
def provenance(ctx: ReportContext) -> dict:
    """What made the numbers: versions, revision, code versions and every environment (machine, runtime) used."""
    return provenance_of(ctx.run, ctx.tables.made_by)


def sections_of(report: str = "audit") -> list[Section]:
    """The sections of one kind of report, in registration order (read at call time: later registrations count)."""
    return [s for s in SECTIONS if s.report == report]


def percent_fields(report: str = "audit") -> dict[str, tuple[str, ...]]:
    """summary.json's fields in percent, as paths into the summary ("a.b": the list at summary["a"]["b"])."""
    return {(s.key if rel == "" else f"{s.key}.{rel}"): fields for s in sections_of(report) if s.in_summary
            for rel, fields in s.percent.items()}
