"""DISFA ingestion: per-AU label files, videos decoded frame by frame, and every malformed input named."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.data import load_dataset
from auditkit.data.ingest import build_job, run_ingest
from auditkit.data.ingest.disfa import DEFAULT_AUS, discover, read_subject_labels
from auditkit.errors import DatasetError


def _labels(folder: Path, sn: str, values: dict[int, list[int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for au in DEFAULT_AUS:
        v = values.get(au, [0] * len(next(iter(values.values()))))
        (folder / f"{sn}_au{au}.txt").write_text("".join(f"{k + 1},{x}\n" for k, x in enumerate(v)))


def test_occurrence_is_intensity_at_least_threshold(tmp_path: Path) -> None:
    _labels(tmp_path / "SN001", "SN001", {1: [0, 1, 2, 5], 12: [3, 0, 0, 1]})
    df = read_subject_labels(tmp_path / "SN001", "SN001", DEFAULT_AUS, threshold=2)
    assert df["AU01"].tolist() == [0, 0, 1, 1] and df["AU01_intensity"].tolist() == [0, 1, 2, 5]
    assert df["AU12"].tolist() == [1, 0, 0, 0]
    assert read_subject_labels(tmp_path / "SN001", "SN001", DEFAULT_AUS, threshold=1)["AU01"].tolist() == [0, 1, 1, 1]


def test_label_files_disagree_on_frames(tmp_path: Path) -> None:
    _labels(tmp_path / "SN001", "SN001", {1: [0, 1, 2]})
    (tmp_path / "SN001" / "SN001_au4.txt").write_text("1,0\n2,0\n")
    with pytest.raises(DatasetError, match="label/frame count mismatch: 2 frames here, 3 in SN001_au1.txt") as exc:
        read_subject_labels(tmp_path / "SN001", "SN001", DEFAULT_AUS, 2)
    assert exc.value.path.name == "SN001_au4.txt"


def test_bad_intensity_value(tmp_path: Path) -> None:
    _labels(tmp_path / "SN001", "SN001", {1: [0, 1, 2]})
    (tmp_path / "SN001" / "SN001_au2.txt").write_text("1,0\n2,7\n3,0\n")
    with pytest.raises(DatasetError, match=r"SN001_au2.txt: intensity: row 2 holds '7'"):
        read_subject_labels(tmp_path / "SN001", "SN001", DEFAULT_AUS, 2)


def test_discover_official_layout(disfa_tree: Path) -> None:
    units = discover(disfa_tree)
    assert [u.subject for u in units] == ["SN001", "SN002"]
    assert all(u.sequence == "left" and len(u.labels) == 24 for u in units)
    assert units[0].pixels.path.name == "LeftVideoSN001_comp.avi"


def test_missing_label_file(disfa_tree: Path) -> None:
    victim = disfa_tree / "ActionUnit_Labels" / "SN002" / "SN002_au25.txt"
    victim.unlink()
    with pytest.raises(DatasetError, match="missing label file") as exc:
        discover(disfa_tree)
    assert exc.value.path == victim


def test_missing_camera_and_video(disfa_tree: Path) -> None:
    with pytest.raises(DatasetError, match="no right-camera video folder"):
        discover(disfa_tree, camera="right")
    (disfa_tree / "Videos_LeftCamera" / "LeftVideoSN002_comp.avi").unlink()
    with pytest.raises(DatasetError, match="no video for SN002"):
        discover(disfa_tree)


def test_labels_longer_than_video(disfa_tree: Path) -> None:
    folder = disfa_tree / "ActionUnit_Labels" / "SN001"
    for f in folder.glob("*.txt"):
        f.write_text(f.read_text() + "25,0\n26,0\n")
    with pytest.raises(
        DatasetError, match="label/frame count mismatch: labels run to frame 26 but the video has 24"
    ) as exc:
        discover(disfa_tree)
    assert exc.value.path.name == "LeftVideoSN001_comp.avi"


def test_labels_shorter_than_video(disfa_tree: Path) -> None:
    folder = disfa_tree / "ActionUnit_Labels" / "SN001"
    for f in folder.glob("*.txt"):
        f.write_text("".join(f.read_text().splitlines(keepends=True)[:20]))
    with pytest.raises(
        DatasetError, match="label/frame count mismatch: labels run to frame 20 but the video has 24"
    ) as exc:
        discover(disfa_tree)
    assert exc.value.path.name == "LeftVideoSN001_comp.avi"


def test_corrupt_video(disfa_tree: Path) -> None:
    (disfa_tree / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(DatasetError, match="LeftVideoSN001_comp.avi: cannot open this video"):
        discover(disfa_tree)


def test_ingest_end_to_end(disfa_tree: Path, tmp_path: Path) -> None:
    stats = run_ingest(build_job("disfa", disfa_tree, disfa_tree / "demographics.csv"), tmp_path / "d", n_jobs=1)
    ds = load_dataset(tmp_path / "d")
    assert stats["frames_labelled"] == 48 and len(ds.frames) == stats["frames_kept"] >= 46
    assert ds.aus == ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
    assert ds.frames["frame"].min() == 1 and (ds.frames["AU01_intensity"] >= 0).all()
    assert ds.meta["provenance"]["options"]["camera"] == "left"
    assert ds.meta["sources"]["disfa"]["occurrence_threshold"] == 2
