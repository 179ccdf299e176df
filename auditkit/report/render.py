"""Build the self-contained HTML audit report, summary.json and summary.md from results.parquet + run.json alone."""

from __future__ import annotations

import html
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from auditkit import __version__
from auditkit.disparities import ALL_AUS, MIN_SUBJECTS, RATIO_BAND
from auditkit.errors import AuditkitError
from auditkit.files import write_text_atomic
from auditkit.protocol.audit_dir import REPORT_FILE, SUMMARY_JSON, SUMMARY_MD, AuditDir
from auditkit.report.figures import conditions_figure, faces_figure, per_au_figure
from auditkit.report.tables import CEILING, AuditTables, audit_tables, ceiling_shares, condition_means, format_share, headline
from auditkit.stats import CI_NOTE, HOLM_NOTE, format_p, test_descriptions

# auditkit/report/templates links to the top-level reports/templates; wheels carry the files themselves
TEMPLATES = "templates"


def _safe_json(obj: object) -> str:
    """JSON that can sit inside a <script> element: no '<' survives, so no value can close the tag."""
    return json.dumps(obj, default=_json_default).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_default(o: object) -> object:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if math.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)


def load_run(out: Path) -> tuple[pd.DataFrame, dict]:
    """results.parquet and run.json of an audit directory, with one-line errors for missing or corrupt files."""
    audit = AuditDir(out)
    return audit.read_results(), audit.read_run()


def settings_line(settings: dict) -> str:
    """'mode amortized, preset lite, ...' for reports."""
    return ", ".join(f"{k} {v}" for k, v in settings.items() if v is not None)


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
    base = headline(tables, "none") if "none" in norms else None
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
        if norm == "none" or base is None:
            continue
        h = headline(tables, norm)
        o_new, o_old = h[h["test_group"] == "all"], base[base["test_group"] == "all"]
        if len(o_new) and len(o_old):
            label = f"{norm} (the ceiling: a perfect normalizer from the synthetic ground truth)" if norm == CEILING else norm
            lines.append(f"{label} changes the overall gap from {100 * o_old.iloc[0].gap:+.1f} to "
                         f"{100 * o_new.iloc[0].gap:+.1f} points, and the mean score over all conditions from "
                         f"{100 * means.loc['none', 'all']:.1f} to {100 * means.loc[norm, 'all']:.1f}.")
    for r in ceiling_shares(tables.conditions).itertuples():
        lines.append(f"{r.normalizer} reaches {format_share(r.share_cross)} of the oracle's gain in cross-group score "
                     f"and {format_share(r.share_all)} of its gain in the mean over all conditions.")
    return lines


def _faces(out: Path) -> dict[str, dict[str, np.ndarray]] | None:
    faces_dir = AuditDir(out).faces
    files = sorted(faces_dir.glob("*.npz")) if faces_dir.is_dir() else []
    if not files:
        return None
    faces: dict[str, dict[str, np.ndarray]] = {}
    for f in files:
        data = np.load(f)
        for name, img in zip(data["names"], data["faces"], strict=True):
            faces.setdefault(str(name), {})[f.stem] = img
    return faces


