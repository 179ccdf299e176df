"""The notebook API: auditkit.gap returns tidy tables and writes the report on request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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
    assert set(result.disparity_changes["normalizer"]) == {"histeq"} and result.disparity_summary["p"].notna().any()
    html = result.to_html()
    assert html.name == "report.html" and html.exists()


def test_gap_from_python_validates_like_the_cli(audit_dataset: Path) -> None:
    with pytest.raises(TypeError, match="n_trian"):  # explicit keywords: a misspelt one is Python's own error
        auditkit.gap(audit_dataset, attr="gender", n_trian=2)
    with pytest.raises(AuditkitError, match="deepfn has no setting 'iters'"):
        auditkit.gap(audit_dataset, attr="gender", normalizers=["deepfn"], normalizer_options={"deepfn": {"iters": 3}})


def test_predictions_and_model_audits_from_python(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.data import load_dataset
    from tests.test_classifiers_prediction_files import write_generic
    from tests.test_classifiers_pretrained import _torchscript

    preds = write_generic(load_dataset(audit_dataset), tmp_path / "preds.parquet", {"female": 0.05, "male": 0.3})
    result = auditkit.audit_predictions(preds, audit_dataset, attr="gender", out=tmp_path / "p")
    assert set(result.conditions["test_group"]) == {"female", "male"} and result.gaps.empty  # no within/cross here
    overall = result.disparities[result.disparities["au"] == "all"].set_index("test_group")
    assert overall.loc["female", "score"] > overall.loc["male", "score"]  # the noisier group scores lower
    assert set(result.missed_frames["group"]) == {"female", "male"} and result.run["counts"]["matched_frames"] > 0
    assert result.to_html().exists()
    with pytest.raises(AuditkitError, match="faces must be"):
        auditkit.audit_predictions(preds, audit_dataset, attr="gender", faces="all")
    # keywords mirror the CLI's options: format as --format
    again = auditkit.audit_predictions(preds, audit_dataset, attr="gender", out=tmp_path / "p2", format="generic")
    pd.testing.assert_frame_equal(again.results, result.results)
    # a failed call into a temporary directory leaves none behind
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("auditkit-*"))
    with pytest.raises(AuditkitError):
        auditkit.audit_predictions(preds, audit_dataset, attr="gender", format="openface")
    assert set(Path(tempfile.gettempdir()).glob("auditkit-*")) == before
    model = auditkit.audit_model(_torchscript(tmp_path), audit_dataset, attr="gender", normalizers=["histeq"],
                                 source="bp4d-synth", out=tmp_path / "m")
    assert set(model.conditions["normalizer"]) == {"none", "histeq"} and model.missed_frames.empty
    assert set(model.disparity_summary["normalizer"]) == {"none", "histeq"}
    with pytest.raises(AuditkitError, match="no setting 'strength'"):
        auditkit.audit_model(_torchscript(tmp_path), audit_dataset, attr="gender", normalizers=["histeq"],
                             normalizer_options={"histeq": {"strength": 2}})


def test_normalize_from_python_matches_the_cli(tiny_dataset: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    import numpy as np

    from auditkit.data import load_dataset

    result = auditkit.normalize(tiny_dataset, tmp_path / "api", normalizer="histeq", preview=tmp_path / "p.png",
                                quality=True)
    assert result.out == tmp_path / "api" and result.preview.read_bytes()[:4] == b"\x89PNG"
    assert len(result.transfer_error) == load_dataset(tiny_dataset).subjects.shape[0] - 1  # the template aside
    done = subprocess.run([sys.executable, "-m", "auditkit", "normalize", str(tiny_dataset), "--normalizer", "histeq",
                           "--out", str(tmp_path / "cli")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.asarray(load_dataset(tmp_path / "api").faces), np.asarray(load_dataset(tmp_path / "cli").faces))
    with pytest.raises(AuditkitError, match="already exists"):
        auditkit.normalize(tiny_dataset, tmp_path / "api", normalizer="histeq")
    with pytest.raises(AuditkitError, match="unknown setting 'tiles'"):
        auditkit.normalize(tiny_dataset, tmp_path / "x", normalizer="histeq", options={"tiles": 8})


def test_public_functions_take_explicit_keywords() -> None:
    import inspect

    for fn in (auditkit.gap, auditkit.audit_model, auditkit.audit_predictions, auditkit.normalize, auditkit.compare):
        params = inspect.signature(fn).parameters.values()
        assert not [p for p in params if p.kind is p.VAR_KEYWORD], fn.__name__
        assert "Parameters\n    ----------" in (fn.__doc__ or ""), f"{fn.__name__}: numpydoc parameters"


def test_the_other_commands_have_python_equivalents(tiny_dataset: Path, dataset_copy: Path, audit_dataset: Path,
                                                    tmp_path: Path) -> None:
    seen = auditkit.inspect(tiny_dataset)
    assert seen.problems == [] and seen.subjects["subjects"].sum() == 6 and set(seen.splits["attr"]) >= {"gender"}
    (dataset_copy / "frames.parquet").write_bytes(b"not parquet")
    broken = auditkit.inspect(dataset_copy)
    assert broken.problems and "frames.parquet" in str(broken.problems[0]) and broken.subjects.empty
    cost = auditkit.plan(audit_dataset, attr="gender", normalizers=["deepfn"], repeats=2)
    assert list(cost["what"])[0] == "LeNet-5 trainings" and (cost["cpu_core_hours"] > 0).all()
    assert auditkit.merge_datasets.__module__ == "auditkit.data.merge"  # tested in tests/test_data_merge.py
    assert auditkit.describe_model("lenet5").total > 0
    assert auditkit.available_plugins()["normalizer"]["histeq"] == "auditkit.normalizers.histeq:HistEqNormalizer"


def test_ingest_from_python(bp4d_tree: Path, tmp_path: Path) -> None:
    stats = auditkit.ingest("bp4d", bp4d_tree, tmp_path / "out", demographics=bp4d_tree / "demographics.csv", jobs=1)
    assert stats["frames_kept"] > 0 and auditkit.inspect(tmp_path / "out").problems == []
    with pytest.raises(AuditkitError, match="unknown source 'nope'"):
        auditkit.ingest("nope", bp4d_tree, tmp_path / "x")
