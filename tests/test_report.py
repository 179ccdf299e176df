"""The HTML report: content, escaping of user strings, offline rendering in headless Chromium, rebuild errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.contract import Normalizer
from auditkit.errors import AuditkitError
from auditkit.report.figures import faces_figure
from auditkit.report.render import build_report
from auditkit.report.tables import audit_tables
from tests import browser
from tests.helpers import LINK, summary_tables

EVIL = "<script>alert(1)</script>"


def _fake_audit(out: Path, names: tuple[str, str] = ("light", EVIL)) -> Path:
    """A results.parquet + run.json pair in the runner's format: two pools (one with a hostile name), two
    normalizers."""
    rng = np.random.default_rng(0)
    pools = {names[0]: [f"L{i}" for i in range(8)], names[1]: [f"D{i}" for i in range(8)]}
    rows = []
    for norm, shift in (("none", 0.0), ("histeq", 0.03)):
        for rep in range(4):
            for train in pools:
                for test, members in pools.items():
                    for s in members[:5]:
                        for au in ("AU06", "AU12"):
                            base = 0.6 if train == test else 0.5
                            rows.append({"attr": "skin", "kind": "group", "normalizer": norm, "classifier": "lenet5",
                                         "repetition": rep, "seed": rep, "task": f"{train}-r{rep}",
                                         "condition": "within" if train == test else "cross", "train_group": train,
                                         "test_group": test, "subject": s, "au": au,
                                         "f1": float(np.clip(base + shift + rng.normal(0, 0.05), 0, 1)),
                                         "accuracy": float(np.clip(base + 0.1 + rng.normal(0, 0.05), 0, 1)),
                                         "support": 30, "positives": 6})
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(out / "results.parquet", index=False)
    run = {"data": "data/<b>synth</b>", "fingerprint": "abc123", "versions": {"auditkit": "test"},
           "config": {"attr": ["skin"], "normalizers": ["none", "histeq"], "classifier": "lenet5", "preset": "smoke",
                      "repeats": 4, "seed": 0, "n_train": 4, "n_val": 2, "f1_rule": "exclude"},
           "plan": {"template": "T0", "pools": pools}}
    (out / "run.json").write_text(json.dumps(run))
    (out / "faces").mkdir()
    np.savez_compressed(out / "faces" / "none.npz", names=np.array(list(names)),
                        faces=rng.integers(0, 255, (2, 64, 64)).astype(np.float32))
    return out


@pytest.mark.slow
def test_report_content_and_twins(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")
    path = build_report(audit)
    html = path.read_text()
    assert "Generalization audit: skin" in html
    # two normalizers here: the baseline's sentences say which normalizer they describe
    assert "Without normalization (none), testing on light: models trained on other groups score" in html
    assert (
        "the overall generalization gap" in html and "histeq" in html.split("the overall generalization gap")[0][-60:]
    )
    assert html.count("Plotly.newPlot") == 1 and "fig-faces" in html
    assert "subject t-test" in html and "repetition paired t-test" in html and "p (Holm)" in html
    for s in ("L0", "D4"):
        assert f'<td class="l">{s}</td>' in html  # per-subject table
    assert "https://" not in html.split("<script>", 1)[0]  # no remote stylesheet or script in the head
    # tables are numbered by their captions (Table 1, 2, ...): no heading may name a table by a number of its own
    assert (
        not re.search(r"<h[23][^>]*>[^<]*(?<!paper's )Table \d", html) and "the layout of the paper's Table 5" in html
    )
    summary = json.loads((audit / "summary.json").read_text())
    assert summary["pools"] == {"light": 8, EVIL: 8} and summary["findings"]
    # scores in percent, like everything else, with the units stated
    row = summary["conditions"][0]
    cond = audit_tables(pd.read_parquet(audit / "results.parquet"), 0).conditions.iloc[0]
    assert row["score"] == pytest.approx(100 * cond["score"]) and "percent" in summary["units"]
    md = (audit / "summary.md").read_text()
    assert md.startswith("# auditkit report: skin") and "| none | within |" in md


@pytest.mark.slow
def test_disparities_in_report_summaries_and_markdown(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")
    html = build_report(audit).read_text()
    assert 'id="disparities"' in html and "four-fifths rule" in html
    summary = json.loads((audit / "summary.json").read_text())
    d = summary["disparities"]
    assert d["ratio_band"] == [0.8, 1.25] and d["min_subjects"] == 5
    tables = audit_tables(pd.read_parquet(audit / "results.parquet"), 0)
    first = tables.disparity_groups.iloc[0]
    row = next(g for g in d["groups"] if g["normalizer"] == first["normalizer"] and g["au"] == first["au"]
               and g["test_group"] == first["test_group"])
    # scores and differences in percent, ratios unitless, like the rest of summary.json
    assert row["score"] == pytest.approx(100 * first["score"]) and row["ratio_to_best"] == pytest.approx(
        first["ratio_to_best"]
    )
    assert {s["au"] for s in d["summary"]} == {"all", "AU06", "AU12"}
    md = (audit / "summary.md").read_text()
    assert "## Disparities between test groups (all AUs)" in md
    assert "| normalizer | comparison | difference [95% CI] | p | p (Holm) |" in md
    # between-group rows: a signed difference with its interval and a p-value, in percent points like the rest
    pair = next(s for s in d["summary"] if s["au"] == "all" and s["normalizer"] == "none")
    ref = tables.disparity_summary.query("au == 'all' and normalizer == 'none'").iloc[0]
    assert pair["difference"] == pytest.approx(100 * ref["difference"]) and pair["p"] == pytest.approx(ref["p"])
    assert pair["difference_ci_low"] <= pair["difference"] <= pair["difference_ci_high"]
    assert {c["normalizer"] for c in d["changes"]} == {"histeq"} and 'id="disparity-tests"' in html
    assert "\\<script>" in md.split("## Disparities", 1)[1].split("## Tests", 1)[0]  # hostile group name inert


def test_user_strings_are_escaped(tmp_path: Path) -> None:
    html = build_report(_fake_audit(tmp_path / "audit")).read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text in tables and findings
    assert "data/&lt;b&gt;synth&lt;/b&gt;" in html
    assert "\\u0026lt;script\\u0026gt;alert(1)" in html  # chart data: escaped for plotly, unable to close the script
    md = (tmp_path / "audit" / "summary.md").read_text()
    # plain Markdown: no HTML entities for a plain-text reader, and rendered (CommonMark + tables) the hostile group
    # name is text, never an element
    assert EVIL not in md and "\\<script>alert(1)\\</script>" in md and "&#" not in md and "&lt;" not in md
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "<script>" not in rendered and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_missing_or_empty_results_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="results.parquet: file is missing"):
        build_report(tmp_path)
    audit = _fake_audit(tmp_path / "a")
    (audit / "run.json").write_text("{broken")
    with pytest.raises(AuditkitError, match="run.json: not valid JSON"):
        build_report(audit)


@pytest.mark.slow
def test_normalizer_settings_are_stated(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")
    (audit / "normalizers.json").write_text(json.dumps({"none": {}, "histeq": {"tiles": 8, "clip": EVIL}}))
    html = build_report(audit).read_text()
    assert '<span class="pill">histeq</span> tiles 8, clip &lt;script&gt;' in html and EVIL not in html
    md = (audit / "summary.md").read_text()
    assert "- histeq: tiles 8, clip \\<script>alert(1)\\</script>" in md and "- none" not in md and EVIL not in md
    assert json.loads((audit / "summary.json").read_text())["normalizer_settings"]["histeq"]["tiles"] == 8
    (audit / "normalizers.json").write_text("[1, 2]")
    with pytest.raises(AuditkitError, match="normalizers.json: expected an object"):
        build_report(audit)
    (audit / "normalizers.json").write_text("{oops")
    with pytest.raises(AuditkitError, match="normalizers.json: not valid JSON"):
        build_report(audit)


def test_audits_without_normalizer_settings_still_report(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")  # written before normalizers.json existed
    build_report(audit)
    assert json.loads((audit / "summary.json").read_text())["normalizer_settings"] == {}


@pytest.mark.slow
def test_report_renders_offline_in_headless_chromium(tmp_path: Path) -> None:
    # group names that plotly would turn into bold text and a live link if they reached a chart as markup
    report = build_report(_fake_audit(tmp_path / "audit", ("<b>bold</b>", LINK)))
    dom, page, errors = browser.render(report, tmp_path / "profile")
    assert 'data-charts-rendered="3"' in dom
    assert dom.count('class="main-svg"') >= 3
    # every chart shows the names as text: no link element, no bold run created from a user string (the page's
    # scripts, plotly.js's source among them, are left out of the search)
    assert not re.search(r"<a\b[^>]*example\.org", page) and not re.search(r"<tspan[^>]*bold[^>]*>bold<", page)
    assert re.search(r"<text[^>]*>[^<]*&lt;b&gt;bold&lt;/b&gt;", page)  # the chart's tick shows the name as text
    assert re.search(r"<text[^>]*>[^<]*&lt;a href=\"https://example.org/\"&gt;click", page)
    assert not errors, errors
    assert browser.screenshot(report, tmp_path / "profile", "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_faces_only_with_include_faces(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.runner import run_audit

    out = tmp_path / "audit"
    run_audit(
        AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1),
        out,
        jobs=1,
    )
    assert (out / "faces" / "none.npz").exists()  # group averages, pools of >= 5 people
    plain = build_report(out).read_text()
    assert "fig-faces" in plain and "fig-examples" not in plain
    with_faces = build_report(out, include_faces=True).read_text()
    assert "Example faces (individuals)" in with_faces and "fig-examples" in with_faces


class _Truth(Normalizer):
    """A third-party instrument that sees the ground truth."""

    ceiling = True

    def fit(self, template_faces: np.ndarray, subject_faces: dict) -> _Truth:
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        return faces


def test_share_of_the_ceiling_arithmetic() -> None:
    from auditkit.report.tables import ceiling_shares, share

    rows = []
    for norm, within, cross in (
        ("none", 0.50, 0.40),
        ("deepfn", 0.56, 0.52),
        ("oracle", 0.70, 0.70),
        ("bad", 0.4, 0.3),
    ):
        rows += [{"normalizer": norm, "condition": "within", "train_group": "a", "test_group": "a", "score": within},
                 {"normalizer": norm, "condition": "cross", "train_group": "a", "test_group": "b", "score": cross}]
    shares = ceiling_shares(pd.DataFrame(rows), "oracle").set_index("normalizer")
    assert list(shares.index) == ["deepfn", "bad"]
    assert shares.loc["deepfn", "share_cross"] == pytest.approx((0.52 - 0.40) / (0.70 - 0.40))
    assert shares.loc["deepfn", "share_all"] == pytest.approx((0.54 - 0.45) / (0.70 - 0.45))
    assert shares.loc["bad", "share_cross"] == pytest.approx(-1 / 3)
    assert np.isnan(share(0.5, 0.6, 0.6)) and np.isnan(share(0.5, 0.6, 0.55)) and np.isnan(share(0.5, np.nan, 0.7))
    assert ceiling_shares(pd.DataFrame(rows[:4]), "oracle").empty  # no oracle in the audit: no ceiling to share
    assert ceiling_shares(pd.DataFrame(rows), None).empty  # no normalizer declares itself the ceiling


def test_share_of_the_ceiling_per_test_group_shows_a_group_served_worse() -> None:
    from auditkit.report.sections import _ceiling_groups_md
    from auditkit.report.tables import group_ceiling_shares

    rows = []
    # deepfn reaches 80 % of the oracle's gain on lighter test subjects but 20 % on darker ones
    for norm, dark, light in (("none", 0.30, 0.40), ("deepfn", 0.38, 0.64), ("oracle", 0.70, 0.70)):
        rows += [
            {"normalizer": norm, "condition": "cross", "train_group": "lighter", "test_group": "darker", "score": dark},
            {
                "normalizer": norm,
                "condition": "cross",
                "train_group": "darker",
                "test_group": "lighter",
                "score": light,
            },
            {"normalizer": norm, "condition": "within", "train_group": "darker", "test_group": "darker", "score": 0.9},
        ]
    shares = group_ceiling_shares(pd.DataFrame(rows), "oracle").set_index("test_group")
    assert list(shares["normalizer"]) == ["deepfn", "deepfn"]
    assert shares.loc["darker", "share_cross"] == pytest.approx(0.2)
    assert shares.loc["lighter", "share_cross"] == pytest.approx(0.8)
    assert shares.loc["darker", "none"] == pytest.approx(0.30) and shares.loc[
        "darker", "ceiling_score"
    ] == pytest.approx(0.70)
    text = "\n".join(_ceiling_groups_md(json.loads(shares.reset_index().to_json(orient="records"))))
    assert "| deepfn | darker | 30.0 | 38.0 | 70.0 | 20 % |" in text
    assert "| normalizer | test group | none | normalizer | oracle | share |" in text
    assert group_ceiling_shares(pd.DataFrame(rows[:6]), "oracle").empty  # no oracle: nothing to share


def test_the_ceiling_is_the_normalizer_whose_plugin_declares_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from auditkit import plugins
    from auditkit.report.tables import ceiling_of

    assert ceiling_of(["none", "histeq", "oracle"]) == "oracle"  # the built-in that declares `ceiling = True`
    assert ceiling_of(["none", "histeq", "deepfn"]) is None
    assert ceiling_of(["none", "not-installed-here"]) is None  # a report rebuilt where the plugin is missing
    real = plugins.available
    monkeypatch.setattr(plugins, "available", lambda kind: {**real(kind), "truth": EntryPoint(
        "truth", "tests.test_report:_Truth", "auditkit.normalizers")})
    # any plugin can be the instrument, not a name in the core
    assert ceiling_of(["none", "truth", "oracle"]) == "truth"


def test_percentages_never_read_minus_zero() -> None:
    from auditkit.report.text import pct

    assert pct(-0.001, 0) == "0" and pct(-0.0004) == "0.0" and pct(-0.02) == "-2.0" and pct(float("nan")) == "n/a"


def test_summary_json_has_ceiling_only_with_oracle(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")
    build_report(audit)
    summary = json.loads((audit / "summary.json").read_text())
    assert summary["ceiling"] == []
    assert "Share of the ceiling" not in (audit / "report.html").read_text()


def test_average_faces_rows_name_their_normalizer_and_histograms_have_axes() -> None:
    face = np.full((8, 8), 128.0)
    fig = faces_figure({"light": {"none": face, "histeq": face}, "dark": {"none": face, "histeq": face}})
    labels = [a.text for a in fig.layout.annotations]
    assert "<b>none</b>" in labels and "<b>histeq</b>" in labels  # one label per row of faces
    assert fig.layout.xaxis5.title.text == "grey level" and fig.layout.yaxis5.title.text == "pixels"


def test_a_registered_section_reaches_all_three_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new report section is one function (plus its HTML block): report.html, summary.json and summary.md."""
    from auditkit.report import sections

    monkeypatch.setattr(sections, "SECTIONS", list(sections.SECTIONS))

    @sections.register_section("au_counts", markdown=lambda v: ["## AUs scored", "", f"{v['aus']} AUs, {v['share']}"],
                               html='<h2 id="au-counts">AUs scored</h2><p>{{ value.aus }} AUs</p>')
    def au_counts(ctx: sections.ReportContext) -> dict:
        return {"aus": int(ctx.tables.per_au["au"].nunique()), "share": "all"}

    with pytest.raises(ValueError, match="'au_counts' is already registered"):
        sections.register_section("au_counts")(au_counts)
    audit = _fake_audit(tmp_path / "audit")
    html = build_report(audit).read_text()
    assert '<h2 id="au-counts">AUs scored</h2><p>2 AUs</p>' in html
    assert json.loads((audit / "summary.json").read_text())["au_counts"] == {"aus": 2, "share": "all"}
    md = (audit / "summary.md").read_text()
    assert "## AUs scored\n\n2 AUs, all" in md and md.index("## Tests") < md.index("## AUs scored")


