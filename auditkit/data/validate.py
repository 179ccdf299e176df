"""Checks of a dataset directory; each failure is one DatasetError naming the file and field.

Loading stops at the first problem (`load_dataset`); `diagnose` runs every check it can and returns all problems,
skipping only checks that depend on one that failed (no column types to test without the column), for
`auditkit inspect`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from auditkit.data.format import (
    AU_COLUMN,
    FACES_FILE,
    FORMAT_VERSION,
    FRAME_REQUIRED,
    FRAMES_FILE,
    INTENSITY_COLUMN,
    INTENSITY_RANGE,
    META_FILE,
    OCCURRENCE_VALUES,
    SUBJECT_REQUIRED,
    SUBJECTS_FILE,
)
from auditkit.errors import DatasetError
from auditkit.files import read_json_object, validation_problem

# the problems found so far while `diagnose` runs; None while loading (the first problem raises)
_found: contextvars.ContextVar[list[DatasetError] | None] = contextvars.ContextVar("found", default=None)


@contextmanager
def _collecting() -> Iterator[list[DatasetError]]:
    problems: list[DatasetError] = []
    token = _found.set(problems)
    try:
        yield problems
    finally:
        _found.reset(token)


def _run(checks: list[tuple[Callable[[], None], bool]]) -> bool:
    """Run (check, is_gate) pairs in order; True if all passed. Loading, the first failure raises; diagnosing, it is
    recorded and the rest still run, unless it was a gate that later checks depend on."""
    problems, ok = _found.get(), True
    for check, gate in checks:
        try:
            check()
        except DatasetError as exc:
            if problems is None:
                raise
            problems.append(exc)
            ok = False
            if gate:
                return False
    return ok


def require_files(root: Path) -> None:
    """Fail unless the directory and its four files exist (diagnosing: every missing file is a problem)."""
    if not root.is_dir():
        raise DatasetError(root, None, "not a dataset directory (run `auditkit synth --out DIR` to make one)")

    def present(name: str) -> Callable[[], None]:
        def check() -> None:
            if not (root / name).is_file():
                raise DatasetError(root / name, None, "file is missing")
        return check

    _run([(present(name), False) for name in (META_FILE, SUBJECTS_FILE, FRAMES_FILE, FACES_FILE)])


class DatasetMeta(BaseModel):
    """dataset.json's required keys, checked by pydantic (its JSON Schema: `DatasetMeta.model_json_schema()`).

    Other keys (sources, renderer, ...) are kept as they are; the Parquet tables stay hand-checked (check_subjects,
    check_frames): their columns depend on dataset.json's AUs, and each check names the column and how to fix it in
    one vectorized pass, which a schema library's generic reports would not.
    """

    model_config = ConfigDict(extra="allow")

    format_version: StrictInt = Field(description=f"the dataset format's version, {FORMAT_VERSION}")
    image_size: list[StrictInt] = Field(description="[height, width] of every face in faces.npy")
    aus: list[str] = Field(description="the action unit columns of frames.parquet, e.g. ['AU01', 'AU12']")
    provenance: dict[str, Any] = Field(description="where the data came from")

    @field_validator("format_version")
    @classmethod
    def _version(cls, version: int) -> int:
        if version != FORMAT_VERSION:
            raise ValueError(f"version {version!r} is not supported (this auditkit reads version {FORMAT_VERSION})")
        return version

    @field_validator("image_size", mode="before")
    @classmethod
    def _size(cls, size: Any) -> Any:
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise ValueError(f"must be [height, width] positive integers, got {size!r}")
        return size

    @field_validator("aus", mode="before")
    @classmethod
    def _aus(cls, aus: Any) -> Any:
        if not (isinstance(aus, list) and aus and all(isinstance(a, str) and AU_COLUMN.match(a) for a in aus)):
            raise ValueError(f"must be a non-empty list of names like 'AU01', got {aus!r}")
        if len(set(aus)) != len(aus):
            raise ValueError("lists an action unit twice")
        return aus


def read_meta(path: Path) -> dict[str, Any]:
    """Parse and check dataset.json; the dict as written (every key kept)."""
    meta = read_json_object(path, DatasetError)
    try:
        DatasetMeta.model_validate(meta)
    except ValidationError as exc:
        raise DatasetError(path, *validation_problem(exc, DatasetMeta, noun="key")) from None
    return meta


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet file, turning any decoding failure into a DatasetError."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(path, None, f"not a readable Parquet file ({exc})") from None
    return table.to_pandas()


def _require_columns(df: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    for col in columns:
        if col not in df.columns:
            raise DatasetError(path, f"column '{col}'", "required column is missing")


def _require_strings(df: pd.DataFrame, path: Path, col: str) -> None:
    values = df[col]
    if values.isna().any():
        raise DatasetError(path, f"column '{col}'", f"{int(values.isna().sum())} missing values")
    if not all(isinstance(v, str) for v in values.head(1000)):
        raise DatasetError(path, f"column '{col}'", f"must hold strings, found dtype {values.dtype}")


def _require_integers(df: pd.DataFrame, path: Path, col: str, nullable: bool = False) -> None:
    values = df[col]
    if values.isna().any() and not nullable:
        n = int(values.isna().sum())
        hint = " (use -1 for frames that were not coded)" if AU_COLUMN.match(col) or INTENSITY_COLUMN.match(col) else ""
        raise DatasetError(path, f"column '{col}'", f"{n} missing values{hint}")
    if not pd.api.types.is_integer_dtype(values.dtype):
        raise DatasetError(path, f"column '{col}'", f"must hold integers, found dtype {values.dtype}")


def check_subjects(df: pd.DataFrame, path: Path) -> None:
    """Validate subjects.parquet: required columns, unique ids, known attribute ranges."""
    def nonempty() -> None:
        if len(df) == 0:
            raise DatasetError(path, None, "holds no subjects")

    def unique() -> None:
        dup = df["subject"][df["subject"].duplicated()]
        if len(dup):
            raise DatasetError(path, "column 'subject'", f"duplicate subject {dup.iloc[0]!r}")

    def fitzpatrick() -> None:
        if "fitzpatrick" in df.columns:
            _require_integers(df, path, "fitzpatrick", nullable=True)
            known = df["fitzpatrick"].dropna()
            bad = known[(known < 1) | (known > 6)]
            if len(bad):
                raise DatasetError(
                    path, "column 'fitzpatrick'", f"values must be 1-6 or null, found {int(bad.iloc[0])}"
                )

    def gender() -> None:
        if "gender" in df.columns and not all(isinstance(v, str) for v in df["gender"].dropna()):
            raise DatasetError(path, "column 'gender'", "must hold strings or nulls")

    if not _run([(lambda: _require_columns(df, path, SUBJECT_REQUIRED), True)]):
        return
    _run(
        [
            (lambda: _require_strings(df, path, "subject"), False),
            (lambda: _require_strings(df, path, "dataset"), False), (nonempty, True), (unique, False),
            (fitzpatrick, False), (gender, False),
        ]
    )


def check_frames(df: pd.DataFrame, path: Path, aus: list[str], subjects: set[str] | None, n_faces: int | None) -> None:
    """Validate frames.parquet against the metadata, the subject table and faces.npy (None: that one is unreadable,
    so its cross-checks are skipped)."""
    au_cols = [c for c in df.columns if AU_COLUMN.match(c)]

    def nonempty() -> None:
        if len(df) == 0:
            raise DatasetError(path, None, "holds no frames: there is nothing to train or test on")

    def missing_aus() -> None:
        missing = [a for a in aus if a not in au_cols]
        if missing:
            raise DatasetError(path, f"column '{missing[0]}'", "listed in dataset.json 'aus' but missing here")

    def extra_aus() -> None:
        extra = [a for a in au_cols if a not in aus]
        if extra:
            raise DatasetError(path, f"column '{extra[0]}'", "present here but not listed in dataset.json 'aus'")

    def known_subjects() -> None:
        if subjects is None:
            return
        unknown = sorted(set(df["subject"]) - subjects)
        if unknown:
            raise DatasetError(path, "column 'subject'",
                               f"subject {unknown[0]!r} is not in {path.parent / 'subjects.parquet'}")

    def face_rows() -> None:
        faces = df["face"].to_numpy()
        if n_faces is not None and len(faces) and (faces.min() < 0 or faces.max() >= n_faces):
            bad = int(faces[(faces < 0) | (faces >= n_faces)][0])
            raise DatasetError(
                path, "column 'face'", f"row index {bad} is outside faces.npy (which has {n_faces} faces)"
            )

    def occurrence(au: str) -> Callable[[], None]:
        def check() -> None:
            _require_integers(df, path, au)
            bad_values = sorted(set(np.unique(df[au].to_numpy()).tolist()) - OCCURRENCE_VALUES)
            if bad_values:
                raise DatasetError(
                    path,
                    f"column '{au}'",
                    f"value {bad_values[0]} is not an occurrence code (1 present, 0 absent, -1 not coded)",
                )

        return check

    def intensity(col: str) -> Callable[[], None]:
        def check() -> None:
            lo, hi = INTENSITY_RANGE
            _require_integers(df, path, col)
            values = df[col].to_numpy()
            if len(values) and (values.min() < lo or values.max() > hi):
                bad = int(values[(values < lo) | (values > hi)][0])
                raise DatasetError(
                    path, f"column '{col}'", f"intensity {bad} is outside {lo}..{hi} (-1 means not coded)"
                )

        return check

    def unique_keys() -> None:
        keys = df[["subject", "sequence", "frame"]]
        dup = keys.duplicated()
        if dup.any():
            row = keys[dup].iloc[0]
            raise DatasetError(path, "columns 'subject, sequence, frame'",
                               f"frame {row['frame']} of {row['subject']}/{row['sequence']} appears twice")

    if not _run([(lambda: _require_columns(df, path, FRAME_REQUIRED), True), (nonempty, True)]):
        return
    typed = _run([(lambda: _require_strings(df, path, "subject"), False),
                  (lambda: _require_strings(df, path, "sequence"), False),
                  (lambda: _require_integers(df, path, "frame"), False),
                  (lambda: _require_integers(df, path, "face"), False)])
    _run([(missing_aus, False), (extra_aus, False)])
    _run([(known_subjects, False), (face_rows, False)] if typed else [])
    _run([(occurrence(au), False) for au in aus if au in au_cols])
    _run([(intensity(c), False) for c in df.columns if INTENSITY_COLUMN.match(c)])
    if typed:
        _run([(unique_keys, False)])


def open_faces(path: Path, image_size: list[int]) -> np.ndarray:
    """Memory-map faces.npy and check its dtype and shape."""
    try:
        faces = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(path, None, f"not a readable .npy array ({exc})") from None
    if faces.dtype != np.uint8:
        raise DatasetError(path, "dtype", f"must be uint8, found {faces.dtype}")
    if faces.ndim != 3:
        raise DatasetError(path, "shape", f"must be (N, H, W), found {faces.shape}")
    if list(faces.shape[1:]) != list(image_size):
        raise DatasetError(
            path, "shape", f"faces are {faces.shape[1]}x{faces.shape[2]} but dataset.json image_size is {image_size}"
        )
    return faces


def diagnose(root: str | Path) -> list[DatasetError]:
    """Every problem of a dataset directory that can be found (not only the first), in reading order; [] if valid."""
    root = Path(root)
    with _collecting() as problems:
        try:
            require_files(root)
        except DatasetError as exc:  # not a directory at all: nothing else to check
            return [exc]
        present = {p: (root / p).is_file() for p in (META_FILE, SUBJECTS_FILE, FRAMES_FILE, FACES_FILE)}
        meta = faces = subjects = None
        if present[META_FILE]:
            meta = _attempt(lambda: read_meta(root / META_FILE))
        if present[FACES_FILE] and meta is not None:
            faces = _attempt(lambda: open_faces(root / FACES_FILE, meta["image_size"]))
        if present[SUBJECTS_FILE]:
            subjects = _attempt(lambda: read_table(root / SUBJECTS_FILE))
            if subjects is not None:
                check_subjects(subjects, root / SUBJECTS_FILE)
        if present[FRAMES_FILE] and meta is not None:
            frames = _attempt(lambda: read_table(root / FRAMES_FILE))
            if frames is not None:
                known = set(subjects["subject"]) if subjects is not None and "subject" in subjects else None
                check_frames(frames, root / FRAMES_FILE, meta["aus"], known, len(faces) if faces is not None else None)
        return list(problems)


def _attempt(read: Callable[[], Any]) -> Any:
    """The value of `read`, or None with its problem recorded (diagnosing)."""
    result: list[Any] = []
    return result[0] if _run([(lambda: result.append(read()), True)]) else None
