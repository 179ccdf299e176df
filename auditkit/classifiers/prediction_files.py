"""Read third-party AU predictions (OpenFace 2.0, py-feat, generic CSV/Parquet) into one frame-level table."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.errors import AuditkitError

KEYS = ["subject", "sequence", "frame"]
FORMATS = ("auto", "openface", "pyfeat", "libreface", "generic")
_OPENFACE_C = re.compile(r"^AU(\d{2})_c$")
_LIBREFACE_DETECTION = re.compile(r"^au_(\d+)$")  # LibreFace's 0/1 detection columns (its intensities: au_N_intensity)
_AU = re.compile(r"^AU(\d{2})$")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise AuditkitError(f"{path}: not a readable CSV file ({exc.__class__.__name__})") from None
    df.columns = [str(c).strip() for c in df.columns]  # OpenFace writes ' AU01_c' with a leading space
    return df


def _keys_from_path(path: Path, root: Path) -> tuple[str, str]:
    """<root>/<subject>/<sequence>.csv, <root>/<subject>/<subject>_<sequence>.csv (OpenFace's batch scripts, one
    folder per person) or <root>/<subject>_<sequence>.csv (a single file: its stem is the subject)."""
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    if len(rel.parts) >= 2:
        subject, stem = rel.parts[-2], rel.stem
        if stem.startswith(f"{subject}_") and len(stem) > len(subject) + 1:
            stem = stem[len(subject) + 1:]
        return subject, stem
    if "_" in rel.stem:
        subject, sequence = rel.stem.split("_", 1)
        return subject, sequence
    raise AuditkitError(f"{path}: cannot tell subject and sequence from the file name "
                        "(use SUBJECT/SEQUENCE.csv or SUBJECT_SEQUENCE.csv)")


def _require(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    for col in columns:
        if col not in df.columns:
            raise AuditkitError(f"{path}: column '{col}': required column is missing")


def check_probabilities(df: pd.DataFrame, path: Path, columns: list[str]) -> None:
    """Every prediction column holds numbers in [0, 1] (missing values allowed: those frames are dropped)."""
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise AuditkitError(f"{path}: column '{col}': must hold probabilities (numbers), found {df[col].dtype}")
        values = df[col].dropna()
        if len(values) and (values.min() < 0 or values.max() > 1):
            raise AuditkitError(f"{path}: column '{col}': probabilities must lie in [0, 1], found "
                                f"{values.min() if values.min() < 0 else values.max():g}")


def read_openface(path: Path, root: Path, min_confidence: float = 0.75) -> tuple[pd.DataFrame, int]:
    """OpenFace 2.0 FeatureExtraction CSV: occurrence columns AUxx_c; frames with success 0 or low confidence
    dropped."""
    df = _read_csv(path)
    _require(df, path, ["frame", "success", "confidence"])
    aus = {f"AU{m.group(1)}": c for c in df.columns if (m := _OPENFACE_C.match(c))}
    if not aus:
        raise AuditkitError(f"{path}: no AUxx_c occurrence columns (is this an OpenFace 2.0 FeatureExtraction CSV?)")
    ok = ((pd.to_numeric(df["success"], errors="coerce") == 1)
          & (pd.to_numeric(df["confidence"], errors="coerce") >= min_confidence))
    # only the rows kept are read as predictions: OpenFace writes garbage such as -nan(ind) where it found no face
    kept = df.loc[ok, ["frame", *aus.values()]].copy()
    for col in aus.values():
        if not pd.api.types.is_numeric_dtype(kept[col]):
            parsed = pd.to_numeric(kept[col], errors="coerce")
            bad = kept[col].notna() & parsed.isna()
            if bad.any():
                raise AuditkitError(f"{path}: column '{col}': must hold probabilities (numbers), found "
                                    f"{kept.loc[bad, col].iloc[0]!r} at frame {kept.loc[bad, 'frame'].iloc[0]} (a row "
                                    "with success 1)")
            kept[col] = parsed
    check_probabilities(kept, path, list(aus.values()))
    subject, sequence = _keys_from_path(path, root)
    out = pd.DataFrame({"subject": subject, "sequence": sequence, "frame": kept["frame"].astype(int)})
    for au, col in aus.items():
        out[au] = kept[col].astype(float)
    return out, int((~ok).sum())


FACES = ("best", "error")  # py-feat rows of one frame with several faces: keep the most confident one, or refuse


def read_pyfeat(path: Path, root: Path, faces: str = "best") -> tuple[pd.DataFrame, int, int]:
    """py-feat detector CSV: per-frame AUxx probabilities, a `frame` column; rows without a face are dropped.

    py-feat writes one row per detected face, so a frame can appear several times: by default the face with the
    highest FaceScore is kept (the third value returned counts such frames); faces="error" refuses the file.
    """
    df = _read_csv(path)
    _require(df, path, ["frame"])
    aus = [c for c in df.columns if _AU.match(c)]
    if not aus:
        raise AuditkitError(f"{path}: no AUxx probability columns (is this a py-feat detection CSV?)")
    check_probabilities(df, path, aus)
    df = df[df[aus].notna().all(axis=1) | ~df["frame"].duplicated(keep=False)]  # a faceless duplicate row is no face
    multi = df["frame"][df["frame"].duplicated(keep=False)].nunique()
    if multi:
        if faces == "error":
            frame = df["frame"][df["frame"].duplicated()].iloc[0]
            raise AuditkitError(f"{path}: column 'frame': frame {frame} has several faces (py-feat writes one row per "
                                "face); --faces best keeps the most confident one")
        if "FaceScore" not in df.columns:
            raise AuditkitError(f"{path}: column 'FaceScore': needed to choose among the several faces of {multi} "
                                "frame(s)")
        df = df.sort_values(["frame", "FaceScore"], ascending=[True, False], kind="stable").drop_duplicates("frame")
    ok = df[aus].notna().all(axis=1)
    subject, sequence = _keys_from_path(path, root)
    out = pd.DataFrame({"subject": subject, "sequence": sequence, "frame": df.loc[ok, "frame"].astype(int)})
    for au in aus:
        out[au] = df.loc[ok, au].astype(float)
    return out, int((~ok).sum()), int(multi)


def read_libreface(path: Path, root: Path) -> tuple[pd.DataFrame, int]:
    """LibreFace video CSV: `frame_idx` (from 0), detection columns au_N (0/1, BP4D's 12 AUs) -> AUnn occurrence.

    LibreFace drops frames where it finds no face, so its file has gaps in frame_idx; those frames are counted as
    missed by the join, like any frame without a prediction. Intensity columns (au_N_intensity) are not used.
    """
    df = _read_csv(path)
    _require(df, path, ["frame_idx"])
    cols = {f"AU{int(m.group(1)):02d}": c for c in df.columns if (m := _LIBREFACE_DETECTION.match(str(c)))}
    if not cols:
        raise AuditkitError(f"{path}: no au_N detection columns (is this a LibreFace video CSV?)")
    check_probabilities(df, path, list(cols.values()))
    ok = df[list(cols.values())].notna().all(axis=1)
    subject, sequence = _keys_from_path(path, root)
    out = pd.DataFrame({"subject": subject, "sequence": sequence, "frame": df.loc[ok, "frame_idx"].astype(int)})
    for au, col in cols.items():
        out[au] = df.loc[ok, col].astype(float)
    return out, int((~ok).sum())


def read_generic(path: Path) -> tuple[pd.DataFrame, int]:
    """CSV or Parquet with subject, sequence, frame and AUxx probability columns."""
    if path.suffix == ".parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise AuditkitError(f"{path}: not a readable Parquet file ({exc.__class__.__name__})") from None
    else:
        df = _read_csv(path)
    _require(df, path, KEYS)
    aus = [c for c in df.columns if _AU.match(str(c))]
    if not aus:
        raise AuditkitError(f"{path}: no AUxx probability columns")
    check_probabilities(df, path, aus)
    ok = df[aus].notna().all(axis=1)
    out = df.loc[ok, KEYS + aus].copy()
    out["subject"] = out["subject"].astype(str)
    out["sequence"] = out["sequence"].astype(str)
    out["frame"] = out["frame"].astype(int)
    covered = df[["subject", "sequence"]].astype(str).drop_duplicates()  # sequences it ran on, frames dropped or not
    return out, int((~ok).sum()), list(covered.itertuples(index=False, name=None))


def detect_format(path: Path) -> str:
    """Guess the format of one predictions file from its columns."""
    if path.suffix == ".parquet":
        return "generic"
    header = [c.strip() for c in _read_csv(path).columns]
    if any(_OPENFACE_C.match(c) for c in header) and "success" in header:
        return "openface"
    if "frame_idx" in header and any(_LIBREFACE_DETECTION.match(c) for c in header):
        return "libreface"
    if all(k in header for k in KEYS):
        return "generic"
    if "frame" in header and any(_AU.match(c) for c in header):
        return "pyfeat"
    raise AuditkitError(f"{path}: unknown predictions format (expected OpenFace 2.0, py-feat, LibreFace or generic "
                        "columns)")


def read_predictions(source: str | Path, fmt: str = "auto", faces: str = "best") -> tuple[pd.DataFrame, dict]:
    """All predictions under a file or directory, as one table keyed by (subject, sequence, frame), plus counts;
    counts["covered"] lists the (subject, sequence) pairs the tool ran on (a file or rows for them)."""
    source = Path(source)
    if fmt not in FORMATS:
        raise AuditkitError(f"--format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if faces not in FACES:
        raise AuditkitError(f"--faces: unknown choice {faces!r} (choose from {', '.join(FACES)})")
    if not source.exists():
        raise AuditkitError(f"{source}: no such file or directory")
    files = sorted(p for p in source.rglob("*") if p.suffix in (".csv", ".parquet")) if source.is_dir() else [source]
    if not files:
        raise AuditkitError(f"{source}: holds no .csv or .parquet predictions")
    tables, dropped, formats, multi, covered = [], 0, set(), 0, set()
    for f in files:
        kind = detect_format(f) if fmt == "auto" else fmt
        formats.add(kind)
        if kind == "openface":
            table, n = read_openface(f, source)
        elif kind == "pyfeat":
            table, n, m = read_pyfeat(f, source, faces)
            multi += m
        elif kind == "libreface":
            table, n = read_libreface(f, source)
        else:
            table, n, keys = read_generic(f)
            covered.update(keys)
        if kind != "generic":
            covered.add(_keys_from_path(f, source))  # one file per sequence, even if every frame was dropped
        tables.append(table)
        dropped += n
    # a file without an AU the others give would be NaN there after concatenation, silently scored as "absent"
    columns = {f: {c for c in t.columns if _AU.match(str(c))} for f, t in zip(files, tables, strict=True)}
    every = set().union(*columns.values())
    for f, cols in columns.items():
        if cols != every:
            au = sorted(every - cols)[0]
            other = next(g for g, c in columns.items() if au in c)
            raise AuditkitError(f"{f}: column '{au}': missing here but given in {other}; every predictions file must "
                                "give the same AUs")
    preds = pd.concat(tables, ignore_index=True)
    dup = preds.duplicated(KEYS)
    if dup.any():
        row = preds.loc[dup, KEYS].iloc[0]
        raise AuditkitError(f"{source}: frame {row['frame']} of {row['subject']}/{row['sequence']} is predicted twice")
    return preds, {"files": len(files), "formats": sorted(formats), "frames": len(preds), "dropped_no_face": dropped,
                   "frames_with_several_faces": multi, "covered": sorted(covered)}


OFFSETS = (0, 1, -1)  # candidate frame-number shifts: tools count from 0 (py-feat, LibreFace) or 1 (OpenFace, DISFA)
AMBIGUOUS = 0.9  # two alignments matching within 10 % of each other cannot be told apart by their counts


def _shifted(preds: pd.DataFrame, offset: int | pd.DataFrame) -> pd.Series:
    """The predictions' frame numbers moved onto the dataset's numbering (sequences the table lacks stay put)."""
    if isinstance(offset, pd.DataFrame):
        shift = preds[["subject", "sequence"]].merge(offset, on=["subject", "sequence"], how="left")["shift"]
        return preds["frame"] + shift.fillna(0).astype(int).to_numpy()
    return preds["frame"] + offset


def _matches(keyed: pd.DataFrame, preds: pd.DataFrame, offset: int | pd.DataFrame) -> int:
    shifted = preds[KEYS].assign(frame=_shifted(preds, offset))
    return len(keyed[KEYS].merge(shifted, on=KEYS, how="inner"))


FIRST_FRAME = {"openface": 1, "pyfeat": 0, "libreface": 0}  # where each tool starts counting (generic: unknown)


def expected_offset(keyed: pd.DataFrame, formats: list[str]) -> int | pd.DataFrame | None:
    """Each sequence's first dataset frame - the tool's first frame, when the tool's convention is known (one
    format): one number when every sequence starts at the same frame, else a (subject, sequence, shift) table
    (BP4D's coded segments start mid-video, each at its own frame); None without a known convention."""
    if len(formats) != 1 or formats[0] not in FIRST_FRAME or keyed.empty:
        return None
    shifts = (keyed.groupby(["subject", "sequence"])["frame"].min() - FIRST_FRAME[formats[0]]).rename("shift")
    if shifts.nunique() == 1:
        return int(shifts.iloc[0])
    return shifts.reset_index()


def choose_offset(keyed: pd.DataFrame, preds: pd.DataFrame,
                  expected: int | pd.DataFrame | None = None) -> int | pd.DataFrame:
    """The frame offset to add to predictions so they meet the dataset's numbering, or a one-line error if unclear.

    Frame keys alone often cannot tell a shift of one frame (a 0-based file against a 1-based dataset matches almost
    every frame either way, and a tool that dropped its first frame matches completely either way). So: the tool's
    known convention against each sequence's first frame (`expected`) is used unless its alignment matches clearly
    fewer frames than another; without a convention, the only alignment under which every prediction finds its
    frame or every dataset frame its prediction, or one that matches clearly more than any other; anything else is
    refused, asking for --frame-offset.
    """
    counts = {o: _matches(keyed, preds, o) for o in OFFSETS}
    ranked = sorted(counts, key=lambda o: (-counts[o], abs(o)))
    best, second = ranked[0], ranked[1]
    if expected is not None:
        found = (
            counts[expected] if isinstance(expected, int) and expected in counts else _matches(keyed, preds, expected)
        )
        if found > 0 and found >= AMBIGUOUS * counts[best]:
            return expected
    if counts[best] == 0:
        return 0  # nothing matches at all: join_predictions reports it
    # complete: every prediction finds its frame, or every dataset frame its prediction (a file covering the whole
    # dataset, audited on some of its people)
    complete = [o for o, n in counts.items() if n in (len(preds), len(keyed))]
    if len(complete) == 1:
        return complete[0]
    if counts[second] >= AMBIGUOUS * counts[best]:
        raise AuditkitError(f"predictions: column 'frame': numbering is ambiguous ({counts[best]} frames match with "
                            f"offset {best:+d}, {counts[second]} with {second:+d}); pass --frame-offset {best} or "
                            f"{second} (py-feat and LibreFace count from 0, OpenFace and DISFA from 1)")
    return best


def describe_offset(counts: dict) -> str:
    """'+1 (detected)', or 'per sequence, +1000 to +2000 (detected)' when each sequence has its own first frame."""
    how = "detected" if counts["frame_offset_detected"] else "given"
    offset = counts["frame_offset"]
    if isinstance(offset, int):
        return f"{offset:+d} ({how})"
    low, high = counts["frame_offset_range"]
    return f"per sequence, {low:+d} to {high:+d}: each sequence's first dataset frame ({how})"


def join_predictions(frames: pd.DataFrame, preds: pd.DataFrame, aus: list[str], frame_offset: int | None = None,
                     formats: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Align predictions to dataset frames on (subject, sequence, frame + offset): (frame rows, probabilities, counts).

    `frame_offset` None detects it (choose_offset); the offset used is always in the counts ("per sequence" with
    its range when each sequence has its own).
    """
    usable = [a for a in aus if a in preds.columns]
    if not usable:
        raise AuditkitError(f"predictions share no AU with the dataset (dataset codes {', '.join(aus)})")
    keyed = frames[KEYS].astype({"subject": str, "sequence": str, "frame": int}).reset_index(drop=True)
    keyed["row"] = np.arange(len(keyed))
    offset = choose_offset(keyed, preds, expected_offset(keyed, formats or [])) if frame_offset is None \
        else int(frame_offset)
    merged = keyed.merge(preds[KEYS + usable].assign(frame=_shifted(preds, offset)), on=KEYS, how="inner")
    counts = {"matched_frames": len(merged), "dataset_frames_without_prediction": len(frames) - len(merged),
              "predictions_without_dataset_frame": len(preds) - len(merged), "aus": usable,
              "frame_offset": offset if isinstance(offset, int) else "per sequence",
              "frame_offset_detected": frame_offset is None}
    if not isinstance(offset, int):
        counts["frame_offset_range"] = [int(offset["shift"].min()), int(offset["shift"].max())]
    if merged.empty:
        ours, theirs = keyed.iloc[0], preds.iloc[0]
        raise AuditkitError("no prediction matches a dataset frame on (subject, sequence, frame): the predictions "
                            f"name e.g. {theirs['subject']}/{theirs['sequence']} frame {int(theirs['frame'])}, the "
                            f"dataset {ours['subject']}/{ours['sequence']} frame {int(ours['frame'])}; check the file "
                            "naming (SUBJECT/SEQUENCE.csv, SUBJECT/SUBJECT_SEQUENCE.csv or SUBJECT_SEQUENCE.csv)")
    return merged["row"].to_numpy(), merged[usable].to_numpy(np.float32), counts
