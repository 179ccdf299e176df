"""The comparison report: three outputs from the registered compare sections, hostile labels made inert, and the
page rendered in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import auditkit
from auditkit.data import load_dataset
from auditkit.protocol.predictions_audit import audit_predictions
from auditkit.report.sections import sections_of
from tests import browser
from tests.helpers import LINK, summary_tables, write_generic

BOLD = "<b>bold</b>"


@pytest.fixture(scope="module")
def hostile(audit_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> auditkit.ComparisonResult:
    """Two predictions audits labelled with markup, compared."""
    root = tmp_path_factory.mktemp("hostile")
    ds = load_dataset(audit_dataset)
    dirs = []
    for name, noise in (("a", {"female": 0.1, "male": 0.2}), ("b", {"female": 0.2, "male": 0.1})):
        path = write_generic(ds, root / f"{name}.parquet", noise)
        audit_predictions(path, audit_dataset, ("gender",), root / name)
        dirs.append(root / name)
    return auditkit.compare(dirs, names={dirs[0]: BOLD, dirs[1]: LINK}, out=root / "cmp")


def test_compare_sections_are_their_own_report() -> None:
    import auditkit.report.comparison_report  # noqa: F401  (registers the compare sections)

    compare = {s.key for s in sections_of("compare")}
    audit = {s.key for s in sections_of("audit")}
    assert {"leaderboard", "model_pairs", "compare_methods", "compare_provenance"} <= compare
    assert not compare & audit and "findings" in audit


def test_summary_md_keeps_labels_inert(hostile: auditkit.ComparisonResult) -> None:
    text = (hostile.out / "summary.md").read_text()
    assert "\\<b>bold\\</b>" in text and "<b>" not in text.replace("\\<b>", "")
    summary = json.loads((hostile.out / "summary.json").read_text())
    assert {m["model"] for m in summary["models"]} == {BOLD, LINK}
    assert summary["model_pairs"][0]["difference"] == pytest.approx(hostile.pairs["difference"].iloc[0])


@pytest.mark.slow
def test_compare_report_renders_offline_in_headless_chromium(hostile: auditkit.ComparisonResult,
                                                               tmp_path: Path) -> None:
    report = hostile.out / "report.html"
    dom, page, errors = browser.render(report, tmp_path / "profile")
    assert 'data-charts-rendered="2"' in dom
    assert not re.search(r"<a\b[^>]*example\.org", page) and not re.search(r"<tspan[^>]*bold[^>]*>bold<", page)
    assert re.search(r"<text[^>]*>[^<]*&lt;b&gt;bold&lt;/b&gt;", page)  # the chart's label shows the name as text
    assert "Leaderboard" in page and "Models compared in pairs" in page and "Methods and limitations" in page
    assert not errors, errors
    shot = browser.screenshot(report, tmp_path / "profile", "compare-report.png")
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_compare_summary_gives_every_score_like_column_in_points(hostile: auditkit.ComparisonResult) -> None:
    from auditkit.report.sections import percent_fields
    from auditkit.report.units import POINTS

    summary = json.loads((hostile.out / "summary.json").read_text())
    declared = percent_fields("compare")
    for path, rows in summary_tables(summary):
        score_like = {k for r in rows for k, v in r.items() if k in POINTS and isinstance(v, (int, float))}
        assert score_like <= set(declared.get(path, ())), f"{path}: {score_like - set(declared.get(path, ()))}"
