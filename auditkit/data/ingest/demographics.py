"""The user's demographics file (CSV or Parquet keyed by subject), checked and joined to the ingested subjects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from auditkit.errors import DatasetError

GENDER_ALIASES = {"f": "female", "female": "female", "w": "female", "woman": "female",
                  "m": "male", "male": "male", "man": "male"}


@dataclass
class DemographicsJoin:
    """Subjects table rows plus what did not match: data subjects without a row, rows without data."""

    subjects: pd.DataFrame
    missing: list[str] = field(default_factory=list)  # in the data, not in the file
    unused: list[str] = field(default_factory=list)  # in the file, not in the data

    def report(self) -> dict:
        """JSON-ready summary recorded in dataset.json."""
        return {"missing": self.missing, "unused": self.unused}


def read_demographics(path: Path) -> pd.DataFrame:
    """Read and check a demographics table: `subject` unique; gender normalized; fitzpatrick 1-6."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, None, "demographics file not found")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype={"subject": str}, skipinitialspace=True)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError) as exc:
        kind = path.suffix.lstrip(".") or "CSV"
        raise DatasetError(path, None, f"not a readable {kind} file ({exc.__class__.__name__})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if "subject" not in df.columns:
        raise DatasetError(path, "subject", f"required column is missing (columns: {', '.join(df.columns)})")
    if "dataset" in df.columns:
        raise DatasetError(path, "dataset", "is set by the ingester; remove this column")
    df["subject"] = df["subject"].astype("string").str.strip()
    if df["subject"].isna().any():
        raise DatasetError(
            path, "subject", f"row {int(df['subject'].isna().to_numpy().argmax()) + 2} has no subject id"
        )
    dup = df["subject"][df["subject"].duplicated()]
    if len(dup):
        raise DatasetError(path, "subject", f"subject {dup.iloc[0]!r} appears more than once")
    if "gender" in df.columns:
        g = df["gender"].astype("string").str.strip().str.lower()
        df["gender"] = g.map(lambda v: GENDER_ALIASES.get(v, v) if isinstance(v, str) else v).astype("string")
    if "fitzpatrick" in df.columns:
        fz = pd.to_numeric(df["fitzpatrick"], errors="coerce")
        bad = df["fitzpatrick"].notna() & ~fz.isin(range(1, 7))
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise DatasetError(
                path,
                "fitzpatrick",
                f"subject {df['subject'].iloc[i]!r} has {str(df['fitzpatrick'].iloc[i])!r}, "
                "expected an integer 1-6 or empty",
            )
        df["fitzpatrick"] = fz.astype("Int8")
    return df


def join_demographics(subjects: list[str], dataset: str, demo: pd.DataFrame | None, path: Path | None,
                      allow_missing: bool = False) -> DemographicsJoin:
    """subjects.parquet rows for the ingested subjects; a subject without demographics is an error unless allowed."""
    base = pd.DataFrame({"subject": pd.array(subjects, dtype="string"), "dataset": dataset})
    if demo is None:
        if not allow_missing:
            raise DatasetError(path or "demographics", None,
                               "no demographics file given (pass --demographics FILE, or --allow-missing-demographics)")
        return DemographicsJoin(base, missing=list(subjects))
    known = set(demo["subject"])
    missing = [s for s in subjects if s not in known]
    unused = sorted(known - set(subjects))
    if missing and not allow_missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DatasetError(path or "demographics", "subject",
                           f"no row for {', '.join(missing[:3])}{more} "
                           "(add them, or pass --allow-missing-demographics to keep them with empty attributes)")
    merged = base.merge(demo, on="subject", how="left")
    return DemographicsJoin(merged, missing=missing, unused=unused)
