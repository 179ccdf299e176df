"""Every validation failure is one DatasetError naming the file and the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.data import load_dataset
from auditkit.data.format import write_parquet
from auditkit.errors import DatasetError


def _edit_table(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        df = pd.read_parquet(root / name)
        write_parquet(fn(df), root / name)

    return apply


def _edit_meta(fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        meta = json.loads((root / "dataset.json").read_text())
        fn(meta)
        (root / "dataset.json").write_text(json.dumps(meta))

    return apply


def _set(df: pd.DataFrame, col: str, row: int, value) -> pd.DataFrame:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.at[row, col] = value
    return df


def _write_faces(arr: np.ndarray) -> Callable[[Path], None]:
    return lambda root: np.save(root / "faces.npy", arr)


CASES = {
    "missing frames file": (lambda r: (r / "frames.parquet").unlink(), "frames.parquet", "file is missing"),
    "missing faces file": (lambda r: (r / "faces.npy").unlink(), "faces.npy", "file is missing"),
    "meta not json": (lambda r: (r / "dataset.json").write_text("{oops"), "dataset.json", "not valid JSON"),
    "meta version": (
        _edit_meta(lambda m: m.update(format_version=99)),
        "dataset.json: format_version",
        "not supported",
    ),
    "meta missing key": (_edit_meta(lambda m: m.pop("aus")), "dataset.json: aus", "required key is missing"),
    "meta size type": (
        _edit_meta(lambda m: m.update(image_size=[128, "128"])),
        "dataset.json: image_size",
        "must be [height, width] positive integers",
    ),
    "meta version as text": (
        _edit_meta(lambda m: m.update(format_version="1")),
        "dataset.json: format_version",
        "input should be a valid integer, got '1'",
    ),
    "meta provenance type": (
        _edit_meta(lambda m: m.update(provenance=[1])),
        "dataset.json: provenance",
        "input should be a valid dictionary",
    ),
    "meta repeated au": (
        _edit_meta(lambda m: m.update(aus=m["aus"] + m["aus"][:1])),
        "dataset.json: aus",
        "lists an action unit twice",
    ),
    "subjects missing column": (
        _edit_table("subjects.parquet", lambda d: d.drop(columns="dataset")),
        "subjects.parquet: column 'dataset'",
        "required column is missing",
    ),
    "duplicate subject": (
        _edit_table("subjects.parquet", lambda d: pd.concat([d, d.iloc[:1]])),
        "subjects.parquet: column 'subject'",
        "duplicate subject",
    ),
    "fitzpatrick range": (
        _edit_table("subjects.parquet", lambda d: d.assign(fitzpatrick=7)),
        "subjects.parquet: column 'fitzpatrick'",
        "values must be 1-6",
    ),
    "frames missing column": (
        _edit_table("frames.parquet", lambda d: d.drop(columns="face")),
        "frames.parquet: column 'face'",
        "required column is missing",
    ),
    "no frames": (_edit_table("frames.parquet", lambda d: d.iloc[:0]), "frames.parquet", "holds no frames"),
    "unknown subject": (
        _edit_table("frames.parquet", lambda d: _set(d, "subject", 0, "ghost")),
        "frames.parquet: column 'subject'",
        "'ghost' is not in",
    ),
    "face out of range": (
        _edit_table("frames.parquet", lambda d: d.assign(face=d["face"] + 10_000)),
        "frames.parquet: column 'face'",
        "outside faces.npy",
    ),
    "au value": (
        _edit_table("frames.parquet", lambda d: d.assign(AU12=d["AU12"].where(d.index > 0, 2))),
        "frames.parquet: column 'AU12'",
        "value 2 is not an occurrence code",
    ),
    "unlabeled frames": (
        _edit_table("frames.parquet", lambda d: _set(d, "AU01", 3, None).astype({"AU01": "float"})),
        "frames.parquet: column 'AU01'",
        "1 missing values (use -1",
    ),
    "au not in meta": (
        _edit_table("frames.parquet", lambda d: d.assign(AU99=0)),
        "frames.parquet: column 'AU99'",
        "not listed in dataset.json",
    ),
    "au missing from frames": (
        _edit_table("frames.parquet", lambda d: d.drop(columns="AU17")),
        "frames.parquet: column 'AU17'",
        "missing here",
    ),
    "intensity range": (
        _edit_table("frames.parquet", lambda d: d.assign(AU06_intensity=6)),
        "frames.parquet: column 'AU06_intensity'",
        "intensity 6 is outside",
    ),
    "duplicate frame": (
        _edit_table("frames.parquet", lambda d: pd.concat([d, d.iloc[:1]], ignore_index=True)),
        "frames.parquet: columns 'subject, sequence, frame'",
        "appears twice",
    ),
    "faces dtype": (_write_faces(np.zeros((144, 128, 128), np.float32)), "faces.npy: dtype", "must be uint8"),
    "faces shape": (_write_faces(np.zeros((144, 64, 64), np.uint8)), "faces.npy: shape", "image_size"),
    "faces corrupt": (
        lambda r: (r / "faces.npy").write_bytes(b"not an npy file at all"),
        "faces.npy",
        "not a readable .npy",
    ),
    "parquet corrupt": (
        lambda r: (r / "subjects.parquet").write_bytes(b"PAR1garbage"),
        "subjects.parquet",
        "not a readable Parquet",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bad_input_names_file_and_field(case: str, dataset_copy: Path) -> None:
    corrupt, where, problem = CASES[case]
    corrupt(dataset_copy)
    with pytest.raises(DatasetError) as info:
        load_dataset(dataset_copy)
    message = str(info.value)
    assert "\n" not in message
    assert where in message, message
    assert problem in message, message


def test_valid_dataset_loads(tiny_dataset: Path) -> None:
    ds = load_dataset(tiny_dataset)
    assert len(ds.subjects) == 6
    assert len(ds.frames) == 6 * 24 == len(ds.faces)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a dataset directory"):
        load_dataset(tmp_path / "nope")


def test_dataset_json_keeps_its_other_keys_and_publishes_a_schema(tiny_dataset: Path) -> None:
    from auditkit.data.validate import DatasetMeta, read_meta

    meta = read_meta(tiny_dataset / "dataset.json")
    assert "provenance" in meta and set(meta) > {"format_version", "image_size", "aus", "provenance"}
    schema = DatasetMeta.model_json_schema()
    assert set(schema["required"]) == {"format_version", "image_size", "aus", "provenance"}
