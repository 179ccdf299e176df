"""Build the self-contained HTML audit report, summary.json and summary.md from results.parquet + run.json alone."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import ChoiceLoader, DictLoader, Environment, PackageLoader, select_autoescape

from auditkit import __version__
from auditkit.errors import AuditkitError
from auditkit.files import write_text_atomic
from auditkit.protocol.audit_dir import REPORT_FILE, SUMMARY_JSON, SUMMARY_MD, AuditDir
from auditkit.report import sections as report_sections
from auditkit.report.figures import conditions_figure, faces_figure, per_au_figure
from auditkit.report.sections import ReportContext, Section, percent_fields
from auditkit.report.tables import AuditTables, audit_tables, is_test_only
from auditkit.report.text import md, num, pct, settings_line, signed
from auditkit.report.units import SQUARED, UNITS
from auditkit.stats import CI_NOTE, HOLM_NOTE, format_p, test_descriptions
from auditkit.stats.disparities import ALL_AUS

# auditkit/report/templates links to the top-level reports/templates; wheels carry the files themselves
TEMPLATES = "templates"


def _safe_json(obj: object) -> str:
    """JSON that can sit inside a <script> element: no '<' survives, so no value can close the tag."""
    return (
        json.dumps(obj, default=_json_default).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


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
    """One face of up to `per_group` subjects per group, per normalizer (only with --include-faces: shows
    individuals)."""
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


# summary.json gives every score-like number in percent (points), like the report, the terminal, summary.md and the
# API (report/units.py); each section names its percent fields (report/sections.py)


def _scaled(key: str, value: object, fields: tuple[str, ...]) -> object:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return 100 * value if key in fields else 10_000 * value if key in SQUARED else value


def in_percent(summary: dict, report: str = "audit", units: str = UNITS) -> dict:
    """A copy of the summary with score-like fields scaled to percent and the units stated."""
    out = {**summary, "units": units}
    for path, fields in percent_fields(report).items():
        *parents, key = path.split(".")
        holder = out
        for name in parents:  # copy each enclosing dict so the caller's summary is left as it was
            if not isinstance(holder.get(name), dict):
                break
            holder[name] = dict(holder[name])
            holder = holder[name]
        else:
            if not isinstance(holder.get(key), list):  # absent, or not a table of rows (nothing to scale)
                continue
            holder[key] = [{k: _scaled(k, v, fields) for k, v in row.items()} for row in holder.get(key, [])]
    return out


def template_environment(shown: list[Section]) -> Environment:
    """The Jinja environment of every report: the shipped templates, sections' inline blocks, escaping, filters."""
    inline = DictLoader({f"sections/{s.key}.html.j2": s.html for s in shown if s.html is not None})
    env = Environment(loader=ChoiceLoader([inline, PackageLoader("auditkit.report", TEMPLATES)]),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = pct
    env.filters["p"] = format_p
    env.filters["settings"] = settings_line
    env.filters["num"] = num
    env.filters["signed"] = signed
    return env


def figure_json(fig: object) -> str:
    """A plotly figure as JSON that can sit inside the page's <script>."""
    return _safe_json(json.loads(fig.to_json()))


def build_report(out: str | Path, report: str | Path | None = None, include_faces: bool = False,
                 tables: AuditTables | None = None) -> Path:
    """Write report.html, summary.json and summary.md into the audit directory; returns the report's path.

    `tables`: the audit's tables when the caller already computed them from these results (the bootstrap of the
    disparities is not free); by default they are computed from results.parquet. The body is the registered sections
    (report/sections.py), in order, each in all three outputs.
    """
    out = Path(out)
    results, run = load_run(out)
    seed = int(run.get("config", {}).get("seed", 0))
    tables = tables if tables is not None else audit_tables(results, seed, run)
    faces = _faces(out)
    figures = {"conditions": conditions_figure(tables.conditions), "per_au": per_au_figure(tables.per_au)}
    if faces:
        figures["faces"] = faces_figure(faces)
    if include_faces:
        figures["examples"] = faces_figure(example_faces(out, run))
    plan = run.get("plan", {})
    config = run.get("config", {})
    context = ReportContext(out, run, tables)
    registered = report_sections.sections_of("audit")
    values = {s.key: s.build(context) for s in registered}
    shown = [s for s in registered if values[s.key]]
    summary = {
        "auditkit_version": __version__,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {"path": run.get("data"), "fingerprint": run.get("fingerprint")},
        "attribute": config.get("attr"),
        "normalizers": config.get("normalizers"),
        "classifier": config.get("classifier"),
        "preset": config.get("preset"),
        "repetitions": config.get("repeats"),
        "seed": seed,
        "pools": {k: len(v) for k, v in plan.get("pools", {}).items()},
        "template": plan.get("template"),
        "normalizer_settings": AuditDir(out).normalizer_settings(),
        **{s.key: values[s.key] for s in registered if s.in_summary},
    }
    write_text_atomic(json.dumps(in_percent(summary), indent=2, default=_json_default) + "\n", out / SUMMARY_JSON)
    write_text_atomic(_markdown(summary, shown, values, is_test_only(tables)), out / SUMMARY_MD)
    import plotly.offline

    html = template_environment(shown).get_template("report.html.j2").render(
        summary=summary, run=run, config=config, plan=plan, sections=shown, values=values,
        test_descriptions=test_descriptions(), holm_note=HOLM_NOTE, ci_note=CI_NOTE, all_aus=ALL_AUS,
        test_only=is_test_only(tables),
        figures={k: figure_json(f) for k, f in figures.items()},
        plotly_js=plotly.offline.get_plotlyjs(), versions=run.get("versions", {}), include_faces=include_faces,
    )
    path = Path(report) if report else out / REPORT_FILE
    write_text_atomic(html, path)
    return path


def _markdown(summary: dict, sections: list[Section], values: dict, test_only: bool = False) -> str:
    kind = "test-only audit" if test_only else "report"
    protocol = ("every subject tested once, nothing trained" if test_only else
                f"{summary['repetitions']} repetitions (preset {md(summary['preset'])}, seed {md(summary['seed'])})")
    lines = [f"# auditkit {kind}: {md(', '.join(summary['attribute'] or []))}", "",
             f"Dataset fingerprint `{summary['dataset']['fingerprint']}`, classifier {md(summary['classifier'])}, "
             f"normalizers {md(', '.join(summary['normalizers'] or []))}, {protocol}.", ""]
    described = [f"- {md(name)}: {md(settings_line(v))}" for name, v in summary["normalizer_settings"].items() if v]
    lines += described + ([""] if described else [])
    return markdown_document(lines, sections, values)


def markdown_document(head: list[str], sections: list[Section], values: dict) -> str:
    """summary.md: the head lines, then each shown section's markdown lines, a blank line between sections."""
    lines = list(head)
    for section in sections:
        body = section.markdown(values[section.key]) if section.markdown else []
        if body:
            lines += body + [""]
    return "\n".join(lines).rstrip("\n") + "\n"
