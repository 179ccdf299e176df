"""DISFA as distributed: ActionUnit_Labels/<SN>/<SN>_au<k>.txt (frame,intensity 0-5 per line) for twelve AUs and one
video per camera, Videos_LeftCamera/LeftVideo<SN>_comp.avi and Videos_RightCamera/RightVideo<SN>_comp.avi."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.data.format import au_name
from auditkit.data.ingest.labels import check_frames, int_column, read_csv_strict
from auditkit.data.ingest.units import Unit, VideoFrames
from auditkit.errors import DatasetError

NAME = "disfa"
DEFAULT_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
OCCURRENCE_THRESHOLD = 2  # the usual convention (and the paper's): intensity >= 2 counts as present
LABEL_DIRS = ("ActionUnit_Labels", "ActionUnit_Labels/ActionUnit_Labels")
VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv"}


def read_au_file(path: Path) -> pd.DataFrame:
    """One <SN>_au<k>.txt as frame + intensity (0-5)."""
    df = read_csv_strict(path, header=False)
    if df.shape[1] < 2:
        raise DatasetError(path, None, "expected two comma-separated columns: frame,intensity")
    frames = int_column(df, df.columns[0], path, "frame")
    check_frames(frames, path)
    return pd.DataFrame({"frame": frames, "intensity": int_column(df, df.columns[1], path, "intensity", set(range(6)))})


def read_subject_labels(folder: Path, subject: str, aus: tuple[int, ...], threshold: int) -> pd.DataFrame:
    """All AU files of one subject joined on frame: AUxx occurrence (intensity >= threshold) and AUxx_intensity."""
    out: pd.DataFrame | None = None
    first: Path | None = None
    for au in aus:
        path = folder / f"{subject}_au{au}.txt"
        t = read_au_file(path)
        if out is None:
            out, first = pd.DataFrame({"frame": t["frame"]}), path
        elif len(t) != len(out) or not np.array_equal(t["frame"].to_numpy(), out["frame"].to_numpy()):
            raise DatasetError(
                path, "frame", f"label/frame count mismatch: {len(t)} frames here, {len(out)} in {first.name}"
            )
        out[au_name(au)] = (t["intensity"].to_numpy() >= threshold).astype(np.int8)
        out[f"{au_name(au)}_intensity"] = t["intensity"].to_numpy().astype(np.int8)
    assert out is not None
    return out[["frame"] + [au_name(a) for a in aus] + [f"{au_name(a)}_intensity" for a in aus]]


def _video(root: Path, camera: str, subject: str) -> Path:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("video")
                     and camera in p.name.lower())
    if not folders:
        raise DatasetError(root, None, f"no {camera}-camera video folder (expected Videos_{camera.title()}Camera)")
    for folder in folders:
        hits = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and subject.lower() in p.name.lower()
        )
        if hits:
            return hits[0]
    raise DatasetError(folders[0], None, f"no video for {subject} (expected {camera.title()}Video{subject}_comp.avi)")


def _frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DatasetError(path, None, "cannot open this video (corrupt file or codec not supported by OpenCV)")
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def discover(root: Path, aus: tuple[int, ...] | None = DEFAULT_AUS, camera: str = "left",
             threshold: int = OCCURRENCE_THRESHOLD) -> list[Unit]:
    """Every DISFA subject as one Unit (its video from `camera`), sorted by subject."""
    root = Path(root)
    if camera not in ("left", "right"):
        raise DatasetError(root, "camera", f"must be left or right, got {camera!r}")
    label_root = next((root / c for c in LABEL_DIRS if (root / c).is_dir()), None)
    if label_root is None:
        raise DatasetError(root, None, f"no label folder found (looked for {', '.join(LABEL_DIRS)})")
    subjects = sorted(p.name for p in label_root.iterdir() if p.is_dir())
    if not subjects:
        raise DatasetError(label_root, None, "no <SN> subject folders here")
    aus = aus if aus is not None else DEFAULT_AUS
    units = []
    for sn in subjects:
        labels = read_subject_labels(label_root / sn, sn, aus, threshold)
        video = _video(root, camera, sn)
        count = _frame_count(video)
        last = int(labels["frame"].max())
        # DISFA codes every frame of its videos: labels that stop early (or run on) belong to another video or a
        # truncated download. The container's count can be missing (0); decoding then checks the long case again.
        if count > 0 and count != last:
            raise DatasetError(video, "frames", f"label/frame count mismatch: labels run to frame {last} "
                                                f"but the video has {count} frames")
        units.append(Unit(sn, camera, labels, VideoFrames(video), label_root / sn, max(0, count - len(labels))))
    return units


def source_meta(units: list[Unit], aus: list[str], threshold: int = OCCURRENCE_THRESHOLD) -> dict:
    """The `sources` entry of dataset.json for a DISFA ingest."""
    return {"coded_aus": aus, "intensity_aus": aus, "occurrence_threshold": threshold,
            "sequences": sorted({u.sequence for u in units})}