def example_faces(out: Path, run: dict, per_group: int = 3) -> dict[str, dict[str, np.ndarray]]:
    """One face of up to `per_group` subjects per group, per normalizer (only with --include-faces: shows individuals)."""
    from auditkit.data import load_dataset

    ds = load_dataset(run["data"])
    if ds.fingerprint != run.get("fingerprint"):
        raise AuditkitError(f"{run['data']}: the dataset changed since the audit (fingerprint {ds.fingerprint}, "
                            f"audit used {run.get('fingerprint')}); faces cannot be matched")
    scope = run["plan"]["scope"]
    subjects = ds.frames["subject"].to_numpy()[ds.frames["subject"].isin(scope).to_numpy()]
    faces: dict[str, dict[str, np.ndarray]] = {}
    audit = AuditDir(out)
    for norm in run["config"]["normalizers"]:
        path = audit.find_inputs(norm)
        if path is None:
            raise AuditkitError(f"{audit.cache}: no cached inputs of {norm} (--include-faces needs the audit's cache)")
        X = np.load(path, mmap_mode="r")
        for group, members in run["plan"]["pools"].items():
            for s in members[:per_group]:
                rows = np.flatnonzero(subjects == s)
                faces.setdefault(f"{group}: {s}", {})[norm] = np.asarray(X[rows[len(rows) // 2]], dtype=np.float32)
    return faces


# summary.json gives every score-like number in percent (points), like the report, the terminal and summary.md;
# keys are paths into the summary ("a.b": the list at summary["a"]["b"])
PERCENT_FIELDS = {"conditions": ("score", "std", "f1", "accuracy"), "tests": ("diff", "ci_low", "ci_high"),
                  "ceiling": ("none", "cross", "all", "oracle_cross", "oracle_all", "share_cross", "share_all"),
                  "missed_frames.groups": ("missed_share",),
                  "missed_frames.tests": ("mean_a", "mean_b", "diff", "ci_low", "ci_high"),
                  "ingest_losses.groups": ("missed_share",),
                  "ingest_losses.tests": ("mean_a", "mean_b", "diff", "ci_low", "ci_high"),
                  "disparities.groups": ("base_rate", "score", "score_ci_low", "score_ci_high", "f1", "accuracy",
                                         "diff_to_best", "diff_to_overall"),
                  "disparities.summary": ("overall", "difference", "difference_ci_low", "difference_ci_high",
                                          "difference_to_overall")}
UNITS = ("scores, their std, differences, confidence intervals, shares of the ceiling, base rates and missed-frame "
         "shares are in percent (points); p-values, test statistics, effect sizes (Cohen's d, Hedges' g) and "
         "disparity ratios are unitless")


def _in_percent(summary: dict) -> dict:
    """A copy of the summary with score-like fields scaled to percent and the units stated."""
    out = {**summary, "units": UNITS}
    for path, fields in PERCENT_FIELDS.items():
        *parents, key = path.split(".")
        holder = out
        for name in parents:  # copy each enclosing dict so the caller's summary is left as it was
            if not isinstance(holder.get(name), dict):
                break
            holder[name] = dict(holder[name])
            holder = holder[name]
        else:
            if key not in holder:
                continue
            holder[key] = [{k: (100 * v if k in fields and isinstance(v, (int, float)) else v) for k, v in row.items()}
                           for row in holder.get(key, [])]
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def build_report(out: str | Path, report: str | Path | None = None, include_faces: bool = False,
                 tables: AuditTables | None = None) -> Path:
    """Write report.html, summary.json and summary.md into the audit directory; returns the report's path.

    `tables`: the audit's tables when the caller already computed them from these results (the bootstrap of the
    disparities is not free); by default they are computed from results.parquet.
    """
    out = Path(out)
    results, run = load_run(out)
    seed = int(run.get("config", {}).get("seed", 0))
    tables = tables if tables is not None else audit_tables(results, seed)
    faces = _faces(out)
    figures = {"conditions": conditions_figure(tables.conditions), "per_au": per_au_figure(tables.per_au)}
    if faces:
        figures["faces"] = faces_figure(faces)
    if include_faces:
        figures["examples"] = faces_figure(example_faces(out, run))
    plan = run.get("plan", {})
    config = run.get("config", {})
    per_subject = (tables.scores.groupby(["subject", "normalizer", "condition", "train_group", "test_group"])["score"]
                   .agg(["mean", "count"]).reset_index().sort_values("mean"))
    summary = {
        "auditkit_version": __version__, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"path": run.get("data"), "fingerprint": run.get("fingerprint")},
        "attribute": config.get("attr"), "normalizers": config.get("normalizers"), "classifier": config.get("classifier"),
        "preset": config.get("preset"), "repetitions": config.get("repeats"), "seed": seed,
        "pools": {k: len(v) for k, v in plan.get("pools", {}).items()}, "template": plan.get("template"),
        "normalizer_settings": AuditDir(out).normalizer_settings(),
        "findings": summary_sentences(tables, run),
        "conditions": _records(tables.conditions), "tests": _records(tables.tests),
        "ceiling": _records(ceiling_shares(tables.conditions)),
        "missed_frames": run.get("missed_frames") or {},
        "ingest_losses": run.get("ingest_losses") or {},
        "disparities": {"groups": _records(tables.disparity_groups), "summary": _records(tables.disparity_summary),
                        "ratio_band": list(RATIO_BAND), "min_subjects": MIN_SUBJECTS},
    }
    write_text_atomic(json.dumps(_in_percent(summary), indent=2, default=_json_default) + "\n", out / SUMMARY_JSON)
    write_text_atomic(_markdown(summary, tables), out / SUMMARY_MD)
    env = Environment(loader=PackageLoader("auditkit.report", TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = _pct
    env.filters["p"] = format_p
    env.filters["settings"] = settings_line
    env.filters["num"] = lambda v, d=2: "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"
    import plotly.offline

    html = env.get_template("report.html.j2").render(
        summary=summary, run=run, config=config, plan=plan, tables=tables,
        conditions=tables.conditions.to_dict("records"), tests=tables.tests.to_dict("records"),
        per_subject=per_subject.to_dict("records"), test_descriptions=test_descriptions(),
        holm_note=HOLM_NOTE, ci_note=CI_NOTE, ceiling=summary["ceiling"], missed=summary["missed_frames"],
        disparities=summary["disparities"], all_aus=ALL_AUS, ingest_losses=summary["ingest_losses"],
        figures={k: _safe_json(json.loads(f.to_json())) for k, f in figures.items()},
        plotly_js=plotly.offline.get_plotlyjs(), versions=run.get("versions", {}), include_faces=include_faces,
    )
    path = Path(report) if report else out / REPORT_FILE
    write_text_atomic(html, path)
    return path


def _pct(value: float | None, digits: int = 1) -> str:
    """A fraction as percentage points ('n/a' for missing or NaN)."""
    return "n/a" if value is None or value != value else f"{100 * value:.{digits}f}"


def _md(value: object) -> str:
    """A user string (group, subject, column, plugin name) made inert in markdown: no HTML, no table or code breaks."""
    return html.escape(str(value), quote=True).replace("|", "&#124;").replace("`", "&#96;").replace("\n", " ")


def _ratio(value: float | None) -> str:
    """A unitless ratio to two decimals ('n/a' for missing or NaN)."""
    return "n/a" if value is None or value != value else f"{value:.2f}"


def _disparities_markdown(disparities: dict) -> list[str]:
    """summary.md's disparity section: all-AU rows per group, then the between-group difference and ratio."""
    groups = [g for g in disparities["groups"] if g["au"] == ALL_AUS]
    if not groups:
        return []
    low, high = disparities["ratio_band"]
    lines = ["", "## Disparities between test groups (all AUs)", "",
             f"Each subject scored by every model that tested it; 95% bootstrap CIs over subjects (fairlearn); "
             f"**!** = a ratio outside [{low}, {high}]; *small* = under {disparities['min_subjects']} subjects.", "",
             "| normalizer | group | subjects | score [95% CI] | F1 | accuracy | base rate | − best | ÷ best | ÷ overall |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for g in groups:
        mark = (" **!**" if g["outside_band"] else "") + (" *small*" if g["small"] else "")
        lines.append(f"| {_md(g['normalizer'])} | {_md(g['test_group'])}{mark} | {g['subjects']} | {_pct(g['score'])} "
                     f"[{_pct(g['score_ci_low'])}, {_pct(g['score_ci_high'])}] | {_pct(g['f1'])} | "
                     f"{_pct(g['accuracy'])} | {_pct(g['base_rate'])} % | {100 * g['diff_to_best']:+.1f} | "
                     f"{_ratio(g['ratio_to_best'])} | {_ratio(g['ratio_to_overall'])} |")
    lines += ["", "Between groups (largest difference, smallest ratio of the score; 95% bootstrap CI):", "",
              "| normalizer | difference (points) | ratio | flag |", "|---|---|---|---|"]
    for r in disparities["summary"]:
        if r["au"] != ALL_AUS:
            continue
        lines.append(f"| {_md(r['normalizer'])} | {_pct(r['difference'])} [{_pct(r['difference_ci_low'])}, "
                     f"{_pct(r['difference_ci_high'])}] | {_ratio(r['ratio'])} [{_ratio(r['ratio_ci_low'])}, "
                     f"{_ratio(r['ratio_ci_high'])}] | {f'outside [{low}, {high}]' if r['outside_band'] else ''} |")
    return lines


def _markdown(summary: dict, tables: AuditTables) -> str:
    lines = [f"# auditkit report: {_md(', '.join(summary['attribute'] or []))}", "",
             f"Dataset fingerprint `{summary['dataset']['fingerprint']}`, classifier {_md(summary['classifier'])}, "
             f"normalizers {_md(', '.join(summary['normalizers'] or []))}, "
             f"{summary['repetitions']} repetitions (preset {_md(summary['preset'])}, seed {_md(summary['seed'])}).", ""]
    described = [f"- {_md(name)}: {_md(settings_line(v))}" for name, v in summary["normalizer_settings"].items() if v]
    lines += described + ([""] if described else [])
    lines += ["## Findings", ""] + [f"- {_md(s)}" for s in summary["findings"]] + ["", "## Scores (Table 5)", "",
             "| normalizer | condition | train → test | score | std | F1 | accuracy | subjects | repetitions |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in tables.conditions.itertuples():
        lines.append(f"| {_md(r.normalizer)} | {_md(r.condition)} | {_md(r.train_group)} → {_md(r.test_group)} | "
                     f"{100 * r.score:.1f} | {100 * r.std:.1f} | {100 * r.f1:.1f} | {100 * r.accuracy:.1f} | {r.subjects} | "
                     f"{r.repetitions} |")
    if summary["ceiling"]:
        lines += ["", "## Share of the ceiling", "",
                  "Gain over `none` as a share of the `oracle`'s gain (the perfect normalizer the synthetic ground truth "
                  "allows): (N - none) / (oracle - none).", "",
                  "| normalizer | cross score | share of the oracle's cross gain | mean score "
                  "| share of the oracle's mean gain |",
                  "|---|---|---|---|---|"]
        for r in summary["ceiling"]:
            lines.append(f"| {_md(r['normalizer'])} | {_pct(r['cross'])} | {_pct(r['share_cross'], 0)} % | {_pct(r['all'])} | "
                         f"{_pct(r['share_all'], 0)} % |")
    for key, title in (("missed_frames", "Frames the tool never served"),
                       ("ingest_losses", "Frames lost at ingest (no face found)")):
        coverage = summary.get(key) or {}
        if coverage.get("groups"):
            lines += ["", f"## {title}", "", "| group | subjects | frames | missed | mean missed share |",
                      "|---|---|---|---|---|"]
            lines += [f"| {_md(g['group'])} | {g['subjects']} | {g['frames']} | {g['missed']} | "
                      f"{_pct(g['missed_share'])} % |" for g in coverage["groups"]]
            lines += [f"- {_md(t['comparison'])}: difference {_pct(t['diff'])} points, p = {format_p(t['p'])}"
                      for t in coverage.get("tests", [])]
    lines += _disparities_markdown(summary["disparities"])
    lines += ["", "## Tests", "", "| comparison | normalizer | test | difference | 95% CI | p | p (Holm) |",
              "|---|---|---|---|---|---|---|"]
    notes = ["", f"- {HOLM_NOTE}", f"- {CI_NOTE}"] + [f"- {name}: {text}" for name, text in test_descriptions().items()]
    for r in tables.tests.itertuples():
        lines.append(f"| {_md(r.comparison)} | {_md(r.normalizer)} | {_md(r.test)} | {100 * r.diff:+.1f} | "
                     f"[{100 * r.ci_low:+.1f}, {100 * r.ci_high:+.1f}] | {format_p(r.p)} | {format_p(r.p_holm)} |")
    lines += notes
    return "\n".join(lines) + "\n"
