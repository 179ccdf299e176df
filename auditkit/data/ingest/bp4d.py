"""BP4D-Spontaneous as distributed: AUCoding/AU_OCC/<subject>_<task>.csv, AUCoding/AU_INT/AUxx/<subject>_<task>_AUxx.csv
and one JPEG per frame under Sequences/<subject>/<task>/<frame>.jpg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.data.format import au_name
from auditkit.data.ingest.labels import check_frames, int_column, read_csv_strict
from auditkit.data.ingest.units import ImageFrames, Unit
from auditkit.errors import DatasetError

NAME = "bp4d"
# The twelve AUs the BP4D literature (and the paper) evaluate; `--aus all` keeps every AU the files code.
DEFAULT_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
INTENSITY_AUS: tuple[int, ...] = (6, 10, 12, 14, 17)
OCCURRENCE_THRESHOLD = 1  # BP4D codes occurrence directly; intensities A-E are 1-5
UNCODED = 9
IMAGE_DIRS = ("Sequences", "Sequences(2D+3D)", "2D+3D", "2DImages")
OCC_DIRS = ("AUCoding/AU_OCC", "AU_OCC")
INT_DIRS = ("AUCoding/AU_INT", "AU_INT")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def _find(root: Path, candidates: tuple[str, ...], what: str) -> Path:
    for c in candidates:
        if (root / c).is_dir():
            return root / c
    raise DatasetError(root, None, f"no {what} folder found (looked for {', '.join(candidates)})")


def read_occurrence(path: Path, aus: tuple[int, ...] | None) -> pd.DataFrame:
    """An AU_OCC file as frame + AUxx columns with 9 (uncoded) turned into -1; aus=None keeps every coded AU."""
    df = read_csv_strict(path, header=True)
    numbers: dict[int, str] = {}
    for col in df.columns[1:]:
        try:
            numbers[int(str(col).strip())] = col
        except ValueError:
            raise DatasetError(path, str(col), "header cells after the first must be AU numbers") from None
    frames = int_column(df, df.columns[0], path, "frame")
    check_frames(frames, path)
    out = pd.DataFrame({"frame": frames})
    wanted = aus if aus is not None else tuple(sorted(numbers))
    for au in wanted:
        if au not in numbers:
            out[au_name(au)] = np.int8(-1)  # not in this file's header: not coded here
            continue
        v = int_column(df, numbers[au], path, str(numbers[au]).strip(), {0, 1, UNCODED})
        out[au_name(au)] = np.where(v == UNCODED, -1, v).astype(np.int8)
    return out


def read_intensity(path: Path) -> pd.DataFrame:
    """An AU_INT file (frame,intensity rows, no header; 9 uncoded) as frame + intensity with -1 for uncoded."""
    df = read_csv_strict(path, header=False)
    if df.shape[1] < 2:
        raise DatasetError(path, None, "expected two columns: frame,intensity")
    if pd.to_numeric(df.iloc[0, :2].str.strip(), errors="coerce").isna().any():
        df = df.iloc[1:]  # some copies carry a header row
    frames = int_column(df, df.columns[0], path, "frame")
    check_frames(frames, path)
    v = int_column(df, df.columns[1], path, "intensity", {0, 1, 2, 3, 4, 5, UNCODED})
    return pd.DataFrame({"frame": frames, "intensity": np.where(v == UNCODED, -1, v).astype(np.int8)})


def _images(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit():
            out[int(p.stem)] = p
    return out


def discover(root: Path, aus: tuple[int, ...] | None = DEFAULT_AUS, intensity: bool = True) -> list[Unit]:
    """Every coded subject/task of a BP4D tree as a Unit, checked against its images; sorted by subject and task."""
    root = Path(root)
    occ_dir = _find(root, OCC_DIRS, "AU occurrence (AU_OCC)")
    img_dir = _find(root, IMAGE_DIRS, "image (Sequences)")
    int_dir = next((root / c for c in INT_DIRS if (root / c).is_dir()), None) if intensity else None
    label_files = {p.stem: p for p in occ_dir.glob("*.csv")}
    if not label_files:
        raise DatasetError(occ_dir, None, "no <subject>_<task>.csv label files here")
    folders = {f"{s.name}_{t.name}": t for s in img_dir.iterdir() if s.is_dir() for t in s.iterdir() if t.is_dir()}
    orphans = sorted(set(folders) - set(label_files))
    if orphans:
        more = f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""
        raise DatasetError(occ_dir / f"{orphans[0]}.csv", None,
                           f"missing label file for the images in {folders[orphans[0]]}{more}")
    units = []
    for key in sorted(label_files):
        path = label_files[key]
        subject, _, task = key.rpartition("_")
        if not subject:
            raise DatasetError(path, None, "file name must be <subject>_<task>.csv")
        if key not in folders:
            raise DatasetError(path, None, f"no image folder {img_dir / subject / task} for these labels")
        labels = read_occurrence(path, aus)
        if int_dir is not None:
            for au in INTENSITY_AUS:
                if aus is not None and au not in aus:
                    continue
                ipath = int_dir / f"AU{au:02d}" / f"{key}_AU{au:02d}.csv"
                col = f"{au_name(au)}_intensity"
                ints = read_intensity(ipath)
                labels = labels.merge(ints.rename(columns={"intensity": col}), on="frame", how="left")
                labels[col] = labels[col].fillna(-1).astype(np.int8)
        images = _images(folders[key])
        missing = sorted(set(labels["frame"]) - set(images))
        if missing:
            raise DatasetError(
                path,
                "frame",
                f"label/frame count mismatch: {len(missing)} labelled frames have no image "
                f"in {folders[key]} (first: frame {missing[0]})",
            )
        units.append(Unit(subject, task, labels, ImageFrames(images), path, len(set(images) - set(labels["frame"]))))
    return units


def source_meta(units: list[Unit], aus: list[str]) -> dict:
    """The `sources` entry of dataset.json for a BP4D ingest."""
    coded = [au for au in aus if any((u.labels[au] >= 0).any() for u in units)]
    inten = [c[:4] for c in units[0].labels.columns if c.endswith("_intensity")] if units else []
    return {"coded_aus": coded, "intensity_aus": inten, "occurrence_threshold": OCCURRENCE_THRESHOLD,
            "sequences": sorted({u.sequence for u in units})}
