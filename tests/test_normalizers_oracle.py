"""The `oracle` normalizer: the truth renderer's faces after the shared preprocessing, and refusal without ground
truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from auditkit.data import load_dataset
from auditkit.data.synth.truth import load_truth
from auditkit.data.template import select_template
from auditkit.errors import AuditkitError
from auditkit.normalizers.apply import normalize_dataset
from auditkit.normalizers.base import check_dataset, prepare
from auditkit.normalizers.histeq import equalize
from auditkit.normalizers.oracle import OracleNormalizer
from auditkit.plugins import make_normalizer
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.runner import run_audit
from tests.helpers import run_cli


def _fitted(data: Path) -> tuple[OracleNormalizer, object, str]:
    ds = load_dataset(data)
    template = select_template(ds)
    norm = make_normalizer("oracle", seed=0, progress=None)
    prepare(norm, ds, template)
    subjects = {s: ds.faces_of(s) for s in ds.subjects["subject"] if s != template}
    return norm.fit(ds.faces_of(template), subjects), ds, template


def test_oracle_output_is_the_truth_rendered_on_the_template_and_equalized(tiny_dataset: Path) -> None:
    norm, ds, template = _fitted(tiny_dataset)
    truth = load_truth(ds)
    for subject in [s for s in ds.subjects["subject"] if s != template][:2]:
        rows = np.flatnonzero(ds.frames["subject"].to_numpy() == subject)
        out = norm.transform(subject, ds.faces_of(subject))
        expected = equalize(truth.render(rows, on=template))
        assert out.dtype == np.uint8 and out.shape == ds.faces_of(subject).shape
        np.testing.assert_array_equal(out, expected)
        # the identity is gone: another subject's same-numbered frame differs only by expression and pose
        assert not np.array_equal(out, ds.faces_of(subject))
    assert norm.fitted_settings()["template"] == template


def test_oracle_needs_every_frame_of_the_subject(tiny_dataset: Path) -> None:
    norm, ds, template = _fitted(tiny_dataset)
    subject = next(s for s in ds.subjects["subject"] if s != template)
    with pytest.raises(AuditkitError, match="must be given all 24 of their frames"):
        norm.transform(subject, ds.faces_of(subject)[:5])


def test_oracle_unbound_is_a_clear_error() -> None:
    with pytest.raises(AuditkitError, match="needs the dataset's ground truth"):
        OracleNormalizer().fit(np.zeros((1, 8, 8), np.uint8), {})


def _without_truth(tiny_dataset: Path, tmp_path: Path) -> Path:
    data = Path(shutil.copytree(tiny_dataset, tmp_path / "ingested"))
    shutil.rmtree(data / "synthetic")  # what an ingested or merged directory looks like
    return data


def test_check_refuses_data_without_ground_truth(tiny_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(_without_truth(tiny_dataset, tmp_path))
    with pytest.raises(AuditkitError, match="needs synthetic ground truth"):
        check_dataset(OracleNormalizer, ds)
    with pytest.raises(AuditkitError, match="needs synthetic ground truth"):
        normalize_dataset(ds, "oracle", tmp_path / "normalized")
    assert not (tmp_path / "normalized").exists()
    check_dataset(OracleNormalizer, load_dataset(tiny_dataset))  # the synthetic one passes


@pytest.mark.slow
def test_gap_with_oracle_on_ingested_data_is_one_line_and_writes_nothing(audit_dataset: Path, tmp_path: Path) -> None:
    data = _without_truth(audit_dataset, tmp_path)
    out = tmp_path / "audit"
    res = run_cli("gap", "--attr", "gender", "--data", str(data), "--out", str(out), "--normalizer", "oracle",
                  "--train", "2", "--val", "1", "--preset", "smoke")
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip() and "trainings" not in line]
    assert len(lines) == 1 and str(data) in lines[0] and "oracle" in lines[0] and "ground truth" in lines[0]
    assert "Traceback" not in res.stderr
    assert not out.exists()


@pytest.mark.slow
def test_oracle_audit_reports_the_ceiling(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.report.render import build_report
    from auditkit.report.tables import audit_tables, ceiling_shares

    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), normalizers=("histeq", "oracle"),
                                  n_train=2, n_val=1, repeats=1)
    results = run_audit(cfg, tmp_path / "a", jobs=1)
    assert set(results["normalizer"]) == {"none", "histeq", "oracle"}
    tables = audit_tables(results)
    assert tables.ceiling == "oracle"  # its plugin declares `ceiling`
    assert json.loads((tmp_path / "a" / "run.json").read_text())["ceiling"] == "oracle"  # recorded by the run
    shares = ceiling_shares(tables.conditions, tables.ceiling)
    assert list(shares["normalizer"]) == ["histeq"] and set(shares["ceiling"]) == {"oracle"}
    build_report(tmp_path / "a")
    md = (tmp_path / "a" / "summary.md").read_text()
    assert "## Share of the ceiling" in md and "| histeq |" in md
    assert "oracle (the ceiling" in md
    assert 'id="ceiling"' in (tmp_path / "a" / "report.html").read_text()
