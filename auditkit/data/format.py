"""The on-disk dataset directory: file names, column rules, and a deterministic writer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT_VERSION = 1
SUBJECTS_FILE = "subjects.parquet"
FRAMES_FILE = "frames.parquet"
FACES_FILE = "faces.npy"
META_FILE = "dataset.json"
SKIPPED_FILE = "skipped_frames.parquet"  # ingested datasets: labelled frames left out (subject, frame, reason)
TRUTH_DIR = "synthetic"  # synthetic datasets: the ground truth each frame was rendered from (data/synth/truth.py)

SUBJECT_REQUIRED = ("subject", "dataset")
FRAME_REQUIRED = ("subject", "sequence", "frame", "face")
AU_COLUMN = re.compile(r"^AU\d{2}$")
INTENSITY_COLUMN = re.compile(r"^AU\d{2}_intensity$")
OCCURRENCE_VALUES = frozenset({-1, 0, 1})
INTENSITY_RANGE = (-1, 5)  # -1 not coded, 0 absent, 1-5 FACS intensities A-E


def au_name(number: int) -> str:
    """Canonical column name of an action unit number, e.g. 6 -> 'AU06'."""
    return f"AU{int(number):02d}"


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write a frame without its pandas index, with settings that make the bytes reproducible."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def write_meta(meta: dict[str, Any], path: Path) -> None:
    """Write dataset.json with sorted keys so equal metadata gives equal bytes."""
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def frames_dtypes(aus: list[str], intensity: list[str]) -> dict[str, Any]:
    """The column dtypes frames.parquet is written with."""
    dtypes: dict[str, Any] = {"subject": "string", "sequence": "string", "frame": np.int32, "face": np.int64}
    dtypes.update({au: np.int8 for au in aus})
    dtypes.update({col: np.int8 for col in intensity})
    return dtypes


def write_tables(root: Path, subjects: pd.DataFrame, frames: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Write subjects.parquet, frames.parquet and dataset.json into an existing directory."""
    aus = [c for c in frames.columns if AU_COLUMN.match(c)]
    intensity = [c for c in frames.columns if INTENSITY_COLUMN.match(c)]
    frames = frames.astype(frames_dtypes(aus, intensity))
    subjects = subjects.astype({"subject": "string", "dataset": "string"})
    write_parquet(subjects, root / SUBJECTS_FILE)
    write_parquet(frames, root / FRAMES_FILE)
    write_meta(meta, root / META_FILE)


def open_faces_for_writing(path: Path, n: int, height: int, width: int) -> np.memmap:
    """Create faces.npy as a writable memory map so large datasets never sit in RAM whole."""
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, height, width))
