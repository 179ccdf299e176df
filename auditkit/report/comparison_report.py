"""The report of `auditkit compare`: report.html, summary.json and summary.md of several models side by side.

Its sections are registered like the audit report's (report/sections.py, kind "compare"), so each gives its
summary.json value, its summary.md lines and its HTML block (reports/templates/sections/<key>.html.j2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from auditkit import __version__
from auditkit.errors import AuditkitError
from auditkit.files import write_text_atomic
from auditkit.protocol.audit_dir import REPORT_FILE, RUN_FILE, SUMMARY_JSON, SUMMARY_MD
from auditkit.protocol.comparison import Comparison
from auditkit.report.figures import group_scores_figure, score_disparity_figure
from auditkit.report.methods import group_definition, is_synthetic
from auditkit.report.provenance import made_by, provenance
from auditkit.report.render import figure_json, in_percent, markdown_document, template_environment
from auditkit.report.sections import records, register_section, sections_of
from auditkit.report.text import md, pct, signed
from auditkit.stats import format_p
from auditkit.stats.metrics import F1_RULE_TEXT, THRESHOLD
from auditkit.stats.model_comparison import DISPARITY, OVERALL, headline_pair

REPORT = "compare"
# how a sentence names the attribute's disparity ("LibreFace's skin-type disparity ...")
ATTRIBUTE_WORDS = {"fitzpatrick": "skin-type", "dataset": "between-dataset", "gender": "gender", "age": "age"}
UNITS = ("scores, their differences, confidence intervals and missed-frame shares are in percent (points); p-values "
         "are unitless")


@dataclass
class CompareContext:
    """What every compare section may read: the comparison and the output directory."""

    out: Path
    comparison: Comparison


def attribute_words(attr: list[str]) -> str:
    """'skin-type' for fitzpatrick, 'gender × age' for an intersection."""
    return " × ".join(ATTRIBUTE_WORDS.get(a, a) for a in attr) or "group"


def p_phrase(p: float) -> str:
    """'p = 0.031', 'p < 0.001' or 'p not computable' inside a sentence."""
    text = format_p(p)
    return "p not computable" if text == "n/a" else (f"p {text}" if text.startswith("<") else f"p = {text}")


def _p_text(p: float, p_holm: float) -> str:
    holm = format_p(p_holm)
    return f"{p_phrase(p)} (Holm {holm if holm.startswith('<') or holm == 'n/a' else '= ' + holm})"


def _interval(lo: float, hi: float) -> str:
    return f"95 % CI {pct(lo)} to {pct(hi)}"


def pair_sentence(row: dict, attr: list[str]) -> str:
    """One plain sentence per paired comparison of two models (overall score or a pair of groups' difference): the
    difference stated as a fact only where its test (Holm across model pairs) supports it."""
    a, b = row["model_a"], row["model_b"]
    evidence = _p_text(row["p"], row["p_holm"])
    if not row["significant"]:
        if row["quantity"] == OVERALL:
            return (f"No difference in overall score between {a} and {b} that the data can detect "
                    f"({pct(row['value_a'])} vs {pct(row['value_b'])}; {a} − {b} {signed(row['difference'])}, "
                    f"{_interval_signed(row['ci_low'], row['ci_high'])}, {evidence}).")
        return (f"No difference between {a}'s and {b}'s {attribute_words(attr)} disparity that the data can detect "
                f"({row['group_a']} − {row['group_b']}: {signed(row['value_a'])} vs {signed(row['value_b'])}; change "
                f"{signed(row['difference'])}, {_interval_signed(row['ci_low'], row['ci_high'])}, {evidence}).")
    if row["quantity"] == OVERALL:
        more = "higher" if row["difference"] >= 0 else "lower"
        lo, hi = (row["ci_low"], row["ci_high"]) if row["difference"] >= 0 else (-row["ci_high"], -row["ci_low"])
        return (f"{a} scores {pct(abs(row['difference']))} points {more} than {b} overall ({pct(row['value_a'])} vs "
                f"{pct(row['value_b'])}), {_interval(lo, hi)}, {evidence}.")
    da, db = row["value_a"], row["value_b"]
    what = f"{attribute_words(attr)} disparity"
    word = "smaller" if abs(da) <= abs(db) else "larger"
    pair = f"{row['group_a']} − {row['group_b']}"
    if da * db >= 0:  # both lean the same way (or one not at all): the change is the change in size
        side = 1.0 if da + db >= 0 else -1.0
        turn = side * (-1.0 if word == "smaller" else 1.0)  # the interval read as "by how much smaller (larger)"
        lo, hi = sorted((turn * row["ci_low"], turn * row["ci_high"]))
        return (f"{a}'s {what} is {pct(turn * row['difference'])} points {word} than {b}'s ({pair}: {signed(da)} vs "
                f"{signed(db)}), {_interval(lo, hi)}, {evidence}.")
    turn = 1.0 if row["difference"] >= 0 else -1.0
    lo, hi = sorted((turn * row["ci_low"], turn * row["ci_high"]))
    return (f"{a}'s {what} ({pair}: {signed(da)}) is {word} than {b}'s ({signed(db)}), with the opposite sign; "
            f"the two differ by {pct(abs(row['difference']))} points, {_interval(lo, hi)}, {evidence}.")


def _interval_signed(lo: float, hi: float) -> str:
    return f"95 % CI {signed(lo)} to {signed(hi)}"


def leaderboard(comparison: Comparison) -> list[dict]:
    """Per model, best first: overall score and CI, the headline pair's difference with its CI and p, missed share."""
    tables = comparison.tables
    pair = headline_pair(tables.disparities)
    missed = comparison.missed
    rows = []
    for m in tables.models.sort_values(["rank", "model"], kind="stable").itertuples():
        row = {"rank": int(m.rank), "model": m.model, "subjects": int(m.subjects), "score": m.score,
               "score_ci_low": m.score_ci_low, "score_ci_high": m.score_ci_high, "comparison": None,
               "difference": None, "difference_ci_low": None, "difference_ci_high": None, "p": None, "p_holm": None,
               "missed_share": None}
        if pair is not None:
            d = tables.disparities
            d = d[(d["model"] == m.model) & (d["group_a"] == pair[0]) & (d["group_b"] == pair[1])].iloc[0]
            row.update({"comparison": f"{pair[0]} − {pair[1]}", "difference": d["difference"],
                        "difference_ci_low": d["difference_ci_low"], "difference_ci_high": d["difference_ci_high"],
                        "p": d["p"], "p_holm": d["p_holm"]})
        if len(missed) and (missed["model"] == m.model).any():
            mine = missed[missed["model"] == m.model]
            row["missed_share"] = float((mine["missed_share"] * mine["subjects"]).sum() / mine["subjects"].sum())
        rows.append(row)
    return rows


# -- sections ----------------------------------------------------------------------------------------------------

def _findings_md(lines: list[str]) -> list[str]:
    return ["## Findings", ""] + [f"- {md(s)}" for s in lines]


@register_section("compare_findings", markdown=_findings_md, report=REPORT)
def findings(ctx: CompareContext) -> list[str]:
    """A sentence per pair of models: overall score, then every pair of groups' disparity."""
    return sentences(ctx.comparison)


def sentences(comparison: Comparison) -> list[str]:
    """The findings: disparities first (what a fairness comparison is for), then overall scores."""
    pairs = comparison.tables.pairs
    ordered = pd.concat([pairs[pairs["quantity"] == DISPARITY], pairs[pairs["quantity"] == OVERALL]])
    return [pair_sentence(r, comparison.attr) for r in records(ordered)]


def _leaderboard_md(rows: list[dict]) -> list[str]:
    pair = rows[0]["comparison"] if rows else None
    head = f" {md(pair)} [95% CI] | p | p (Holm) |" if pair else ""
    lines = ["## Leaderboard", "", f"| rank | model | subjects | score [95% CI] |{head} missed frames |",
             "|---|---|---|---|" + ("---|---|---|" if pair else "") + "---|"]
    for r in rows:
        dis = (f" {signed(r['difference'])} [{signed(r['difference_ci_low'])}, {signed(r['difference_ci_high'])}] | "
               f"{format_p(r['p'])} | {format_p(r['p_holm'])} |") if pair else ""
        missed = f"{pct(r['missed_share'])} %" if r["missed_share"] is not None else "not applicable"
        lines.append(f"| {r['rank']} | {md(r['model'])} | {r['subjects']} | {pct(r['score'])} "
                     f"[{pct(r['score_ci_low'])}, {pct(r['score_ci_high'])}] |{dis} {missed} |")
    return lines


@register_section("leaderboard", markdown=_leaderboard_md, report=REPORT,
                  percent={"": ("score", "score_ci_low", "score_ci_high", "difference", "difference_ci_low",
                                "difference_ci_high", "missed_share")})
def leaderboard_section(ctx: CompareContext) -> list[dict]:
    """Models ranked by overall score, with the between-group difference of each."""
    return leaderboard(ctx.comparison)


@register_section("compare_charts", in_summary=False, report=REPORT)
def charts(ctx: CompareContext) -> bool:
    """The figures' places (the figures travel in the page's script)."""
    return True


def _groups_md(rows: list[dict]) -> list[str]:
    lines = ["## Scores per test group", "", "| model | group | subjects | score [95% CI] | missed frames |",
             "|---|---|---|---|---|"]
    lines += [f"| {md(r['model'])} | {md(r['test_group'])} | {r['subjects']} | {pct(r['score'])} "
              f"[{pct(r['score_ci_low'])}, {pct(r['score_ci_high'])}] | "
              f"{(pct(r['missed_share']) + ' %') if r.get('missed_share') is not None else 'not applicable'} |"
              for r in rows]
    return lines


@register_section("group_scores", markdown=_groups_md, report=REPORT,
                  percent={"": ("score", "score_ci_low", "score_ci_high", "missed_share")})
def group_scores(ctx: CompareContext) -> list[dict]:
    """Each model's score per test group (95% CI) and the frames it never served there."""
    groups = ctx.comparison.tables.groups
    missed = ctx.comparison.missed
    if len(missed):
        groups = groups.merge(missed[["model", "test_group", "frames", "missed", "missed_share"]],
                              on=["model", "test_group"], how="left")
    return records(groups)


def _disparities_md(rows: list[dict]) -> list[str]:
    lines = ["## Disparity of each model", "",
             "| model | comparison | difference [95% CI] | p | p (Holm) |", "|---|---|---|---|---|"]
    lines += [f"| {md(r['model'])} | {md(r['comparison'])} | {signed(r['difference'])} "
              f"[{signed(r['difference_ci_low'])}, {signed(r['difference_ci_high'])}] | {format_p(r['p'])} | "
              f"{format_p(r['p_holm'])} |" for r in rows]
    return lines


@register_section("model_disparities", markdown=_disparities_md, report=REPORT,
                  percent={"": ("score_a", "score_b", "difference", "difference_ci_low", "difference_ci_high")})
def model_disparities(ctx: CompareContext) -> list[dict]:
    """Each model's signed difference between every pair of groups, with its test (Holm over that model's pairs)."""
    return records(ctx.comparison.tables.disparities)


def _rates_md(value: dict) -> list[str]:
    lines = ["## Error rates of each model (equalized odds)", "",
             "Hit rate (true-positive rate) and false-alarm rate per model and test group, over the shared AUs; 95% "
             "CIs and p count people and trainings; Holm over each model's pairs of groups and both rates.", "",
             "| model | group | hit rate [95% CI] | false-alarm rate [95% CI] |", "|---|---|---|---|"]
    lines += [f"| {md(g['model'])} | {md(g['test_group'])} | {pct(g['hit_rate'])} % [{pct(g['hit_rate_ci_low'])}, "
              f"{pct(g['hit_rate_ci_high'])}] | {pct(g['false_alarm_rate'])} % [{pct(g['false_alarm_rate_ci_low'])}, "
              f"{pct(g['false_alarm_rate_ci_high'])}] |" for g in value["groups"]]
    lines += ["", "| model | comparison | rate | difference [95% CI] | p | p (Holm) |", "|---|---|---|---|---|---|"]
    lines += [f"| {md(d['model'])} | {md(d['comparison'])} | {d['rate'].replace('_', ' ')} | {signed(d['difference'])} "
              f"[{signed(d['difference_ci_low'])}, {signed(d['difference_ci_high'])}] | {format_p(d['p'])} | "
              f"{format_p(d['p_holm'])} |" for d in value["differences"]]
    return lines


@register_section("model_error_rates", markdown=_rates_md, report=REPORT,
                  percent={"groups": ("hit_rate", "hit_rate_ci_low", "hit_rate_ci_high", "false_alarm_rate",
                                      "false_alarm_rate_ci_low", "false_alarm_rate_ci_high"),
                           "differences": ("value_a", "value_b", "difference", "difference_ci_low",
                                           "difference_ci_high")})
def model_error_rates(ctx: CompareContext) -> dict:
    """Each model's hit and false-alarm rates per group and their between-group differences (equalized odds)."""
    tables = ctx.comparison.tables
    if tables.error_rates.empty:
        return {}
    return {"groups": records(tables.error_rates), "differences": records(tables.error_rate_differences)}


def _pairs_md(rows: list[dict]) -> list[str]:
    lines = [
        "## Models compared in pairs (same subjects)",
        "",
        "| model A | model B | quantity | A | B | A − B [95% CI] | p | p (Holm) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        quantity = "overall score" if r["quantity"] == OVERALL else f"difference {r['comparison']}"
        fmt = pct if r["quantity"] == OVERALL else signed
        lines.append(
            f"| {md(r['model_a'])} | {md(r['model_b'])} | {md(quantity)} | {fmt(r['value_a'])} | "
            f"{fmt(r['value_b'])} | {signed(r['difference'])} [{signed(r['ci_low'])}, {signed(r['ci_high'])}] | "
            f"{format_p(r['p'])} | {format_p(r['p_holm'])} |"
        )
    return lines


@register_section("model_pairs", markdown=_pairs_md, report=REPORT,
                  percent={"": ("value_a", "value_b", "difference", "ci_low", "ci_high")})
def model_pairs(ctx: CompareContext) -> list[dict]:
    """Paired differences between every two models: overall score and each pair of groups' difference."""
    return records(ctx.comparison.tables.pairs)


def methods(comparison: Comparison) -> list[dict]:
    """(topic, text) items: what was compared, how it was paired, scored and tested, and what it cannot show."""
    first = comparison.entries[0].run
    config = first.get("config") or {}
    parts = []
    for c in comparison.counts:
        how = ("its cross-group rows (models tested on groups they were not trained on, averaged per subject)"
               if c["kind"] == "gap" else "test-only")
        norm = f", normalizer {c['normalizer']}" if c["normalizer"] != "none" else ""
        parts.append(f"{c['model']}: {c['audit']} ({how}{norm})")
    items = [{"topic": "What was compared", "text": f"{len(comparison.entries)} models: " + "; ".join(parts) + "."}]
    shared = comparison.counts[0]["shared_subjects"]
    scored = ", ".join(f"{c['model']} {c['subjects']}" for c in comparison.counts)
    left = [f"{c['model']}: {', '.join(c['aus_left_out'])}" for c in comparison.counts if c["aus_left_out"]]
    pairing = (f"Every model is scored on the {shared} test subjects all of them scored (subjects scored: {scored}) "
               f"and on the {len(comparison.aus)} AUs all of them scored ({', '.join(comparison.aus)})")
    pairing += (f"; AUs left out: {'; '.join(left)}." if left else ".")
    items.append({"topic": "Pairing", "text": pairing})
    synthetic = is_synthetic(first)
    data = f"{comparison.data} (fingerprint {comparison.fingerprint})."
    if synthetic:
        data += (" Synthetic: faces rendered by auditkit with a known ground truth, so the numbers show how the method "
                 "behaves, not how any real model treats real people.")
    items.append({"topic": "Data", "text": data})
    items.append({"topic": "Groups", "text": group_definition(config) + "."})
    rule = config["f1_rule"]  # every compared audit records it (protocol.comparison reads them)
    items.append({"topic": "Scores", "text": (
        f"Per test subject and AU: F1 and accuracy at threshold {THRESHOLD}; their mean is the score (the paper's), "
        f"averaged over the shared AUs per subject. F1 of a subject who neither shows nor is predicted to show an AU: "
        f"{F1_RULE_TEXT[rule]} (rule '{rule}', the same in every compared audit). Frames a tool never served are not "
        "scored; the missed-frames column says how many there were.")})
    items.append({"topic": "Tests", "text": (
        "Every interval and p-value counts the test people and, for trained models, the trainings that scored them "
        "(the subject x training test: a jackknife over subjects within their group plus one over each audit's "
        "repetitions, Welch-Satterthwaite degrees of freedom; a fixed, pretrained model or saved predictions adds no "
        "training variance). Models of one audit share their draws and are paired by repetition; two audits' "
        "trainings are independent, so two re-runs of one configuration are not called different for their "
        "trainings. Each model's disparity: the signed difference of two groups' mean subject scores, Holm over that "
        "model's pairs of groups. Between two models, on the same subjects: the overall difference and the change in "
        "each signed group difference. Holm runs across every pair of models, separately for overall scores and for "
        "disparities.")})
    limits = ["A difference between models measures their outputs on these people, not its cause: models trained on "
              "different data, with different detectors or thresholds, differ in all of those at once.",
              f"{shared} shared subjects: a difference that is not significant is not evidence of no difference; the "
              "intervals show what the data cannot rule out.",
              "A tool that skips hard frames (no face found, low confidence) is scored on the frames it kept; compare "
              "its missed frames per group before reading its score."]
    if any(c["kind"] == "gap" for c in comparison.counts):
        limits.append("A gap audit's entry averages several trained models per subject (every cross-group training "
                      "that tested them), which smooths its scores against a single model's.")
    if synthetic:
        limits.append("Synthetic data: a real comparison needs a real, consented dataset.")
    items.append({"topic": "Limitations", "text": " ".join(limits)})
    return items


def _methods_md(items: list[dict]) -> list[str]:
    return ["## Methods and limitations", ""] + [f"- **{i['topic']}**: {md(i['text'])}" for i in items]


@register_section("compare_methods", markdown=_methods_md, report=REPORT,
                  html="{% include 'sections/methods.html.j2' %}")
def methods_section(ctx: CompareContext) -> list[dict]:
    """Methods and limitations of the comparison."""
    return methods(ctx.comparison)


def _provenance_md(rows: list[dict]) -> list[str]:
    lines = ["## Provenance of each model's audit", ""]
    for r in rows:
        lines.append(f"- **{md(r['model'])}** ({md(r['audit'])}): made by {md(r['made_by'])}; auditkit "
                     f"{md(r['auditkit'])}, revision {md(r['revision'])}; {md(r['environments'])}")
    return lines


@register_section("compare_provenance", markdown=_provenance_md, report=REPORT)
def provenance_section(ctx: CompareContext) -> list[dict]:
    """Each model's audit: what made it (classifier or predictions file) and where (its recorded environments)."""
    rows = []
    for e in ctx.comparison.entries:
        record = provenance(e.run, made_by(e.results))
        envs = record.get("environments") or []
        config = e.run.get("config") or {}
        made = config.get("classifier") or "unknown"
        if e.run.get("predictions_sha256"):
            made += f" (file SHA-256 {str(e.run['predictions_sha256'])[:12]})"
        rows.append({"model": e.label, "audit": str(e.audit), "made_by": made,
                     "auditkit": envs[0]["auditkit"] if envs else "not recorded",
                     "revision": envs[0]["revision"] if envs else "not recorded",
                     "environments": "; ".join(f"environment {env['id']}: CPU {env['cpu']}, {env['libraries']}"
                                               for env in envs) or "no environment recorded (an older audit)"})
    return rows


# -- outputs -----------------------------------------------------------------------------------------------------

INCOMPLETE_FILE = "INCOMPLETE"  # present while (or because) a comparison's outputs were being written
INCOMPLETE_TEXT = ("auditkit compare stopped while writing this comparison: report.html, summary.md and summary.json "
                   "may be missing or from an earlier run. Run the same command again to finish it.\n")


def check_out(out: Path) -> None:
    """Refuse an --out that holds an audit: its report would be overwritten by the comparison's."""
    if (out / RUN_FILE).exists():
        raise AuditkitError(f"{out}: is an audit directory (holds {RUN_FILE}); write the comparison elsewhere")
    if out.exists() and not out.is_dir():
        raise AuditkitError(f"{out}: exists and is not a directory")


def build_comparison_report(comparison: Comparison, out: str | Path, report: str | Path | None = None) -> Path:
    """Write report.html, summary.json and summary.md of a comparison into `out`; returns the report's path."""
    import plotly.offline

    out = Path(out)
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    context = CompareContext(out, comparison)
    registered = sections_of(REPORT)
    values = {s.key: s.build(context) for s in registered}
    shown = [s for s in registered if values[s.key]]
    summary = {"auditkit_version": __version__, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "dataset": {"path": comparison.data, "fingerprint": comparison.fingerprint},
               "attribute": comparison.attr, "seed": comparison.seed, "aus": comparison.aus,
               "models": comparison.counts, **{s.key: values[s.key] for s in registered if s.in_summary}}
    tables = comparison.tables
    figures = {"score_disparity": score_disparity_figure(tables.models, tables.disparities,
                                                         headline_pair(tables.disparities)),
               "group_scores": group_scores_figure(tables.groups)}
    html = template_environment(shown).get_template("compare.html.j2").render(
        summary=summary, sections=shown, values=values, figures={k: figure_json(f) for k, f in figures.items()},
        plotly_js=plotly.offline.get_plotlyjs(), attribute=attribute_words(comparison.attr))
    path = Path(report) if report else out / REPORT_FILE
    # three files cannot be replaced at once: everything is rendered first, a marker says the writing is under way,
    # summary.json (what scripts read as the result) comes last, and the marker goes only when all three are in,
    # so a comparison killed while writing never looks finished; running the command again mends it
    write_text_atomic(INCOMPLETE_TEXT, out / INCOMPLETE_FILE)
    write_text_atomic(html, path)
    write_text_atomic(_markdown(summary, shown, values), out / SUMMARY_MD)
    write_text_atomic(json.dumps(in_percent(summary, REPORT, UNITS), indent=2, default=str) + "\n", out / SUMMARY_JSON)
    (out / INCOMPLETE_FILE).unlink()
    return path


def _markdown(summary: dict, sections: list, values: dict) -> str:
    models = ", ".join(md(c["model"]) for c in summary["models"])
    lines = [f"# auditkit comparison: {md(', '.join(summary['attribute']))}", "",
             f"Dataset fingerprint `{summary['dataset']['fingerprint']}`; models {models}; "
             f"{summary['models'][0]['shared_subjects']} shared subjects, {len(summary['aus'])} shared AUs.", ""]
    return markdown_document(lines, sections, values)
