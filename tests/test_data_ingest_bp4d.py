"""BP4D ingestion: the distributed label layout read exactly, and every malformed input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.data import load_dataset
from auditkit.data.ingest import build_job, run_ingest
from auditkit.data.ingest.bp4d import discover, read_intensity, read_occurrence
from auditkit.errors import AuditkitError, DatasetError


def test_occurrence_file_nine_becomes_minus_one(tmp_path: Path) -> None:
    p = tmp_path / "F001_T1.csv"
    p.write_text("0,1,2,4,12,99\n10,1,0,9,1,0\n11,0,1,9,9,0\n12,9,9,9,9,0\n")
    df = read_occurrence(p, (1, 2, 4, 12, 24))
    assert df["frame"].tolist() == [10, 11, 12]
    assert df["AU01"].tolist() == [1, 0, -1] and df["AU04"].tolist() == [-1, -1, -1]
    assert df["AU24"].tolist() == [-1, -1, -1]  # not in the header: not coded, never 0
    assert "AU99" not in df.columns
    assert list(read_occurrence(p, None).columns)[-1] == "AU99"  # --aus all


@pytest.mark.parametrize("text,field", [
    ("0,1,2\n10,1,7\n", "2"),  # 7 is not 0/1/9
    ("0,1,x\n10,1,0\n", "x"),  # header cell not an AU number
    ("0,1,2\n10,1,0\n10,0,0\n", "frame"),  # frame labelled twice
    ("0,1,2\nten,1,0\n", "frame"),
])
def test_occurrence_file_errors_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    p = tmp_path / "F001_T1.csv"
    p.write_text(text)
    with pytest.raises(DatasetError) as exc:
        read_occurrence(p, (1, 2))
    assert exc.value.path == p and exc.value.field == field


def test_intensity_file(tmp_path: Path) -> None:
    p = tmp_path / "F001_T1_AU06.csv"
    p.write_text("10,0\n11,3\n12,9\n")
    assert read_intensity(p)["intensity"].tolist() == [0, 3, -1]
    p.write_text("10,6\n")
    with pytest.raises(DatasetError, match="intensity: row 1 holds '6'"):
        read_intensity(p)


def test_discover_reads_the_official_layout(bp4d_tree: Path) -> None:
    units = discover(bp4d_tree)
    assert [u.sequence for u in units] == ["T1", "T2", "T1", "T2"]
    subjects = [u.subject for u in units]
    assert subjects == sorted(subjects) and len(set(subjects)) == 2
    u = units[0]
    assert u.labels["frame"].tolist() == list(range(3, 11))  # images 1-2 are not coded
    assert u.unlabelled == 2
    assert (u.labels["AU01"].iloc[-2:] == -1).all()  # the tree writes 9 for the last two frames
    assert {"AU06_intensity", "AU17_intensity"} <= set(u.labels.columns)
    assert (u.labels["AU06_intensity"].iloc[-2:] == -1).all()


def test_missing_label_file(bp4d_tree: Path) -> None:
    victim = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[1]
    victim.unlink()
    with pytest.raises(DatasetError, match="missing label file") as exc:
        discover(bp4d_tree)
    assert exc.value.path.name == victim.name


def test_missing_intensity_file(bp4d_tree: Path) -> None:
    victim = sorted((bp4d_tree / "AUCoding" / "AU_INT" / "AU12").glob("*.csv"))[0]
    victim.unlink()
    with pytest.raises(DatasetError, match="missing label file") as exc:
        discover(bp4d_tree)
    assert exc.value.path == victim


def test_label_frame_count_mismatch(bp4d_tree: Path) -> None:
    occ = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[0]
    subject, task = occ.stem.split("_")
    (bp4d_tree / "Sequences" / subject / task / "0005.jpg").unlink()
    with pytest.raises(DatasetError, match="label/frame count mismatch: 1 labelled frames have no image") as exc:
        discover(bp4d_tree)
    assert exc.value.path == occ and exc.value.field == "frame"


def test_unreadable_image_stops_or_is_recorded(bp4d_tree: Path, tmp_path: Path) -> None:
    occ = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[0]
    subject, task = occ.stem.split("_")
    bad = bp4d_tree / "Sequences" / subject / task / "0004.jpg"
    whole = bad.read_bytes()
    bad.write_bytes(whole[: len(whole) // 2])  # a JPEG cut in half decodes (grey rows) but is unreadable, not "no face"
    demo = bp4d_tree / "demographics.csv"
    with pytest.raises(AuditkitError, match="0004.jpg: unreadable image"):
        run_ingest(build_job("bp4d", bp4d_tree, demo), tmp_path / "out", n_jobs=1)
    stats = run_ingest(
        build_job("bp4d", bp4d_tree, demo, skip_unreadable=True), tmp_path / "out2", n_jobs=1, force=True
    )
    assert stats["unreadable"] == 1 and stats["frames_kept"] == stats["frames_labelled"] - 1
    skipped = pd.read_parquet(tmp_path / "out2" / "skipped_frames.parquet")
    assert skipped[["subject", "sequence", "frame", "reason"]].values.tolist() == [[subject, task, 4, "unreadable"]]


@pytest.mark.slow
def test_ingest_end_to_end(bp4d_tree: Path, tmp_path: Path) -> None:
    # a frame with no face in it is kept out and counted, not an error
    occ = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[-1]
    subject, task = occ.stem.split("_")
    import cv2

    cv2.imwrite(str(bp4d_tree / "Sequences" / subject / task / "0006.jpg"), np.full((360, 480, 3), 100, np.uint8))
    out = tmp_path / "bp4d-data"
    stats = run_ingest(build_job("bp4d", bp4d_tree, bp4d_tree / "demographics.csv"), out, n_jobs=2)
    ds = load_dataset(out)
    assert stats["no_face"] == 1 and stats["no_face_by_subject"] == {subject: 1}
    assert len(ds.frames) == stats["frames_kept"] == 4 * 8 - 1
    assert ds.meta["ingest"]["no_face"] == 1 and ds.meta["ingest"]["unlabelled_frames_skipped"] == 8
    assert ds.faces.shape[1:] == (128, 128)
    assert set(ds.subjects["dataset"]) == {"bp4d"} and ds.subjects["fitzpatrick"].notna().all()
    assert ds.meta["sources"]["bp4d"]["occurrence_threshold"] == 1
    assert 6 not in ds.frames[(ds.frames["subject"] == subject) & (ds.frames["sequence"] == task)]["frame"].tolist()
    assert (ds.frames["AU01"] == -1).sum() == 4 * 2  # two 9-coded frames per sequence stay -1


def test_read_image_tells_cut_jpegs_and_garbage_from_images(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from auditkit.data.ingest.units import read_image

    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    path = tmp_path / "a.jpg"
    cv2.imwrite(str(path), img)
    assert read_image(path).shape == (32, 32, 3)
    path.write_bytes(path.read_bytes()[:-50])
    assert read_image(path) is None
    path.write_bytes(b"not an image")
    assert read_image(path) is None
    assert read_image(tmp_path / "missing.jpg") is None
