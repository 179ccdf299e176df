"""Streaming ingest: resumable after an interruption with the same fingerprint, demographics joined and reported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditkit.data import load_dataset
from auditkit.data.ingest import build_job, parse_aus, run_ingest, writer
from auditkit.data.ingest.demographics import read_demographics
from auditkit.errors import AuditkitError, DatasetError


class Stop(Exception):
    pass


@pytest.mark.slow
def test_interrupted_ingest_resumes_to_the_same_fingerprint(bp4d_tree: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    demo = bp4d_tree / "demographics.csv"
    run_ingest(build_job("bp4d", bp4d_tree, demo), tmp_path / "straight", n_jobs=1)
    calls: list[str] = []
    real = writer.process_unit

    def counting(unit, *args):
        calls.append(unit.key)
        return real(unit, *args)

    monkeypatch.setattr(writer, "process_unit", counting)

    def stop_after_two(done: int, total: int) -> None:
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        run_ingest(build_job("bp4d", bp4d_tree, demo), tmp_path / "resumed", n_jobs=1, progress=stop_after_two)
    partial = tmp_path / "resumed.partial"
    assert partial.is_dir() and not (tmp_path / "resumed").exists()
    first = list(calls)
    run_ingest(build_job("bp4d", bp4d_tree, demo), tmp_path / "resumed", n_jobs=1)
    assert len(calls) == 4 and not set(calls[2:]) & set(first)  # done units were not redone
    assert not partial.exists()
    assert load_dataset(tmp_path / "resumed").fingerprint == load_dataset(tmp_path / "straight").fingerprint


def test_partial_with_other_options_needs_force(bp4d_tree: Path, tmp_path: Path) -> None:
    demo = bp4d_tree / "demographics.csv"

    def stop(done: int, total: int) -> None:
        if done:
            raise Stop

    with pytest.raises(Stop):
        run_ingest(build_job("bp4d", bp4d_tree, demo), tmp_path / "o", n_jobs=1, progress=stop)
    other = build_job("bp4d", bp4d_tree, demo, aus="1,2")
    with pytest.raises(AuditkitError, match="unfinished ingest with other inputs"):
        run_ingest(other, tmp_path / "o", n_jobs=1)
    run_ingest(other, tmp_path / "o", n_jobs=1, force=True)
    assert load_dataset(tmp_path / "o").aus == ["AU01", "AU02"]
    with pytest.raises(AuditkitError, match="already exists"):
        run_ingest(other, tmp_path / "o", n_jobs=1)


def test_parse_aus() -> None:
    assert parse_aus("12, AU01,au2") == (1, 2, 12)
    assert parse_aus("all") is None and parse_aus(None) == ()
    with pytest.raises(AuditkitError, match="--aus: 'x' is not an AU number"):
        parse_aus("1,x")


def test_demographics_normalized_and_checked(tmp_path: Path) -> None:
    p = tmp_path / "demo.csv"
    p.write_text("subject, gender ,fitzpatrick,age\nF001,F,2,20\nM002,Male,,31\n")
    df = read_demographics(p)
    assert df["gender"].tolist() == ["female", "male"]
    assert df["fitzpatrick"].iloc[0] == 2 and pd.isna(df["fitzpatrick"].iloc[1])
    p.write_text("subject,fitzpatrick\nF001,7\n")
    with pytest.raises(DatasetError, match="fitzpatrick: subject 'F001' has '7'"):
        read_demographics(p)
    p.write_text("subject,gender\nF001,f\nF001,m\n")
    with pytest.raises(DatasetError, match="subject: subject 'F001' appears more than once"):
        read_demographics(p)
    p.write_text("id,gender\nF001,f\n")
    with pytest.raises(DatasetError, match="subject: required column is missing"):
        read_demographics(p)
    q = tmp_path / "demo.parquet"
    q.write_bytes(b"PAR1 broken")
    with pytest.raises(DatasetError, match="demo.parquet: not a readable parquet file"):
        read_demographics(q)


def test_demographics_mismatch_is_reported_not_dropped(bp4d_tree: Path, tmp_path: Path) -> None:
    demo = pd.read_csv(bp4d_tree / "demographics.csv")
    missing = demo["subject"].iloc[1]
    demo = pd.concat(
        [demo.iloc[:1], pd.DataFrame({"subject": ["X999"], "gender": ["male"], "fitzpatrick": [5], "age": [40]})]
    )
    path = tmp_path / "demo.parquet"
    demo.to_parquet(path)
    with pytest.raises(DatasetError, match=f"demo.parquet: subject: no row for {missing}"):
        build_job("bp4d", bp4d_tree, path)
    job = build_job("bp4d", bp4d_tree, path, allow_missing_demographics=True)
    assert job.demographics.missing == [missing] and job.demographics.unused == ["X999"]
    run_ingest(job, tmp_path / "o", n_jobs=1)
    ds = load_dataset(tmp_path / "o")
    assert missing in set(ds.subjects["subject"])  # kept, with empty attributes
    assert pd.isna(ds.subjects.set_index("subject").loc[missing, "fitzpatrick"])
    assert ds.meta["ingest"]["demographics"] == {"missing": [missing], "unused": ["X999"]}
    with pytest.raises(AuditkitError, match="no demographics file given"):
        build_job("bp4d", bp4d_tree, None)


def test_unknown_source_and_root(tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="unknown source 'ck'"):
        build_job("ck", tmp_path)
    with pytest.raises(AuditkitError, match="not a directory"):
        build_job("bp4d", tmp_path / "nope")
    with pytest.raises(DatasetError, match="no AU occurrence"):
        build_job("bp4d", tmp_path, allow_missing_demographics=True)


def test_dataset_source_plugins(disfa_tree: Path, tmp_path: Path) -> None:
    from auditkit.plugins import load

    src = load("dataset", "disfa")()
    out = src.load(tmp_path / "d", root=disfa_tree, demographics=disfa_tree / "demographics.csv", n_jobs=1)
    ds = load_dataset(out)
    assert set(ds.subjects["dataset"]) == {"disfa"}
    assert src.load(tmp_path / "d", root=tmp_path / "nowhere") == out  # a finished ingest is reused
    assert load("dataset", "bp4d")().name == "bp4d"
