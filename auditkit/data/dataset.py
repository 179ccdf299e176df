"""A loaded, validated dataset directory: tables in memory, faces memory-mapped."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditkit.data.format import FACES_FILE, FRAMES_FILE, INTENSITY_COLUMN, META_FILE, SUBJECTS_FILE
from auditkit.data.validate import check_frames, check_subjects, open_faces, read_meta, read_table, require_files


@dataclass(eq=False)
class Dataset:
    """A validated dataset: `subjects` and `frames` tables, `faces` (N, H, W) uint8 memmap, `meta`."""

    root: Path
    meta: dict[str, Any]
    subjects: pd.DataFrame
    frames: pd.DataFrame
    faces: np.ndarray = field(repr=False)

    @property
    def aus(self) -> list[str]:
        """Action unit columns, in dataset.json order."""
        return list(self.meta["aus"])

    @property
    def intensity_columns(self) -> list[str]:
        """Optional AU intensity columns present in frames.parquet."""
        return [c for c in self.frames.columns if INTENSITY_COLUMN.match(c)]

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every face."""
        h, w = self.meta["image_size"]
        return int(h), int(w)

    def coded_aus(self, dataset: str | None = None) -> list[str]:
        """AUs coded (not all -1) in the whole directory or in one of its source datasets."""
        frames = self.frames
        if dataset is not None:
            ids = set(self.subjects.loc[self.subjects["dataset"] == dataset, "subject"])
            frames = frames[frames["subject"].isin(ids)]
        return [au for au in self.aus if (frames[au].to_numpy() >= 0).any()]

    def subject_frames(self, subject: str) -> pd.DataFrame:
        """The frame rows of one subject."""
        return self.frames[self.frames["subject"] == subject]

    def faces_of(self, subject: str) -> np.ndarray:
        """All faces of one subject as an in-memory (n, H, W) uint8 array."""
        return np.asarray(self.faces[self.subject_frames(subject)["face"].to_numpy()])

    @cached_property
    def fingerprint(self) -> str:
        """A content hash of all four files: equal fingerprints mean equal data."""
        digest = hashlib.sha256()
        for name in (META_FILE, SUBJECTS_FILE, FRAMES_FILE, FACES_FILE):
            with open(self.root / name, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(chunk)
        return digest.hexdigest()[:16]


def load_dataset(root: str | Path) -> Dataset:
    """Open and validate a dataset directory; raise DatasetError naming the file and field on any problem."""
    root = Path(root)
    require_files(root)
    meta = read_meta(root / META_FILE)
    faces = open_faces(root / FACES_FILE, meta["image_size"])
    subjects = read_table(root / SUBJECTS_FILE)
    check_subjects(subjects, root / SUBJECTS_FILE)
    frames = read_table(root / FRAMES_FILE)
    check_frames(frames, root / FRAMES_FILE, meta["aus"], set(subjects["subject"]), len(faces))
    return Dataset(root=root, meta=meta, subjects=subjects, frames=frames, faces=faces)