@pytest.mark.slow
def test_summary_json_and_the_api_speak_one_unit(tmp_path: Path) -> None:
    from auditkit.api import _result
    from auditkit.report.sections import percent_fields
    from auditkit.report.units import POINTS

    audit = _fake_audit(tmp_path / "audit")
    build_report(audit)
    summary = json.loads((audit / "summary.json").read_text())
    declared = percent_fields("audit")
    tables = summary_tables(summary)
    assert {"conditions", "tests", "disparities.groups"} <= {p for p, _ in tables}
    for path, rows in tables:
        score_like = {k for r in rows for k, v in r.items() if k in POINTS and isinstance(v, (int, float))}
        assert score_like <= set(declared.get(path, ())), f"{path}: {score_like - set(declared.get(path, ()))}"
    # the API's tables are the report's figures: the same conditions, in the same units
    result = _result(audit, pd.read_parquet(audit / "results.parquet"))
    api = result.conditions.set_index(["normalizer", "condition", "train_group", "test_group"])
    for row in summary["conditions"]:
        got = api.loc[(row["normalizer"], row["condition"], row["train_group"], row["test_group"])]
        assert got["score"] == pytest.approx(row["score"]) and got["sem"] == pytest.approx(row["sem"])
    crossed = result.tests[result.tests["test"] == result.tests["test"].iloc[0]]
    assert (crossed["diff"].abs() > 1).any()  # points, not fractions


def test_a_recorded_ceiling_is_read_from_run_json_without_loading_plugins(tmp_path: Path) -> None:
    audit = _fake_audit(tmp_path / "audit")
    results = pd.read_parquet(audit / "results.parquet")
    # what the run recorded wins over the plugins (none and histeq: no plugin declares itself the ceiling, and the
    # fallback, ceiling_of, is tested above)
    assert audit_tables(results, run={"ceiling": "histeq"}).ceiling == "histeq"
