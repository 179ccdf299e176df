"""Strict readers for the small integer tables both datasets' label files are made of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.errors import DatasetError


def read_csv_strict(path: Path, header: bool) -> pd.DataFrame:
    """Read a CSV of integers as strings first, so that bad cells can be named rather than coerced."""
    if not path.is_file():
        raise DatasetError(path, None, "missing label file")
    try:
        df = pd.read_csv(path, header=0 if header else None, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DatasetError(path, None, "label file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(path, None, f"not a readable CSV ({exc.__class__.__name__})") from None
    if df.empty:
        raise DatasetError(path, None, "label file has no rows")
    return df


def int_column(df: pd.DataFrame, col, path: Path, name: str, allowed: set[int] | None = None) -> np.ndarray:
    """One column as int64; the first non-integer or disallowed cell is reported with its row."""
    raw = df[col].str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() | (values != values.round())
    if allowed is not None:
        bad |= ~values.isin(sorted(allowed))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        want = f"one of {sorted(allowed)}" if allowed is not None else "an integer"
        raise DatasetError(path, name, f"row {row + 1} holds {raw.iloc[row]!r}, expected {want}")
    return values.to_numpy().astype(np.int64)


def check_frames(frames: np.ndarray, path: Path) -> None:
    """Frame numbers must be positive and unique."""
    if (frames < 1).any():
        raise DatasetError(path, "frame", f"frame numbers start at 1, found {int(frames.min())}")
    uniq, counts = np.unique(frames, return_counts=True)
    if (counts > 1).any():
        raise DatasetError(path, "frame", f"frame {int(uniq[counts > 1][0])} is labelled more than once")
