"""The notebook API: auditkit.gap returns tidy tables and writes the report on request."""

from __future__ import annotations

from pathlib import Path

import pytest

import auditkit
from auditkit.errors import AuditkitError


def test_gap_from_python_returns_tidy_tables(audit_dataset: Path, tmp_path: Path) -> None:
    result = auditkit.gap(audit_dataset, attr="gender", normalizers=["histeq"], preset="smoke", repeats=1,
                          n_train=2, n_val=1, jobs=1, out=tmp_path / "a")
    assert set(result.conditions["normalizer"]) == {"none", "histeq"}
    assert {"normalizer", "test_group", "gap", "p", "p_repetitions"} <= set(result.gaps.columns)
    assert set(result.gaps["test_group"]) >= {"all"} and result.ceiling.empty  # no oracle: no ceiling
    assert set(result.scores["condition"]) == {"within", "cross"}
    overall = result.disparities[result.disparities["au"] == "all"]
    assert set(overall["test_group"]) == {"female", "male"} and set(overall["normalizer"]) == {"none", "histeq"}
    assert (overall["ratio_to_best"] <= 1).all() and overall["score_ci_low"].notna().all()
    assert set(result.disparity_summary["normalizer"]) == {"none", "histeq"}
    html = result.to_html()
    assert html.name == "report.html" and html.exists()


def test_gap_from_python_validates_like_the_cli(audit_dataset: Path) -> None:
    with pytest.raises(AuditkitError, match="unknown argument 'n_trian'"):
        auditkit.gap(audit_dataset, attr="gender", n_trian=2)
    with pytest.raises(AuditkitError, match="deepfn has no setting 'iters'"):
        auditkit.gap(audit_dataset, attr="gender", normalizers=["deepfn"], normalizer_options={"deepfn": {"iters": 3}})
